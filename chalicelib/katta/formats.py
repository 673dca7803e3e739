"""The formats the Katta API accepts, checked at the edge and then stored opaque.

Patterns are the contract's (katta-openapi.json), matched against the whole
value. Public keys must be base64 SPKI DER that really parses as a P-384 key;
JWEs must be compact (five segments). The server never opens a JWE.
"""
from __future__ import annotations

import base64
import calendar
import binascii
import hashlib
import json
import re
import time
from enum import Enum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

# Contract patterns (anchored here: JSON Schema patterns are not).
JWE_PATTERN = r"^[-_A-Za-z0-9]+=*\.[-_A-Za-z0-9]*=*\.[-_A-Za-z0-9]*=*\.[-_A-Za-z0-9]+=*\.[-_A-Za-z0-9]*=*$"
JWS_PATTERN = r"^[-_A-Za-z0-9]+=*\.[-_A-Za-z0-9]*=*\.[-_A-Za-z0-9]*=*$"
ID_PATTERN = r"^[-_.a-zA-Z0-9]{1,255}$"
NAME_PATTERN = r'^[^*<>"]*$'
BASE64_PATTERN = r"^[+/A-Za-z0-9]+=*$"
UUID_PATTERN = r"^[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}$"

# Size limits: a P-384 SPKI is 120 bytes (160 in base64); user keys as a JWE stay
# well under 4 KiB; vault metadata (vault.uvf, JWKS) are small JSON documents.
MAX_PUBLIC_KEY_CHARS = 1024
MAX_JWE_CHARS = 16 * 1024
MAX_JWS_CHARS = 16 * 1024
MAX_NAME_CHARS = 255
MAX_DESCRIPTION_CHARS = 4096
MAX_UVF_CHARS = 64 * 1024
MAX_PICTURE_URL_CHARS = 255
# An emergency council's seats are written with the vault change in one transaction.
MAX_COUNCIL_MEMBERS = 30
MAX_PROCESS_DETAILS_CHARS = 16 * 1024
# Access tokens in one grant request (katta/vaults.py stores them in transactions of 49).
MAX_TOKENS_PER_REQUEST = 1000

_ID = re.compile(ID_PATTERN)
_UUID = re.compile(UUID_PATTERN)


_INSTANT = "%Y-%m-%dT%H:%M:%SZ"


def instant(epoch: float) -> str:
    """The contract's Instant: ISO 8601 UTC with a ``Z``."""
    return time.strftime(_INSTANT, time.gmtime(epoch))


def epoch_of(moment: str) -> float:
    """The epoch seconds of an ``instant`` this service wrote."""
    return float(calendar.timegm(time.strptime(moment, _INSTANT)))


def spki_p384(value: str) -> str:
    """A base64 (standard) SPKI DER that parses as a P-384 public key."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        der = base64.b64decode(value, validate=True)
        key = load_der_public_key(der)
    except (binascii.Error, ValueError):
        raise ValueError("must be a base64 SPKI public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp384r1":
        raise ValueError("must be a P-384 public key")
    return value


def json_document(value: str) -> str:
    """Vault metadata is stored as text, but it must at least be a JSON object."""
    try:
        parsed = json.loads(value)
    except ValueError:
        raise ValueError("must be a JSON document") from None
    if not isinstance(parsed, dict):
        raise ValueError("must be a JSON object")
    return value


def process_details(value: object) -> str | dict[str, Any] | None:
    """Text in Katta's contract; Hub's web client sends the JSON object itself, which must fit as text too."""
    if value is not None and not isinstance(value, (str, dict)):
        raise ValueError("must be JSON text or a JSON object")
    if isinstance(value, dict) and len(json.dumps(value, separators=(",", ":"))) > MAX_PROCESS_DETAILS_CHARS \
            or isinstance(value, str) and len(value) > MAX_PROCESS_DETAILS_CHARS:
        raise ValueError(f"must be at most {MAX_PROCESS_DETAILS_CHARS} characters as JSON")
    return value


def device_id_of(public_key: str) -> str:
    """Katta's device id: the uppercase hex SHA-256 of the SPKI DER."""
    return hashlib.sha256(base64.b64decode(public_key)).hexdigest().upper()


def is_authority_id(value: str) -> bool:
    return bool(_ID.fullmatch(value))


def is_uuid(value: str) -> bool:
    return bool(_UUID.fullmatch(value))


Jwe = Annotated[str, StringConstraints(pattern=JWE_PATTERN, max_length=MAX_JWE_CHARS)]
Jws = Annotated[str, StringConstraints(pattern=JWS_PATTERN, max_length=MAX_JWS_CHARS)]
PublicKey = Annotated[str, StringConstraints(pattern=BASE64_PATTERN, max_length=MAX_PUBLIC_KEY_CHARS),
                      AfterValidator(spki_p384)]
