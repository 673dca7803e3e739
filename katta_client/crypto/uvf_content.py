"""UVF file content, format ``AES-256-GCM-32k`` (streaming).

Layout (architecture §5, UVF spec "AES-256-GCM.md"):

* general header, 8 bytes: ASCII ``uvf``, spec byte ``0x01``, 4-byte big-endian seed id;
* format header, 60 bytes: 12-byte header nonce, then the random 32-byte file key sealed with
  AES-256-GCM under ``kdf(seed, 32, "fileHeader")`` with the general header as AAD (32 + 16);
* chunks: 12-byte nonce || AES-256-GCM(file key) of at most 32,740 plaintext bytes || 16-byte
  tag, with AAD = 4-byte big-endian chunk number || header nonce. Every full chunk is followed
  by another chunk, so a plaintext of exactly k × 32,740 bytes (including 0) ends with an empty
  chunk, and a file whose last chunk is full has been truncated.

Everything streams chunk by chunk: memory use does not depend on the file size.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Optional, Union

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import DecryptionFailed, InvalidFormat
from .uvf_metadata import VaultMetadata

__all__ = [
    "MAGIC",
    "SPEC_VERSION",
    "GENERAL_HEADER_LEN",
    "HEADER_LEN",
    "NONCE_LEN",
    "TAG_LEN",
    "CLEARTEXT_CHUNK_LEN",
    "CIPHERTEXT_CHUNK_LEN",
    "FileHeader",
    "parse_general_header",
    "create_header",
    "encrypt_header",
    "decrypt_header",
    "encrypt_chunks",
    "decrypt_chunks",
    "encrypt_stream",
    "decrypt_stream",
    "encrypt_file",
    "decrypt_file",
    "encrypt_bytes",
    "decrypt_bytes",
    "ciphertext_size",
    "cleartext_size",
]

MAGIC = b"uvf"
SPEC_VERSION = 0x01
GENERAL_HEADER_LEN = 8
NONCE_LEN = 12
TAG_LEN = 16
FILE_KEY_LEN = 32
HEADER_LEN = GENERAL_HEADER_LEN + NONCE_LEN + FILE_KEY_LEN + TAG_LEN  # 68
CIPHERTEXT_CHUNK_LEN = 32 * 1024  # 32,768 bytes per full ciphertext chunk
CLEARTEXT_CHUNK_LEN = CIPHERTEXT_CHUNK_LEN - NONCE_LEN - TAG_LEN  # 32,740
_MAX_CHUNKS = 2**32  # the chunk number is 4 bytes
_HEADER_KEY_CONTEXT = "fileHeader"

Source = Union[bytes, bytearray, memoryview, BinaryIO, Iterable[bytes]]


@dataclass(frozen=True)
class FileHeader:
    """Decrypted file header. ``file_key`` is secret and never shown by ``repr``."""

    seed_id: int
    nonce: bytes
    file_key: bytes = field(repr=False)


def parse_general_header(data: bytes) -> int:
    """Check the 8-byte general header and return the seed id."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidFormat("UVF header must be bytes")
    data = bytes(data)
    if len(data) < GENERAL_HEADER_LEN:
        raise InvalidFormat("UVF file is shorter than its header")
    if data[:3] != MAGIC:
        raise InvalidFormat("not a UVF file (magic bytes)")
    if data[3] != SPEC_VERSION:
        raise InvalidFormat("unsupported UVF spec version")
    return int.from_bytes(data[4:8], "big")


def _general_header(seed_id: int) -> bytes:
    return MAGIC + bytes([SPEC_VERSION]) + seed_id.to_bytes(4, "big")


def create_header(metadata: VaultMetadata, seed_id: Optional[int] = None) -> FileHeader:
    """A fresh header (random nonce and file key) for the latest seed (or ``seed_id``)."""
    seed_id = metadata.latest_seed_id if seed_id is None else seed_id
    metadata.seed(seed_id)
    return FileHeader(seed_id, os.urandom(NONCE_LEN), os.urandom(FILE_KEY_LEN))


