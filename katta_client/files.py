"""Files of an unlocked vault in its bucket, in the UVF layout (architecture §5).

Cleartext paths (``/docs/report.pdf``) map to encrypted object keys: a directory with id
``dirId`` lives at ``d/XX/YYYY…/`` and holds ``dir.uvf``; a file is ``<encrypted name>.uvf``
beside it; a subdirectory is linked from its parent as ``<encrypted name>.uvf/dir.uvf``.
Content is ``AES-256-GCM-32k``, streamed both ways.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Optional

from .crypto import DecryptionFailed, InvalidFormat, KattaCryptoError, UvfVault, cleartext_size
from .storage import Bucket, ObjectNotFound

Progress = Callable[[int], None]


class VaultPathError(Exception):
    """A cleartext path does not name what the operation needs; the message says what."""


class IntegrityError(Exception):
    """Ciphertext in the bucket does not authenticate: it was modified, truncated or is not ours."""


@dataclass(frozen=True)
class Entry:
    name: str
    is_dir: bool
    size: Optional[int]  # cleartext bytes of a file; None for a directory or an unreadable size
    modified: Optional[datetime] = None  # the object's LastModified (a file's last upload)


def _path(path: str) -> str:
    return "/" + "/".join(UvfVault.split_path(path))


class VaultFiles:
    def __init__(self, uvf: UvfVault, bucket: Bucket) -> None:
        self.uvf = uvf
        self.bucket = bucket

    # -- walking ---------------------------------------------------------------------------

    def _read_link(self, key: str) -> bytes:
        return self.bucket.read(key)

    def dir_id(self, path: str) -> bytes:
        """The id of directory ``path``; :class:`VaultPathError` if there is none."""
        try:
            return self.uvf.resolve_dir(path, self._read_link)
        except ObjectNotFound:
            raise VaultPathError(f"{_path(path)}: no such directory") from None
        except DecryptionFailed:
            raise IntegrityError(f"{_path(path)}: a directory link does not authenticate "
                                 "(the bucket was modified)") from None

    def _parent(self, path: str) -> tuple[bytes, str]:
        parts = UvfVault.split_path(path)
        if not parts:
            raise VaultPathError("/ is the vault's root directory")
        return self.dir_id("/".join(parts[:-1])), parts[-1]

    def kind(self, path: str) -> Optional[str]:
        """``"dir"``, ``"file"`` or None."""
        if not UvfVault.split_path(path):
            return "dir"
        parent, name = self._parent(path)
        if self.bucket.exists(self.uvf.dir_link_key(parent, name)):
            return "dir"
        if self.bucket.exists(self.uvf.file_key(parent, name)):
            return "file"
        return None

    # -- listing ---------------------------------------------------------------------------

    def list(self, path: str = "/") -> list[Entry]:
        """The entries of a directory, or the one file ``path`` names."""
        if self.kind(path) == "file":
            parent, name = self._parent(path)
            return [Entry(name, False, self._size(self.bucket.size(self.uvf.file_key(parent, name))))]
        dir_id = self.dir_id(path)
        objects = {key: (size, modified) for key, size, modified in self.bucket.objects(self.uvf.dir_prefix(dir_id))}
        try:
            entries = [Entry(e.name, True, None) if e.is_dir else
                       Entry(e.name, False, self._size(objects[e.object_key][0]), objects[e.object_key][1])
                       for e in self.uvf.list_dir(dir_id, objects)]
        except DecryptionFailed:
            raise IntegrityError(f"{_path(path)}: an encrypted name does not authenticate "
                                 "(the bucket was modified)") from None
        return sorted(entries, key=lambda e: (not e.is_dir, e.name))

    def walk(self, path: str = "/") -> Iterator[tuple[str, Entry]]:
        """Every directory and file below directory ``path``, as (path relative to it, entry), each
        directory before what it holds. One listing per directory: memory grows with the widest
        directory, not with the tree."""
        for entry in self.list(path):
            if entry.is_dir:
                yield entry.name, entry
                for relative, inner in self.walk(_path(path) + "/" + entry.name):
                    yield entry.name + "/" + relative, inner
            else:
                yield entry.name, entry

    @staticmethod
    def _size(ciphertext_size: int) -> Optional[int]:
        try:
            return cleartext_size(ciphertext_size)
        except InvalidFormat:
            return None

    # -- writing ---------------------------------------------------------------------------

    def target_path(self, remote: str, local_name: str) -> str:
        """``remote`` itself, or ``remote/<local_name>`` when it names a directory (or ends in /)."""
        if remote.endswith("/") or self.kind(remote) == "dir":
            return _path(remote.rstrip("/") + "/" + local_name)
        return _path(remote)

    def put(self, source: BinaryIO, remote: str, progress: Optional[Progress] = None) -> str:
        """Encrypt ``source`` into the file ``remote`` (replacing it); returns the object key."""
        parent, name = self._parent(remote)
        if self.bucket.exists(self.uvf.dir_link_key(parent, name)):
            raise VaultPathError(f"{_path(remote)} is a directory")
        key = self.uvf.file_key(parent, name)
        self.bucket.upload(key, _counted(self.uvf.encrypt_stream(source), progress))
        return key

    def mkdir(self, path: str) -> None:
        parent, name = self._parent(path)
        if self.bucket.exists(self.uvf.dir_link_key(parent, name)):
            raise VaultPathError(f"{_path(path)} already exists")
        if self.bucket.exists(self.uvf.file_key(parent, name)):
            raise VaultPathError(f"{_path(path)} already exists as a file")
        _dir_id, objects = self.uvf.new_dir_objects(parent, name)
        link_key = self.uvf.dir_link_key(parent, name)
        # The directory's own dir.uvf first: a crash never leaves a link to nothing.
        for key in sorted(objects, key=lambda k: k == link_key):
            self.bucket.put_bytes(key, objects[key])

    def makedirs(self, path: str) -> None:
        """Create ``path`` and its missing parents (``mkdir -p``)."""
        parts = UvfVault.split_path(path)
        for depth in range(1, len(parts) + 1):
            here = "/".join(parts[:depth])
            kind = self.kind(here)
            if kind == "file":
                raise VaultPathError(f"{_path(here)} is a file")
            if kind is None:
                self.mkdir(here)

    def move(self, source: str, target: str, progress: Optional[Progress] = None) -> str:
        """Move a file or directory; ``target`` may name an existing directory to move into.
        Returns the new path.

        A file's ciphertext is bound to no path (names are encrypted apart from contents), so it
        streams unchanged to its new key; a directory moves by its link alone, its contents stay.
        The new object is written before the old one goes: a crash leaves two names, never none."""
        kind = self.kind(source)
        if kind is None:
            raise VaultPathError(f"{_path(source)}: no such file or directory")
        if not UvfVault.split_path(source):
            raise VaultPathError("/ is the vault's root directory; it cannot move")
        destination = self.target_path(target, UvfVault.split_path(source)[-1])
        if destination == _path(source):
            raise VaultPathError(f"{destination}: source and target are the same")
        if kind == "dir" and (destination + "/").startswith(_path(source) + "/"):
            raise VaultPathError(f"{_path(source)} cannot move into itself ({destination})")
        existing = self.kind(destination)
        if existing == "dir" or (existing == "file" and kind == "dir"):
            raise VaultPathError(f"{destination} already exists")
        old_parent, old_name = self._parent(source)
        new_parent, new_name = self._parent(destination)
        if kind == "dir":
            old_key = self.uvf.dir_link_key(old_parent, old_name)
            self.bucket.put_bytes(self.uvf.dir_link_key(new_parent, new_name), self.bucket.read(old_key))
        else:
            old_key = self.uvf.file_key(old_parent, old_name)
            self.bucket.upload(self.uvf.file_key(new_parent, new_name), self.bucket.stream(old_key), progress)
        self.bucket.delete(old_key)
        return destination

    def remove(self, path: str) -> str:
        """Delete a file, or an empty directory; returns ``"file"`` or ``"dir"``."""
        parent, name = self._parent(path)
        link_key = self.uvf.dir_link_key(parent, name)
        if self.bucket.exists(link_key):
            dir_id = self.dir_id(path)
            own = self.uvf.dir_file_key(dir_id)
            if any(key != own for key, _size in self.bucket.keys(self.uvf.dir_prefix(dir_id))):
                raise VaultPathError(f"{_path(path)}: directory not empty")
            self.bucket.delete(link_key)  # unlink first: a crash leaves an orphan, never a dangling link
            self.bucket.delete(own)
            return "dir"
        key = self.uvf.file_key(parent, name)
        if not self.bucket.exists(key):
            raise VaultPathError(f"{_path(path)}: no such file or directory")
        self.bucket.delete(key)
        return "file"

    # -- reading ---------------------------------------------------------------------------

    def open_file(self, remote: str) -> tuple[str, int]:
        """(object key, ciphertext size) of the file ``remote``."""
        parent, name = self._parent(remote)
        key = self.uvf.file_key(parent, name)
        try:
            return key, self.bucket.size(key)
        except ObjectNotFound:
            if self.bucket.exists(self.uvf.dir_link_key(parent, name)):
                raise VaultPathError(f"{_path(remote)} is a directory") from None
            raise VaultPathError(f"{_path(remote)}: no such file") from None

    def get(self, remote: str, target: BinaryIO, progress: Optional[Progress] = None) -> int:
        """Decrypt ``remote`` into ``target``; returns the cleartext bytes written.

        On :class:`IntegrityError` some plaintext may already be in ``target``:
        :meth:`download` writes to a temporary file and keeps it only on success.
        """
        key, _size = self.open_file(remote)
        written = 0
        try:
            for piece in self.uvf.decrypt_stream(_counted(self.bucket.stream(key), progress)):
                target.write(piece)
                written += len(piece)
        except KattaCryptoError as exc:
            raise IntegrityError(f"{_path(remote)} does not authenticate ({exc}); it was modified or "
                                 "corrupted in the bucket, nothing was kept") from None
        return written

    def download(self, remote: str, local: Path, progress: Optional[Progress] = None) -> int:
        """:meth:`get` into ``local`` atomically: the file appears only if all of it authenticated."""
        local = Path(local)
        directory = local.parent if str(local.parent) else Path(".")
        fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{local.name}.", suffix=".katta-part")
        try:
            with os.fdopen(fd, "wb") as out:
                written = self.get(remote, out, progress)
            os.replace(temp, local)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return written


def _counted(pieces, progress: Optional[Progress]):  # type: ignore[no-untyped-def]
    for piece in pieces:
        if progress:
            progress(len(piece))
        yield piece

