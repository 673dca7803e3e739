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

With storage (the ``live_storage_stack`` fixture, a second shared stack) the child also runs
SeaweedFS (S3 + STS) trusting the API's issuer, gives the API ``seaweed.server_environment()``
and seeds an S3 STS storage profile on it; ``stack.storage`` says where and how to reach it
with SeaweedFS's admin identity (to inspect buckets as an attacker with storage access would).
"""
from __future__ import annotations

import atexit
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
READY = "KATTA-LIVE-API "
STORAGE = "KATTA-LIVE-STORAGE "
WITH_STORAGE_ENV = "KATTA_LIVE_WITH_SEAWEED"


@dataclass(frozen=True)
class LiveStorage:
    """The stack's SeaweedFS and the storage profile seeded on it."""

    endpoint_url: str
    admin_access_key: str
    admin_secret_key: str = field(repr=False)
    bucket_prefix: str = "katta-"
    profile_id: str = ""

    def admin_s3(self):  # type: ignore[no-untyped-def]
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name="us-east-1",
            aws_access_key_id=self.admin_access_key, aws_secret_access_key=self.admin_secret_key,
            aws_session_token=None, config=Config(s3={"addressing_style": "path"}))

    def bucket(self, vault_id: str) -> str:
        return self.bucket_prefix + vault_id


@dataclass
class LiveStack:
    idp: "object"
    idp_handle: "object"
    api_url: str
    process: subprocess.Popen
    log: list[str] = field(default_factory=list)
    storage: Optional[LiveStorage] = None
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


def start_live_stack(timeout: float = 60.0, *, storage: bool = False) -> LiveStack:
    from devstack.idp import DevIdP

    idp = DevIdP()
    handle = idp.serve(HOST, 0)
    env = child_environment(idp.issuer)
    if storage:
        env[WITH_STORAGE_ENV] = "1"
    process = subprocess.Popen([sys.executable, "-m", "tests.support.live_stack"], cwd=ROOT,
                               env=env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log: list[str] = []
    ready: dict[str, str] = {}
    done = threading.Event()

    def read_output() -> None:  # keeps draining, so the child never blocks on a full pipe
        assert process.stdout is not None
        for line in process.stdout:
            log.append(line.rstrip())
            if line.startswith(STORAGE):
                ready["storage"] = line[len(STORAGE):].strip()
            if line.startswith(READY) and not done.is_set():
                ready["url"] = line[len(READY):].strip()
                done.set()
        done.set()

    threading.Thread(target=read_output, name="live-api-log", daemon=True).start()
    if not done.wait(timeout) or "url" not in ready:
        process.kill()
        handle.stop()
        raise RuntimeError("the live API did not start:\n" + "\n".join(log[-40:]))
    live_storage = LiveStorage(**json.loads(ready["storage"])) if "storage" in ready else None
    if storage and live_storage is None:
        process.kill()
        handle.stop()
        raise RuntimeError("the live API started without its storage:\n" + "\n".join(log[-40:]))
    return LiveStack(idp=idp, idp_handle=handle, api_url=ready["url"], process=process, log=log,
                     storage=live_storage)


_shared: dict[bool, LiveStack] = {}
_shared_lock = threading.Lock()


def shared_live_stack(storage: bool = False) -> LiveStack:
    with _shared_lock:
        stack = _shared.get(storage)
        if stack is None or stack.process.poll() is not None:
            stack = _shared[storage] = start_live_stack(storage=storage)
            atexit.register(stack.stop)
        return stack


@pytest.fixture
def live_stack() -> LiveStack:
    return shared_live_stack()


@pytest.fixture
def live_storage_stack() -> LiveStack:
    """A live stack whose API reaches SeaweedFS through a seeded S3 STS storage profile."""
    return shared_live_stack(storage=True)


# -- the child process -------------------------------------------------------------------------

def _serve_api() -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    from devstack.bootstrap_aws import bootstrap
    from devstack.moto_atomic import serialise_dynamodb

    serialise_dynamodb()
    moto = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
    moto.start()
    moto_host, moto_port = moto.get_host_and_port()
    os.environ["AWS_ENDPOINT_URL"] = f"http://{moto_host}:{moto_port}"
    bootstrap(os.environ["KATTA_TABLE_NAME"], os.environ["KATTA_KMS_KEY_ID"])
    del boto3  # bootstrap made its own clients; the app makes its own too

    from tests.support.app_server import threaded_app_server

    server, attach = threaded_app_server(HOST)
    url = f"http://{HOST}:{server.server_address[1]}"
    os.environ["KATTA_PUBLIC_BASE_URL"] = url
    seaweed = _start_storage(url) if os.environ.get(WITH_STORAGE_ENV) == "1" else None
    import app  # reads the settings: the environment is complete now

    attach(app.app)

    def exit_now(*_args: object) -> None:
        if seaweed is not None:  # weed runs in its own session: it would outlive us
            seaweed.stop()
            shutil.rmtree(seaweed.state_dir, ignore_errors=True)
        os._exit(0)

    def exit_with_parent() -> None:
        sys.stdin.read()  # returns when the parent closes the pipe or dies
        exit_now()

    signal.signal(signal.SIGTERM, exit_now)
    threading.Thread(target=exit_with_parent, daemon=True).start()
    print(READY + url, flush=True)
    server.serve_forever()


def _start_storage(issuer: str):  # type: ignore[no-untyped-def]
    """SeaweedFS trusting ``issuer``, its settings in our environment, a storage profile seeded."""
    from devstack.seaweed import start_seaweed
    from devstack.seed_profile import seed_storage_profile

    seaweed = start_seaweed(issuer=issuer, port=0, state_dir=tempfile.mkdtemp(prefix="katta-live-seaweed-"))
    os.environ.update(seaweed.server_environment())
    profile = seed_storage_profile(os.environ["KATTA_TABLE_NAME"])
    print(STORAGE + json.dumps({"endpoint_url": seaweed.endpoint_url, "admin_access_key": seaweed.admin.access_key,
                                "admin_secret_key": seaweed.admin.secret_key,
                                "bucket_prefix": seaweed.bucket_prefix, "profile_id": profile["id"]}), flush=True)
    return seaweed


if __name__ == "__main__":
    _serve_api()
