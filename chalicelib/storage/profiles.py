"""Storage profiles: created by admins, read by every user, never edited.

A profile tells clients (and bucket creation) where and how vault buckets
live. Changing one would strand the vaults created with it, so the only change
is archiving — no new vaults on it; replacing it is archive + create.
"""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from chalicelib.audit import catalogue
from chalicelib.auth import Principal
from chalicelib.errors import NotFound
from chalicelib.storage.formats import ProfileInput
from chalicelib.db.table import ConditionFailed, Transaction

if TYPE_CHECKING:
    from chalicelib.audit import AuditLog
    from chalicelib.db.storage_profiles import StorageProfileRepository
    from chalicelib.db.table import Transactions


def profile_dto(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "archived": bool(record.get("archived", False))}


class StorageProfileService:
    def __init__(self, profiles: StorageProfileRepository, transactions: Transactions, audit_log: AuditLog) -> None:
        self._profiles = profiles
        self._transactions = transactions
        self._audit_log = audit_log

    def create(self, principal: Principal, body: ProfileInput) -> dict[str, Any]:
        profile = body.root
        record = {**profile.model_dump(mode="json", exclude={"id"}, exclude_none=True), "id": str(uuid.uuid4())}
        transaction = self._profiles.create(Transaction(), record)
        self._audit_log.record(transaction, catalogue.STORAGE_PROFILE_CREATE, createdBy=principal.user_id,
                               storageProfileId=record["id"], storageProfileName=record["name"],
                               protocol=record["protocol"])
        self._transactions.commit(transaction)
        return profile_dto(record)

    def listing(self, archived: bool | None) -> list[dict[str, Any]]:
        profiles = (profile_dto(r) for r in self._profiles.all())
        chosen = [p for p in profiles if archived is None or p["archived"] == archived]
        return sorted(chosen, key=lambda p: (p["name"].lower(), p["id"]))

    def sts_endpoints(self) -> list[str]:
        """The STS endpoints of the live S3 STS profiles (AWS's regional one where a profile names
        none): the web app calls them from the browser to create a vault's bucket, so its CSP names them."""
        return [profile.get("stsEndpoint") or f"https://sts.{profile.get('region') or 'us-east-1'}.amazonaws.com"
                for profile in self.listing(archived=False) if profile.get("protocol") == "S3STS"]

    def get(self, profile_id: str) -> dict[str, Any]:
        record = self._profiles.get(profile_id.lower())
        if record is None:
            raise NotFound("no such storage profile")
        return profile_dto(record)

    def archive(self, principal: Principal, profile_id: str) -> None:
        """Archives the profile; archiving an archived one changes nothing."""
        profile = self.get(profile_id)
        if profile["archived"]:
            return
        transaction = self._profiles.archive(Transaction(), profile["id"])
        self._audit_log.record(transaction, catalogue.STORAGE_PROFILE_ARCHIVE, archivedBy=principal.user_id,
                               storageProfileId=profile["id"], storageProfileName=profile["name"])
        try:
            self._transactions.commit(transaction)
        except ConditionFailed:
            raise NotFound("no such storage profile") from None