def encrypt_header(metadata: VaultMetadata, header: FileHeader) -> bytes:
    general = _general_header(header.seed_id)
    header_key = metadata.kdf(header.seed_id, 32, _HEADER_KEY_CONTEXT)
    sealed = AESGCM(header_key).encrypt(header.nonce, header.file_key, general)
    return general + header.nonce + sealed


def decrypt_header(metadata: VaultMetadata, data: bytes) -> FileHeader:
    """Parse and authenticate the 68-byte header."""
    seed_id = parse_general_header(data)
    data = bytes(data)
    if len(data) < HEADER_LEN:
        raise InvalidFormat("UVF file is shorter than its header")
    if seed_id not in metadata.seeds:
        raise DecryptionFailed("UVF file was written with a seed this vault does not know")
    nonce = data[GENERAL_HEADER_LEN:GENERAL_HEADER_LEN + NONCE_LEN]
    sealed = data[GENERAL_HEADER_LEN + NONCE_LEN:HEADER_LEN]
    header_key = metadata.kdf(seed_id, 32, _HEADER_KEY_CONTEXT)
    try:
        file_key = AESGCM(header_key).decrypt(nonce, sealed, data[:GENERAL_HEADER_LEN])
    except InvalidTag:
        raise DecryptionFailed("UVF file header could not be authenticated") from None
    return FileHeader(seed_id, nonce, file_key)


def _chunk_aad(chunk_number: int, header_nonce: bytes) -> bytes:
    return chunk_number.to_bytes(4, "big") + header_nonce


def _pieces(source: Source) -> Iterator[Union[bytes, memoryview]]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        yield memoryview(source).cast("B") if isinstance(source, memoryview) else memoryview(source)
        return
    read = getattr(source, "read", None)
    if callable(read):
        while True:
            block = read(CIPHERTEXT_CHUNK_LEN)
            if not block:
                return
            if not isinstance(block, (bytes, bytearray)):
                raise InvalidFormat("file-like sources must be opened in binary mode")
            yield bytes(block)
    else:
        try:
            iterator = iter(source)  # type: ignore[arg-type]
        except TypeError:
            raise InvalidFormat("source must be bytes, a binary file object or an iterable of bytes") from None
        for block in iterator:
            if not isinstance(block, (bytes, bytearray, memoryview)):
                raise InvalidFormat("sources must yield bytes")
            yield bytes(block)


