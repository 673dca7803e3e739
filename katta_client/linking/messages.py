"""JSON messages inside the secure channel (MSC4108's message set, plus the key hand-over).

Every message is a UTF-8 JSON object with a ``type``. Unknown extra fields are
ignored (as Matrix does), missing or ill-typed required fields are refused.
The ``m.login.*`` names and failure reasons are MSC4108's; ``device_offer`` is
how the new device asks an existing one to register its P-384 device key.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar, Union

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from .errors import ProtocolViolation

PROTOCOLS = "m.login.protocols"
PROTOCOL = "m.login.protocol"
PROTOCOL_ACCEPTED = "m.login.protocol_accepted"
SUCCESS = "m.login.success"
DECLINED = "m.login.declined"
FAILURE = "m.login.failure"
DEVICE_OFFER = "device_offer"

DEVICE_AUTHORIZATION_GRANT = "device_authorization_grant"
KNOWN_PROTOCOLS = frozenset({DEVICE_AUTHORIZATION_GRANT})

# MSC4108's reasons, and one of ours for a registration the server refused.
AUTHORIZATION_EXPIRED = "authorization_expired"
DEVICE_ALREADY_EXISTS = "device_already_exists"
DEVICE_NOT_FOUND = "device_not_found"
UNEXPECTED_MESSAGE_RECEIVED = "unexpected_message_received"
UNSUPPORTED_PROTOCOL = "unsupported_protocol"
USER_CANCELLED = "user_cancelled"
REGISTRATION_FAILED = "katta.registration_failed"
FAILURE_REASONS = frozenset({
    AUTHORIZATION_EXPIRED, DEVICE_ALREADY_EXISTS, DEVICE_NOT_FOUND,
    UNEXPECTED_MESSAGE_RECEIVED, UNSUPPORTED_PROTOCOL, USER_CANCELLED, REGISTRATION_FAILED,
})

DEVICE_TYPES = frozenset({"BROWSER", "DESKTOP", "MOBILE"})
MAX_DEVICE_NAME = 255
MAX_DEVICE_ID = 255
_DEVICE_ID = re.compile(r"[-_.a-zA-Z0-9]+")
_DEVICE_NAME_FORBIDDEN = re.compile(r'[*<>"\x00-\x1f\x7f]')
_STD_BASE64 = re.compile(r"[+/A-Za-z0-9]+={0,2}")


def _require(obj: dict, name: str, kind: type, *, optional: bool = False) -> Any:
    if name not in obj and optional:
        return None
    value = obj.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ProtocolViolation(f"'{obj.get('type')}' message needs a {kind.__name__} '{name}'")
    return value


@dataclass(frozen=True)
class LoginProtocols:
    """Existing -> new: the sign-in protocols on offer and the server's base URL."""
    TYPE: ClassVar[str] = PROTOCOLS
    protocols: tuple[str, ...]
    base_url: str

    def to_json(self) -> dict:
        return {"type": self.TYPE, "protocols": list(self.protocols), "base_url": self.base_url}

    @classmethod
    def from_json(cls, obj: dict) -> "LoginProtocols":
        protocols = _require(obj, "protocols", list)
        if not all(isinstance(p, str) for p in protocols):
            raise ProtocolViolation("'m.login.protocols' protocols must be strings")
        return cls(tuple(protocols), _require(obj, "base_url", str))


@dataclass(frozen=True)
class LoginProtocol:
    """New -> existing: the protocol chosen (RFC 8628 device grant) and where to approve it.

    ``user_code`` is our addition to MSC4108's ``device_authorization_grant`` object: RFC 8628
    makes ``verification_uri_complete`` optional, and without it the user needs the code.
    """
    TYPE: ClassVar[str] = PROTOCOL
    protocol: str
    device_id: str
    verification_uri: str
    verification_uri_complete: str | None = None
    user_code: str | None = None

    def to_json(self) -> dict:
        grant = {"verification_uri": self.verification_uri}
        if self.verification_uri_complete is not None:
            grant["verification_uri_complete"] = self.verification_uri_complete
        if self.user_code is not None:
            grant["user_code"] = self.user_code
        return {"type": self.TYPE, "protocol": self.protocol,
                DEVICE_AUTHORIZATION_GRANT: grant, "device_id": self.device_id}

    @classmethod
    def from_json(cls, obj: dict) -> "LoginProtocol":
        protocol = _require(obj, "protocol", str)
        if protocol not in KNOWN_PROTOCOLS:
            raise ProtocolViolation(f"unsupported sign-in protocol '{protocol}'")
        grant = _require(obj, DEVICE_AUTHORIZATION_GRANT, dict)
        return cls(
            protocol,
            _require(obj, "device_id", str),
            _require(grant, "verification_uri", str),
            _require(grant, "verification_uri_complete", str, optional=True),
            _require(grant, "user_code", str, optional=True),
        )


