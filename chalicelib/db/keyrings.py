"""Key-ring items and sealed-record index entries (the DynamoDB side of architecture §6).

A ring is one partition: ``RING#<ring>``/``HEAD`` (latest version, floor, the
lowest version still stored) and ``RING#<ring>``/``V#<version>`` (the version's
data key as wrapped by KMS). One Query reads the whole ring. Ring heads carry
``gsi1pk = RINGS`` so the admin listing is a Query, never a Scan.

Every item that holds a sealed record carries ``gsi1pk = SEALED#<ring>`` and
``gsi1sk = <version>#<pk>#<sk>``, so the re-wrap job finds the records below a
version with one Query per page, whoever owns them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from chalicelib import errors
from chalicelib.db import keys
from chalicelib.db.table import GSI1, Table, Transaction

_TORN_READ_ATTEMPTS = 3


@dataclass(frozen=True)
class RingVersion:
    version: int
    wrapped: bytes
    kms_key: str
    created_at: int


@dataclass(frozen=True)
class Ring:
    name: str
    latest: int
    min_decryption_version: int
    min_available_version: int
    created_at: int
    updated_at: int
    latest_since: int
    versions: dict[int, RingVersion] = field(default_factory=dict)


class KeyRingRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def load(self, name: str) -> Ring | None:
        # A Query is read-committed item by item, so it can meet the transaction that creates or
        # rotates the ring half-applied: a head naming a version whose item it did not see yet.
        for _attempt in range(_TORN_READ_ATTEMPTS):
            ring = self._read(name)
            if ring is None or ring.latest in ring.versions:
                return ring
        raise errors.ServiceUnavailable()

    def _read(self, name: str) -> Ring | None:
        # Strongly consistent: an eventually consistent read could lag the ring's last change for
        # longer than a few re-reads; rings are cached, so this costs one read per cold start.
        items = list(self.table.query_all(keys.ring_pk(name), consistent=True))
        head = next((i for i in items if i["sk"] == keys.RING_HEAD_SK), None)
        if head is None:
            return None
        versions = {}
        for item in items:
            if item["sk"].startswith(keys.RING_VERSION_SK_PREFIX):
                version = int(item["version"])
                versions[version] = RingVersion(version, bytes(item["wrapped"]), item["kms_key"], int(item["created_at"]))
        return Ring(name, int(head["latest"]), int(head["min_decryption_version"]),
                    int(head["min_available_version"]), int(head["created_at"]), int(head["updated_at"]),
                    int(head.get("latest_since", head["updated_at"])), versions)

    def names(self) -> list[str]:
        return [item["gsi1sk"] for item in self.table.query_all(keys.RINGS_INDEX, index=GSI1)]

    def create(self, transaction: Transaction, name: str, first: RingVersion) -> Transaction:
        """The ring with its first version; the commit fails (ConditionFailed) if another instance
        created it first."""
        transaction.put({"pk": keys.ring_pk(name), "sk": keys.RING_HEAD_SK, "ring": name, "latest": first.version,
                         "min_decryption_version": first.version, "min_available_version": first.version,
                         "created_at": first.created_at, "updated_at": first.created_at,
                         "latest_since": first.created_at, "gsi1pk": keys.RINGS_INDEX, "gsi1sk": name},
                        condition="attribute_not_exists(pk)")
        return transaction.put(_version_item(name, first), condition="attribute_not_exists(pk)")

    def add_version(self, transaction: Transaction, name: str, version: RingVersion) -> Transaction:
        """Makes ``version`` the sealing version; the commit fails if the ring moved meanwhile."""
        transaction.update(keys.ring_pk(name), keys.RING_HEAD_SK,
                           "SET latest = :new, updated_at = :now, latest_since = :now",
                           values={":new": version.version, ":prev": version.version - 1,
                                   ":now": version.created_at},
                           condition="latest = :prev")
        return transaction.put(_version_item(name, version), condition="attribute_not_exists(pk)")

    def set_floor(self, transaction: Transaction, name: str, floor: int, now: int) -> Transaction:
        """The commit fails unless ``min_available_version <= floor <= latest``."""
        return transaction.update(keys.ring_pk(name), keys.RING_HEAD_SK,
                                  "SET min_decryption_version = :floor, updated_at = :now",
                                  values={":floor": floor, ":now": now},
                                  condition="min_available_version <= :floor AND latest >= :floor")

    def trim(self, transaction: Transaction, name: str, versions: list[int], new_min_available: int,
             now: int) -> Transaction:
        """Deletes ``versions`` (all below the floor) together with the head update."""
        transaction.update(keys.ring_pk(name), keys.RING_HEAD_SK, "SET min_available_version = :min, updated_at = :now",
                           values={":min": new_min_available, ":now": now},
                           condition="min_decryption_version >= :min")
        for version in versions:
            transaction.delete(keys.ring_pk(name), keys.ring_version_sk(version), condition="attribute_exists(pk)")
        return transaction

    def replace_wrapped(self, name: str, old: RingVersion, new: RingVersion) -> None:
        self.table.update(keys.ring_pk(name), keys.ring_version_sk(old.version), "SET #wrapped = :new, kms_key = :key",
                          values={":new": new.wrapped, ":key": new.kms_key, ":old": old.wrapped},
                          names={"#wrapped": "wrapped"}, condition="#wrapped = :old")


class SealedRecordIndex:
    """The index entries that let the re-wrap job find records by ring and version."""

    def __init__(self, table: Table) -> None:
        self.table = table

    @staticmethod
    def attributes(ring: str, pk: str, sk: str, record: bytes, version: int, identity: str) -> dict[str, Any]:
        """Merge into any item holding a sealed record (the item must not use gsi1 otherwise)."""
        return {"sealed": record, "sealed_ring": ring, "sealed_identity": identity,
                "gsi1pk": keys.sealed_index_pk(ring), "gsi1sk": keys.sealed_index_sk(version, pk, sk)}

    def below(self, ring: str, version: int) -> Iterator[dict[str, Any]]:
        """Items whose record is sealed under a version lower than ``version`` (eventually consistent)."""
        if version <= 1:
            return iter(())
        return self.table.query_all(keys.sealed_index_pk(ring), index=GSI1, sk_between=keys.sealed_index_below(version))

    def replace(self, item: dict[str, Any], record: bytes, version: int) -> None:
        """Swaps the record iff it is still the one we read; ConditionFailed otherwise."""
        fresh = self.attributes(item["sealed_ring"], item["pk"], item["sk"], record, version, item["sealed_identity"])
        self.table.update(item["pk"], item["sk"], "SET #sealed = :new, gsi1sk = :gsk",
                          values={":new": record, ":gsk": fresh["gsi1sk"], ":old": bytes(item["sealed"])},
                          names={"#sealed": "sealed"}, condition="#sealed = :old")


def _version_item(name: str, version: RingVersion) -> dict[str, Any]:
    return {"pk": keys.ring_pk(name), "sk": keys.ring_version_sk(version.version), "version": version.version,
            "wrapped": version.wrapped, "kms_key": version.kms_key, "created_at": version.created_at}

