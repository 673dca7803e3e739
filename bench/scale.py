"""Scale curves: calls, items read, answer size and CPU per request as the data grows.

    .venv/bin/python -m bench.scale [--sizes 1,100,1000] [--events 10000] [--users 10000]

For each size the table is grown first (items written in batches, around the app, as a busy
installation would have them) and then one warm request is counted at botocore:

- the long poll ``GET /api/vaults/users-requiring-access-grant?wait=0`` of a user holding a token for
  1, 100, 1,000 vaults: a poll while nothing changed, the first poll after a change of its own (a
  vault created), the poll once its snapshot's age passed (derived whole, at least once a minute;
  the bench moves the snapshots' clock), the first poll after a change in another user's vault and
  the first poll after a change of a user none of its vaults rests on (another user's keys set up);
- a vault's members at 1, 100, 1,000 members: the whole list (the contract's shape) and a page of 100;
- ``GET /api/auditlog`` pages of 20 over 10,000 events of a month: unfiltered, and filtered by a type
  that is one event in a thousand;
- ``GET /api/users`` over 10,000 users: the whole list, and a page of 100.

"Constant" means the same calls at every size; the answer size must stay under Lambda's 6 MB
(``web.MAX_RESPONSE_BYTES`` is 5 MiB). CPU is the process time outside AWS calls (moto's emulation
is AWS's work), through chalice.test: compare the sizes with each other, not with other runs.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import time
import uuid
from typing import Any, Callable

from bench.harness import Bench, BenchUser, CallCounter

LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024


def measure(request: Callable[[], Any]) -> dict[str, Any]:
    """One request's DynamoDB calls, items read, answer size and CPU (outside AWS calls)."""
    with CallCounter() as counter:
        started = time.process_time()
        response = request()
        cpu = time.process_time() - started - counter.cpu_in_calls
    assert response.status_code == 200, (response.status_code, response.body[:300])
    link = {k.lower(): v for k, v in response.headers.items()}.get("link")
    return {"calls": counter.summary(), "dynamodb_calls": counter.by_service("dynamodb"),
            "items_scanned": counter.items_scanned, "bytes": len(response.body), "next_page": bool(link),
            "cpu_ms": round(cpu * 1000, 2)}


def write_items(items: list[dict[str, Any]]) -> None:
    """Typed items, 25 to a BatchWriteItem (the app's own writes are not what is measured)."""
    from chalicelib import aws
    from chalicelib.settings import get_settings

    client, table = aws.client("dynamodb"), get_settings().table_name
    for start in range(0, len(items), 25):
        pending = {table: [{"PutRequest": {"Item": i}} for i in items[start:start + 25]]}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def _puts(transaction) -> list[dict[str, Any]]:
    return [op["Put"]["Item"] for op in transaction.ops if "Put" in op]


def grow_vaults(holder: BenchUser, count: int) -> None:
    """``count`` more vaults the holder owns and holds a token for, each with one member awaiting nothing."""
    from chalicelib import deps
    from chalicelib.db.table import Transaction

    items: list[dict[str, Any]] = []
    for _ in range(count):
        vault_id = str(uuid.uuid4())
        transaction = deps.vaults().create(Transaction(), {"id": vault_id, "name": vault_id, "archived": False,
                                                           "creationTime": "2026-01-01T00:00:00Z"})
        deps.vaults().put_member(transaction, vault_id, holder.id, "USER", "OWNER")
        deps.vaults().put_token(transaction, vault_id, holder.id, "jwe")
        items += _puts(transaction)
    write_items(items)


def grow_members(vault_id: str, count: int, names: list[str]) -> None:
    from chalicelib import deps
    from chalicelib.db import keys
    from chalicelib.db.table import Transaction, to_dynamo

    transaction, users = Transaction(), []
    for _ in range(count):
        user_id = f"member-{uuid.uuid4().hex[:12]}"
        deps.vaults().put_member(transaction, vault_id, user_id, "USER", "MEMBER")
        users.append(to_dynamo({"pk": keys.user(user_id)[0], "sk": "PROFILE", "gsi1pk": keys.AUTHORITIES,
                                "gsi1sk": keys.authority_by_name("USER", user_id, user_id), "id": user_id,
                                "name": user_id}))
    names += [u["id"]["S"] for u in users]
    write_items(_puts(transaction) + users)


def grow_users(count: int) -> None:
    from chalicelib.db import keys
    from chalicelib.db.table import to_dynamo

    key = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE" + "A" * 88  # the size of a P-384 SPKI, base64
    items = []
    for n in range(count):
        user_id = str(uuid.uuid4())
        name = f"User {n:05d}"
        items.append(to_dynamo({"pk": keys.user(user_id)[0], "sk": "PROFILE", "gsi1pk": keys.AUTHORITIES,
                                "gsi1sk": keys.authority_by_name("USER", name, user_id), "id": user_id,
                                "name": name, "email": f"user{n}@example.com", "ecdhPublicKey": key,
                                "ecdsaPublicKey": key, "iss": "https://idp.bench/realms/katta", "sub": user_id}))
    write_items(items)


def grow_events(count: int, rare_every: int) -> dt.datetime:
    """``count`` Hub events in one month, one in ``rare_every`` of type DEVICE_REMOVE; returns the month."""
    from chalicelib import deps
    from chalicelib.db.audit import AuditEventRepository
    from chalicelib.db.table import Transaction

    repository = AuditEventRepository(deps.table())
    month = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    items = []
    for n in range(count):
        moment = month.timestamp() + n * 60
        kind, details = (("DEVICE_REMOVE", {"removedBy": "x", "deviceId": "D"}) if n % rare_every == 0
                         else ("VAULT_KEY_RETRIEVE", {"retrievedBy": "x", "vaultId": "v", "result": "SUCCESS"}))
        items += _puts(repository.add(Transaction(), "hub", kind, details, moment))
    write_items(items)
    return month