@dataclass(frozen=True)
class _Bare:
    TYPE: ClassVar[str] = ""

    def to_json(self) -> dict:
        return {"type": self.TYPE}

    @classmethod
    def from_json(cls, obj: dict):
        return cls()


@dataclass(frozen=True)
class LoginProtocolAccepted(_Bare):
    """Existing -> new: the user is approving the sign-in in a browser."""
    TYPE: ClassVar[str] = PROTOCOL_ACCEPTED


@dataclass(frozen=True)
class LoginSuccess(_Bare):
    """The step succeeded (here: existing -> new, the device is registered)."""
    TYPE: ClassVar[str] = SUCCESS


@dataclass(frozen=True)
class LoginDeclined(_Bare):
    """The user declined the request."""
    TYPE: ClassVar[str] = DECLINED


@dataclass(frozen=True)
class LoginFailure:
    """Either side: the session ends, for ``reason``."""
    TYPE: ClassVar[str] = FAILURE
    reason: str

    def to_json(self) -> dict:
        return {"type": self.TYPE, "reason": self.reason}

    @classmethod
    def from_json(cls, obj: dict) -> "LoginFailure":
        reason = _require(obj, "reason", str)
        if reason not in FAILURE_REASONS:
            raise ProtocolViolation(f"unknown failure reason '{reason}'")
        return cls(reason)


@dataclass(frozen=True)
class DeviceOffer:
    """New -> existing: register this device key (``PUT /api/devices/{device_id}``)."""
    TYPE: ClassVar[str] = DEVICE_OFFER
    device_id: str
    device_public_key: str  # standard base64 of the SPKI DER of a P-384 key
    device_name: str
    device_type: str = "DESKTOP"

    def __post_init__(self) -> None:
        if not _DEVICE_ID.fullmatch(self.device_id) or len(self.device_id) > MAX_DEVICE_ID:
            raise ProtocolViolation("device_id must be 1-255 characters of [-_.a-zA-Z0-9]")
        if not 0 < len(self.device_name) <= MAX_DEVICE_NAME or _DEVICE_NAME_FORBIDDEN.search(self.device_name):
            raise ProtocolViolation('device_name must be 1-255 characters without * < > " or control characters')
        if self.device_type not in DEVICE_TYPES:
            raise ProtocolViolation(f"device_type must be one of {sorted(DEVICE_TYPES)}")
        self.public_key()

    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The offered key, checked to be a P-384 public key."""
        if not _STD_BASE64.fullmatch(self.device_public_key):
            raise ProtocolViolation("device_public_key is not standard base64")
        try:
            der = base64.b64decode(self.device_public_key, validate=True)
            key = load_der_public_key(der)
        except (binascii.Error, ValueError, UnsupportedAlgorithm):
            raise ProtocolViolation("device_public_key is not a DER SubjectPublicKeyInfo") from None
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP384R1):
            raise ProtocolViolation("device_public_key is not a P-384 key")
        return key

    def to_json(self) -> dict:
        return {"type": self.TYPE, "device_id": self.device_id, "device_public_key": self.device_public_key,
                "device_name": self.device_name, "device_type": self.device_type}

    @classmethod
    def from_json(cls, obj: dict) -> "DeviceOffer":
        device_type = _require(obj, "device_type", str, optional=True)
        return cls(
            _require(obj, "device_id", str),
            _require(obj, "device_public_key", str),
            _require(obj, "device_name", str),
            device_type if device_type is not None else "DESKTOP",
        )


Message = Union[LoginProtocols, LoginProtocol, LoginProtocolAccepted, LoginSuccess,
                LoginDeclined, LoginFailure, DeviceOffer]

_BY_TYPE: dict[str, type] = {cls.TYPE: cls for cls in (
    LoginProtocols, LoginProtocol, LoginProtocolAccepted, LoginSuccess, LoginDeclined, LoginFailure, DeviceOffer)}


def encode_message(message: Message) -> bytes:
    return json.dumps(message.to_json(), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode_message(plaintext: bytes) -> Message:
    try:
        obj = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolViolation("channel message is not UTF-8 JSON") from None
    if not isinstance(obj, dict):
        raise ProtocolViolation("channel message is not a JSON object")
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in _BY_TYPE:
        raise ProtocolViolation(f"unknown channel message type {kind!r}")
    return _BY_TYPE[kind].from_json(obj)
