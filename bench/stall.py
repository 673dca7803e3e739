"""A DynamoDB stall between the API process and moto: how long the outage lasts for clients.

    .venv/bin/python -m bench.stall [--stall 5 --stall 30] [--clients 4] [--env KATTA_AWS_...=...]

The bench process runs the dev IdP, a pausable TCP proxy in front of ``devstack.moto_atomic``
(a child process: DynamoDB and KMS), and starts the API in a child process (the app behind
``chalice.local``'s threaded HTTP server, as ``chalice local`` serves it) with
``AWS_ENDPOINT_URL`` at the proxy. Client threads send ``GET /api/users/me`` (a DynamoDB read on
every request) in a loop. The proxy then stalls: it keeps every connection open, accepts new ones,
and forwards nothing — a dependency that takes requests and never answers — for ``--stall``
seconds, and then forwards again.

Printed per stall, beside the configured call budget (``KATTA_AWS_CALL_BUDGET_SECONDS``):

- recovery: from the stall's end to the first success (target ≤ 2 s);
- the longest answer of a request sent during the stall, and that over the budget (≤ 1: no hang);
- the statuses of the answers given during the stall (503s with Retry-After are the wanted answer).

Wall-clock times, by nature; the verdicts compare them with the stall and the budget of the same
run. ``--env`` passes settings to the API (e.g. shorter timeouts for a quick run).
"""
from __future__ import annotations

