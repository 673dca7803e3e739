"""Prints the performance figures of DESIGN §13 and writes them to bench/results/figures.json.

    .venv/bin/python -m bench.figures [--requests 50] [--large 10000]

Figures are counts (AWS calls per request, from botocore) and CPU-time ratios
measured in the same run, never wall-clock thresholds.
"""
from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from bench.harness import Bench, BenchUser, CallCounter

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"

# DESIGN §13, as (figure, budget) — checked and printed beside the measurement.
READS = ("GetItem", "BatchGetItem", "Query")


def reads(counter: CallCounter) -> int:
    return sum(n for (svc, op), n in counter.calls.items() if svc == "dynamodb" and op in READS)


def measure_calls(request: Callable[[], Any], expected_status: int) -> dict[str, Any]:
    request()  # warm: caches filled, clients created
    with CallCounter() as counter:
        response = request()
    assert response.status_code == expected_status, (response.status_code, response.body[:300])
    return {"dynamodb_reads": reads(counter), "dynamodb_calls": counter.by_service("dynamodb"),
            "kms_calls": counter.by_service("kms"), "calls": counter.summary()}


def hot_endpoints(alice: BenchUser, vault_id: str) -> dict[str, Callable[[], Any]]:
    return {
        "GET /api/vaults/{id}/access-token": lambda: alice.request("GET", f"/api/vaults/{vault_id}/access-token"),
        "GET /api/users/me": lambda: alice.request("GET", "/api/users/me"),
        "GET /api/vaults/accessible": lambda: alice.request("GET", "/api/vaults/accessible"),
        "POST /api/storage/s3-token": lambda: alice.request("POST", f"/api/storage/s3-token?vault={vault_id}"),
    }


def measure_all(endpoints: dict[str, Callable[[], Any]]) -> dict[str, dict[str, Any]]:
    figures = {}
    for name, request in endpoints.items():
        if request().status_code == 404:
            figures[name] = {"skipped": "route not implemented yet"}
        else:
            figures[name] = measure_calls(request, 200)
    return figures


def seed_other_tenants(bench: Bench, count: int) -> None:
    """Adds ``count`` other users, each owning a vault, by cloning one made through the API."""
    import boto3

    from chalicelib.settings import get_settings

    template_user = bench.user(f"tenant-{uuid.uuid4().hex[:8]}")
    template_user.set_up_keys()
    template_vault = template_user.create_vault()
    client = boto3.client("dynamodb")
    table = get_settings().table_name
    items = []
    for pk in (f"USER#{template_user.id}", f"VAULT#{template_vault}"):
        items += client.query(TableName=table, KeyConditionExpression="pk = :pk",
                              ExpressionAttributeValues={":pk": {"S": pk}})["Items"]
    template = json.dumps(items)
    batch: list[dict[str, Any]] = []
    for _ in range(count):
        clone = template.replace(template_user.id, str(uuid.uuid4())).replace(template_vault, str(uuid.uuid4()))
        batch += [{"PutRequest": {"Item": item}} for item in json.loads(clone)]
        while len(batch) >= 25:
            client.batch_write_item(RequestItems={table: batch[:25]})
            batch = batch[25:]
    if batch:
        client.batch_write_item(RequestItems={table: batch})


def cpu_per_request(alice: BenchUser, vault_id: str, requests: int) -> dict[str, Any]:
    """Server CPU per warm access-token request beside the request's own crypto (the bearer check)."""
    from joserfc import jws
    from joserfc.jwk import KeySet

    keys = KeySet.import_key_set(alice.bench.idp.jwks())
    header = json.loads(_b64(alice.token.split(".")[0]))
    key = next(k for k in keys if k.kid == header["kid"])
    alice.request("GET", f"/api/vaults/{vault_id}/access-token")
    with CallCounter() as counter:
        started = time.process_time()
        for _ in range(requests):
            alice.request("GET", f"/api/vaults/{vault_id}/access-token")
        total = time.process_time() - started
    # What moto spends emulating DynamoDB is AWS's work, not ours: take it out.
    per_request = (total - counter.cpu_in_calls) / requests
    started = time.process_time()
    for _ in range(requests):
        jws.deserialize_compact(alice.token, key, algorithms=[header["alg"]])
    crypto = (time.process_time() - started) / requests
    return {"requests": requests, "cpu_ms_per_request": round(per_request * 1000, 2),
            "cpu_ms_bearer_signature_check": round(crypto * 1000, 2),
            "request_to_crypto_ratio": round(per_request / crypto, 1) if crypto else None,
            "note": "server CPU excludes the time inside AWS calls (moto); includes chalice.test's event "
                    "translation, so it is an upper bound"}


def _b64(segment: str) -> bytes:
    import base64
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def import_ratio(runs: int = 5) -> dict[str, Any]:
    """CPU time of ``import app`` over ``import boto3``, each in a fresh interpreter.

    The minimum of several runs: other load on the machine only ever adds time.
    """
    def cost(module: str) -> float:
        code = f"import time; t = time.process_time(); import {module}; print(time.process_time() - t)"
        env = {"KATTA_STAGE": "test", "PATH": "/usr/bin:/bin"}
        samples = [float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                                        capture_output=True, text=True).stdout) for _ in range(runs)]
        return min(samples)
    boto3_cost, app_cost = cost("boto3"), cost("app")
    return {"import_boto3_ms": round(boto3_cost * 1000, 1), "import_app_ms": round(app_cost * 1000, 1),
            "ratio": round(app_cost / boto3_cost, 2), "budget": 1.25}


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
        endpoints = hot_endpoints(alice, vault_id)
        seed_other_tenants(bench, 10)
        figures["calls_small_table"] = measure_all(endpoints)
        figures["cpu"] = cpu_per_request(alice, vault_id, args.requests)
        seed_other_tenants(bench, args.large - 10)
        figures["calls_large_table"] = measure_all(endpoints)
    figures["import"] = import_ratio()
    report(figures, args.large)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "figures.json").write_text(json.dumps(figures, indent=2))
    return 0


def report(figures: dict[str, Any], large: int) -> None:
    print(f"{'endpoint':42} {'reads@10':>9} {'reads@' + str(large):>11} {'ddb calls':>9} {'kms':>4}")
    for name, small in figures["calls_small_table"].items():
        if "skipped" in small:
            print(f"{name:42} {small['skipped']}")
            continue
        big = figures["calls_large_table"].get(name, {})
        print(f"{name:42} {small['dynamodb_reads']:>9} {big.get('dynamodb_reads', '-'):>11} "
              f"{small['dynamodb_calls']:>9} {small['kms_calls']:>4}")
    cpu = figures["cpu"]
    print(f"\nCPU per warm access-token request: {cpu['cpu_ms_per_request']} ms "
          f"(its bearer signature check alone: {cpu['cpu_ms_bearer_signature_check']} ms, "
          f"ratio {cpu['request_to_crypto_ratio']})")
    imp = figures["import"]
    print(f"import app / import boto3 (CPU): {imp['import_app_ms']} / {imp['import_boto3_ms']} ms "
          f"= {imp['ratio']} (budget {imp['budget']})")


if __name__ == "__main__":
    sys.exit(main())
