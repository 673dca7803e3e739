"""A vault's bucket, reached the Katta way: ``s3-token`` → STS ``AssumeRoleWithWebIdentity`` → S3.

The web-identity token names one vault (its ``Vault`` tag); STS turns it into temporary
credentials for the storage profile's role, and the role's policy reaches only that vault's
bucket (architecture §7). Nothing here is secret-aware beyond that: the objects are UVF ciphertext.

Uploads and downloads stream. A body up to :data:`PART_SIZE` is sent with one ``PutObject``;
a longer one with a multipart upload holding one part in memory at a time, so the memory a
transfer needs does not grow with the file. An interrupted multipart upload is aborted, and
the object appears only when the upload completes: readers never see half a file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional

from .http.models import StorageProfileDto

#: Bytes per multipart part (S3's minimum is 5 MiB for all parts but the last).
PART_SIZE = 8 * 1024 * 1024
#: Bytes asked from S3 per read while downloading.
READ_SIZE = 256 * 1024
_NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})
_DENIED = frozenset({"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                     "InvalidToken", "ExpiredTokenException", "InvalidIdentityToken"})

Progress = Callable[[int], None]


class StorageError(Exception):
    """S3 or STS refused or failed; the message says which call and why (never a credential)."""


class ObjectNotFound(StorageError):
    """The object does not exist in the bucket."""


@dataclass(frozen=True)
class TemporaryCredentials:
    access_key: str
    secret_key: str = field(repr=False)
    session_token: str = field(repr=False)


def bucket_name(profile: Mapping[str, Any], vault_id: str) -> str:
    """``<bucketPrefix><vaultId>``: the name the server gives a vault's bucket."""
    return f"{profile.get('bucketPrefix', '')}{vault_id}"


def _config(profile: Mapping[str, Any]):  # type: ignore[no-untyped-def]
    from botocore.config import Config

    style = "path" if profile.get("pathStyleAccessEnabled") else "auto"
    return Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"},
                  s3={"addressing_style": style})


def _code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", "")) or type(error).__name__


def _storage_error(action: str, error: Exception) -> StorageError:
    code = _code(error)
    if code in _NOT_FOUND:
        return ObjectNotFound(f"{action}: no such object")
    if code in _DENIED:
        return StorageError(f"{action}: the storage refused access ({code})")
    return StorageError(f"{action} failed ({code})")


