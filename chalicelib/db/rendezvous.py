"""Rendezvous sessions in DynamoDB: the session, its owner's slot, anonymous creation counters.

Every rule that must hold across Lambda instances is a condition DynamoDB checks:
a write names the sequence token it replaces, a new session claims a free slot
of its owner (so a user never holds more live sessions than there are slots),
and an anonymous creation increments a per-source counter only below its limit.
Times are the caller's clock in epoch milliseconds; ``expires_at`` (seconds)
is only for DynamoDB's TTL reaper, which may run hours late.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from chalicelib.db import keys
from chalicelib.db.table import TTL_ATTRIBUTE, ConditionFailed, Table, Transaction

__all__ = ["ConditionFailed", "RendezvousRepository", "StoredSession"]

# A fixed-window counter outlives its window by this much, so a late reader still sees it.
_COUNTER_GRACE_SECONDS = 60


def ttl_seconds(epoch_ms: int) -> int:
    return math.ceil(epoch_ms / 1000)


@dataclass(frozen=True)
class StoredSession:
    id: str
    data: str
    sequence_token: str
    expires_at_ms: int
    # The token the last write replaced: an identical retry of that write is recognised by it.
    previous_token: str | None = None
    owner: str | None = None
    slot: int | None = None

    def is_live(self, now_ms: int) -> bool:
        return now_ms < self.expires_at_ms


@dataclass(frozen=True)
class Slot:
    number: int
    session_id: str
    expires_at_ms: int


class RendezvousRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    # --- sessions --------------------------------------------------------------------------------

    def get(self, session_id: str) -> StoredSession | None:
        """The session as last written (strongly consistent: a poller must see the latest write)."""
        item = self.table.get(*keys.rendezvous_session(session_id), consistent=True)
        return None if item is None else _session(item)

    def create(self, session: StoredSession, now_ms: int) -> None:
        """Writes a new session and, for an owned one, claims its slot; ConditionFailed if the slot is taken."""
        pk, sk = keys.rendezvous_session(session.id)
        item: dict[str, Any] = {
            "pk": pk, "sk": sk, "data": session.data, "sequence_token": session.sequence_token,
            "expires_at_ms": session.expires_at_ms, TTL_ATTRIBUTE: ttl_seconds(session.expires_at_ms),
            "owner": session.owner, "slot": session.slot,
        }
        transaction = Transaction().put(item, condition="attribute_not_exists(pk)")
        if session.owner is not None and session.slot is not None:
            slot_pk, slot_sk = keys.rendezvous_slot(session.owner, session.slot)
            transaction.put(
                {"pk": slot_pk, "sk": slot_sk, "session_id": session.id,
                 "expires_at_ms": session.expires_at_ms, TTL_ATTRIBUTE: ttl_seconds(session.expires_at_ms)},
                # A slot whose session has expired is free, whether or not the reaper has run.
                condition="attribute_not_exists(pk) OR expires_at_ms <= :now", values={":now": now_ms})
        self.table.commit(transaction)

    def replace(self, session_id: str, expected_token: str, new_token: str, data: str,
                now_ms: int) -> StoredSession:
        """Compare-and-swap of the payload; ConditionFailed unless ``expected_token`` is current and live."""
        item = self.table.update(
            *keys.rendezvous_session(session_id),
            "SET #data = :data, sequence_token = :new, previous_token = :expected",
            values={":data": data, ":new": new_token, ":expected": expected_token, ":now": now_ms},
            names={"#data": "data"},
            condition="sequence_token = :expected AND expires_at_ms > :now")
        return _session(item)

    def delete(self, session: StoredSession, now_ms: int) -> None:
        """Ends a live session and frees its slot; ConditionFailed if it is gone or expired meanwhile."""
        transaction = Transaction().delete(*keys.rendezvous_session(session.id),
                                           condition="attribute_exists(pk) AND expires_at_ms > :now",
                                           values={":now": now_ms})
        if session.owner is not None and session.slot is not None:
            transaction.delete(*keys.rendezvous_slot(session.owner, session.slot),
                               condition="attribute_not_exists(pk) OR session_id = :id",
                               values={":id": session.id})
        self.table.commit(transaction)

    # --- per-owner slots -------------------------------------------------------------------------

    def live_slots(self, owner: str, now_ms: int) -> list[Slot]:
        """The owner's slots held by sessions that have not expired (one Query)."""
        slots = []
        for item in self.table.query_all(keys.rendezvous_slots_of(owner), keys.RENDEZVOUS_SLOT_PREFIX):
            slot = Slot(keys.rendezvous_slot_number(item["sk"]), item["session_id"], int(item["expires_at_ms"]))
            if now_ms < slot.expires_at_ms:
                slots.append(slot)
        return slots

    # --- anonymous creation counters -------------------------------------------------------------

    def count_creation(self, source: str, window_start: int, window_seconds: int, limit: int) -> bool:
        """Counts one creation by ``source`` in the window; False (and no count) once ``limit`` is reached."""
        expires = window_start + window_seconds + _COUNTER_GRACE_SECONDS
        try:
            self.table.update(
                *keys.rendezvous_rate(source, window_start),
                "ADD #count :one SET #ttl = if_not_exists(#ttl, :expires)",
                values={":one": 1, ":limit": limit, ":expires": expires},
                names={"#count": "count", "#ttl": TTL_ATTRIBUTE},
                condition="attribute_not_exists(#count) OR #count < :limit")
        except ConditionFailed:
            return False
        return True


def _session(item: dict[str, Any]) -> StoredSession:
    slot = item.get("slot")
    return StoredSession(
        id=keys.rendezvous_session_id(item["pk"]), data=item["data"], sequence_token=item["sequence_token"],
        expires_at_ms=int(item["expires_at_ms"]), previous_token=item.get("previous_token"),
        owner=item.get("owner"), slot=None if slot is None else int(slot))
