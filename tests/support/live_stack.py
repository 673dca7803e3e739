"""A real stack for client tests, over HTTP: the dev IdP here, moto + the API in a child process.

The dev IdP runs in the test process (tests approve device codes, add users, mint tokens). The
API runs in one child process: a ``moto`` server thread (DynamoDB + KMS, table and management key
bootstrapped) and the Chalice app behind ``chalice.local``'s HTTP server, both on free ports, with
``KATTA_TRUSTED_ISSUERS`` naming the IdP's real issuer. A child process keeps the server's moto
state away from the tests' in-process ``mock_aws``.

Use the ``live_stack`` fixture (``from tests.support.live_stack import live_stack``). One stack is
shared by the whole test session — started on first use, stopped at exit; the child also exits
when its stdin closes, so it never outlives pytest. Tests isolate themselves by user name
(``stack.new_user()``), not by restarting the stack.
"""
from __future__ import annotations

import atexit
import itertools
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
READY = "KATTA-LIVE-API "


@dataclass
class LiveStack:
    idp: "object"
    idp_handle: "object"
    api_url: str
    process: subprocess.Popen
    log: list[str] = field(default_factory=list)
    _names: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))

    @property
    def issuer(self) -> str:
        return self.idp.issuer  # type: ignore[attr-defined]

    def new_user(self, prefix: str = "user", roles: tuple[str, ...] = ("user", "create-vaults")) -> str:
        """A fresh IdP user (password = name), so tests sharing the stack never share an account."""
        name = f"{prefix}{os.getpid()}x{next(self._names)}"
        self.idp.add_user(name, roles=list(roles))  # type: ignore[attr-defined]
        return name

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.idp_handle.stop()  # type: ignore[attr-defined]


def child_environment(issuer: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KATTA_", "AWS_"))}
    env.update({
        "AWS_ACCESS_KEY_ID": "live", "AWS_SECRET_ACCESS_KEY": "live",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
        "KATTA_STAGE": "local", "KATTA_TABLE_NAME": "katta-live", "KATTA_KMS_KEY_ID": "alias/katta-live",
        "KATTA_TRUSTED_ISSUERS": json.dumps([{"issuer": issuer, "audience": "katta", "client_id": "katta-cli",
                                              "roles_claim": "realm_access.roles", "groups_claim": "groups"}]),
        "PYTHONPATH": str(ROOT),
    })
    return env


def start_live_stack(timeout: float = 60.0) -> LiveStack:
    from devstack.idp import DevIdP

    idp = DevIdP()
    handle = idp.serve(HOST, 0)
    process = subprocess.Popen([sys.executable, "-m", "tests.support.live_stack"], cwd=ROOT,
                               env=child_environment(idp.issuer), stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log: list[str] = []
    ready: dict[str, str] = {}
    done = threading.Event()

    def read_output() -> None:  # keeps draining, so the child never blocks on a full pipe
        assert process.stdout is not None
        for line in process.stdout:
            log.append(line.rstrip())
            if line.startswith(READY) and not done.is_set():
                ready["url"] = line[len(READY):].strip()
                done.set()
        done.set()

    threading.Thread(target=read_output, name="live-api-log", daemon=True).start()
    if not done.wait(timeout) or "url" not in ready:
        process.kill()
        handle.stop()
        raise RuntimeError("the live API did not start:\n" + "\n".join(log[-40:]))
    return LiveStack(idp=idp, idp_handle=handle, api_url=ready["url"], process=process, log=log)


_shared: Optional[LiveStack] = None
_shared_lock = threading.Lock()


def shared_live_stack() -> LiveStack:
    global _shared
    with _shared_lock:
        if _shared is None or _shared.process.poll() is not None:
            _shared = start_live_stack()
            atexit.register(_shared.stop)
        return _shared


@pytest.fixture
def live_stack() -> LiveStack:
    return shared_live_stack()


# -- the child process -------------------------------------------------------------------------

def _serve_api() -> None:
    import boto3
    from chalice.config import Config
    from chalice.local import ChaliceRequestHandler, ThreadedHTTPServer
    from moto.server import ThreadedMotoServer

    from devstack.bootstrap_aws import bootstrap

    moto = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
    moto.start()
    moto_host, moto_port = moto.get_host_and_port()
    os.environ["AWS_ENDPOINT_URL"] = f"http://{moto_host}:{moto_port}"
    bootstrap(os.environ["KATTA_TABLE_NAME"], os.environ["KATTA_KMS_KEY_ID"])
    del boto3  # bootstrap made its own clients; the app makes its own too

    holder: dict[str, object] = {}

    def handler(request, client_address, server):  # the app is imported after the port is known
        return ChaliceRequestHandler(request, client_address, server, app_object=holder["app"],
                                     config=holder["config"])

    server = ThreadedHTTPServer((HOST, 0), handler)
    url = f"http://{HOST}:{server.server_address[1]}"
    os.environ["KATTA_PUBLIC_BASE_URL"] = url
    import app  # reads the settings: the environment is complete now

    holder["app"] = app.app
    holder["config"] = Config(chalice_stage="local", user_provided_params={"lambda_timeout": 29})

    def exit_with_parent() -> None:
        sys.stdin.read()  # returns when the parent closes the pipe or dies
        os._exit(0)

    threading.Thread(target=exit_with_parent, daemon=True).start()
    print(READY + url, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    _serve_api()
