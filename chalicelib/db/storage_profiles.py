"""Storage profiles: one partition, ``STORAGEPROFILE``, one item per profile.

Profiles are immutable once written; the only change is setting ``archived``.
Listing them is one Query (an installation has a handful, never thousands).
Beside them, one item per vault bucket the service created (``BUCKET#<bucket>``), naming the
template it was asked for, so that a repeat of that creation is told from a conflicting one.
"""
from __future__ import annotations

from typing import Any

from chalicelib.db import keys
from chalicelib.db.table import Table, Transaction, record

class StorageProfileRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self, profile_id: str) -> dict[str, Any] | None:
        item = self.table.get(*keys.storage_profile(profile_id))
        return record(item) if item else None

    def all(self) -> list[dict[str, Any]]:
        return [record(i) for i in self.table.query_all(keys.STORAGE_PROFILES)]

    def create(self, transaction: Transaction, profile: dict[str, Any]) -> Transaction:
        pk, sk = keys.storage_profile(profile["id"])
        return transaction.put({"pk": pk, "sk": sk, **profile}, condition="attribute_not_exists(pk)")

    def archive(self, transaction: Transaction, profile_id: str) -> Transaction:
        return transaction.update(*keys.storage_profile(profile_id), "SET #archived = :true",
                                  values={":true": True}, names={"#archived": "archived"},
                                  condition="attribute_exists(pk)")

    def bucket_creation(self, bucket: str) -> dict[str, Any] | None:
        """What the creation of ``bucket`` was asked to write (its ``template`` fingerprint), if it happened."""
        item = self.table.get(*keys.vault_bucket(bucket))
        return record(item) if item else None

    def record_bucket_creation(self, transaction: Transaction, bucket: str, vault_id: str, profile_id: str,
                               template: str) -> Transaction:
        pk, sk = keys.vault_bucket(bucket)
        return transaction.put({"pk": pk, "sk": sk, "vaultId": vault_id, "storageProfileId": profile_id,
                                "template": template}, condition="attribute_not_exists(pk)")
