"""Request bodies of the storage API, per the contract's DTOs.

Storage profiles are polymorphic by ``protocol`` (``S3STATIC`` / ``S3STS``).
Unknown fields are refused rather than dropped: a profile is immutable, so a
setting silently lost on creation could never be added later.
"""
from __future__ import annotations

import base64
import binascii
from enum import Enum
from typing import Annotated, Literal, Union
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel, SecretStr, StringConstraints, \
    model_validator

from chalicelib.katta.formats import UUID_PATTERN, Name, UvfDocument

MAX_DIR_UVF_BYTES = 64 * 1024
# A bucket is <prefix><vault id>: 63 characters at most, the UUID takes 36.
BUCKET_PREFIX_PATTERN = r"^[a-z0-9][a-z0-9-]{0,26}$"
# Prefixes S3 reserves for its own bucket names.
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")


class Protocol(str, Enum):
    S3STATIC = "S3STATIC"
    S3STS = "S3STS"


class StorageClass(str, Enum):
    STANDARD = "STANDARD"
    INTELLIGENT_TIERING = "INTELLIGENT_TIERING"
    STANDARD_IA = "STANDARD_IA"
    ONEZONE_IA = "ONEZONE_IA"
    REDUCED_REDUNDANCY = "REDUCED_REDUNDANCY"
    GLACIER = "GLACIER"
    GLACIER_IR = "GLACIER_IR"
    DEEP_ARCHIVE = "DEEP_ARCHIVE"


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError("must be an absolute http(s) URL without query or fragment")
    return value


def _bucket_prefix(value: str) -> str:
    if value.startswith(_RESERVED_PREFIXES):
        raise ValueError(f"must not start with {', '.join(_RESERVED_PREFIXES)} (reserved by S3)")
    return value


Url = Annotated[str, StringConstraints(max_length=2048), AfterValidator(_http_url)]
Region = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]
BucketPrefix = Annotated[str, StringConstraints(pattern=BUCKET_PREFIX_PATTERN), AfterValidator(_bucket_prefix)]
RoleArn = Annotated[str, StringConstraints(pattern=r"^arn:\S+$", max_length=2048)]
TagKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:/=+@-]{1,128}$")]
ProfileId = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]


class _ProfileInput(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use, not at import

    id: str | None = None  # read-only: the server assigns the id, a client-supplied one is ignored
    name: Name
    archived: bool = False
    endpoint: Url | None = None
    pathStyleAccessEnabled: bool = False
    storageClass: StorageClass = StorageClass.STANDARD
    region: Region = "us-east-1"
    regions: list[Region] = Field(min_length=1, max_length=64)
    bucketPrefix: BucketPrefix

    @model_validator(mode="after")
    def _default_region_is_selectable(self):
        if self.region not in self.regions:
            raise ValueError("region: must be one of regions")
        return self


class S3StaticProfileInput(_ProfileInput):
    protocol: Literal["S3STATIC"]


class S3StsProfileInput(_ProfileInput):
    protocol: Literal["S3STS"]
    stsRoleCreateBucketClient: RoleArn
    stsRoleCreateBucketHub: RoleArn
    stsEndpoint: Url | None = None
    stsRoleAccessBucketAssumeRoleWithWebIdentity: RoleArn
    stsRoleAccessBucketAssumeRoleTaggedSession: RoleArn | None = None
    stsDurationSeconds: int | None = Field(default=None, ge=900, le=43200)
    stsSessionTag: TagKey = "Vault"


class ProfileInput(RootModel):
    model_config = ConfigDict(defer_build=True)
    root: Annotated[Union[S3StaticProfileInput, S3StsProfileInput], Field(discriminator="protocol")]


def _base64url(value: str) -> str:
    try:
        decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("must be base64url") from None
    if not decoded:
        raise ValueError("must not be empty")
    return value


class CreateBucketInput(BaseModel):
    """``CreateS3STSBucketDto``. The credentials are SecretStr and errors never echo input:
    neither a repr nor a validation message can carry them into a log."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, defer_build=True)

    vaultId: str
    storageConfigId: ProfileId
    vaultUvf: UvfDocument
    dirUvf: Annotated[str, StringConstraints(pattern=r"^[-_A-Za-z0-9]+=*$", max_length=MAX_DIR_UVF_BYTES * 4 // 3 + 4),
                      AfterValidator(_base64url)]
    # base32 of a 20-byte HMAC (architecture §5): 32 characters of A-Z and 2-7.
    rootDirHash: Annotated[str, StringConstraints(pattern=r"^[A-Z2-7]{32}$")]
    awsAccessKey: Annotated[SecretStr, Field(min_length=1, max_length=256)]
    awsSecretKey: Annotated[SecretStr, Field(min_length=1, max_length=256)]
    sessionToken: Annotated[SecretStr, Field(min_length=1, max_length=8192)]
    region: Region

    def dir_uvf_bytes(self) -> bytes:
        return base64.urlsafe_b64decode(self.dirUvf + "=" * (-len(self.dirUvf) % 4))
