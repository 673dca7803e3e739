"""Prints the performance figures of architecture §13 and writes them to bench/results/figures.json.

    .venv/bin/python -m bench.figures [--requests 50] [--large 10000]

Figures are counts (AWS calls per request, from botocore) and CPU-time ratios
measured in the same run, never wall-clock thresholds.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from bench.harness import ISSUER, Bench, BenchBackend, BenchUser, CallCounter, ReplayedAws, lambda_event

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"

READS = ("GetItem", "BatchGetItem", "Query")
ACCESS_TOKEN = "GET /api/vaults/{id}/access-token"
SECRET_RELEASE = "POST /secret-server/token-exchange"
# architecture §13: the most a warm request may cost, checked and printed beside the measurement.
CALL_BUDGETS = {
    ACCESS_TOKEN: {"dynamodb_reads": 2, "kms_calls": 0},
    SECRET_RELEASE: {"dynamodb_calls": 2, "kms_calls": 0},
}
IMPORT_BUDGET = 1.25
FLOOR_BUDGET = 1.5  # app CPU / floor CPU per warm hot request (bench/floor.py)


def reads(counter: CallCounter) -> int:
    return sum(n for (svc, op), n in counter.calls.items() if svc == "dynamodb" and op in READS)


def measure_calls(request: Callable[[], Any], expected_status: int) -> dict[str, Any]:
    request()  # warm: caches filled, clients created
    with CallCounter() as counter:
        response = request()
    assert response.status_code == expected_status, (response.status_code, response.body[:300])
    return {"dynamodb_reads": reads(counter), "dynamodb_calls": counter.by_service("dynamodb"),
            "kms_calls": counter.by_service("kms"), "calls": counter.summary()}


def hot_endpoints(alice: BenchUser, vault_id: str, backend: BenchBackend) -> dict[str, Callable[[], Any]]:
    alice_for_backend = backend.subject_token(alice.username)
    return {
        ACCESS_TOKEN: lambda: alice.request("GET", f"/api/vaults/{vault_id}/access-token"),
        "GET /api/users/me": lambda: alice.request("GET", "/api/users/me"),
        "GET /api/vaults/accessible": lambda: alice.request("GET", "/api/vaults/accessible"),
        "POST /api/storage/s3-token": lambda: alice.request("POST", f"/api/storage/s3-token?vault={vault_id}"),
        # A fresh client assertion each time: its jti is single-use.
        SECRET_RELEASE: lambda: backend.exchange(alice_for_backend),
    }


def measure_all(endpoints: dict[str, Callable[[], Any]]) -> dict[str, dict[str, Any]]:
    figures = {}
    for name, request in endpoints.items():
        if request().status_code == 404:
            figures[name] = {"skipped": "route not implemented yet"}
        else:
            figures[name] = measure_calls(request, 200)
    return figures


def seed_other_tenants(bench: Bench, backend: BenchBackend, count: int) -> None:
    """Adds ``count`` other users, each owning a vault and a secret-server secret, by cloning one
    made through the API."""
    import boto3

    from chalicelib.secrets.service import PURPOSE
    from chalicelib.settings import get_settings
    from chalicelib.db.keys import secret_key

    template_user = bench.user(f"tenant-{uuid.uuid4().hex[:8]}")
    template_user.set_up_keys()
    template_vault = template_user.create_vault()
    backend.exchange(backend.subject_token(template_user.username))  # creates the user's secret
    client = boto3.client("dynamodb")
    table = get_settings().table_name
    items = []
    secret_pk, _purpose = secret_key(ISSUER, template_user.id, PURPOSE)
    for pk in (f"USER#{template_user.id}", f"VAULT#{template_vault}", secret_pk):
        items += client.query(TableName=table, KeyConditionExpression="pk = :pk",
                              ExpressionAttributeValues={":pk": {"S": pk}})["Items"]
    assert {item["pk"]["S"] for item in items} >= {secret_pk}, "the template user has no secret to clone"
    batch: list[dict[str, Any]] = []
    for _ in range(count):
        renamed = {template_user.id: str(uuid.uuid4()), template_vault: str(uuid.uuid4())}
        batch += [{"PutRequest": {"Item": _renamed(item, renamed)}} for item in items]
        while len(batch) >= 25:
            client.batch_write_item(RequestItems={table: batch[:25]})
            batch = batch[25:]
    if batch:
        client.batch_write_item(RequestItems={table: batch})


def _renamed(value: Any, names: dict[str, str]) -> Any:
    """``value`` (a DynamoDB item) with every string's ``names`` replaced; binary values kept as they are."""
    if isinstance(value, str):
        for old, new in names.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {_renamed(k, names): _renamed(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, names) for v in value]
    return value


