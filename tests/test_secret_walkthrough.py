"""docs/secret-server.md's walk-through, run as written against a fresh live stack.

The block after ``<!-- walkthrough:secret-server -->`` is run by bash in a directory of its own (a
``.venv`` link to this environment, the repository on PYTHONPATH for ``python -m examples…``). Only
the addresses are the test's: the stack's API and IdP and a free port for the backend replace 8000,
8180 and 8300.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a live stack and the example backend in subprocesses

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "secret-server.md").read_text()


def block() -> str:
    (found,) = re.findall(r"<!-- walkthrough:secret-server -->\n```sh\n(.*?)```", DOC, re.DOTALL)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def fresh_stack():
    from tests.support.live_stack import start_live_stack

    stack = start_live_stack()
    yield stack
    stack.stop()


def test_a_developer_gets_a_secret_released_following_the_doc(fresh_stack, tmp_path):
    port = free_port()
    script = (block().replace("http://127.0.0.1:8180/realms/katta", fresh_stack.issuer)
              .replace("http://127.0.0.1:8000", fresh_stack.api_url).replace("8300", str(port)))
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KATTA_", "AWS_"))}
    env["PYTHONPATH"] = str(ROOT)
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    assert "my secret plans\n" in run.stdout and "on disk: ciphertext only" in run.stdout
    notes = list((tmp_path / ".devstack" / "notes").iterdir())
    assert notes and all(b"plans" not in n.read_bytes() for n in notes)
