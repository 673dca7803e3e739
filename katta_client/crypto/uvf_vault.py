"""``UvfVault``: map cleartext paths to ciphertext object keys and en/decrypt a vault's files.

The helper is storage-agnostic: it computes object keys (S3 keys relative to the vault root)
and, where a walk through subdirectories is needed, reads ``dir.uvf`` objects through a
callback ``read_object(key) -> bytes`` supplied by the caller (e.g. an S3 GET).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, Optional, Union

from . import uvf_content, uvf_dirs, uvf_names
from .errors import InvalidFormat
from .uvf_metadata import VaultMetadata

__all__ = ["UvfVault", "VaultEntry", "ReadObject"]

ReadObject = Callable[[str], bytes]

#: Object key of the vault metadata file, relative to the vault root.
VAULT_UVF = "vault.uvf"


@dataclass(frozen=True)
class VaultEntry:
    """A child of a directory, as found in an object listing."""

    name: str
    is_dir: bool
    object_key: str  # the file object, or the ``.../<name>.uvf/dir.uvf`` link of a directory


class UvfVault:
    """Path mapping and file/name crypto of one UVF vault, from its decrypted ``vault.uvf``."""

    VAULT_UVF = VAULT_UVF

    def __init__(self, metadata: Union[VaultMetadata, Mapping[str, Any]]) -> None:
        self.metadata = metadata if isinstance(metadata, VaultMetadata) else VaultMetadata.from_payload(metadata)
        self._root_dir_id = uvf_dirs.root_dir_id(self.metadata)

    def __repr__(self) -> str:
        return f"UvfVault(root={self.dir_prefix(self._root_dir_id)!r})"

    # -- directories -------------------------------------------------------------------------

    @property
    def root_dir_id(self) -> bytes:
        return self._root_dir_id

    def dir_prefix(self, dir_id: bytes) -> str:
        """``d/XX/YYYY…/`` holding the children of directory ``dir_id``."""
        return uvf_dirs.dir_path(self.metadata, dir_id)

    def dir_file_key(self, dir_id: bytes) -> str:
        """Key of the directory's own ``dir.uvf`` (its id, for disaster recovery)."""
        return self.dir_prefix(dir_id) + uvf_dirs.DIR_FILE_NAME

    @staticmethod
    def split_path(path: str) -> list[str]:
        """Split ``/a/b/c`` into NFC components; ``""`` and ``"/"`` are the root (``[]``)."""
        if not isinstance(path, str):
            raise InvalidFormat("path must be a string")
        return [uvf_names.normalize_name(part) for part in path.split("/") if part != ""]

    # -- names -------------------------------------------------------------------------------

    def encrypt_name(self, name: str, parent_dir_id: bytes) -> str:
        return uvf_names.encrypt_name(self.metadata, name, parent_dir_id)

    def decrypt_name(self, encrypted_name: str, parent_dir_id: bytes) -> str:
        return uvf_names.decrypt_name(self.metadata, encrypted_name, parent_dir_id)

    def file_key(self, parent_dir_id: bytes, name: str) -> str:
        """Object key of the file ``name`` in directory ``parent_dir_id``."""
        return self.dir_prefix(parent_dir_id) + self.encrypt_name(name, parent_dir_id)

    def dir_link_key(self, parent_dir_id: bytes, name: str) -> str:
        """Object key of ``<name>.uvf/dir.uvf`` linking subdirectory ``name`` from its parent."""
        return self.dir_prefix(parent_dir_id) + self.encrypt_name(name, parent_dir_id) + "/" + uvf_dirs.DIR_FILE_NAME

    # -- walking -----------------------------------------------------------------------------

    def resolve_dir(self, path: str, read_object: ReadObject) -> bytes:
        """Directory id of the cleartext directory ``path``, reading the ``dir.uvf`` links."""
        dir_id = self._root_dir_id
        for name in self.split_path(path):
            dir_id = uvf_dirs.decrypt_dir_file(self.metadata, read_object(self.dir_link_key(dir_id, name)))
        return dir_id

    def resolve_parent(self, path: str, read_object: ReadObject) -> tuple[bytes, str]:
        """(parent directory id, last name) of a cleartext path that is not the root."""
        parts = self.split_path(path)
        if not parts:
            raise InvalidFormat("the root directory has no parent")
        return self.resolve_dir("/".join(parts[:-1]), read_object), parts[-1]

    def object_key(self, path: str, read_object: ReadObject) -> str:
        """Object key of the cleartext file ``path``."""
        parent, name = self.resolve_parent(path, read_object)
        return self.file_key(parent, name)

    def list_dir(self, dir_id: bytes, object_keys: Iterable[str]) -> Iterator[VaultEntry]:
        """Decrypt a listing of object keys (e.g. S3 ``ListObjectsV2`` under ``dir_prefix``).

        Keys that are not direct children (including the directory's own ``dir.uvf``) are
        skipped; a name that does not authenticate raises :class:`DecryptionFailed`.
        """
        prefix = self.dir_prefix(dir_id)
        link_suffix = "/" + uvf_dirs.DIR_FILE_NAME
        for key in object_keys:
            if not key.startswith(prefix):
                continue
            rest = key[len(prefix):]
            if rest.endswith(link_suffix) and "/" not in rest[: -len(link_suffix)]:
                encrypted, is_dir = rest[: -len(link_suffix)], True
            elif "/" not in rest and rest != uvf_dirs.DIR_FILE_NAME:
                encrypted, is_dir = rest, False
            else:
                continue
            if not encrypted.endswith(uvf_names.UVF_SUFFIX):
                continue
            yield VaultEntry(self.decrypt_name(encrypted, dir_id), is_dir, key)

    # -- creating directories ----------------------------------------------------------------

    def root_dir_objects(self) -> dict[str, bytes]:
        """Objects of an empty vault's root: its ``dir.uvf`` (the vault template)."""
        return {self.dir_file_key(self._root_dir_id): self.encrypt_dir_file(self._root_dir_id)}

    def new_dir_objects(self, parent_dir_id: bytes, name: str,
                        dir_id: Optional[bytes] = None) -> tuple[bytes, dict[str, bytes]]:
        """A new subdirectory: (its dirId, {object key: bytes} to upload).

        Two independent encryptions of the dirId: the link in the parent and the copy inside.
        """
        dir_id = uvf_dirs.new_dir_id() if dir_id is None else dir_id
        return dir_id, {
            self.dir_link_key(parent_dir_id, name): self.encrypt_dir_file(dir_id),
            self.dir_file_key(dir_id): self.encrypt_dir_file(dir_id),
        }

    def encrypt_dir_file(self, dir_id: bytes) -> bytes:
        return uvf_dirs.encrypt_dir_file(self.metadata, dir_id)

    def decrypt_dir_file(self, data: bytes) -> bytes:
        return uvf_dirs.decrypt_dir_file(self.metadata, data)

    # -- content -----------------------------------------------------------------------------

    def encrypt_stream(self, source: uvf_content.Source) -> Iterator[bytes]:
        return uvf_content.encrypt_chunks(self.metadata, source)

    def decrypt_stream(self, source: uvf_content.Source) -> Iterator[bytes]:
        return uvf_content.decrypt_chunks(self.metadata, source)

    def encrypt_file(self, source: BinaryIO, target: BinaryIO) -> int:
        return uvf_content.encrypt_file(self.metadata, source, target)

    def decrypt_file(self, source: BinaryIO, target: BinaryIO) -> int:
        return uvf_content.decrypt_file(self.metadata, source, target)

    def encrypt_bytes(self, plaintext: bytes) -> bytes:
        return uvf_content.encrypt_bytes(self.metadata, plaintext)

    def decrypt_bytes(self, ciphertext: bytes) -> bytes:
        return uvf_content.decrypt_bytes(self.metadata, ciphertext)

    @staticmethod
    def ciphertext_size(cleartext_len: int) -> int:
        return uvf_content.ciphertext_size(cleartext_len)

    @staticmethod
    def cleartext_size(ciphertext_len: int) -> int:
        return uvf_content.cleartext_size(ciphertext_len)