def cpu_per_request(alice: BenchUser, vault_id: str, requests: int) -> dict[str, Any]:
    """Server CPU per warm access-token request beside the request's own crypto (the bearer check)."""
    from joserfc import jws

    key, alg = _verification_key(alice.bench.idp.jwks(), alice.token)
    alice.request("GET", f"/api/vaults/{vault_id}/access-token")
    with CallCounter() as counter:
        started = time.process_time()
        for _ in range(requests):
            alice.request("GET", f"/api/vaults/{vault_id}/access-token")
        total = time.process_time() - started
    # What moto spends emulating DynamoDB is AWS's work, not ours: take it out.
    per_request = (total - counter.cpu_in_calls) / requests
    crypto = _cpu_per_call(lambda: jws.deserialize_compact(alice.token, key, algorithms=[alg]), requests)
    return {"requests": requests, "cpu_ms_per_request": _ms(per_request),
            "cpu_ms_bearer_signature_check": _ms(crypto),
            "request_to_crypto_ratio": round(per_request / crypto, 1) if crypto else None,
            "note": "server CPU excludes the time inside AWS calls (moto); includes chalice.test's event "
                    "translation, so it is an upper bound"}


def release_cpu(backend: BenchBackend, username: str, requests: int) -> dict[str, Any]:
    """Server CPU per warm secret release beside the crypto the release itself has to do."""
    import os

    from joserfc import jwe, jws
    from joserfc.jwk import ECKey

    from chalicelib.secrets import keysets

    subject_token = backend.subject_token(username)
    backend.server.release(subject_token)  # warm, and proof that the backend can open what it gets
    backend.server_cpu = 0.0
    with CallCounter() as counter:
        for _ in range(requests):
            backend.exchange(subject_token)
    # Only the app's side: the backend signs its assertions outside ``server_cpu``.
    per_request = (backend.server_cpu - counter.cpu_in_calls) / requests

    registered = keysets.import_public(backend.keys.public_jwks())
    assertion = backend.server.client_assertion()
    assertion_key, assertion_alg = _verification_key(backend.keys.public_jwks(), assertion)
    recipient, wrapping = keysets.encryption_key(registered)
    idp_key, idp_alg = _verification_key(backend.bench.idp.jwks(), subject_token)
    secret = os.urandom(32)
    pop_key = ECKey.generate_key("P-256")  # the release token is signed like a POP key signs (ES256)
    claims = json.dumps({"iss": "bench", "secret": {"backend": "x" * 200}}).encode()
    crypto = {
        "client_assertion_check": _cpu_per_call(
            lambda: jws.deserialize_compact(assertion, assertion_key, algorithms=[assertion_alg]), requests),
        "jwe_to_resource_server": _cpu_per_call(
            lambda: jwe.encrypt_compact({"alg": wrapping, "enc": keysets.CONTENT_ENCRYPTION}, secret, recipient,
                                        algorithms=[wrapping, keysets.CONTENT_ENCRYPTION]), requests),
        "subject_token_check": _cpu_per_call(
            lambda: jws.deserialize_compact(subject_token, idp_key, algorithms=[idp_alg]), requests),
        "release_token_signature": _cpu_per_call(
            lambda: jws.serialize_compact({"alg": "ES256"}, claims, pop_key, algorithms=["ES256"]), requests),
    }
    named = crypto["client_assertion_check"] + crypto["jwe_to_resource_server"]
    everything = sum(crypto.values())
    return {"requests": requests, "cpu_ms_per_request": _ms(per_request),
            "cpu_ms_crypto": {name: _ms(cost) for name, cost in crypto.items()},
            "cpu_ms_assertion_check_and_jwe": _ms(named),
            "cpu_ms_all_crypto": _ms(everything),
            "request_to_assertion_and_jwe_ratio": round(per_request / named, 1) if named else None,
            "request_to_all_crypto_ratio": round(per_request / everything, 1) if everything else None,
            "note": "server CPU is the time inside the app's answers minus the time inside AWS calls (moto); "
                    "includes chalice.test's event translation, so it is an upper bound"}


