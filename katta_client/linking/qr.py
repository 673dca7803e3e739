"""The QR payload that starts a device link (MSC4388's QR format, adapted).

Binary layout (all integers big-endian)::

    "KATTA_LINK"            10 bytes ASCII magic
    version                 1 byte, 0x01
    intent                  1 byte, 0x00 shown by the new device, 0x01 by the existing device
    public key              32 bytes, the generating device's ephemeral X25519 key
    len(rendezvous id)      2 bytes, then the id as UTF-8
    len(base URL)           2 bytes, then the base URL as UTF-8

Nothing may follow. The text form is the same bytes as base64url without padding,
for terminals that cannot show or scan a QR code.
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
import struct
from dataclasses import dataclass
from typing import TextIO
from urllib.parse import urlsplit

import segno

from .errors import QrPayloadError

MAGIC = b"KATTA_LINK"
VERSION = 0x01
PUBLIC_KEY_LENGTH = 32
MAX_RENDEZVOUS_ID_BYTES = 255
MAX_BASE_URL_BYTES = 2048

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")


class QrIntent(enum.IntEnum):
    NEW_DEVICE = 0x00  # the QR is shown by the device that wants the keys
    EXISTING_DEVICE = 0x01  # the QR is shown by a device that has the keys


def _check_rendezvous_id(value: str) -> None:
    size = len(value.encode("utf-8"))
    if not 0 < size <= MAX_RENDEZVOUS_ID_BYTES:
        raise QrPayloadError(f"rendezvous id must be 1..{MAX_RENDEZVOUS_ID_BYTES} bytes, got {size}")
    if _CONTROL.search(value):
        raise QrPayloadError("rendezvous id contains whitespace or control characters")


def _check_base_url(value: str) -> None:
    size = len(value.encode("utf-8"))
    if not 0 < size <= MAX_BASE_URL_BYTES:
        raise QrPayloadError(f"base URL must be 1..{MAX_BASE_URL_BYTES} bytes, got {size}")
    if _CONTROL.search(value):
        raise QrPayloadError("base URL contains whitespace or control characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError as err:
        raise QrPayloadError("base URL is not a valid URL") from err
    if parts.scheme not in ("https", "http") or not host:
        raise QrPayloadError("base URL must be an absolute http(s) URL with a host")
    if parts.query or parts.fragment:
        raise QrPayloadError("base URL must not carry a query or fragment")


@dataclass(frozen=True)
class QrPayload:
    intent: QrIntent
    public_key: bytes
    rendezvous_id: str
    base_url: str

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "intent", QrIntent(self.intent))
        except ValueError:
            raise QrPayloadError(f"unknown QR intent {self.intent!r}") from None
        if not isinstance(self.public_key, bytes) or len(self.public_key) != PUBLIC_KEY_LENGTH:
            raise QrPayloadError(f"public key must be {PUBLIC_KEY_LENGTH} bytes")
        _check_rendezvous_id(self.rendezvous_id)
        _check_base_url(self.base_url)

    def to_bytes(self) -> bytes:
        rid = self.rendezvous_id.encode("utf-8")
        url = self.base_url.encode("utf-8")
        return b"".join([
            MAGIC,
            bytes([VERSION, self.intent]),
            self.public_key,
            struct.pack(">H", len(rid)), rid,
            struct.pack(">H", len(url)), url,
        ])

    @classmethod
    def from_bytes(cls, raw: bytes) -> "QrPayload":
        reader = _Reader(raw)
        if reader.take(len(MAGIC), "magic") != MAGIC:
            raise QrPayloadError("not a Katta device-link QR code (magic prefix missing)")
        version = reader.take(1, "version")[0]
        if version != VERSION:
            raise QrPayloadError(f"unsupported QR payload version {version}")
        intent_byte = reader.take(1, "intent")[0]
        try:
            intent = QrIntent(intent_byte)
        except ValueError:
            raise QrPayloadError(f"unknown QR intent {intent_byte}") from None
        public_key = reader.take(PUBLIC_KEY_LENGTH, "public key")
        rendezvous_id = reader.text("rendezvous id")
        base_url = reader.text("base URL")
        if reader.remaining():
            raise QrPayloadError(f"{reader.remaining()} unexpected trailing bytes after the base URL")
        return cls(intent, public_key, rendezvous_id, base_url)

    def to_text(self) -> str:
        return base64.urlsafe_b64encode(self.to_bytes()).rstrip(b"=").decode("ascii")

    @classmethod
    def from_text(cls, text: str) -> "QrPayload":
        compact = text.strip()
        if not compact or not _BASE64URL.fullmatch(compact) or len(compact) % 4 == 1:
            raise QrPayloadError("link code is not unpadded base64url text")
        try:
            raw = base64.urlsafe_b64decode(compact + "=" * (-len(compact) % 4))
        except (binascii.Error, ValueError) as err:
            raise QrPayloadError("link code is not unpadded base64url text") from err
        # Refuse non-canonical spellings (stray low bits) so one payload has one text.
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != compact:
            raise QrPayloadError("link code is not canonical base64url")
        return cls.from_bytes(raw)

    def qr_code(self, error: str = "l") -> segno.QRCode:
        return segno.make(self.to_bytes(), error=error, mode="byte")

    def render_terminal(self, stream: TextIO, *, error: str = "l") -> None:
        """Draw the QR code with block characters (two modules per character row)."""
        self.qr_code(error).terminal(out=stream, compact=True)


class _Reader:
    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, (bytes, bytearray)):
            raise QrPayloadError("QR payload must be bytes")
        self._raw = bytes(raw)
        self._pos = 0

    def remaining(self) -> int:
        return len(self._raw) - self._pos

    def take(self, n: int, what: str) -> bytes:
        if self.remaining() < n:
            raise QrPayloadError(f"QR payload truncated in the {what}")
        chunk = self._raw[self._pos:self._pos + n]
        self._pos += n
        return chunk

    def text(self, what: str) -> str:
        (length,) = struct.unpack(">H", self.take(2, f"length of the {what}"))
        try:
            return self.take(length, what).decode("utf-8")
        except UnicodeDecodeError:
            raise QrPayloadError(f"{what} is not valid UTF-8") from None
