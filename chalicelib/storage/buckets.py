"""``PUT /api/storage/{vaultId}``: create a vault's bucket and its UVF template.

The S3 calls are made with the temporary credentials the client obtained for
the profile's create-bucket role — the Lambda's own role has no S3 access. The
credentials live only in a boto3 client local to this request: never stored,
never logged, never part of an error message.

Template (as Katta writes it): ``vault.uvf``, the root directory placeholder
``d/<h[0:2]>/<h[2:]>/`` and its ``dir.uvf``, where ``h`` is the root dir hash.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import time
import uuid
from typing import Any, Iterator

from chalicelib import audit, aws, deps
from chalicelib.auth import Principal
from chalicelib.errors import ApiError, BadRequest, Conflict, Forbidden, Gone, InvalidField, ServiceUnavailable
from chalicelib.katta.formats import Role
from chalicelib.storage.formats import BUCKET_PREFIX_PATTERN, CreateBucketInput, Protocol
from chalicelib.store.locks import Locks
from chalicelib.store.table import Transaction

EVENT = "VAULT_BUCKET_CREATE"
# Longer than a request may run (the Lambda timeout), so a live creation never loses its lease;
# a crashed one's lease ends by itself (the table's TTL).
CREATION_LEASE_SECONDS = 120
VAULT_UVF = "vault.uvf"
DIR_UVF = "dir.uvf"
# What S3 answers when the credentials (not the request) are at fault.
_CREDENTIAL_CODES = frozenset({"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                               "InvalidToken", "TokenRefreshRequired", "InvalidClientTokenId"})
_NO_BUCKET = frozenset({"404", "NoSuchBucket", "NotFound"})
_EXISTS = frozenset({"BucketAlreadyExists", "BucketAlreadyOwnedByYou"})


# botocore's DEBUG records print request headers (the session token, the access key id).
# The app never runs botocore at DEBUG, but if an operator does, this request's
# credentials are still kept out: records mentioning them are dropped.
_CREDENTIAL_LOGGERS = ("botocore.endpoint", "botocore.auth")
_credentials_in_flight: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "katta_bucket_credentials", default=())


class _DropCredentialRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _credentials_in_flight.get()
        if not secrets:
            return True
        message = record.getMessage()
        return not any(secret in message for secret in secrets)


for _name in _CREDENTIAL_LOGGERS:
    logging.getLogger(_name).addFilter(_DropCredentialRecords())


@contextlib.contextmanager
def _credentials_unlogged(body: CreateBucketInput) -> Iterator[None]:
    secrets = tuple(s.get_secret_value() for s in (body.awsAccessKey, body.awsSecretKey, body.sessionToken))
    token = _credentials_in_flight.set(secrets)
    try:
        yield
    finally:
        _credentials_in_flight.reset(token)


def template_keys(root_dir_hash: str) -> tuple[str, str]:
    """(root directory placeholder, its dir.uvf)."""
    directory = f"d/{root_dir_hash[:2]}/{root_dir_hash[2:]}/"
    return directory, directory + DIR_UVF


def bucket_name(prefix: str, vault_id: str) -> str:
    if not re.fullmatch(BUCKET_PREFIX_PATTERN, prefix):
        raise BadRequest("the storage profile's bucket prefix does not form a valid bucket name")
    return prefix + vault_id


def create(principal: Principal, vault_id: str, body: CreateBucketInput) -> dict[str, Any]:
    if body.vaultId != vault_id:
        raise InvalidField([{"field": "vaultId", "reason": "must equal the vault id in the path"}])
    _require_owner_if_vault_exists(principal, vault_id)
    profile = deps.storage_profiles().get(body.storageConfigId.lower())
    if profile is None:
        raise InvalidField([{"field": "storageConfigId", "reason": "no such storage profile"}])
    if profile.get("archived"):
        raise Gone("the storage profile is archived: no new vaults can be created with it")
    if profile["protocol"] != Protocol.S3STS.value:
        raise InvalidField([{"field": "storageConfigId", "reason": "buckets are created only for S3STS profiles"}])
    if body.region not in profile["regions"]:
        raise InvalidField([{"field": "region", "reason": "must be one of the storage profile's regions"}])
    bucket = bucket_name(profile["bucketPrefix"], vault_id)
    # One creation per bucket: S3 answers a second CreateBucket of the same owner with success
    # (us-east-1), so two racing first PUTs would both write the template, the later one silently
    # replacing the earlier vault.uvf.
    lease, holder, locks = f"bucket:{bucket}", str(uuid.uuid4()), Locks(deps.table())
    if not locks.acquire(lease, holder, CREATION_LEASE_SECONDS, int(time.time())):
        raise ServiceUnavailable(f"the bucket {bucket} is being created by another request; retry",
                                 retry_after=5)
    try:
        with _credentials_unlogged(body):
            s3 = aws.translating(s3_client(profile, body))
            _create_bucket(s3, bucket, body.region)
            try:
                _put_template(s3, bucket, body, profile)
                # Inside the cleanup: a bucket whose creation was not recorded would turn the client's
                # retry into a 409. The record releases the lease, so a retry then meets the bucket.
                record = Transaction().put(audit.event_item(EVENT, {
                    "createdBy": principal.user_id, "vaultId": vault_id, "storageProfileId": profile["id"],
                    "bucket": bucket}))
                deps.table().commit(locks.release_with(record, lease, holder))
            except BaseException:
                _remove_half_written(s3, bucket, body.rootDirHash)
                raise
    except BaseException:
        _release_quietly(locks, lease, holder)
        raise
    return {}


def _release_quietly(locks: Locks, lease: str, holder: str) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        locks.release(lease, holder)
    except (BotoCoreError, ClientError):
        pass  # the lease expires by itself; the creation's own failure is what the client must see


def _require_owner_if_vault_exists(principal: Principal, vault_id: str) -> None:
    # Katta's clients may create the bucket before the vault; once the vault exists, only its owners may.
    try:
        _vault, role = deps.vault_access().vault_and_role(principal, vault_id)
    except ApiError as missing:
        if missing.status == 404:
            return
        raise
    if role != Role.OWNER.value:
        raise Forbidden("only an owner of the vault may create its bucket")


def s3_client(profile: dict[str, Any], body: CreateBucketInput):
    """A client holding the caller's temporary credentials, for this request only."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"},
                    s3={"addressing_style": "path" if profile.get("pathStyleAccessEnabled") else "auto"})
    return boto3.session.Session().client(
        "s3", region_name=body.region, endpoint_url=profile.get("endpoint"), config=config,
        aws_access_key_id=body.awsAccessKey.get_secret_value(),
        aws_secret_access_key=body.awsSecretKey.get_secret_value(),
        aws_session_token=body.sessionToken.get_secret_value())