def floor_cpu(alice: BenchUser, vault_id: str, backend: BenchBackend, requests: int,
              replayed: bool = False) -> dict[str, Any]:
    """The floor handlers (bench/floor.py) beside the app, in this run: CPU per warm request outside AWS
    calls, for both hot requests, and the ratios app / floor. App and floor alternate in rounds, so
    that the machine's load falls on both alike. ``replayed``: AWS answers from responses recorded
    from moto in the warm-up (``ReplayedAws``), so that no emulation runs between the steps measured."""
    with ReplayedAws() if replayed else contextlib.nullcontext() as replay:
        figures = _floor_cpu(alice, vault_id, backend, requests, replay)
    if replay is None:
        return figures
    return {**figures, "note": figures["note"] + "; AWS answered from moto's recorded responses, "
            f"{replay.recorded} calls recorded in the warm-up and none while timing"}


class SideBySide:
    """The app and the floor handlers (bench/floor.py) ready for the same two warm requests."""

    def __init__(self, alice: BenchUser, vault_id: str, backend: BenchBackend) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        from bench.floor import AccessTokenFloor, SecretReleaseFloor
        from bench.harness import SECRET_AUDIENCE
        from chalicelib import aws
        from chalicelib.db import keys
        from chalicelib.secrets.service import PURPOSE
        from chalicelib.settings import get_settings

        import app

        client, table = aws.client("dynamodb"), get_settings().table_name
        self.app, self.alice, self.vault_id, self.backend = app.app, alice, vault_id, backend
        self.token_floor = AccessTokenFloor(client, table, ISSUER, "katta", alice.bench.idp.jwks())
        data_key, nonce = os.urandom(32), os.urandom(12)
        sealed = nonce + AESGCM(data_key).encrypt(nonce, os.urandom(32), alice.id.encode())
        self.release_floor = SecretReleaseFloor(
            client, table, backend.server.token_endpoint, SECRET_AUDIENCE, ISSUER, alice.bench.idp.jwks(),
            backend.keys.public_jwks(), data_key, sealed, ec.generate_private_key(ec.SECP256R1()),
            "https://katta.bench", lambda client_id, iss, sub: [
                (keys.RESOURCE_SERVER_PK, client_id), (keys.IDP_PK, iss), keys.secret_key(iss, sub, PURPOSE),
                keys.user(sub)])
        self.subject_token = backend.subject_token(alice.username)
        self.token_event = lambda_event("GET", f"/api/vaults/{vault_id}/access-token",
                                        "/api/vaults/{vaultId}/access-token", {"vaultId": vault_id},
                                        {"Authorization": f"Bearer {alice.token}"})

    def forms(self, count: int) -> list[str]:
        """Release forms, each with its own client assertion (signed here, outside any timing)."""
        from urllib.parse import urlencode

        from katta_client import resource_server as rs
        backend = self.backend
        return [urlencode({"grant_type": rs.TOKEN_EXCHANGE, "subject_token": self.subject_token,
                           "subject_token_type": rs.JWT_TOKEN_TYPE, "requested_token_type": rs.JWT_TOKEN_TYPE,
                           "audience": backend.server.client_id, "client_assertion_type": rs.JWT_BEARER_ASSERTION,
                           "client_assertion": backend.server.client_assertion()}) for _ in range(count)]

    @staticmethod
    def release_event(form: str) -> dict[str, Any]:
        return lambda_event("POST", "/secret-server/token-exchange", "/secret-server/token-exchange", None,
                            {"Content-Type": "application/x-www-form-urlencoded"}, form)

    def app_token(self) -> dict[str, Any]:
        return self.app(dict(self.token_event), None)

    def floor_token(self) -> str:
        return self.token_floor(self.alice.token, self.vault_id)

    def app_release(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.app(event, None)


def _floor_cpu(alice: BenchUser, vault_id: str, backend: BenchBackend, requests: int,
               replay: ReplayedAws | None) -> dict[str, Any]:
    run = SideBySide(alice, vault_id, backend)
    assert run.floor_token() == run.app_token()["body"]
    assert json.loads(run.release_floor(run.forms(1)[0]))["access_token"].count(".") == 2
    assert run.app_release(run.release_event(run.forms(1)[0]))["statusCode"] == 200
    costs = {"app_access_token": 0.0, "floor_access_token": 0.0, "app_release": 0.0, "floor_release": 0.0}
    rounds, per_round = 5, max(1, requests // 5)

    def timed(name: str, calls: list[Callable[[], Any]]) -> None:
        with CallCounter() as counter:
            started = time.process_time()
            for call in calls:
                call()
            costs[name] += time.process_time() - started - counter.cpu_in_calls

    recorded = replay.recorded if replay else 0
    for _ in range(rounds):
        timed("app_access_token", [run.app_token] * per_round)
        timed("floor_access_token", [run.floor_token] * per_round)
        events = [run.release_event(form) for form in run.forms(per_round)]
        timed("app_release", [lambda e=e: run.app_release(e) for e in events])
        prepared = run.forms(per_round)
        timed("floor_release", [lambda f=f: run.release_floor(f) for f in prepared])
    assert replay is None or replay.recorded == recorded, "a timed request went to moto: its shape was not recorded"
    done = rounds * per_round
    per = {name: cost / done for name, cost in costs.items()}
    return {"requests": done, **{f"cpu_ms_{name}": _ms(cost) for name, cost in per.items()},
            "access_token_over_floor": round(per["app_access_token"] / per["floor_access_token"], 2),
            "release_over_floor": round(per["app_release"] / per["floor_release"], 2), "budget": FLOOR_BUDGET,
            "note": "CPU outside AWS calls; the app gets API Gateway events as Lambda hands them over"}


def _verification_key(jwks: dict[str, Any], token: str) -> tuple[Any, str]:
    """The key of ``jwks`` that ``token``'s header names, and the token's algorithm."""
    from joserfc.jwk import KeySet

    header = json.loads(_b64(token.split(".")[0]))
    return next(k for k in KeySet.import_key_set(jwks) if k.kid == header["kid"]), header["alg"]


def _cpu_per_call(call: Callable[[], Any], times: int) -> float:
    started = time.process_time()
    for _ in range(times):
        call()
    return (time.process_time() - started) / times


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _b64(segment: str) -> bytes:
    import base64
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def import_ratio(runs: int = 5) -> dict[str, Any]:
    """CPU time of ``import app`` over ``import boto3``, each in a fresh interpreter.

    The minimum of several runs (other load on the machine only ever adds time), and the median.
    """
    def samples(module: str) -> list[float]:
        code = f"import time; t = time.process_time(); import {module}; print(time.process_time() - t)"
        env = {"KATTA_STAGE": "test", "PATH": "/usr/bin:/bin"}
        return [float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                                     capture_output=True, text=True).stdout) for _ in range(runs)]
    boto3_costs, app_costs = samples("boto3"), samples("app")
    return {"runs": runs, "import_boto3_ms": _ms(min(boto3_costs)), "import_app_ms": _ms(min(app_costs)),
            "ratio": round(min(app_costs) / min(boto3_costs), 2),
            "import_boto3_median_ms": _ms(statistics.median(boto3_costs)),
            "import_app_median_ms": _ms(statistics.median(app_costs)),
            "ratio_of_medians": round(statistics.median(app_costs) / statistics.median(boto3_costs), 2),
            "budget": IMPORT_BUDGET}


