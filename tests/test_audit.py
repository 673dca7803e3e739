import datetime as dt

import pytest

from chalicelib import deps
from chalicelib.audit import AuditLog, event_item, record
from chalicelib.store.table import ConditionFailed, Transaction

UTC = dt.timezone.utc


def write(moment: dt.datetime, event_type: str, **details):
    item = event_item(event_type, details, now=moment.timestamp())
    deps.table().put(item)
    return item["id"]


def test_events_are_newest_first_across_months_and_paginate(aws):
    ids = [write(dt.datetime(2026, month, 15, tzinfo=UTC), "VAULT_CREATE", vaultId=str(month)) for month in (1, 2, 3)]
    log = AuditLog(deps.table())
    start, end = dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2026, 4, 1, tzinfo=UTC)
    first = log.events(start, end, page_size=2)
    assert [e["id"] for e in first] == [ids[2], ids[1]]
    second = log.events(start, end, page_size=2, after_id=first[-1]["id"])
    assert [e["id"] for e in second] == [ids[0]]
    ascending = log.events(start, end, descending=False, page_size=10)
    assert [e["id"] for e in ascending] == ids


def test_end_is_exclusive_and_types_filter(aws):
    inside = write(dt.datetime(2026, 5, 1, tzinfo=UTC), "DEVICE_REGISTER")
    write(dt.datetime(2026, 5, 2, tzinfo=UTC), "VAULT_CREATE")
    write(dt.datetime(2026, 5, 3, tzinfo=UTC), "DEVICE_REGISTER")
    log = AuditLog(deps.table())
    events = log.events(dt.datetime(2026, 5, 1, tzinfo=UTC), dt.datetime(2026, 5, 3, tzinfo=UTC),
                        types=frozenset({"DEVICE_REGISTER"}))
    assert [e["id"] for e in events] == [inside]


def test_event_lands_only_with_its_change(aws):
    table = deps.table()
    table.put({"pk": "X", "sk": "1"})
    tx = Transaction().put({"pk": "X", "sk": "1"}, condition="attribute_not_exists(pk)")
    record(tx, "VAULT_CREATE", vaultId="v")
    with pytest.raises(ConditionFailed):
        table.commit(tx)
    now = dt.datetime.now(UTC)
    assert AuditLog(table).events(now - dt.timedelta(days=1), now + dt.timedelta(days=1)) == []
