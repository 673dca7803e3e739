"""UVF node names, format ``AES-SIV-512-B64URL``.

``base64url(AES-SIV(key=kdf(initialSeed, 64, "siv"), plaintext=NFC-UTF-8(name), ad=[parentDirId])) + ".uvf"``
(RFC 5297 AES-SIV; the 64-byte key is K1 (S2V/MAC) || K2 (CTR) as RFC 5297 and ``cryptography``
define it). Binding the parent directory id as associated data means a name moved into another
directory no longer decrypts.
"""

from __future__ import annotations

import functools
import unicodedata

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from ._encoding import b64url_decode, b64url_encode
from .errors import DecryptionFailed, InvalidFormat
from .uvf_metadata import VaultMetadata

__all__ = ["UVF_SUFFIX", "MAX_NAME_BYTES", "siv_key", "encrypt_name", "decrypt_name", "normalize_name"]

UVF_SUFFIX = ".uvf"
#: Longest cleartext name accepted (bytes of NFC UTF-8); S3 object keys are limited to 1024 bytes.
MAX_NAME_BYTES = 255
_SIV_CONTEXT = "siv"


def siv_key(metadata: VaultMetadata) -> bytes:
    return metadata.kdf(metadata.initial_seed_id, 64, _SIV_CONTEXT)


@functools.lru_cache(maxsize=64)
def _siv(key: bytes) -> AESSIV:
    return AESSIV(key)


def normalize_name(name: str) -> str:
    """NFC-normalize a cleartext name and refuse names that cannot be path components."""
    if not isinstance(name, str):
        raise InvalidFormat("a name must be a string")
    nfc = unicodedata.normalize("NFC", name)
    if nfc in ("", ".", "..") or "/" in nfc or "\x00" in nfc:
        raise InvalidFormat("invalid name: empty, '.', '..', or containing '/' or NUL")
    try:
        encoded = nfc.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidFormat("a name must be valid Unicode") from None
    if len(encoded) > MAX_NAME_BYTES:
        raise InvalidFormat(f"a name must not exceed {MAX_NAME_BYTES} bytes")
    return nfc


def _check_dir_id(dir_id: bytes) -> bytes:
    if not isinstance(dir_id, (bytes, bytearray)) or not dir_id:
        raise InvalidFormat("directory id must be non-empty bytes")
    return bytes(dir_id)


def encrypt_name(metadata: VaultMetadata, name: str, parent_dir_id: bytes) -> str:
    """Encrypted name (``<base64url>.uvf``) of ``name`` inside the directory ``parent_dir_id``."""
    plaintext = normalize_name(name).encode("utf-8")
    ciphertext = _siv(siv_key(metadata)).encrypt(plaintext, [_check_dir_id(parent_dir_id)])
    return b64url_encode(ciphertext) + UVF_SUFFIX


def decrypt_name(metadata: VaultMetadata, encrypted_name: str, parent_dir_id: bytes) -> str:
    """Cleartext name; :class:`DecryptionFailed` if it was not encrypted for ``parent_dir_id``."""
    if not isinstance(encrypted_name, str) or not encrypted_name.endswith(UVF_SUFFIX):
        raise InvalidFormat("encrypted name must end with .uvf")
    raw = b64url_decode(encrypted_name[: -len(UVF_SUFFIX)], "encrypted name")
    if "=" in encrypted_name or len(raw) <= 16:
        raise InvalidFormat("encrypted name is not a valid AES-SIV ciphertext")
    try:
        plaintext = _siv(siv_key(metadata)).decrypt(raw, [_check_dir_id(parent_dir_id)])
    except InvalidTag:
        raise DecryptionFailed("name could not be authenticated (wrong vault or directory)") from None
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidFormat("decrypted name is not UTF-8") from None
