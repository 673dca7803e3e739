"""Dev IdP command line: the stage guard, and a real process with a persisted key."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]

from devstack.idp.__main__ import main, stage_refusal  # noqa: E402


def _env(**changes):
    env = {k: v for k, v in os.environ.items() if k != "KATTA_STAGE"}
    env.update(changes)
    return env


@pytest.mark.parametrize("stage", ["dev", "prod", "staging", "LOCAL", "test"])
def test_non_local_stage_is_refused_in_process(stage, capsys):
    assert main(["--port", "0"], environ={"KATTA_STAGE": stage}) != 0
    err = capsys.readouterr().err
    assert "refusing to start" in err and repr(stage) in err


@pytest.mark.parametrize("env", [{}, {"KATTA_STAGE": "local"}, {"KATTA_STAGE": ""}])
def test_local_or_unset_stage_is_allowed(env):
    assert stage_refusal(env) is None


def test_katta_stage_dev_refused_by_the_command():
    r = subprocess.run(
        [sys.executable, "-m", "devstack.idp", "--port", "0"], cwd=ROOT, env=_env(KATTA_STAGE="dev"),
        capture_output=True, text=True, timeout=30,
    )
    assert r.returncode != 0
    assert "refusing to start" in r.stderr and "KATTA_STAGE='dev'" in r.stderr
    assert "listening" not in r.stdout


def _start(state_dir):
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.idp", "--port", "0", "--state-dir", str(state_dir)],
        cwd=ROOT, env=_env(KATTA_STAGE="local"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline()
    if not line.startswith("dev IdP listening on "):
        proc.kill()
        raise AssertionError(f"unexpected output {line!r}: {proc.stderr.read()}")
    return proc, line.split()[-1]


def _stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return proc.stderr.read()


def test_command_serves_and_keeps_its_key(tmp_path):
    state = tmp_path / "state"
    proc, url = _start(state)
    try:
        port = int(url.rsplit(":", 1)[1])
        meta = requests.get(f"{url}/realms/katta/.well-known/openid-configuration", timeout=5).json()
        assert meta["issuer"] == f"http://127.0.0.1:{port}/realms/katta"
        jwks_before = requests.get(meta["jwks_uri"], timeout=5).json()
        r = requests.post(meta["token_endpoint"], data={
            "grant_type": "password", "client_id": "katta-cli", "username": "alice", "password": "alice"}, timeout=5)
        assert r.status_code == 200
        token = r.json()["access_token"]
    finally:
        log = _stop(proc)
    assert proc.returncode == 0
    # One line per request; no secrets in the log.
    assert "/protocol/openid-connect/token" in log and "grant=password" in log and "user=alice" in log
    assert token not in log and "password=" not in log
    [key_file] = state.glob("*.pem")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    proc, url = _start(state)
    try:
        meta = requests.get(f"{url}/realms/katta/.well-known/openid-configuration", timeout=5).json()
        assert requests.get(meta["jwks_uri"], timeout=5).json() == jwks_before
    finally:
        _stop(proc)
