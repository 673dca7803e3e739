"""Leases in DynamoDB (``LOCK#<name>``/``LOCK``): one holder at a time, reclaimed after the TTL.

A holder that stalls past its TTL loses the lock; whatever it writes must still
be guarded by a condition on the data itself (the lock saves work, the
condition keeps the data right).
"""
from __future__ import annotations

from chalicelib.db import keys
from chalicelib.db.table import ConditionFailed, Table, Transaction


class Locks:
    def __init__(self, table: Table) -> None:
        self.table = table

    def acquire(self, name: str, owner: str, ttl_seconds: int, now: int) -> bool:
        # The holder itself may take the lease again: botocore retries a put whose answer was
        # lost (a timeout after DynamoDB wrote it), and that retry must not lock its own writer out.
        try:
            self.table.put({"pk": keys.lock_pk(name), "sk": keys.LOCK_SK, "owner": owner, "acquired_at": now,
                            "expires_at": now + ttl_seconds},
                           condition="attribute_not_exists(pk) OR expires_at <= :now OR #owner = :owner",
                           values={":now": now, ":owner": owner}, names={"#owner": "owner"})
        except ConditionFailed:
            return False
        return True

    def release(self, name: str, owner: str) -> None:
        try:
            self.table.delete(keys.lock_pk(name), keys.LOCK_SK, condition="#owner = :owner",
                              values={":owner": owner}, names={"#owner": "owner"})
        except ConditionFailed:
            pass  # expired and taken over by another holder: theirs now

    def release_with(self, transaction: Transaction, name: str, owner: str) -> Transaction:
        """Releases the lock in ``transaction``: the work it guarded and its release land together
        (and not at all if the lock expired and another holder took it)."""
        return transaction.delete(keys.lock_pk(name), keys.LOCK_SK, condition="#owner = :owner",
                                  values={":owner": owner}, names={"#owner": "owner"})