def assume_role(profile: StorageProfileDto, role_arn: str, web_identity_token: str,
                session_name: str = "katta-client") -> TemporaryCredentials:
    """STS ``AssumeRoleWithWebIdentity`` at the profile's STS endpoint (unsigned: the token is the proof)."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    if not role_arn:
        raise StorageError("the storage profile names no role for this step")
    region = profile.get("region") or "us-east-1"
    sts = boto3.session.Session().client(
        "sts", region_name=region, endpoint_url=profile.get("stsEndpoint") or None,
        config=Config(signature_version=UNSIGNED, connect_timeout=5, read_timeout=30,
                      retries={"max_attempts": 2, "mode": "standard"}))
    parameters: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": session_name,
                                  "WebIdentityToken": web_identity_token}
    if profile.get("stsDurationSeconds"):
        parameters["DurationSeconds"] = int(profile["stsDurationSeconds"])  # type: ignore[arg-type]
    try:
        credentials = sts.assume_role_with_web_identity(**parameters)["Credentials"]
    except (ClientError, BotoCoreError) as error:
        raise _storage_error(f"STS AssumeRoleWithWebIdentity on {role_arn}", error) from None
    return TemporaryCredentials(credentials["AccessKeyId"], credentials["SecretAccessKey"],
                                credentials["SessionToken"])


def s3_client(profile: Mapping[str, Any], credentials: TemporaryCredentials):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.session.Session().client(
        "s3", region_name=profile.get("region") or "us-east-1", endpoint_url=profile.get("endpoint") or None,
        aws_access_key_id=credentials.access_key, aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.session_token, config=_config(profile))


class Bucket:
    """One vault bucket through an S3 client (any object with boto3's S3 client methods)."""

    def __init__(self, s3: Any, name: str) -> None:
        self.s3 = s3
        self.name = name

    def read(self, key: str) -> bytes:
        """A small object (``dir.uvf``) whole."""
        return b"".join(self.stream(key))

    def size(self, key: str) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return int(self.s3.head_object(Bucket=self.name, Key=key)["ContentLength"])
        except (ClientError, BotoCoreError) as error:
            raise _storage_error("HeadObject", error) from None

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except ObjectNotFound:
            return False
        return True

    def stream(self, key: str, read_size: int = READ_SIZE) -> Iterator[bytes]:
        """The object's bytes in pieces of at most ``read_size``."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = self.s3.get_object(Bucket=self.name, Key=key)["Body"]
        except (ClientError, BotoCoreError) as error:
            raise _storage_error("GetObject", error) from None
        try:
            while True:
                try:
                    piece = body.read(read_size)
                except (ClientError, BotoCoreError) as error:
                    raise _storage_error("GetObject (reading)", error) from None
                if not piece:
                    return
                yield piece
        finally:
            body.close()

    def keys(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(key, size) of every object under ``prefix``."""
        for key, size, _modified in self.objects(prefix):
            yield key, size

    def objects(self, prefix: str) -> Iterator[tuple[str, int, Optional[datetime]]]:
        """(key, size, last modified) of every object under ``prefix``."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix):
                for item in page.get("Contents", ()):
                    yield item["Key"], int(item.get("Size", 0)), item.get("LastModified")
        except (ClientError, BotoCoreError) as error:
            raise _storage_error("ListObjectsV2", error) from None

    def put_bytes(self, key: str, data: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.s3.put_object(Bucket=self.name, Key=key, Body=data)
        except (ClientError, BotoCoreError) as error:
            raise _storage_error("PutObject", error) from None

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.s3.delete_object(Bucket=self.name, Key=key)
        except (ClientError, BotoCoreError) as error:
            raise _storage_error("DeleteObject", error) from None

    def upload(self, key: str, pieces: Iterable[bytes], progress: Optional[Progress] = None,
               part_size: int = PART_SIZE) -> int:
        """Store the concatenation of ``pieces``; returns the bytes stored.

        At most one part (``part_size`` bytes plus one piece) is held in memory.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        iterator = iter(pieces)
        first = _fill(iterator, part_size)
        if len(first) < part_size:  # the whole body fits in one part: no multipart needed
            self.put_bytes(key, bytes(first))
            if progress:
                progress(len(first))
            return len(first)
        try:
            upload_id = self.s3.create_multipart_upload(Bucket=self.name, Key=key)["UploadId"]
        except (ClientError, BotoCoreError) as error:
            raise _storage_error("CreateMultipartUpload", error) from None
        parts: list[dict[str, Any]] = []
        total = 0
        try:
            part: bytearray = first
            while part:
                number = len(parts) + 1
                response = self.s3.upload_part(Bucket=self.name, Key=key, UploadId=upload_id,
                                               PartNumber=number, Body=bytes(part))
                parts.append({"ETag": response["ETag"], "PartNumber": number})
                total += len(part)
                if progress:
                    progress(len(part))
                part = _fill(iterator, part_size)
            self.s3.complete_multipart_upload(Bucket=self.name, Key=key, UploadId=upload_id,
                                              MultipartUpload={"Parts": parts})
        except BaseException as failure:
            try:
                self.s3.abort_multipart_upload(Bucket=self.name, Key=key, UploadId=upload_id)
            except Exception:  # noqa: BLE001 - the original failure is the one to report
                pass
            if isinstance(failure, (ClientError, BotoCoreError)):
                raise _storage_error("multipart upload", failure) from None
            raise
        return total


def _fill(pieces: Iterator[bytes], size: int) -> bytearray:
    """At least ``size`` bytes from ``pieces`` (fewer only at the end)."""
    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        if len(buffer) >= size:
            break
    return buffer