import argparse
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
READY = "KATTA-STALL-API "
RECOVERY_TARGET_SECONDS = 2.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class PausableProxy:
    """TCP proxy to ``target``; while paused it accepts and holds connections and moves no byte."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server((HOST, 0))
        self.port = self.listener.getsockname()[1]
        self.flowing = threading.Event()
        self.flowing.set()
        self._stopped = False
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def pause(self) -> None:
        self.flowing.clear()

    def resume(self) -> None:
        self.flowing.set()

    def stop(self) -> None:
        self._stopped = True
        self.listener.close()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        self.flowing.wait()  # a connection made during the stall reaches nothing until it ends
        try:
            upstream = socket.create_connection(self.target)
        except OSError:
            client.close()
            return
        sockets = [client, upstream]
        try:
            while True:
                if not self.flowing.wait(0.1):
                    continue  # stalled: nothing read, nothing forwarded
                readable, _, _ = select.select(sockets, [], [], 0.05)
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    (upstream if source is client else client).sendall(data)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()


@dataclass
class Answer:
    sent: float
    done: float
    status: int  # 0: no answer (the client's own timeout or a refused connection)
    retry_after: str | None


@dataclass
class Load:
    url: str
    token: str
    clients: int
    answers: list[Answer] = field(default_factory=list)
    _running: bool = True

    def start(self) -> None:
        for n in range(self.clients):
            threading.Thread(target=self._loop, name=f"client-{n}", daemon=True).start()

    def stop(self) -> None:
        self._running = False

    def _loop(self) -> None:
        session = requests.Session()
        while self._running:
            sent = time.monotonic()
            try:
                response = session.get(f"{self.url}/api/users/me", headers={"Authorization": f"Bearer {self.token}"},
                                       timeout=60)
                status, retry_after = response.status_code, response.headers.get("Retry-After")
            except requests.RequestException:
                status, retry_after = 0, None
            self.answers.append(Answer(sent, time.monotonic(), status, retry_after))
            time.sleep(0.05)


@dataclass
class Stack:
    moto: subprocess.Popen
    api: subprocess.Popen
    proxy: PausableProxy
    idp_handle: Any
    url: str
    log: list[str]

    def stop(self) -> None:
        for process in (self.api, self.moto):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.proxy.stop()
        self.idp_handle.stop()


def start(api_env: dict[str, str]) -> tuple[Stack, Any]:
    from devstack.idp import DevIdP

    idp = DevIdP()
    handle = idp.serve(HOST, 0)
    moto_port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KATTA_", "AWS_"))}
    aws = {"AWS_ACCESS_KEY_ID": "stall", "AWS_SECRET_ACCESS_KEY": "stall", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_REGION": "us-east-1", "PYTHONPATH": str(ROOT)}
    moto = subprocess.Popen([sys.executable, "-m", "devstack.moto_atomic", "-H", HOST, "-p", str(moto_port)],
                            cwd=ROOT, env={**base, **aws}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait(f"http://{HOST}:{moto_port}/moto-api/", moto)
    proxy = PausableProxy((HOST, moto_port))
    api_port = free_port()
    env = {**base, **aws, "AWS_ENDPOINT_URL": f"http://{HOST}:{proxy.port}", "KATTA_STAGE": "local",
           "KATTA_TABLE_NAME": "katta-stall", "KATTA_KMS_KEY_ID": "alias/katta-stall",
           "KATTA_PUBLIC_BASE_URL": f"http://{HOST}:{api_port}",
           "KATTA_TRUSTED_ISSUERS": json.dumps([{"issuer": idp.issuer, "audience": "katta", "client_id": "katta-cli"}]),
           **api_env}
    api = subprocess.Popen([sys.executable, "-m", "bench.stall", "--serve-api", str(api_port)], cwd=ROOT, env=env,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        assert api.stdout is not None
        for line in api.stdout:
            log.append(line.rstrip())
            if line.startswith(READY):
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(60) or api.poll() is not None:
        raise SystemExit("the API did not start:\n" + "\n".join(log[-30:]))
    return Stack(moto, api, proxy, handle, f"http://{HOST}:{api_port}", log), idp


def _wait(url: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the process exited ({process.returncode})")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s")


def serve_api(port: int) -> None:
    """The child: bootstrap the table and key through the proxy, then serve the app until stdin closes."""
    from chalice.config import Config
    from chalice.local import create_local_server

    from devstack.bootstrap_aws import bootstrap

    bootstrap(os.environ["KATTA_TABLE_NAME"], os.environ["KATTA_KMS_KEY_ID"])
    import app

    server = create_local_server(app.app, Config(chalice_stage="local", user_provided_params={"lambda_timeout": 29}),
                                 HOST, port)
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    print(READY + str(port), flush=True)
    server.serve_forever()


def measure(stack: Stack, token: str, stall: float, clients: int, settle: float = 3.0) -> dict[str, Any]:
    load = Load(stack.url, token, clients)
    load.start()
    time.sleep(settle)
    began = time.monotonic()
    stack.proxy.pause()
    time.sleep(stall)
    stack.proxy.resume()
    ended = time.monotonic()
    deadline = ended + max(60.0, 2 * stall)
    while time.monotonic() < deadline and not any(a.status == 200 and a.done > ended for a in list(load.answers)):
        time.sleep(0.05)
    time.sleep(1.0)
    load.stop()
    answers = list(load.answers)
    first_success = min((a.done for a in answers if a.status == 200 and a.done > ended), default=None)
    during = [a for a in answers if began <= a.sent < ended]
    statuses: dict[str, int] = {}
    for answer in during:
        if answer.done < ended:  # answered while nothing reached DynamoDB
            key = f"{answer.status} with Retry-After" if answer.retry_after else str(answer.status)
            statuses[key] = statuses.get(key, 0) + 1
    return {"stall_seconds": stall,
            "recovery_seconds": round(first_success - ended, 2) if first_success else None,
            "longest_answer_during_stall_seconds": round(max((a.done - a.sent for a in during), default=0.0), 2),
            "answers_during_stall": statuses,
            "last_success_before_stall_seconds": round(began - max((a.done for a in answers
                                                                     if a.status == 200 and a.done < began),
                                                                    default=began), 2)}


def run(stalls: list[float], clients: int, api_env: dict[str, str]) -> dict[str, Any]:
    from chalicelib.settings import Settings

    budget = Settings(**{k.removeprefix("KATTA_").lower(): v for k, v in api_env.items()
                         if k.startswith("KATTA_AWS_")}).aws_call_budget_seconds
    stack, idp = start(api_env)
    try:
        idp.add_user("stall", roles=["user"])
        token = idp.mint("stall", lifetime=3600)
        assert requests.get(f"{stack.url}/api/users/me", headers={"Authorization": f"Bearer {token}"},
                            timeout=30).status_code == 200
        results = [measure(stack, token, stall, clients) for stall in stalls]
    finally:
        stack.stop()
    for result in results:
        result["call_budget_seconds"] = budget
        result["longest_answer_over_budget"] = round(result["longest_answer_during_stall_seconds"] / budget, 2)
        result["recovered_within_target"] = (result["recovery_seconds"] is not None
                                             and result["recovery_seconds"] <= RECOVERY_TARGET_SECONDS)
    return {"clients": clients, "api_env": api_env, "stalls": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stall", description=__doc__.splitlines()[0])
    parser.add_argument("--stall", type=float, action="append", help="seconds (repeatable; default 5 and 30)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="a setting for the API")
    parser.add_argument("--serve-api", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_api:
        serve_api(args.serve_api)
        return 0
    api_env = dict(item.split("=", 1) for item in args.env)
    report = run(args.stall or [5.0, 30.0], args.clients, api_env)
    for result in report["stalls"]:
        print(f"stall {result['stall_seconds']:g} s: first success {result['recovery_seconds']} s after its end "
              f"(target <= {RECOVERY_TARGET_SECONDS:g} s: {'met' if result['recovered_within_target'] else 'MISSED'}); "
              f"longest answer during it {result['longest_answer_during_stall_seconds']} s = "
              f"{result['longest_answer_over_budget']} x the call budget ({result['call_budget_seconds']:g} s); "
              f"answers during it: {result['answers_during_stall']}")
    print(json.dumps(report, indent=1))
    return 0 if all(r["recovered_within_target"] and r["longest_answer_over_budget"] <= 1 for r in report["stalls"]) else 1


if __name__ == "__main__":
    sys.exit(main())
