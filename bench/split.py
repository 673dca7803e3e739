"""Where a warm secret release's CPU goes, step by step, in the app and in the floor (bench/floor.py).

Both answer the same releases side by side (bench.figures.SideBySide), AWS answered from moto's
recorded responses (bench.harness.ReplayedAws) so that no emulation runs between the steps; each
step's CPU is taken around the function that does it, the time inside AWS calls taken out. Steps
that the app does through a library are named by it: what joserfc's JOSE and Chalice cost beside
the floor's direct calls is the part of the ratio that our own code cannot remove.

    .venv/bin/python -m bench.split [--requests 300]
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import json
import logging
import time
from typing import Any, Callable, Iterator

# (label, module, attribute): the app's steps, none inside another, in the order a release runs them.
APP_STEPS = (
    ("form parsing", "chalicelib.secrets.http_exchange", "parse_exchange"),
    ("client assertion decoded", "chalicelib.secrets.client_auth", "read_assertion"),
    ("subject token peeked", "chalicelib.secrets.service", "_peek_subject"),
    ("items read (BatchGetItem) and decoded", "chalicelib.db.secrets", "SecretServerRepository.read_for_release"),
    ("client assertion checked (joserfc signature)", "chalicelib.secrets.client_auth", "authenticate"),
    ("subject token checked (cached)", "chalicelib.secrets.service", "SecretServer._verify_subject"),
    ("secret opened (key ring)", "chalicelib.secrets.service", "SecretServer._secret"),
    ("JWE to the resource server (joserfc)", "joserfc.jwe", "encrypt_compact"),
    ("release token signed (joserfc JWT)", "chalicelib.crypto.pop", "PopKeys.sign_jwt_naming_key"),
    ("jti spent", "chalicelib.db.secrets", "SecretServerRepository.spend_assertion"),
    ("audit event", "chalicelib.audit", "AuditLog.record"),
    ("transaction (TransactWriteItems)", "chalicelib.db.table", "Transactions.commit"),
    ("JSON answer", "chalicelib.secrets.http_exchange", "oauth_response"),
)
FLOOR_STEPS = (
    ("form parsing", "urllib.parse", "parse_qs"),
    ("signatures checked", "bench.floor", "verified_claims"),
    ("claims checked", "bench.floor", "check_claims"),
    ("JWE to the resource server", "bench.floor", "jwe_ecdh_es_a256kw"),
    ("release token signed", "bench.floor", "sign_es256"),
    ("audit event", "bench.floor", "_audit_item"),
)
REST = "everything else (in the app: Chalice, the handler's and the service's own code)"


class StepTimer:
    """CPU per labelled step, outside AWS calls, while active."""

    def __init__(self) -> None:
        self.cpu: collections.Counter[str] = collections.Counter()
        self._active: list[str] = []
        self._aws: collections.Counter[str] = collections.Counter()

    @contextlib.contextmanager
    def timing(self, steps: tuple[tuple[str, str, str], ...]) -> Iterator["StepTimer"]:
        import importlib

        from botocore.client import BaseClient

        undo: list[Callable[[], None]] = []
        for label, module, attribute in steps:
            owner: Any = importlib.import_module(module)
            *path, name = attribute.split(".")
            for part in path:
                owner = getattr(owner, part)
            original = getattr(owner, name)
            setattr(owner, name, self._timed(label, original))
            undo.append(lambda owner=owner, name=name, original=original: setattr(owner, name, original))
        original_call = BaseClient._make_api_call
        timer = self

        def aws_call(client, operation_name, api_params):
            started = time.process_time()
            try:
                return original_call(client, operation_name, api_params)
            finally:
                for label in set(timer._active):
                    timer._aws[label] += time.process_time() - started

        BaseClient._make_api_call = aws_call
        undo.append(lambda: setattr(BaseClient, "_make_api_call", original_call))
        try:
            yield self
        finally:
            for step in reversed(undo):
                step()

    def _timed(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._active.append(label)
            started = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.cpu[label] += time.process_time() - started
                self._active.pop()
        return timed

    def outside_aws(self, label: str) -> float:
        return self.cpu[label] - self._aws[label]


def split(run: Any, requests: int) -> dict[str, Any]:
    """Per-release CPU (ms) of each step, app and floor, over ``requests`` replayed releases each."""
    from bench.harness import CallCounter, ReplayedAws

    with ReplayedAws() as replay:
        for form in run.forms(20):  # warm-up: records every shape, fills the caches
            run.app_release(run.release_event(form))
            run.release_floor(form)
        recorded = replay.recorded
        result: dict[str, Any] = {}
        for side, steps in (("app", APP_STEPS), ("floor", FLOOR_STEPS)):
            timer = StepTimer()
            if side == "app":
                calls = [lambda e=run.release_event(f): run.app_release(e) for f in run.forms(requests)]
            else:
                calls = [lambda f=f: run.release_floor(f) for f in run.forms(requests)]
            with timer.timing(steps), CallCounter() as counter:
                started = time.process_time()
                for call in calls:
                    call()
                total = time.process_time() - started - counter.cpu_in_calls
            figures = {label: _ms(timer.outside_aws(label) / requests) for label, _m, _a in steps}
            figures[REST] = _ms((total - sum(timer.outside_aws(label) for label, _m, _a in steps)) / requests)
            result[side] = {"total_ms": _ms(total / requests), "steps_ms": figures}
        assert replay.recorded == recorded, "a timed release went to moto: its shape was not recorded"
    app, floor = result["app"]["steps_ms"], result["floor"]["steps_ms"]
    libraries = (app["client assertion checked (joserfc signature)"] + app["JWE to the resource server (joserfc)"]
                 + app["release token signed (joserfc JWT)"])
    floor_crypto = (floor["signatures checked"] + floor["JWE to the resource server"]
                    + floor["release token signed"])
    result["joserfc_over_floor_crypto_ms"] = round(libraries - floor_crypto, 3)
    result["allowance_ms"] = round(0.5 * result["floor"]["total_ms"], 3)
    result["note"] = ("timers around each step add their own cost to both sides; compare steps, "
                      "and take the ratio from bench.figures")
    return result


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def main(argv: list[str] | None = None) -> int:
    from bench.figures import SideBySide
    from bench.harness import Bench

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="timed releases per side")
    args = parser.parse_args(argv)
    bench = Bench()
    with bench.running():
        logging.getLogger("katta").setLevel(logging.WARNING)
        alice = bench.user("alice")
        alice.set_up_keys()
        vault_id = alice.create_vault()
        backend = bench.secret_backend()
        backend.exchange(backend.subject_token(alice.username))
        result = split(SideBySide(alice, vault_id, backend), args.requests)
    for side in ("app", "floor"):
        print(f"{side}: {result[side]['total_ms']} ms per warm release")
        for label, ms in result[side]["steps_ms"].items():
            print(f"  {ms:7.3f}  {label}")
    print(f"joserfc's three steps cost {result['joserfc_over_floor_crypto_ms']} ms more than the floor's direct "
          f"calls; 1.5 x the floor allows {result['allowance_ms']} ms over the floor for everything")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
