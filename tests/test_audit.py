import datetime as dt

import pytest

from chalicelib import deps
from chalicelib.audit import AuditLog, catalogue
from chalicelib.db.audit import AuditEventRepository
from chalicelib.db.table import ConditionFailed, Transaction
from tests.support.dynamo_calls import CallCounter

UTC = dt.timezone.utc


def log_at(moment: dt.datetime | None = None) -> AuditLog:
    """The log over the moto table, its clock stopped at ``moment``."""
    clock = (lambda: moment.timestamp()) if moment else dt.datetime.now(UTC).timestamp
    return AuditLog(AuditEventRepository(deps.table()), clock=clock)


def write(moment: dt.datetime, event: catalogue.EventType, **details) -> int:
    log_at(moment).write(event, **details)
    (written,) = log_at().events(moment, moment + dt.timedelta(microseconds=1))
    return written["id"]


def test_events_are_newest_first_across_months_and_paginate(aws):
    ids = [write(dt.datetime(2026, month, 15, tzinfo=UTC), catalogue.VAULT_CREATE, vaultId=str(month))
           for month in (1, 2, 3)]
    log = log_at()
    start, end = dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2026, 4, 1, tzinfo=UTC)
    first = log.events(start, end, page_size=2)
    assert [e["id"] for e in first] == [ids[2], ids[1]]
    second = log.events(start, end, page_size=2, after_id=first[-1]["id"])
    assert [e["id"] for e in second] == [ids[0]]
    ascending = log.events(start, end, descending=False, page_size=10)
    assert [e["id"] for e in ascending] == ids


def test_end_is_exclusive_and_types_filter(aws):
    inside = write(dt.datetime(2026, 5, 1, tzinfo=UTC), catalogue.DEVICE_REGISTER)
    write(dt.datetime(2026, 5, 2, tzinfo=UTC), catalogue.VAULT_CREATE)
    write(dt.datetime(2026, 5, 3, tzinfo=UTC), catalogue.DEVICE_REGISTER)
    events = log_at().events(dt.datetime(2026, 5, 1, tzinfo=UTC), dt.datetime(2026, 5, 3, tzinfo=UTC),
                             types=frozenset({"DEVICE_REGISTER"}))
    assert [e["id"] for e in events] == [inside]


def test_a_page_reads_a_page_of_items_not_the_month(aws):
    """A page of 5 in a month of 60 events reads about 5 items, filtered by a rare type or not."""
    may = dt.datetime(2026, 5, 1, tzinfo=UTC)
    rare = write(may + dt.timedelta(seconds=1), catalogue.DEVICE_REGISTER)
    for minute in range(1, 60):
        log_at(may + dt.timedelta(minutes=minute)).write(catalogue.VAULT_CREATE, vaultId=str(minute))
    log, end = log_at(), may + dt.timedelta(days=1)
    with CallCounter() as counter:
        assert len(log.events(may, end, page_size=5)) == 5
    assert counter.limits == [5] and counter.items_scanned == 5
    with CallCounter() as counter:
        found = log.events(may, end, page_size=5, types=frozenset({"DEVICE_REGISTER", "VAULT_DELETE"}))
    assert [e["id"] for e in found] == [rare]
    assert counter.items_scanned == 1 and counter.calls == ["Query", "Query"]  # one per type asked for
    paged = log.events(may, end, page_size=5, types=frozenset({"VAULT_CREATE", "DEVICE_REGISTER"}),
                       descending=False)
    assert paged[0]["id"] == rare and len(paged) == 5


def test_event_lands_only_with_its_change(aws):
    table = deps.table()
    table.put({"pk": "X", "sk": "1"})
    tx = Transaction().put({"pk": "X", "sk": "1"}, condition="attribute_not_exists(pk)")
    log_at().record(tx, catalogue.VAULT_CREATE, vaultId="v")
    with pytest.raises(ConditionFailed):
        table.commit(tx)
    now = dt.datetime.now(UTC)
    assert log_at().events(now - dt.timedelta(days=1), now + dt.timedelta(days=1)) == []


def test_a_field_the_catalogue_does_not_list_is_refused_before_anything_is_written(aws):
    with pytest.raises(ValueError, match="VAULT_CREATE has no field 'secret'"):
        log_at().write(catalogue.VAULT_CREATE, vaultId="v", secret="x")
    now = dt.datetime.now(UTC)
    assert log_at().events(now - dt.timedelta(days=1), now + dt.timedelta(days=1)) == []


def test_every_event_type_is_named_once_and_belongs_to_one_part():
    assert len(catalogue.ALL) == len({e.name for e in catalogue.ALL.values()})
    assert {e.part for e in catalogue.ALL.values()} == {
        catalogue.KATTA, catalogue.KEYS, catalogue.SECRETS, catalogue.STORAGE, catalogue.TOKENS, catalogue.SCIM}
    assert catalogue.KATTA_TYPES.isdisjoint(catalogue.SERVICE_TYPES)


def test_katta_and_the_services_events_are_two_logs(client, issuer):
    """/api/auditlog lists only the types Katta's contract names (Hub's page renders each); this service's
    own events are listed by /api/admin/auditlog — an event written before the split, in the hub's
    partition, still stays out of Katta's list."""
    from tests.support.katta_api import Actor, body
    admin = Actor(client, issuer, "ada", roles=("user", "admin", "create-vaults")).sign_in()
    now = dt.datetime.now(UTC)
    deps.audit_log().write(catalogue.KEY_RING_CREATE, ring="secrets", version=1)
    deps.audit_log().write(catalogue.VAULT_CREATE, createdBy=admin.id, vaultId="v", vaultName="V")
    before_split = AuditEventRepository(deps.table())
    before_split.put("hub", catalogue.POP_KEY_CREATE.name, {"use": "sig"}, now.timestamp())
    period = "startDate=2020-01-01T00:00:00Z&endDate=2100-01-01T00:00:00Z"

    hub = body(admin.get(f"/api/auditlog?{period}"))
    assert [e["type"] for e in hub] == ["VAULT_CREATE"]
    service = body(admin.get(f"/api/admin/auditlog?{period}"))
    assert [e["type"] for e in service] == ["KEY_RING_CREATE"]
    assert body(admin.get(f"/api/admin/auditlog?{period}&type=KEY_RING_CREATE"))[0]["ring"] == "secrets"
    for path, foreign in (("/api/auditlog", "KEY_RING_CREATE"), ("/api/admin/auditlog", "VAULT_CREATE")):
        refused = admin.get(f"{path}?{period}&type={foreign}")
        assert refused.status_code == 400 and body(refused)["errors"][0]["field"] == "type"
    user = Actor(client, issuer, "bob", roles=("user",)).sign_in()
    assert user.get(f"/api/admin/auditlog?{period}").status_code == 403