def long_poll_curve(bench: Bench, sizes: list[int]) -> dict[str, Any]:
    from chalicelib import deps

    # The snapshots' clock, moved by the bench: growing the table takes longer than a snapshot's age,
    # which would otherwise decide by the machine's speed which polls derive it whole.
    clock = [0.0]
    deps.vault_service()._monotonic = lambda: clock[0]
    holder = bench.user("holder")
    holder.set_up_keys()
    other = bench.user("elsewhere")
    other.set_up_keys()
    poll = "/api/vaults/users-requiring-access-grant?wait=0"
    curve, held = {}, 0
    for size in sizes:
        grow_vaults(holder, size - held)
        held = size
        holder.create_vault()  # a change through the API: the access epoch moves on
        first = measure(lambda: holder.request("GET", poll))
        clock[0] += 60  # the snapshot's age passes (db/epoch.py): derived whole, at least once a minute
        whole = measure(lambda: holder.request("GET", poll))
        unchanged = measure(lambda: holder.request("GET", poll))
        other.create_vault()  # moves the access epoch on, but none of the holder's vaults' epochs
        elsewhere = measure(lambda: holder.request("GET", poll))
        bench.user(f"stranger-{size}").set_up_keys()  # moves the people on: someone none of them rests on
        curve[size + 1] = {"after_a_change": first, "after_the_snapshots_age": whole, "unchanged": unchanged,
                           "after_a_change_elsewhere": elsewhere,
                           "after_a_change_of_people_elsewhere": measure(lambda: holder.request("GET", poll))}
        held += 1
    return curve


def members_curve(bench: Bench, sizes: list[int]) -> dict[str, Any]:
    owner = bench.user("owner")
    owner.set_up_keys()
    vault_id = owner.create_vault()
    curve, members, names = {}, 1, []
    for size in sizes:
        grow_members(vault_id, size - members, names)
        members = size
        path = f"/api/vaults/{vault_id}/members"
        curve[size] = {"whole_list": measure(lambda: owner.request("GET", path)),
                       "page_of_100": measure(lambda: owner.request("GET", path + "?pageSize=100"))}
    return curve


def audit_curve(bench: Bench, events: int) -> dict[str, Any]:
    admin = bench.user("auditor", roles=("user", "admin"))
    month = grow_events(events, rare_every=1000)
    window = (f"startDate={month:%Y-%m-%dT%H:%M:%SZ}&endDate="
              f"{(month + dt.timedelta(days=28)):%Y-%m-%dT%H:%M:%SZ}&pageSize=20")
    return {events: {"page_of_20": measure(lambda: admin.request("GET", f"/api/auditlog?{window}")),
                     "page_of_20_rare_type": measure(
                         lambda: admin.request("GET", f"/api/auditlog?{window}&type=DEVICE_REMOVE"))}}


def users_curve(bench: Bench, users: int) -> dict[str, Any]:
    admin = bench.user("lister", roles=("user", "admin"))
    grow_users(users)
    return {users: {"whole_list": measure(lambda: admin.request("GET", "/api/users")),
                    "page_of_100": measure(lambda: admin.request("GET", "/api/users?pageSize=100"))}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,100,1000", help="vaults per user and members per vault")
    parser.add_argument("--events", type=int, default=10_000, help="audit events in the month read")
    parser.add_argument("--users", type=int, default=10_000, help="users listed")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    bench = Bench()
    with bench.running():
        logging.getLogger("katta").setLevel(logging.WARNING)
        curves = {"long_poll": long_poll_curve(bench, sizes), "members": members_curve(bench, sizes),
                  "audit": audit_curve(bench, args.events), "users": users_curve(bench, args.users)}
    report(curves)
    return 0 if verdicts(curves) else 1


def verdicts(curves: dict[str, Any]) -> bool:
    polls = [c["unchanged"]["calls"] for c in curves["long_poll"].values()]
    elsewhere = [{change: {op: n for op, n in c[change]["calls"].items() if op != "dynamodb:BatchGetItem"}
                  for change in ("after_a_change_elsewhere", "after_a_change_of_people_elsewhere")}
                 for c in curves["long_poll"].values()]
    pages = [c["page_of_100"]["calls"] for c in curves["members"].values()]
    answers = [m["bytes"] for curve in curves.values() for size in curve.values() for m in size.values()]
    checks = {"a long poll costs the same at every size": all(p == polls[0] for p in polls),
              "after a change elsewhere (a vault, a user), a long poll reads no vault (epochs: a BatchGetItem per 100)":
                  all(e == elsewhere[0] for e in elsewhere),
              "a page of members costs the same at every size": all(p == pages[0] for p in pages),
              "no answer passes Lambda's 6 MB": max(answers) < LAMBDA_RESPONSE_LIMIT}
    for check, met in checks.items():
        print(f"  {'met   ' if met else 'MISSED'} {check}")
    return all(checks.values())


def report(curves: dict[str, Any]) -> None:
    print(f"{'curve':48} {'size':>6} {'ddb calls':>9} {'items read':>10} {'bytes':>9} {'next':>5} {'cpu ms':>7}")
    for name, curve in curves.items():
        for size, variants in curve.items():
            for variant, m in variants.items():
                print(f"{name + ' / ' + variant:48} {size:>6} {m['dynamodb_calls']:>9} {m['items_scanned']:>10} "
                      f"{m['bytes']:>9} {'yes' if m['next_page'] else '-':>5} {m['cpu_ms']:>7}")
    print(json.dumps({name: {size: {v: m["calls"] for v, m in variants.items()} for size, variants in curve.items()}
                      for name, curve in curves.items()}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
