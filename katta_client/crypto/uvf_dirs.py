"""UVF directories: directory ids, their storage paths and ``dir.uvf`` files.

* ``rootDirId = kdf(initialSeed, 32, "rootDirId")``; other directories get 32 random bytes.
* ``hmacKey = kdf(initialSeed, 64, "hmac")``; ``h = base32(HMAC-SHA256(hmacKey, dirId)[:20])``;
  the directory's contents live under ``d/<h[0:2]>/<h[2:]>/``.
* Each directory holds ``dir.uvf``: its own dirId, encrypted like a file. A subdirectory also
  appears in its parent as ``<encrypted name>.uvf/dir.uvf`` (an independent encryption of the
  same dirId).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from .errors import InvalidFormat
from .uvf_content import decrypt_bytes, encrypt_bytes
from .uvf_metadata import VaultMetadata

__all__ = [
    "DIR_ID_LEN",
    "DIR_FILE_NAME",
    "DATA_DIR",
    "root_dir_id",
    "new_dir_id",
    "hash_dir_id",
    "dir_path",
    "encrypt_dir_file",
    "decrypt_dir_file",
]

DIR_ID_LEN = 32
DIR_FILE_NAME = "dir.uvf"
DATA_DIR = "d"


def root_dir_id(metadata: VaultMetadata) -> bytes:
    return metadata.kdf(metadata.initial_seed_id, DIR_ID_LEN, "rootDirId")


def new_dir_id() -> bytes:
    return os.urandom(DIR_ID_LEN)


def _hmac_key(metadata: VaultMetadata) -> bytes:
    return metadata.kdf(metadata.initial_seed_id, 64, "hmac")


def hash_dir_id(metadata: VaultMetadata, dir_id: bytes) -> str:
    """32-character base32 string ``h`` of a directory id."""
    if not isinstance(dir_id, (bytes, bytearray)) or not dir_id:
        raise InvalidFormat("directory id must be non-empty bytes")
    digest = hmac.new(_hmac_key(metadata), bytes(dir_id), hashlib.sha256).digest()
    return base64.b32encode(digest[:20]).decode("ascii")


def dir_path(metadata: VaultMetadata, dir_id: bytes) -> str:
    """``d/<h[0:2]>/<h[2:]>/`` (with the trailing slash) for a directory id."""
    h = hash_dir_id(metadata, dir_id)
    return f"{DATA_DIR}/{h[:2]}/{h[2:]}/"


def encrypt_dir_file(metadata: VaultMetadata, dir_id: bytes) -> bytes:
    """Contents of a ``dir.uvf``: the 32-byte dirId encrypted like a file."""
    if not isinstance(dir_id, (bytes, bytearray)) or len(dir_id) != DIR_ID_LEN:
        raise InvalidFormat("directory id must be 32 bytes")
    return encrypt_bytes(metadata, bytes(dir_id))


def decrypt_dir_file(metadata: VaultMetadata, data: bytes) -> bytes:
    dir_id = decrypt_bytes(metadata, data)
    if len(dir_id) != DIR_ID_LEN:
        raise InvalidFormat("dir.uvf does not hold a 32-byte directory id")
    return dir_id
