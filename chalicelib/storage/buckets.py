"""``PUT /api/storage/{vaultId}``: create a vault's bucket and its UVF template.

The rules live here (who may, which profile, one creation per bucket); the S3
calls, made with the caller's own temporary credentials, are ``storage.s3``'s.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from typing import TYPE_CHECKING, Any, Callable

from chalicelib.audit import catalogue
from chalicelib.auth import Principal
from chalicelib.errors import BadRequest, Conflict, Forbidden, Gone, InvalidField, ServiceUnavailable
from chalicelib.katta.formats import Role
from chalicelib.storage import s3
from chalicelib.storage.formats import BUCKET_PREFIX_PATTERN, CreateBucketInput, Protocol
from chalicelib.db.table import Transaction

if TYPE_CHECKING:
    from chalicelib.audit import AuditLog
    from chalicelib.katta.access import VaultAccess
    from chalicelib.db.locks import Locks
    from chalicelib.db.storage_profiles import StorageProfileRepository
    from chalicelib.db.table import Transactions

    # The request's S3 client, made from the profile and the caller's credentials in the body.
    S3Clients = Callable[[dict[str, Any], CreateBucketInput], Any]

# Longer than a request may run (the Lambda timeout), so a live creation never loses its lease;
# a crashed one's lease ends by itself (the table's TTL).
CREATION_LEASE_SECONDS = 120


def bucket_name(prefix: str, vault_id: str) -> str:
    if not re.fullmatch(BUCKET_PREFIX_PATTERN, prefix):
        raise BadRequest("the storage profile's bucket prefix does not form a valid bucket name")
    return prefix + vault_id


def _fingerprint(profile_id: str, body: CreateBucketInput) -> str:
    """What a creation writes, as one digest: the same for a repeat, different for any other request.
    The credentials are no part of it (a retry may bring fresh ones; they are never kept)."""
    template = [profile_id, body.region, body.vaultUvf, body.dirUvf, body.rootDirHash]
    return hashlib.sha256(json.dumps(template).encode()).hexdigest()


class BucketService:
    def __init__(self, profiles: StorageProfileRepository, access: VaultAccess, locks: Locks,
                 transactions: Transactions, audit_log: AuditLog, s3_clients: S3Clients,
                 clock: Callable[[], float] = time.time) -> None:
        self._profiles = profiles
        self._access = access
        self._locks = locks
        self._transactions = transactions
        self._audit_log = audit_log
        self._s3_clients = s3_clients
        self._clock = clock

    def create(self, principal: Principal, vault_id: str, body: CreateBucketInput) -> dict[str, Any]:
        if body.vaultId != vault_id:
            raise InvalidField([{"field": "vaultId", "reason": "must equal the vault id in the path"}])
        self._require_owner_if_vault_exists(principal, vault_id)
        profile = self._profiles.get(body.storageConfigId.lower())
        if profile is None:
            raise InvalidField([{"field": "storageConfigId", "reason": "no such storage profile"}])
        if profile.get("archived"):
            raise Gone("the storage profile is archived: no new vaults can be created with it")
        if profile["protocol"] != Protocol.S3STS.value:
            raise InvalidField([{"field": "storageConfigId",
                                 "reason": "buckets are created only for S3STS profiles"}])
        if body.region not in profile["regions"]:
            raise InvalidField([{"field": "region", "reason": "must be one of the storage profile's regions"}])
        name = bucket_name(profile["bucketPrefix"], vault_id)
        template = _fingerprint(profile["id"], body)
        created = self._profiles.bucket_creation(name)
        if created is not None:
            if created["template"] == template:
                return {}  # a repeat of the creation (its answer was lost): the same answer, nothing written
            raise Conflict(f"the bucket {name} already exists")
        # One creation per bucket: S3 answers a second CreateBucket of the same owner with success
        # (us-east-1), so two racing first PUTs would both write the template, the later one silently
        # replacing the earlier vault.uvf.
        lease, holder = f"bucket:{name}", str(uuid.uuid4())
        if not self._locks.acquire(lease, holder, CREATION_LEASE_SECONDS, int(self._clock())):
            raise ServiceUnavailable(f"the bucket {name} is being created by another request; retry",
                                     retry_after=5)
        try:
            with s3.credentials_unlogged(body):
                bucket = s3.VaultBucket(self._s3_clients(profile, body), name)
                bucket.create(body.region)
                try:
                    bucket.put_template(body, profile.get("storageClass", "STANDARD"))
                    # Inside the cleanup: a bucket whose creation was not recorded would turn the client's
                    # retry into a 409. The record releases the lease, so a retry then meets the bucket.
                    record = self._audit_log.record(
                        Transaction(), catalogue.VAULT_BUCKET_CREATE, createdBy=principal.user_id,
                        vaultId=vault_id, storageProfileId=profile["id"], bucket=name)
                    self._profiles.record_bucket_creation(record, name, vault_id, profile["id"], template)
                    self._transactions.commit(self._locks.release_with(record, lease, holder))
                except BaseException:
                    bucket.remove_half_written(body.rootDirHash)
                    raise
        except BaseException:
            self._release_quietly(lease, holder)
            raise
        return {}

    def _release_quietly(self, lease: str, holder: str) -> None:
        try:
            self._locks.release(lease, holder)
        except Exception:  # noqa: BLE001 - the lease expires by itself; the creation's own failure is what
            pass           # the client must see (a DynamoDB outage here, ServiceUnavailable, included)

    def _require_owner_if_vault_exists(self, principal: Principal, vault_id: str) -> None:
        # Katta's clients may create the bucket before the vault; once the vault exists, only its owners may.
        vault, role = self._access.role_in(principal, vault_id)
        if vault is not None and role != Role.OWNER.value:
            raise Forbidden("only an owner of the vault may create its bucket")
