"""Storage profiles: created by admins, read by every user, never edited.

A profile tells clients (and bucket creation) where and how vault buckets
live. Changing one would strand the vaults created with it, so the only change
is archiving — no new vaults on it; replacing it is archive + create.
"""
from __future__ import annotations

import uuid
from typing import Any

from chalicelib import audit, deps
from chalicelib.auth import Principal
from chalicelib.errors import NotFound
from chalicelib.storage.formats import ProfileInput
from chalicelib.store.table import ConditionFailed, Transaction

CREATE_EVENT = "STORAGE_PROFILE_CREATE"
ARCHIVE_EVENT = "STORAGE_PROFILE_ARCHIVE"


def profile_dto(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "archived": bool(record.get("archived", False))}


def create(principal: Principal, body: ProfileInput) -> dict[str, Any]:
    profile = body.root
    record = {**profile.model_dump(mode="json", exclude={"id"}, exclude_none=True), "id": str(uuid.uuid4())}
    transaction = deps.storage_profiles().create(Transaction(), record)
    audit.record(transaction, CREATE_EVENT, createdBy=principal.user_id, storageProfileId=record["id"],
                 storageProfileName=record["name"], protocol=record["protocol"])
    deps.table().commit(transaction)
    return profile_dto(record)


def listing(archived: bool | None) -> list[dict[str, Any]]:
    profiles = (profile_dto(r) for r in deps.storage_profiles().all())
    chosen = [p for p in profiles if archived is None or p["archived"] == archived]
    return sorted(chosen, key=lambda p: (p["name"].lower(), p["id"]))


def get(profile_id: str) -> dict[str, Any]:
    record = deps.storage_profiles().get(profile_id.lower())
    if record is None:
        raise NotFound("no such storage profile")
    return profile_dto(record)


def archive(principal: Principal, profile_id: str) -> None:
    """Archives the profile; archiving an archived one changes nothing."""
    profile = get(profile_id)
    if profile["archived"]:
        return
    transaction = deps.storage_profiles().archive(Transaction(), profile["id"])
    audit.record(transaction, ARCHIVE_EVENT, archivedBy=principal.user_id, storageProfileId=profile["id"],
                 storageProfileName=profile["name"])
    try:
        deps.table().commit(transaction)
    except ConditionFailed:
        raise NotFound("no such storage profile") from None