# Runs in a fresh interpreter: imports the app, then hands it two API Gateway events the way
# Lambda does (no chalice.test in between), timing each step in CPU seconds.
_COLD_START = """
import json, os, sys, time
path, token = sys.argv[1], os.environ.get("BENCH_TOKEN")
headers = {"host": "katta.bench", "accept": "application/json"}
if token:
    headers["authorization"] = "Bearer " + token
event = {"resource": path, "path": path, "httpMethod": "GET", "headers": headers,
         "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": None,
         "multiValueQueryStringParameters": None, "pathParameters": None, "stageVariables": None,
         "requestContext": {"resourcePath": path, "httpMethod": "GET", "requestId": "cold-start", "path": path},
         "body": None, "isBase64Encoded": False}
costs = []
started = time.process_time()
import app
costs.append(time.process_time() - started)
for _ in range(2):
    started = time.process_time()
    response = app.app(dict(event), None)
    costs.append(time.process_time() - started)
    assert response["statusCode"] == 200, response
print(json.dumps(costs))
"""


def cold_starts(boto3_ms: float, runs: int = 5) -> dict[str, Any]:
    """``import app`` plus the first request, in fresh processes, so that work deferred from the
    import to the first request (boto3 and its client, joserfc, pydantic validators) shows.

    AWS (a moto server) and the IdP run in this process: the child's CPU time is the app's alone.
    """
    from bench.harness import served_stack

    figures: dict[str, Any] = {}
    with served_stack() as (env, idp):
        idp.add_user("cold", roles=["user"])
        for name, path, token in (("GET /api/config", "/api/config", None),
                                  ("GET /api/users/me (authenticated)", "/api/users/me", idp.mint("cold"))):
            child_env = {**env, **({"BENCH_TOKEN": token} if token else {})}
            samples = [json.loads(subprocess.run([sys.executable, "-c", _COLD_START, path], cwd=ROOT, env=child_env,
                                                 check=True, capture_output=True, text=True).stdout)
                       for _ in range(runs)]
            imported, first, warm = (min(s[i] for s in samples) for i in range(3))
            figures[name] = {"import_ms": _ms(imported), "first_request_ms": _ms(first),
                             "warm_request_ms": _ms(warm), "import_and_first_ms": _ms(imported + first),
                             "import_and_first_over_import_boto3": round((imported + first) * 1000 / boto3_ms, 2)}
    figures["note"] = ("min of %d fresh processes each; the first authenticated request pays what the import "
                       "leaves to it: boto3 and its DynamoDB client, joserfc/cryptography, the IdP's JWKS, "
                       "and the validators of the models it uses" % runs)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50, help="requests per CPU figure")
    parser.add_argument("--large", type=int, default=10_000, help="users and vaults in the large table")
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {}
    bench = Bench()
    with bench.running():
        logging.getLogger("katta").setLevel(logging.WARNING)  # no access log lines between the figures
        alice = bench.user("alice")
        alice.set_up_keys()
        vault_id = alice.create_vault()
        backend = bench.secret_backend()
        endpoints = hot_endpoints(alice, vault_id, backend)
        seed_other_tenants(bench, backend, 10)
        figures["calls_small_table"] = measure_all(endpoints)
        figures["cpu"] = cpu_per_request(alice, vault_id, args.requests)
        figures["cpu_secret_release"] = release_cpu(backend, alice.username, args.requests)
        figures["floor"] = floor_cpu(alice, vault_id, backend, args.requests)
        figures["floor_replayed"] = floor_cpu(alice, vault_id, backend, args.requests, replayed=True)
        seed_other_tenants(bench, backend, args.large - 10)
        figures["calls_large_table"] = measure_all(endpoints)
    figures["budgets"] = check_budgets(figures)
    for name in ("access_token_over_floor", "release_over_floor"):
        figures["budgets"][f"{name} <= {FLOOR_BUDGET}"] = figures["floor"][name] <= FLOOR_BUDGET
        figures["budgets"][f"{name}_replayed <= {FLOOR_BUDGET}"] = figures["floor_replayed"][name] <= FLOOR_BUDGET
    figures["import"] = import_ratio()
    figures["cold_start"] = cold_starts(figures["import"]["import_boto3_ms"])
    figures["budgets"]["import app <= %s x import boto3" % IMPORT_BUDGET] = figures["import"]["ratio"] <= IMPORT_BUDGET
    report(figures, args.large)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "figures.json").write_text(json.dumps(figures, indent=2))
    return 0


