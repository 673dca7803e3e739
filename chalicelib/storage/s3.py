"""The S3 side of a bucket creation: the request's own client, its calls, and what S3's refusals mean to us.

The calls are made with the temporary credentials the client obtained for the
profile's create-bucket role — the Lambda's own role has no S3 access. The
credentials live only in a boto3 client local to this request: never stored,
never logged, never part of an error message.

Template (as Katta writes it): ``vault.uvf``, the root directory placeholder
``d/<h[0:2]>/<h[2:]>/`` and its ``dir.uvf``, where ``h`` is the root dir hash.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
from typing import Any, Iterator

from chalicelib import aws
from chalicelib.errors import BadRequest, Conflict
from chalicelib.storage.formats import CreateBucketInput

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
def credentials_unlogged(body: CreateBucketInput) -> Iterator[None]:
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


def request_client(profile: dict[str, Any], body: CreateBucketInput):
    """A client holding the caller's temporary credentials, for this request only."""
    from botocore.config import Config

    config = Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"},
                    s3={"addressing_style": "path" if profile.get("pathStyleAccessEnabled") else "auto"})
    return aws.session().client(
        "s3", region_name=body.region, endpoint_url=profile.get("endpoint"), config=config,
        aws_access_key_id=body.awsAccessKey.get_secret_value(),
        aws_secret_access_key=body.awsSecretKey.get_secret_value(),
        aws_session_token=body.sessionToken.get_secret_value())


class VaultBucket:
    """One vault's bucket, reached through the request's client (S3's outages are ServiceUnavailable:
    ``aws.translating``; its refusals become ours here)."""

    def __init__(self, client: Any, name: str) -> None:
        self._s3 = aws.translating(client)
        self.name = name

    def create(self, region: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self._s3.head_bucket(Bucket=self.name)
        except ClientError as error:
            # 403: the bucket may exist in another account; CreateBucket will tell.
            if aws.error_code(error) not in _NO_BUCKET and aws.error_status(error) != 403:
                raise _refusal(error) from None
        else:
            raise Conflict(f"the bucket {self.name} already exists")
        parameters: dict[str, Any] = {"Bucket": self.name}
        if region != "us-east-1":  # S3 refuses us-east-1 as a location constraint
            parameters["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self._s3.create_bucket(**parameters)
        except ClientError as error:
            raise _refusal(error) from None

    def put_template(self, body: CreateBucketInput, storage_class: str) -> None:
        from botocore.exceptions import ClientError

        extra = {} if storage_class == "STANDARD" else {"StorageClass": storage_class}
        directory, dir_uvf = template_keys(body.rootDirHash)
        try:
            self._s3.put_object(Bucket=self.name, Key=VAULT_UVF, Body=body.vaultUvf.encode("utf-8"), **extra)
            self._s3.put_object(Bucket=self.name, Key=directory, Body=b"", **extra)
            self._s3.put_object(Bucket=self.name, Key=dir_uvf, Body=body.dir_uvf_bytes(), **extra)
        except ClientError as error:
            raise _refusal(error) from None

    def remove_half_written(self, root_dir_hash: str) -> None:
        """Best effort, so a retry does not meet a 409; the create-bucket role may not be allowed to."""
        try:
            for key in (VAULT_UVF, *template_keys(root_dir_hash)):
                self._s3.delete_object(Bucket=self.name, Key=key)
            self._s3.delete_bucket(Bucket=self.name)
        except Exception:  # noqa: BLE001 - the original failure is what the client must see
            pass


def _refusal(error) -> Exception:
    """What the client sees for an S3 refusal."""
    code, status = aws.error_code(error), aws.error_status(error)
    if code in _EXISTS:
        return Conflict("a bucket with this name already exists")
    if code in _CREDENTIAL_CODES or status in (401, 403):
        return BadRequest(f"the storage refused the temporary credentials ({code}); "
                          "obtain fresh ones for the profile's create-bucket role")
    return BadRequest(f"could not create the bucket ({code})")
