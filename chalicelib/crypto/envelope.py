"""The sealed-record format: AES-256-GCM under one version of a key ring.

    record = MAGIC (3 bytes) | ring version (uint32, big endian) | nonce (12) | ciphertext+tag

The header names the version so a record opens after the ring has rotated.
The AAD is the header, the ring name and the record's identity (e.g. issuer +
subject + purpose), each length-prefixed, so a record copied to another user,
key or ring fails authentication instead of opening as somebody else's.
"""
from __future__ import annotations

import os
import struct

from chalicelib.crypto.errors import TamperedRecord

MAGIC = b"KR\x01"
_HEADER = struct.Struct(">3sI")
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32


def version_of(ring: str, record: bytes) -> int:
    """The ring version ``record`` claims to be sealed under (not yet authenticated)."""
    if not isinstance(record, (bytes, bytearray)) or len(record) < _HEADER.size + NONCE_BYTES + TAG_BYTES:
        raise TamperedRecord(ring, "too short to be a sealed record")
    magic, version = _HEADER.unpack_from(record)
    if magic != MAGIC or version < 1:
        raise TamperedRecord(ring, "not a sealed record of this format")
    return version


def seal(key: bytes, ring: str, version: int, plaintext: bytes, identity: str) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    header = _HEADER.pack(MAGIC, version)
    nonce = os.urandom(NONCE_BYTES)
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, _aad(header, ring, identity))


def open_record(key: bytes, ring: str, record: bytes, identity: str) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    version_of(ring, record)
    header, nonce, body = record[:_HEADER.size], record[_HEADER.size:_HEADER.size + NONCE_BYTES], \
        record[_HEADER.size + NONCE_BYTES:]
    try:
        return AESGCM(key).decrypt(nonce, body, _aad(header, ring, identity))
    except InvalidTag:
        raise TamperedRecord(ring) from None


def _aad(header: bytes, ring: str, identity: str) -> bytes:
    parts = [header, ring.encode(), identity.encode()]
    return b"".join(struct.pack(">H", len(p)) + p for p in parts)