class _ExactReader:
    """Reads exactly ``n`` bytes at a time (fewer only at the end) from any supported source."""

    def __init__(self, source: Source) -> None:
        self._pieces = _pieces(source)
        self._current: Union[bytes, memoryview] = b""
        self._pos = 0

    def read(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            if self._pos >= len(self._current):
                try:
                    self._current = next(self._pieces)
                except StopIteration:
                    break
                self._pos = 0
                continue
            take = min(n - len(out), len(self._current) - self._pos)
            out += self._current[self._pos:self._pos + take]
            self._pos += take
        return bytes(out)


def encrypt_chunks(metadata: VaultMetadata, source: Source, seed_id: Optional[int] = None) -> Iterator[bytes]:
    """Encrypt a plaintext stream; yields the header, then one ciphertext chunk at a time."""
    header = create_header(metadata, seed_id)
    yield encrypt_header(metadata, header)
    aead = AESGCM(header.file_key)
    reader = _ExactReader(source)
    chunk_number = 0
    while True:
        block = reader.read(CLEARTEXT_CHUNK_LEN)
        if chunk_number >= _MAX_CHUNKS:
            raise InvalidFormat("file too large for AES-256-GCM-32k")
        nonce = os.urandom(NONCE_LEN)
        yield nonce + aead.encrypt(nonce, block, _chunk_aad(chunk_number, header.nonce))
        chunk_number += 1
        if len(block) < CLEARTEXT_CHUNK_LEN:
            return  # a short (possibly empty) chunk ends the file


def decrypt_chunks(metadata: VaultMetadata, source: Source) -> Iterator[bytes]:
    """Decrypt a UVF ciphertext stream; yields authenticated plaintext chunk by chunk.

    A truncated or tampered file raises :class:`DecryptionFailed` at the point it is detected,
    possibly after earlier chunks were yielded: callers that stream must discard the output on
    error (see :func:`decrypt_bytes` / :func:`decrypt_file`).
    """
    reader = _ExactReader(source)
    header = decrypt_header(metadata, reader.read(HEADER_LEN))
    aead = AESGCM(header.file_key)
    chunk_number = 0
    while True:
        chunk = reader.read(CIPHERTEXT_CHUNK_LEN)
        if not chunk:
            # The previous chunk was full (or there was none): the final chunk is missing.
            raise DecryptionFailed("UVF file is truncated (missing final chunk)")
        if len(chunk) < NONCE_LEN + TAG_LEN:
            raise DecryptionFailed("UVF file is truncated (partial chunk)")
        if chunk_number >= _MAX_CHUNKS:
            raise InvalidFormat("file too large for AES-256-GCM-32k")
        try:
            plaintext = aead.decrypt(chunk[:NONCE_LEN], chunk[NONCE_LEN:], _chunk_aad(chunk_number, header.nonce))
        except InvalidTag:
            raise DecryptionFailed(f"UVF chunk {chunk_number} could not be authenticated") from None
        chunk_number += 1
        if plaintext:
            yield plaintext
        if len(chunk) < CIPHERTEXT_CHUNK_LEN:
            if reader.read(1):  # cannot happen: a short read only occurs at the end
                raise DecryptionFailed("UVF file has data after its final chunk")
            return


# Aliases that read better at call sites handling streams.
encrypt_stream = encrypt_chunks
decrypt_stream = decrypt_chunks


def encrypt_file(metadata: VaultMetadata, source: BinaryIO, target: BinaryIO, seed_id: Optional[int] = None) -> int:
    """Encrypt ``source`` (binary file object) into ``target``; returns the bytes written."""
    written = 0
    for piece in encrypt_chunks(metadata, source, seed_id):
        target.write(piece)
        written += len(piece)
    return written


def decrypt_file(metadata: VaultMetadata, source: BinaryIO, target: BinaryIO) -> int:
    """Decrypt ``source`` into ``target``; returns the plaintext bytes written.

    On :class:`DecryptionFailed` part of the plaintext may already be in ``target``; write to a
    temporary file and move it into place only on success.
    """
    written = 0
    for piece in decrypt_chunks(metadata, source):
        target.write(piece)
        written += len(piece)
    return written


def encrypt_bytes(metadata: VaultMetadata, plaintext: bytes, seed_id: Optional[int] = None) -> bytes:
    return b"".join(encrypt_chunks(metadata, bytes(plaintext), seed_id))


def decrypt_bytes(metadata: VaultMetadata, ciphertext: bytes) -> bytes:
    """All-or-nothing decryption of a whole (small) file."""
    return b"".join(list(decrypt_chunks(metadata, ciphertext)))


def ciphertext_size(cleartext_len: int) -> int:
    """Size of the encrypted file for a plaintext of ``cleartext_len`` bytes."""
    if cleartext_len < 0:
        raise ValueError("size must not be negative")
    full, rest = divmod(cleartext_len, CLEARTEXT_CHUNK_LEN)
    return HEADER_LEN + full * CIPHERTEXT_CHUNK_LEN + NONCE_LEN + rest + TAG_LEN


def cleartext_size(ciphertext_len: int) -> int:
    """Plaintext size of an encrypted file of ``ciphertext_len`` bytes (format check only)."""
    body = ciphertext_len - HEADER_LEN
    if body < NONCE_LEN + TAG_LEN:
        raise InvalidFormat("ciphertext is too short for a UVF file")
    full, rest = divmod(body, CIPHERTEXT_CHUNK_LEN)
    if rest < NONCE_LEN + TAG_LEN:
        raise InvalidFormat("ciphertext size is not a valid UVF file size")
    return full * CLEARTEXT_CHUNK_LEN + rest - NONCE_LEN - TAG_LEN
