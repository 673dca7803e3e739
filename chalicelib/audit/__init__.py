"""The audit log: events written in the same transaction as the change they record.

Services are given an ``AuditLog`` and name the event from ``catalogue``; the
items behind it are ``db.audit``'s business.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, Any, Callable

from chalicelib import metrics
from chalicelib.audit.catalogue import KATTA, KATTA_TYPES, SERVICE_TYPES, EventType

if TYPE_CHECKING:
    from chalicelib.db.audit import AuditEventRepository
    from chalicelib.db.table import Transaction

MAX_PAGE_SIZE = 100
_log = logging.getLogger("katta")
# Two logs: Katta's event types, which Hub's clients read (GET /api/auditlog), and this service's own
# parts' (GET /api/admin/auditlog), so that neither reads past the other's events.
HUB = "hub"
SERVICE = "service"
LOG_TYPES = {HUB: KATTA_TYPES, SERVICE: frozenset(SERVICE_TYPES)}


class AuditLog:
    def __init__(self, events: AuditEventRepository, clock: Callable[[], float] = time.time) -> None:
        self._events = events
        self._clock = clock

    def record(self, transaction: Transaction, event: EventType, **details: Any) -> Transaction:
        """Adds the event to ``transaction``: the change and its record land together or not at all."""
        return self._events.add(transaction, _log_of(event), event.name, _checked(event, details), self._clock())

    def write(self, event: EventType, **details: Any) -> None:
        """Writes an event that records no change of its own (a key retrieval, a token issued)."""
        checked = _checked(event, details)
        try:
            self._events.put(_log_of(event), event.name, checked, self._clock())
        except Exception:
            # The request fails with it (no unaudited success); the operator is told apart from other 5xx.
            _log.warning("audit write failed", extra={"event_type": event.name,
                                                      **metrics.fields(AuditWriteFailures=1)})
            raise

    def events(self, start: dt.datetime, end: dt.datetime, *, log: str = HUB, descending: bool = True,
               after_id: int | None = None, page_size: int = 20,
               types: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
        """Events of ``log`` in [start, end), newest first unless ``descending`` is False.

        ``after_id`` is the last id of the previous page, excluded. Events written before the logs
        were split share the hub's partitions: the type filter keeps each log to its own types.
        """
        # No event lies in the future, and reading costs one Query per month: a far end (up to the
        # year 9999) must neither cost thousands of Queries nor overflow the month arithmetic.
        now = dt.datetime.fromtimestamp(self._clock(), dt.timezone.utc)
        end = min(end, now + dt.timedelta(days=1))
        return self._events.page(log, start, end, descending=descending, after_id=after_id, page_size=page_size,
                                 types=types, log_types=LOG_TYPES[log])


def _log_of(event: EventType) -> str:
    return HUB if event.part == KATTA else SERVICE


def _checked(event: EventType, details: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(details) - event.fields)
    if unknown:
        # A writer out of step with the catalogue is a bug, caught by the first test that writes it.
        raise ValueError(f"{event.name} has no field {unknown[0]!r}; add it to audit.catalogue")
    return details

