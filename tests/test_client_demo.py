"""``katta demo`` against a live stack with SeaweedFS, through the installed console script."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.live_stack import live_storage_stack  # noqa: F401 - fixture

pytestmark = pytest.mark.slow  # a live stack, a subprocess or a long run: not in the fast lane

pytest.importorskip("devstack.seaweed")

KATTA = Path(sys.executable).parent / "katta"


def demo(stack, config_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KATTA_")}
    env["KATTA_KEYCHAIN"] = "file"
    return subprocess.run([str(KATTA), "--server", stack.api_url, "--config-dir", str(config_dir), "demo", *args],
                          env=env, capture_output=True, text=True, timeout=120)


def test_demo_runs_the_whole_sequence_and_runs_again(live_storage_stack, tmp_path):
    owner, member = live_storage_stack.new_user("dalice"), live_storage_stack.new_user("dbob")
    run = demo(live_storage_stack, tmp_path, "--owner", owner, "--member", member)
    assert run.returncode == 0, run.stderr
    for step in ("log in", "open connection", "create a vault", "write a file", f"add {member}", "grant access",
                 "unlock the vault", "read the file", "Demo complete"):
        assert step in run.stdout
    assert f"Hello {member}!" in run.stdout and "account key (shown once" in run.stdout

    again = demo(live_storage_stack, tmp_path, "--json", "--owner", owner, "--member", member)
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["ok"] is True and [s["step"] for s in result["steps"]] == list(range(1, len(result["steps"]) + 1))
    assert "user keys unlocked" in result["steps"][2]["detail"]  # the second run reuses the devices


def test_demo_refuses_accounts_it_does_not_hold_keys_for_unless_reset(live_storage_stack, tmp_path):
    owner, member = live_storage_stack.new_user("ralice"), live_storage_stack.new_user("rbob")
    assert demo(live_storage_stack, tmp_path / "first", "--owner", owner, "--member", member).returncode == 0
    refused = demo(live_storage_stack, tmp_path / "second", "--owner", owner, "--member", member)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "--reset" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    reset = demo(live_storage_stack, tmp_path / "second", "--owner", owner, "--member", member, "--reset")
    assert reset.returncode == 0, reset.stderr


def test_demo_needs_two_users(live_storage_stack, tmp_path):
    run = demo(live_storage_stack, tmp_path, "--owner", "alice", "--member", "alice")
    assert run.returncode == 1 and "two different users" in run.stderr
