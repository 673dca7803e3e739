"""The README's walk-through, run as written, top to bottom, on a fresh stack.

The blocks are read from README.md by their markers (``<!-- walkthrough:NAME -->`` before a fenced
``sh`` block) and run by bash, one after the other, in one working directory that holds a ``.venv``
link to this interpreter's environment. Only the addresses are the test stack's: its API and IdP
listen on free ports instead of 8000 and 8180, and ``/tmp/`` is this test's own directory.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.slow  # a live stack with SeaweedFS and the CLI in subprocesses

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
ORDER = ("demo", "http", "person")
_BLOCK = re.compile(r"<!-- walkthrough:(\w+) -->\n```sh\n(.*?)```", re.DOTALL)


def blocks() -> dict[str, str]:
    return dict(_BLOCK.findall(README))


def test_the_walkthrough_blocks_are_in_the_readme_in_order():
    assert list(blocks()) == list(ORDER)


@pytest.fixture(scope="module")
def fresh_stack():
    pytest.importorskip("devstack.seaweed")
    from tests.support.live_stack import start_live_stack

    stack = start_live_stack(storage=True)
    yield stack
    stack.stop()


def as_written(script: str, stack, workdir: Path) -> str:
    api = urlsplit(stack.api_url).netloc
    return (script.replace("http://127.0.0.1:8180/realms/katta", stack.issuer)
            .replace("127.0.0.1:8000", api).replace("/tmp/", f"{workdir}/"))


def test_the_readme_walkthrough_runs_top_to_bottom(fresh_stack, tmp_path):
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KATTA_", "AWS_"))}
    env.update({"KATTA_SERVER": fresh_stack.api_url, "KATTA_KEYCHAIN": "file", "HOME": str(tmp_path)})
    found = blocks()
    outputs = {}
    for name in ORDER:
        run = subprocess.run(["bash", "-euo", "pipefail", "-c", as_written(found[name], fresh_stack, tmp_path)],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, f"README block {name!r} failed:\n{run.stdout}\n{run.stderr}"
        outputs[name] = run.stdout
    assert "Demo complete" in outputs["demo"]
    assert '"id"' in outputs["http"]
    assert outputs["person"].rstrip().endswith("Quarterly figures")
    assert (tmp_path / "copy.txt").read_text() == (tmp_path / "report.txt").read_text()