AuthorityId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
VaultId = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, min_length=1, max_length=MAX_NAME_CHARS,
                                        strip_whitespace=True)]
Description = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=MAX_DESCRIPTION_CHARS)]
PictureUrl = Annotated[str, StringConstraints(max_length=MAX_PICTURE_URL_CHARS)]
UvfDocument = Annotated[str, StringConstraints(max_length=MAX_UVF_CHARS), AfterValidator(json_document)]


class Role(str, Enum):
    MEMBER = "MEMBER"
    OWNER = "OWNER"


class AuthorityType(str, Enum):
    """What a member id names: user and group ids share one namespace."""
    USER = "USER"
    GROUP = "GROUP"


class RecoveryType(str, Enum):
    """What a recovery process changes: who holds the vault, or who sits on its council."""
    CHANGE_PERMISSIONS = "CHANGE_PERMISSIONS"
    COUNCIL_CHANGE = "COUNCIL_CHANGE"


class DeviceType(str, Enum):
    BROWSER = "BROWSER"
    DESKTOP = "DESKTOP"
    MOBILE = "MOBILE"


class _Input(BaseModel):
    # Clients send whole DTOs back (read-only fields included); those are ignored.
    model_config = ConfigDict(extra="ignore", defer_build=True)  # built on first use, not at import


class DeviceInput(_Input):
    id: AuthorityId | None = None
    name: Name
    type: DeviceType = DeviceType.DESKTOP
    publicKey: PublicKey
    userPrivateKey: Jwe


class UserKeysInput(_Input):
    ecdhPublicKey: PublicKey | None = None
    ecdsaPublicKey: PublicKey | None = None
    privateKeys: Jwe | None = None
    setupCode: Jwe | None = None
    language: Annotated[str, StringConstraints(pattern=r"^[-_a-zA-Z0-9]{1,35}$")] | None = None


_LEGACY_VAULT_FIELDS = ("masterkey", "iterations", "salt", "authPublicKey", "authPrivateKey")


class VaultInput(_Input):
    id: VaultId | None = None
    name: Name
    description: Description | None = None
    uvfMetadataFile: UvfDocument | None = None
    uvfKeySet: UvfDocument | None = None
    archived: bool | None = None
    masterkey: str | None = None
    iterations: int | None = None
    salt: str | None = None
    authPublicKey: str | None = None
    authPrivateKey: str | None = None
    requiredEmergencyKeyShares: int | None = Field(default=None, ge=0, le=MAX_COUNCIL_MEMBERS)
    # Council member id → their key share (a JWE to them); left out: the council stays as it is.
    emergencyKeyShares: dict[AuthorityId, Jwe] | None = Field(default=None, max_length=MAX_COUNCIL_MEMBERS)

    def legacy_fields(self) -> list[str]:
        return [name for name in _LEGACY_VAULT_FIELDS if getattr(self, name) is not None]


class GroupInput(_Input):
    name: Name
    pictureUrl: PictureUrl | None = None


class HubSettingsInput(_Input):
    wotMaxDepth: int = Field(default=3, ge=0, le=9)
    wotIdVerifyLen: int = Field(default=2, ge=0, le=64)
    enableAutomaticAccessGrant: bool = False
    automaticAccessGrantTrustThreshold: int = Field(default=-1, ge=-1, le=9)
    allowAutomaticAccessGrantOverride: bool = False
    enableEmergencyAccess: bool = False
    defaultRequiredEmergencyKeyShares: int = Field(default=0, ge=0, le=MAX_COUNCIL_MEMBERS)
    defaultMinMembers: int = Field(default=0, ge=0, le=MAX_COUNCIL_MEMBERS)
    allowChoosingEmergencyCouncil: bool = False
    emergencyCouncilMemberIds: list[AuthorityId] = Field(default_factory=list, max_length=MAX_COUNCIL_MEMBERS)


class RecoveredKeyShareInput(_Input):
    """One council member's part of a recovery process, all of it ciphertext the server never opens."""
    processPrivateKey: Jwe | None = None
    unrecoveredKeyShare: Jwe | None = None
    recoveredKeyShare: Jwe | None = None
    signedProcessInfo: Jws | None = None


class RecoveryProcessInput(_Input):
    id: VaultId | None = None
    vaultId: VaultId
    type: RecoveryType
    details: Annotated[Any, AfterValidator(process_details)] = None  # answered in the shape it came in
    requiredKeyShares: int | None = Field(default=None, ge=2, le=MAX_COUNCIL_MEMBERS)
    processPublicKey: Annotated[str, StringConstraints(min_length=1, max_length=MAX_PUBLIC_KEY_CHARS)]
    recoveredKeyShares: dict[AuthorityId, RecoveredKeyShareInput] = Field(min_length=1,
                                                                          max_length=MAX_COUNCIL_MEMBERS)
