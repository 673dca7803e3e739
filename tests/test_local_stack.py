"""The run command's stack, over HTTP only: what a new user sees after `scripts/run-local`.

Starts ``devstack.stack`` (moto server, dev IdP, ``chalice local``) on its fixed ports, checks the
foundation's promises, runs ``katta demo`` (alice and bob, a vault on the seeded SeaweedFS storage
profile), stops it with SIGINT and checks that nothing is left behind — twice, since a second run
must not trip over the first.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from devstack.idp.provider import DevIdP

ROOT = Path(__file__).resolve().parents[1]
PORTS = (5000, 8180, 8000, 8333)
API = "http://127.0.0.1:8000"
ISSUER = "http://127.0.0.1:8180/realms/katta"


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


pytestmark = [pytest.mark.slow, pytest.mark.skipif(any(port_open(p) for p in PORTS),
                                                    reason="a local stack (or something else) already uses its ports")]


def start_stack() -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KATTA_", "AWS_"))}
    process = subprocess.Popen([sys.executable, "-m", "devstack.stack"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 90
    for line in process.stdout:
        if "Press Ctrl-C" in line:
            return process
        if time.monotonic() > deadline:
            break
    process.kill()
    raise AssertionError("the local stack did not come up")


def stop_stack(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    assert not any(port_open(p) for p in PORTS), "a process of the stack outlived Ctrl-C"


def password_token(username: str) -> str:
    response = requests.post(f"{ISSUER}/protocol/openid-connect/token", timeout=10, data={
        "grant_type": "password", "client_id": "katta-cli", "username": username, "password": username})
    response.raise_for_status()
    return response.json()["access_token"]


def assert_invalid_token(response: requests.Response, case: str) -> None:
    assert response.status_code == 401, case
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="katta", error="invalid_token"')
    assert response.json()["status"] == 401


def test_run_command_stack_twice(tmp_path):
    subprocess.run([str(ROOT / "scripts" / "bootstrap-web")], check=True, capture_output=True)  # as run-local does
    for run in range(2):
        process = start_stack()
        try:
            check_foundation()
            check_demo(tmp_path / f"run{run}")
        finally:
            stop_stack(process)


def check_demo(config_dir: Path) -> None:
    """What a new user tries first: the whole sequence, on the storage profile the stack seeded."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KATTA_", "AWS_"))}
    env["KATTA_KEYCHAIN"] = "file"
    demo = subprocess.run([str(Path(sys.executable).parent / "katta"), "--config-dir", str(config_dir), "demo"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "Hello bob!" in demo.stdout and "Demo complete" in demo.stdout


def check_foundation() -> None:
    config = requests.get(f"{API}/api/config", timeout=10)
    assert config.status_code == 200
    assert config.json()["keycloakTokenEndpoint"] == f"{ISSUER}/protocol/openid-connect/token"
    assert config.json()["oidcIssuer"] == ISSUER

    # The web app, from the API's origin, with a policy that lets it reach this IdP and nothing else.
    app = requests.get(f"{API}/", timeout=10)
    assert app.url == f"{API}/app/" and app.status_code == 200
    # The IdP's origin, then the S3 STS profile's endpoint (the browser creates buckets through STS).
    assert "connect-src 'self' http://127.0.0.1:8180 " in app.headers["Content-Security-Policy"]

    token = password_token("alice")
    me = requests.get(f"{API}/api/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert me.status_code == 200
    assert me.json()["name"] == "Alice Adams"

    # The IdP's own key (persisted in .devstack/idp) signs the bad tokens, so only the claim is wrong.
    idp = DevIdP(ISSUER, state_dir=ROOT / ".devstack" / "idp")
    header, payload, signature = token.split(".")
    forged_signature = f"{header}.{payload}.{signature[:-4]}AAAA"
    bad_tokens = {
        "wrong signature": forged_signature,
        "wrong audience": idp.mint("alice", aud=["account"]),
        "expired": idp.mint("alice", lifetime=-3600),
        "alg none": f"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.",
    }
    for name, bad in bad_tokens.items():
        response = requests.get(f"{API}/api/users/me", headers={"Authorization": f"Bearer {bad}"}, timeout=10)
        assert_invalid_token(response, name)
