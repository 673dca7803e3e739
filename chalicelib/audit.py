"""The audit log: events written in the same transaction as the change they record.

Event ids are int64 (the contract's ``AuditEventDto.id``) and grow with time —
microseconds since the epoch times 1000 plus a random tail — so ordering and
pagination by id match ordering by time. Events are partitioned by month.
"""
from __future__ import annotations

import datetime as dt
import secrets
import time
from typing import Any, Iterator

from chalicelib.store.table import Table, Transaction

MAX_PAGE_SIZE = 100
_ID_WIDTH = 20


def new_event_id(now: float | None = None) -> int:
    return int((now if now is not None else time.time()) * 1_000_000) * 1000 + secrets.randbelow(1000)


def _instant(event_id: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(event_id // 1000 / 1_000_000, tz=dt.timezone.utc)


def _partition(moment: dt.datetime) -> str:
    return f"AUDIT#{moment:%Y-%m}"


def event_item(event_type: str, details: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    event_id = new_event_id(now)
    moment = _instant(event_id)
    return {"pk": _partition(moment), "sk": str(event_id).zfill(_ID_WIDTH), "id": event_id,
            "type": event_type, "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), **details}


def record(transaction: Transaction, event_type: str, **details: Any) -> Transaction:
    """Adds the event to ``transaction``; the change and its record land together or not at all."""
    return transaction.put(event_item(event_type, details), condition="attribute_not_exists(pk)")


def event_dto(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ("pk", "sk")}


class AuditLog:
    def __init__(self, table: Table) -> None:
        self.table = table

    def events(self, start: dt.datetime, end: dt.datetime, *, descending: bool = True,
               after_id: int | None = None, page_size: int = 20,
               types: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
        """Events in [start, end), newest first unless ``descending`` is False.

        ``after_id`` is the last id of the previous page, excluded.
        """
        low = str(new_floor(start)).zfill(_ID_WIDTH)
        high = str(new_floor(end) - 1).zfill(_ID_WIDTH)
        if after_id is not None:
            if descending:
                high = min(high, str(after_id - 1).zfill(_ID_WIDTH))
            else:
                low = max(low, str(after_id + 1).zfill(_ID_WIDTH))
        found: list[dict[str, Any]] = []
        for partition in _months(start, end, descending):
            for item in self.table.query_all(partition, sk_between=(low, high), forward=not descending):
                if not types or item["type"] in types:
                    found.append(event_dto(item))
                    if len(found) >= page_size:
                        return found
        return found


def new_floor(moment: dt.datetime) -> int:
    """The smallest event id that can be at or after ``moment``."""
    return int(moment.timestamp() * 1_000_000) * 1000


def _months(start: dt.datetime, end: dt.datetime, descending: bool) -> Iterator[str]:
    months = []
    cursor = dt.datetime(start.year, start.month, 1, tzinfo=dt.timezone.utc)
    while cursor < end:
        months.append(_partition(cursor))
        cursor = dt.datetime(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1, tzinfo=dt.timezone.utc)
    return iter(reversed(months) if descending else months)
