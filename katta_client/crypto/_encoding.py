"""Strict base64 helpers shared by the crypto modules (internal)."""

from __future__ import annotations

import base64
import binascii
import re

from .errors import InvalidFormat

_B64URL_RE = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")
_B64STD_RE = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


def b64url_encode(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(value: object, what: str = "value") -> bytes:
    """Decode base64url; padding optional (Katta's Java client pads, the web client does not)."""
    if not isinstance(value, str) or not _B64URL_RE.match(value):
        raise InvalidFormat(f"{what} is not base64url")
    stripped = value.rstrip("=")
    if len(stripped) % 4 == 1:
        raise InvalidFormat(f"{what} is not base64url")
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError):
        raise InvalidFormat(f"{what} is not base64url") from None


def b64_encode(data: bytes) -> str:
    """Standard base64 with padding (SPKI / PKCS#8 / member key encodings)."""
    return base64.b64encode(data).decode("ascii")


def b64_decode(value: object, what: str = "value") -> bytes:
    """Decode standard base64; missing padding is tolerated (WebCrypto/rfc4648 'loose')."""
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidFormat(f"{what} is not base64") from None
    if not isinstance(value, str):
        raise InvalidFormat(f"{what} is not base64")
    value = value.strip()
    if not _B64STD_RE.match(value):
        raise InvalidFormat(f"{what} is not base64")
    stripped = value.rstrip("=")
    if len(stripped) % 4 == 1:
        raise InvalidFormat(f"{what} is not base64")
    try:
        return base64.b64decode(stripped + "=" * (-len(stripped) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidFormat(f"{what} is not base64") from None
