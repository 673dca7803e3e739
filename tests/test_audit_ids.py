"""Audit event ids: safe integers (every JavaScript client reads them as doubles), unique, ordered by time.

Also the ids of a table written before they were safe (19 digits: microseconds × 1000 + a random
tail), read beside new ones, and the first page Cryptomator Hub's web client asks for.
"""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings, strategies as st

from chalicelib import deps
from chalicelib.audit import AuditLog, catalogue
from chalicelib.db.audit import AuditEventRepository, EventIds
from chalicelib.db.table import Transaction
from tests.support.katta_api import Actor, body

UTC = dt.timezone.utc
MAX_SAFE_INTEGER = 2 ** 53 - 1
LATEST = dt.datetime(2200, 1, 1, tzinfo=UTC).timestamp()
WINDOW = "startDate=2020-01-01T00:00:00Z&endDate=2100-01-01T00:00:00Z"


def log_at(moment: dt.datetime, ids: EventIds | None = None) -> AuditLog:
    repository = AuditEventRepository(deps.table(), ids) if ids else AuditEventRepository(deps.table())
    return AuditLog(repository, clock=moment.timestamp)


def all_events(**kwargs) -> list[dict]:
    now = dt.datetime.now(UTC)
    return log_at(now).events(dt.datetime(2020, 1, 1, tzinfo=UTC), now, page_size=100, **kwargs)


# --- the ids ----------------------------------------------------------------------------------------

def test_a_burst_in_one_millisecond_is_unique_ascending_and_safe():
    ids = EventIds()
    now = dt.datetime(2026, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC).timestamp()
    burst = [ids.next(now) for _ in range(10_000)]
    assert burst == sorted(set(burst))
    assert max(burst) <= MAX_SAFE_INTEGER


@settings(max_examples=300)
@given(st.floats(min_value=0, max_value=LATEST), st.integers(min_value=1, max_value=10 ** 9))
def test_ids_are_safe_and_a_later_millisecond_gives_a_larger_id(now, later_ms):
    # Two instances that know nothing of each other.
    earlier, later = EventIds().next(now), EventIds().next(now + later_ms / 1000)
    assert 0 <= earlier < later <= MAX_SAFE_INTEGER


def test_an_id_collision_on_a_write_retries_with_a_new_id(aws):
    moment = dt.datetime(2026, 6, 1, tzinfo=UTC)
    # Two instances drawing the same random tail in the same millisecond.
    log_at(moment, EventIds(lambda _: 7)).write(catalogue.VAULT_CREATE, vaultId="first")
    log_at(moment, EventIds(lambda _: 7)).write(catalogue.VAULT_CREATE, vaultId="second")
    events = all_events(descending=False)
    assert [e["vaultId"] for e in events] == ["first", "second"]
    assert events[0]["id"] < events[1]["id"]


def test_an_id_collision_inside_a_transaction_does_not_fail_the_change(aws):
    table = deps.table()
    moment = dt.datetime(2026, 6, 1, tzinfo=UTC)
    log_at(moment, EventIds(lambda _: 7)).write(catalogue.VAULT_CREATE, vaultId="first")
    change = Transaction().put({"pk": "X", "sk": "1"}, condition="attribute_not_exists(pk)")
    log_at(moment, EventIds(lambda _: 7)).record(change, catalogue.VAULT_CREATE, vaultId="second")
    table.commit(change)
    assert table.get("X", "1") is not None
    assert [e["vaultId"] for e in all_events(descending=False)] == ["first", "second"]


# --- the API ----------------------------------------------------------------------------------------

@pytest.fixture
def admin(client, issuer):
    return Actor(client, issuer, "ada", roles=("user", "admin")).sign_in()


def write_events(count: int) -> list[int]:
    log = AuditLog(AuditEventRepository(deps.table()))
    for n in range(count):
        log.write(catalogue.VAULT_CREATE, vaultId=f"v{n}")
    return [e["id"] for e in all_events(descending=False)]


