"""The audit events' items: ids that grow with time, one partition per month.

Event ids are safe integers (≤ 2^53 − 1: JavaScript clients read the contract's int64
``AuditEventDto.id`` as a double): milliseconds since the epoch × 1000 plus a random tail
below 1000, until the year 2255. Ordering and pagination by id thus match ordering by
time, to the millisecond. Concurrent Lambda instances draw their tails independently;
two events of one millisecond meet on one id with a chance of 1/1000, and then the
conditional put of the second retries with a new id (``Table.put`` / ``Table.commit``
``renew``), so a collision costs a write, never the change it records.

Events written before ids were safe keep their items; ``keys`` reads their ids as their
microsecond (see ``keys.audit_event_sk``), which sorts and pages with the new ones.

Reads are bounded by the page: each Query asks for at most a page of items, and a filter by type
reads the types' own gsi1 partitions (``keys.audit_type_partition``), merged in id order, instead
of reading every event of the month and dropping the others. Events written before the index
existed carry no gsi1 key: an unfiltered page lists them, a filtered one does not.
"""
from __future__ import annotations

import datetime as dt
import heapq
import itertools
import secrets
import threading
from typing import Any, Callable, Iterator

from chalicelib.db import keys
from chalicelib.db.table import GSI1, Table, Transaction, record

_TAILS = 1000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class EventIds:
    """One process's ids: a fresh random tail each millisecond, and never an id twice or backwards
    (a burst of more than a thousand events in one millisecond borrows the next ones)."""

    def __init__(self, randbelow: Callable[[int], int] = secrets.randbelow) -> None:
        self._randbelow = randbelow
        self._last = -1
        self._lock = threading.Lock()

    def next(self, now: float) -> int:
        millisecond = round(now * 1_000_000) // 1000
        with self._lock:
            self._last = max(millisecond * _TAILS + self._randbelow(_TAILS), self._last + 1)
            return self._last


def id_floor(moment: dt.datetime) -> int:
    """The smallest event id of a millisecond at or after ``moment``."""
    microseconds = (moment - _EPOCH) // dt.timedelta(microseconds=1)
    return -(-microseconds // 1000) * _TAILS


def _instant(event_id: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(milliseconds=event_id // _TAILS)


class AuditEventRepository:
    def __init__(self, table: Table, ids: EventIds | None = None) -> None:
        self._table = table
        self._ids = ids or EventIds()

    def _item(self, log: str, event_type: str, details: dict[str, Any], now: float) -> dict[str, Any]:
        event_id = self._ids.next(now)
        moment = _instant(event_id)
        sk = keys.audit_event_sk(event_id)
        return {"pk": keys.audit_partition(log, moment), "sk": sk,
                "gsi1pk": keys.audit_type_partition(log, event_type, moment), "gsi1sk": sk, "type": event_type, "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), **details}

    def add(self, transaction: Transaction, log: str, event_type: str, details: dict[str, Any],
            now: float) -> Transaction:
        return transaction.put(self._item(log, event_type, details, now), condition="attribute_not_exists(pk)",
                               renew=lambda: self._item(log, event_type, details, now))

    def put(self, log: str, event_type: str, details: dict[str, Any], now: float) -> None:
        self._table.put(self._item(log, event_type, details, now), condition="attribute_not_exists(pk)",
                        renew=lambda: self._item(log, event_type, details, now))

    def page(self, log: str, start: dt.datetime, end: dt.datetime, *, descending: bool, after_id: int | None,
             page_size: int, types: frozenset[str], log_types: frozenset[str]) -> list[dict[str, Any]]:
        """Events of ``log_types`` in [start, end) in id order, after ``after_id`` (excluded) when given;
        only those of ``types`` when it is not empty."""
        first, last = max(id_floor(start), 0), id_floor(end) - 1
        if after_id is not None:
            if descending:
                last = min(last, after_id - 1)
            else:
                first = max(first, after_id + 1)
        if first > last:
            return []
        between = keys.audit_event_sk_range(first, last)
        # Each Query reads at most a page: a month of busy traffic costs the page's reads, not a megabyte.
        query = dict(sk_between=between, forward=not descending, limit=page_size)
        wanted = types & log_types if types else log_types
        months = (self._month(log, month, sorted(types & log_types), query) if types
                  else self._table.query_all(keys.audit_partition(log, month), **query)
                  for month in _months(start, end, descending))
        # Only events older than the split into two logs share a partition with the other log's types.
        events = (_event(item) for item in itertools.chain.from_iterable(months) if item["type"] in wanted)
        return list(itertools.islice(events, page_size))

    def _month(self, log: str, month: dt.datetime, types: list[str], query: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The month's events of ``types``, one lazy Query stream per type, merged in key order."""
        streams = [self._table.query_all(keys.audit_type_partition(log, t, month), index=GSI1, **query) for t in types]
        return heapq.merge(*streams, key=lambda item: item["sk"], reverse=not query["forward"])


def _event(item: dict[str, Any]) -> dict[str, Any]:
    """The id is the key's: an old item's own ``id`` attribute is no safe integer."""
    return {**record(item), "id": keys.audit_event_id(item["sk"])}


def _months(start: dt.datetime, end: dt.datetime, descending: bool) -> Iterator[dt.datetime]:
    months = []
    cursor = dt.datetime(start.year, start.month, 1, tzinfo=dt.timezone.utc)
    while cursor < end:
        months.append(cursor)
        cursor = dt.datetime(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1, tzinfo=dt.timezone.utc)
    return iter(reversed(months) if descending else months)