def check_budgets(figures: dict[str, Any]) -> dict[str, bool]:
    """architecture §13's call budgets: each warm figure within its limit, and the same at both table sizes."""
    verdicts = {}
    for name, limits in CALL_BUDGETS.items():
        small, large = figures["calls_small_table"][name], figures["calls_large_table"][name]
        for figure, limit in limits.items():
            verdicts[f"{name}: {figure} <= {limit}"] = small[figure] <= limit and large[figure] <= limit
    for name, small in figures["calls_small_table"].items():
        if "skipped" not in small:
            verdicts[f"{name}: same calls at 10 and large"] = small["calls"] == figures["calls_large_table"][name]["calls"]
    return verdicts


def report(figures: dict[str, Any], large: int) -> None:
    print(f"{'endpoint':42} {'reads@10':>9} {'reads@' + str(large):>11} {'ddb calls':>9} {'kms':>4}")
    for name, small in figures["calls_small_table"].items():
        if "skipped" in small:
            print(f"{name:42} {small['skipped']}")
            continue
        big = figures["calls_large_table"].get(name, {})
        print(f"{name:42} {small['dynamodb_reads']:>9} {big.get('dynamodb_reads', '-'):>11} "
              f"{small['dynamodb_calls']:>9} {small['kms_calls']:>4}")
    release = figures["calls_small_table"][SECRET_RELEASE]
    print(f"secret release calls: {release['calls']}")
    cpu = figures["cpu"]
    print(f"\nCPU per warm access-token request: {cpu['cpu_ms_per_request']} ms "
          f"(its bearer signature check alone: {cpu['cpu_ms_bearer_signature_check']} ms, "
          f"ratio {cpu['request_to_crypto_ratio']})")
    cpu = figures["cpu_secret_release"]
    print(f"CPU per warm secret release: {cpu['cpu_ms_per_request']} ms (its client-assertion check + JWE: "
          f"{cpu['cpu_ms_assertion_check_and_jwe']} ms, ratio {cpu['request_to_assertion_and_jwe_ratio']}; "
          f"all its crypto incl. subject-token check and release-token signature: {cpu['cpu_ms_all_crypto']} ms, "
          f"ratio {cpu['request_to_all_crypto_ratio']})")
    for key, aws in (("floor", "in-process moto"), ("floor_replayed", "replayed AWS responses")):
        floor = figures[key]
        print(f"against the floor (bench/floor.py, same run, {floor['requests']} each, {aws}): access token "
              f"{floor['cpu_ms_app_access_token']} / {floor['cpu_ms_floor_access_token']} ms = "
              f"{floor['access_token_over_floor']}; release {floor['cpu_ms_app_release']} / "
              f"{floor['cpu_ms_floor_release']} ms = {floor['release_over_floor']} (budget {floor['budget']})")
    imp = figures["import"]
    print(f"\nimport app / import boto3 (CPU, min of {imp['runs']}): {imp['import_app_ms']} / {imp['import_boto3_ms']} ms "
          f"= {imp['ratio']} (medians: {imp['ratio_of_medians']}; budget {imp['budget']})")
    for name, cold in figures["cold_start"].items():
        if name != "note":
            print(f"import + first {name}: {cold['import_ms']} + {cold['first_request_ms']} ms "
                  f"(warm: {cold['warm_request_ms']} ms) = {cold['import_and_first_over_import_boto3']} x import boto3")
    print("\nbudgets (architecture §13):")
    for budget, met in figures["budgets"].items():
        print(f"  {'met   ' if met else 'MISSED'} {budget}")


if __name__ == "__main__":
    sys.exit(main())
