"""The audit events' items: ids that grow with time, one partition per month.

Event ids are int64 (the contract's ``AuditEventDto.id``) and grow with time —
microseconds since the epoch times 1000 plus a random tail — so ordering and
pagination by id match ordering by time.
"""
from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal
from typing import Any, Iterator

from chalicelib.db import keys
from chalicelib.db.table import Table, Transaction, record


def new_event_id(now: float) -> int:
    return int(now * 1_000_000) * 1000 + secrets.randbelow(1000)


def id_floor(moment: dt.datetime) -> int:
    """The smallest event id that can be at or after ``moment``."""
    return int(moment.timestamp() * 1_000_000) * 1000


def _instant(event_id: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(event_id // 1000 / 1_000_000, tz=dt.timezone.utc)


class AuditEventRepository:
    def __init__(self, table: Table) -> None:
        self._table = table

    @staticmethod
    def _item(event_type: str, details: dict[str, Any], now: float) -> dict[str, Any]:
        event_id = new_event_id(now)
        moment = _instant(event_id)
        return {"pk": keys.audit_partition(moment), "sk": keys.audit_event_sk(event_id), "id": event_id,
                "type": event_type, "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), **details}

    def add(self, transaction: Transaction, event_type: str, details: dict[str, Any], now: float) -> Transaction:
        return transaction.put(self._item(event_type, details, now), condition="attribute_not_exists(pk)")

    def put(self, event_type: str, details: dict[str, Any], now: float) -> None:
        self._table.put(self._item(event_type, details, now))

    def page(self, start: dt.datetime, end: dt.datetime, *, descending: bool, after_id: int | None,
             page_size: int, types: frozenset[str]) -> list[dict[str, Any]]:
        """Events in [start, end) in id order, after ``after_id`` (excluded) when given."""
        low = keys.audit_event_sk(id_floor(start))
        high = keys.audit_event_sk(id_floor(end) - 1)
        if after_id is not None:
            if descending:
                high = min(high, keys.audit_event_sk(after_id - 1))
            else:
                low = max(low, keys.audit_event_sk(after_id + 1))
        found: list[dict[str, Any]] = []
        for partition in _months(start, end, descending):
            for item in self._table.query_all(partition, sk_between=(low, high), forward=not descending):
                if not types or item["type"] in types:
                    found.append(_event(item))
                    if len(found) >= page_size:
                        return found
        return found


def _event(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB numbers come back as Decimal; the DTO's id is an int64."""
    return {k: int(v) if isinstance(v, Decimal) else v for k, v in record(item).items()}


def _months(start: dt.datetime, end: dt.datetime, descending: bool) -> Iterator[str]:
    months = []
    cursor = dt.datetime(start.year, start.month, 1, tzinfo=dt.timezone.utc)
    while cursor < end:
        months.append(keys.audit_partition(cursor))
        cursor = dt.datetime(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1, tzinfo=dt.timezone.utc)
    return iter(reversed(months) if descending else months)
