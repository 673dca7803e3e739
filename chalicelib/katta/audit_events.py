"""Reading the audit log (``GET /api/auditlog``): the contract's filters, newest first by default."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from chalicelib import deps
from chalicelib.audit import MAX_PAGE_SIZE
from chalicelib.errors import InvalidField
from chalicelib.katta.events import ALL_TYPES


def _invalid(field: str, reason: str) -> InvalidField:
    return InvalidField([{"field": field, "reason": reason}])


def parse_instant(value: str | None, field: str) -> dt.datetime:
    if not value:
        raise _invalid(field, "is required (ISO 8601 date-time)")
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(field, "must be an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise _invalid(field, "must carry a time zone (e.g. Z)")
    return moment.astimezone(dt.timezone.utc)


def events(start: str | None, end: str | None, pagination_id: str | None, order: str | None,
           page_size: str | None, types: list[str]) -> list[dict[str, Any]]:
    start_at, end_at = parse_instant(start, "startDate"), parse_instant(end, "endDate")
    if start_at > end_at:
        raise _invalid("startDate", "must not be after endDate")
    # No event lies in the future, and reading costs one Query per month: a far end (up to the
    # year 9999) must neither cost thousands of Queries nor overflow the month arithmetic.
    end_at = min(end_at, dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1))
    order = order or "desc"
    if order not in ("asc", "desc"):
        raise _invalid("order", "must be asc or desc")
    size = _integer(page_size, "pageSize", 20)
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise _invalid("pageSize", f"must be between 1 and {MAX_PAGE_SIZE}")
    after = _integer(pagination_id, "paginationId", None)
    unknown = sorted(set(types) - ALL_TYPES)
    if unknown:
        raise _invalid("type", f"unknown event type {unknown[0]}")
    found = deps.audit_log().events(start_at, end_at, descending=order == "desc", after_id=after,
                                    page_size=size, types=frozenset(types))
    return [_plain(event) for event in found]


def _plain(event: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB numbers come back as Decimal; the DTO's id is an int64."""
    return {k: int(v) if isinstance(v, Decimal) else v for k, v in event.items()}


def _integer(value: str | None, field: str, default: int | None) -> int | None:
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise _invalid(field, "must be an integer") from None
