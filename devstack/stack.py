"""The local stack: moto (DynamoDB + KMS), SeaweedFS (S3 + STS), the dev IdP and ``chalice local``.

Started by ``scripts/run-local``. Every process is a child of this one; Ctrl-C
(or SIGTERM) stops them all. Nothing survives a stop: moto keeps its state in
memory, so a second run starts clean and bootstraps again.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from devstack.seaweed import GRPC_OFFSET, port_free, start_seaweed

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".devstack"
HOST = "127.0.0.1"
MOTO_PORT, IDP_PORT, API_PORT, S3_PORT = 5000, 8180, 8000, 8333


def local_environment() -> dict[str, str]:
    """The environment of ``chalice local --stage local``, from .chalice/config.json."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env = {**os.environ, **config["environment_variables"], **config["stages"]["local"]["environment_variables"]}
    env.update({"AWS_ENDPOINT_URL": f"http://{HOST}:{MOTO_PORT}", "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"})
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_PROFILE", None)
    return env


def wait_for(url: str, name: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with code {process.returncode}; see {STATE / 'logs'}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answers: that is all we wait for
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{name} did not answer at {url} within {seconds:.0f} s")


class Stack:
    def __init__(self) -> None:
        self.processes: list[tuple[str, subprocess.Popen]] = []
        (STATE / "logs").mkdir(parents=True, exist_ok=True)

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(STATE / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes.append((name, process))
        return process

    def stop(self) -> None:
        for _name, process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _name, process in reversed(self.processes):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def main() -> int:
    busy = [port for port in (MOTO_PORT, IDP_PORT, API_PORT, S3_PORT, S3_PORT + GRPC_OFFSET) if not port_free(port)]
    if busy:
        print(f"ports in use: {', '.join(map(str, busy))} — is another local stack running?", file=sys.stderr)
        return 1
    env = local_environment()
    python = sys.executable
    stack = Stack()
    seaweed = None
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        moto = stack.start("moto", [python, "-m", "devstack.moto_atomic", "-H", HOST, "-p", str(MOTO_PORT)], env)
        wait_for(f"http://{HOST}:{MOTO_PORT}/moto-api/", "moto", moto)
        subprocess.run([python, "-m", "devstack.bootstrap_aws"], cwd=ROOT, env=env, check=True)
        # SeaweedFS fetches our JWKS only on the first STS call, so it may start before the API.
        seaweed = start_seaweed(issuer=env["KATTA_PUBLIC_BASE_URL"], port=S3_PORT)
        stack.processes.append(("seaweed", seaweed.process))
        env.update(seaweed.server_environment())
        # An S3 STS storage profile on this SeaweedFS, so `katta vault create` works at once.
        subprocess.run([python, "-m", "devstack.seed_profile"], cwd=ROOT, env=env, check=True)
        idp = stack.start("idp", [python, "-m", "devstack.idp", "--host", HOST, "--port", str(IDP_PORT)], env)
        wait_for(f"http://{HOST}:{IDP_PORT}/realms/katta/.well-known/openid-configuration", "dev IdP", idp)
        api = stack.start("api", [str(Path(python).parent / "chalice"), "local", "--stage", "local",
                                  "--host", HOST, "--port", str(API_PORT), "--no-autoreload"], env)
        wait_for(f"http://{HOST}:{API_PORT}/health", "chalice local", api)
        print(f"""
Katta local stack is up (logs in {STATE / 'logs'}):
  API            http://{HOST}:{API_PORT}   (try: curl http://{HOST}:{API_PORT}/api/config)
  web app        http://{HOST}:{API_PORT}/app/   (sign in as alice, password alice)
  dev IdP        http://{HOST}:{IDP_PORT}/realms/katta   users alice, bob, carol, dave, admin (password = name)
  DynamoDB, KMS  http://{HOST}:{MOTO_PORT}   (moto server; table {env['KATTA_TABLE_NAME']}, key {env['KATTA_KMS_KEY_ID']})
  S3 + STS       http://{HOST}:{S3_PORT}   (SeaweedFS; roles {env['KATTA_STS_CREATE_BUCKET_ROLE_ARN']}, {env['KATTA_STS_ACCESS_BUCKET_ROLE_ARN']})
Press Ctrl-C to stop everything.""", flush=True)
        while all(process.poll() is None for _name, process in stack.processes):
            time.sleep(0.5)
        dead = [name for name, process in stack.processes if process.poll() is not None]
        print(f"stopping: {', '.join(dead)} exited; see {STATE / 'logs'}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping the local stack…", flush=True)
        return 0
    finally:
        stack.stop()
        if seaweed is not None:
            seaweed.stop()


if __name__ == "__main__":
    sys.exit(main())
