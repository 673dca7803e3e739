"""Strict base64 and JOSE JSON helpers shared by the crypto modules (internal; ``json_object`` and
``json_segment`` are re-exported by :mod:`katta_client.crypto` for the client's other JOSE readers)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from .errors import InvalidFormat

_B64URL_RE = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")
_B64STD_RE = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


def b64url_encode(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(value: object, what: str = "value") -> bytes:
    """Decode base64url; padding optional (Katta's Java client pads, the web client does not)."""
    if not isinstance(value, str) or not _B64URL_RE.fullmatch(value):
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


def json_object(data: bytes | str, what: str) -> dict[str, Any]:
    """A JOSE header, claim set or JSON serialization: a JSON object in which no object, at any
    depth, names a member twice. joserfc and ``json.loads`` let the last of two equal names win,
    so ``{"alg":"none","alg":"ES256"}`` would be checked as one thing and used as another."""
    try:
        value = json.loads(data.decode("utf-8") if isinstance(data, bytes) else data,
                           object_pairs_hook=_unique_members)
    except InvalidFormat:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidFormat(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidFormat(f"{what} is not a JSON object")
    return value


def json_segment(segment: object, what: str) -> dict[str, Any]:
    """The JSON object (see :func:`json_object`) a base64url segment of a compact JWS or JWE encodes."""
    return json_object(b64url_decode(segment, what), what)


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise InvalidFormat("duplicate member in JSON object")
    return members