def test_hubs_first_page_is_the_newest_page(admin):
    ids = write_events(25)
    page = body(admin.get(f"/api/auditlog?{WINDOW}&paginationId={MAX_SAFE_INTEGER}&order=desc&pageSize=21"))
    assert [e["id"] for e in page] == ids[::-1][:21]
    rest = body(admin.get(f"/api/auditlog?{WINDOW}&paginationId={page[-1]['id']}&order=desc&pageSize=21"))
    assert [e["id"] for e in rest] == ids[::-1][21:]
    assert all(isinstance(i, int) and 0 <= i <= MAX_SAFE_INTEGER for i in ids)


def test_ascending_pages_exclude_the_pagination_id(admin):
    ids = write_events(5)
    first = body(admin.get(f"/api/auditlog?{WINDOW}&paginationId=0&order=asc&pageSize=3"))
    second = body(admin.get(f"/api/auditlog?{WINDOW}&paginationId={first[-1]['id']}&order=asc&pageSize=3"))
    assert [e["id"] for e in first + second] == ids


def test_pagination_ids_beyond_the_safe_range_are_int64_cursors(admin):
    ids = write_events(2)
    newest = body(admin.get(f"/api/auditlog?{WINDOW}&paginationId={2 ** 63 - 1}&order=desc"))
    oldest = body(admin.get(f"/api/auditlog?{WINDOW}&paginationId={-2 ** 63}&order=asc"))
    assert [e["id"] for e in newest] == ids[::-1] and [e["id"] for e in oldest] == ids
    assert body(admin.get(f"/api/auditlog?{WINDOW}&paginationId=-1&order=desc")) == []
    assert body(admin.get(f"/api/auditlog?{WINDOW}&paginationId={MAX_SAFE_INTEGER}&order=asc")) == []
    for bad in (2 ** 63, -2 ** 63 - 1):
        refused = admin.get(f"/api/auditlog?{WINDOW}&paginationId={bad}")
        assert refused.status_code == 400 and "paginationId" in str(refused.json_body)


# --- a table written before ids were safe ----------------------------------------------------------

def put_old_event(moment: dt.datetime, tail: int, vault_id: str) -> int:
    """An event as the earlier release wrote it: id = microseconds × 1000 + a random tail."""
    old_id = int(moment.timestamp() * 1_000_000) * 1000 + tail
    deps.table().put({"pk": f"AUDIT#{moment:%Y-%m}", "sk": str(old_id).zfill(20), "id": old_id,
                      "type": "VAULT_CREATE", "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                      "vaultId": vault_id})
    return old_id


def test_old_events_read_with_safe_ids_in_time_order_beside_new_ones(admin):
    put_old_event(dt.datetime(2026, 5, 31, 23, 59, 59, 999_999, tzinfo=UTC), 999, "old-may")
    # Two old events in one millisecond, and a new one in that same millisecond between them.
    put_old_event(dt.datetime(2026, 6, 1, 12, 0, 0, 123_100, tzinfo=UTC), 0, "old-1")
    put_old_event(dt.datetime(2026, 6, 1, 12, 0, 0, 123_900, tzinfo=UTC), 5, "old-3")
    log_at(dt.datetime(2026, 6, 1, 12, 0, 0, 123_000, tzinfo=UTC), EventIds(lambda _: 500)).write(
        catalogue.VAULT_CREATE, vaultId="new-2")
    write_events(1)
    expected = ["old-may", "old-1", "new-2", "old-3", "v0"]

    events = all_events(descending=False)
    assert [e["vaultId"] for e in events] == expected
    ids = [e["id"] for e in events]
    assert ids == sorted(set(ids)) and max(ids) <= MAX_SAFE_INTEGER
    # An old id reads as its microsecond: what the old id held before its random tail.
    assert ids[1] == int(dt.datetime(2026, 6, 1, 12, 0, 0, 123_100, tzinfo=UTC).timestamp() * 1_000_000)

    for order, sequence in (("desc", expected[::-1]), ("asc", expected)):
        seen, cursor = [], MAX_SAFE_INTEGER if order == "desc" else 0
        while page := body(admin.get(f"/api/auditlog?{WINDOW}&paginationId={cursor}&order={order}&pageSize=1")):
            seen.append(page[0]["vaultId"])
            cursor = page[0]["id"]
        assert seen == sequence