def _create_bucket(s3, bucket: str, region: str) -> None:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as error:
        # 403: the bucket may exist in another account; CreateBucket will tell.
        if aws.error_code(error) not in _NO_BUCKET and aws.error_status(error) != 403:
            raise _refusal(error) from None
    else:
        raise Conflict(f"the bucket {bucket} already exists")
    parameters: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":  # S3 refuses us-east-1 as a location constraint
        parameters["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**parameters)
    except ClientError as error:
        raise _refusal(error) from None


def _put_template(s3, bucket: str, body: CreateBucketInput, profile: dict[str, Any]) -> None:
    from botocore.exceptions import ClientError

    extra = {} if profile.get("storageClass", "STANDARD") == "STANDARD" else {"StorageClass": profile["storageClass"]}
    directory, dir_uvf = template_keys(body.rootDirHash)
    try:
        s3.put_object(Bucket=bucket, Key=VAULT_UVF, Body=body.vaultUvf.encode("utf-8"), **extra)
        s3.put_object(Bucket=bucket, Key=directory, Body=b"", **extra)
        s3.put_object(Bucket=bucket, Key=dir_uvf, Body=body.dir_uvf_bytes(), **extra)
    except ClientError as error:
        raise _refusal(error) from None


def _remove_half_written(s3, bucket: str, root_dir_hash: str) -> None:
    """Best effort, so a retry does not meet a 409; the create-bucket role may not be allowed to."""
    try:
        for key in (VAULT_UVF, *template_keys(root_dir_hash)):
            s3.delete_object(Bucket=bucket, Key=key)
        s3.delete_bucket(Bucket=bucket)
    except Exception:  # noqa: BLE001 - the original failure is what the client must see
        pass


def _refusal(error) -> Exception:
    """What the client sees for an S3 refusal (S3's outages are ServiceUnavailable already: chalicelib.aws)."""
    code, status = aws.error_code(error), aws.error_status(error)
    if code in _EXISTS:
        return Conflict("a bucket with this name already exists")
    if code in _CREDENTIAL_CODES or status in (401, 403):
        return BadRequest(f"the storage refused the temporary credentials ({code}); "
                          "obtain fresh ones for the profile's create-bucket role")
    return BadRequest(f"could not create the bucket ({code})")
