"""Many files at a time between a local directory and a vault directory: ``put -r``, ``get -r`` and
``sync`` in either direction, planned first (so ``--dry-run`` shows exactly what would happen) and
then carried out one file at a time through :class:`~katta_client.files.VaultFiles`' streaming
``put`` and ``download``: memory stays bounded by one part, whatever the tree holds.

What "changed" means: UVF content is encrypted with fresh nonces, so no hash of the bucket's
objects can be compared with a local file. As ``aws s3 sync`` does, a file is changed when its
size differs or the source's modification time is newer than the target's, to the second (S3's
``LastModified`` has seconds only). A file fetched from the vault takes the object's
``LastModified`` as its modification time, so a second sync in either direction finds nothing to do.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Optional

from .crypto import ciphertext_size
from .files import VaultFiles, VaultPathError

UPLOAD, DOWNLOAD, MKDIR, DELETE = "upload", "download", "mkdir", "delete"


class SyncError(Exception):
    """The two trees cannot be matched (a file on one side is a directory on the other), or a
    local file or directory cannot be read or written; the message names it."""


@dataclass(frozen=True)
class Action:
    kind: str  # UPLOAD, DOWNLOAD, MKDIR or DELETE (on the target side)
    path: str  # relative to both roots, "/"-separated
    size: int = 0  # cleartext bytes of the file moved
    is_dir: bool = False  # what DELETE removes
    mtime: int = 0  # the source's modification time, whole seconds: a download keeps it

    @property
    def transfer_bytes(self) -> int:
        """What the progress bar counts: the ciphertext both directions stream."""
        return ciphertext_size(self.size) if self.kind in (UPLOAD, DOWNLOAD) else 0


@dataclass(frozen=True)
class _Item:
    is_dir: bool
    size: int
    mtime: int  # whole seconds since the epoch; 0 if unknown


def _local_tree(root: Path) -> dict[str, _Item]:
    """Directories and regular files below ``root``; symbolic links are not followed."""
    tree: dict[str, _Item] = {}
    if not root.is_dir():
        return tree
    for directory, subdirs, names in os.walk(root):
        base = Path(directory)
        for name in sorted(subdirs):
            if (base / name).is_symlink():
                subdirs.remove(name)
            else:
                tree[(base / name).relative_to(root).as_posix()] = _Item(True, 0, 0)
        for name in sorted(names):
            path = base / name
            if path.is_symlink() or not path.is_file():
                continue
            stat = path.stat()
            tree[path.relative_to(root).as_posix()] = _Item(False, stat.st_size, int(stat.st_mtime))
    return tree


def _remote_tree(files: VaultFiles, root: str) -> dict[str, _Item]:
    kind = files.kind(root)
    if kind is None:
        return {}
    if kind == "file":
        raise VaultPathError(f"{root} is a file, not a directory")
    return {path: _Item(e.is_dir, e.size or 0, _seconds(e.modified)) for path, e in files.walk(root)}


def _seconds(moment: Optional[datetime]) -> int:
    return int(moment.timestamp()) if moment else 0


def _plan(source: dict[str, _Item], target: dict[str, _Item], copy: str, *, changed_only: bool,
          delete: bool, local_is_source: bool) -> list[Action]:
    actions: list[Action] = []
    for path, item in sorted(source.items()):
        there = target.get(path)
        if there is not None and there.is_dir != item.is_dir:
            local, remote = (item, there) if local_is_source else (there, item)
            raise SyncError(f"{path} is a {'directory' if local.is_dir else 'file'} here and a "
                                 f"{'directory' if remote.is_dir else 'file'} in the vault; move one aside")
        if item.is_dir:
            if there is None:
                actions.append(Action(MKDIR, path))
        elif there is None or not changed_only or there.size != item.size or item.mtime > there.mtime:
            actions.append(Action(copy, path, item.size, mtime=item.mtime))
    if delete:
        gone = [p for p in target if p not in source]
        # deepest first: a directory is empty once what it held is gone
        for path in sorted(gone, key=lambda p: (-p.count("/"), target[p].is_dir, p)):
            actions.append(Action(DELETE, path, is_dir=target[path].is_dir))
    return actions


def plan_up(local: Path, files: VaultFiles, remote: str, *, changed_only: bool = True,
            delete: bool = False) -> list[Action]:
    """What makes vault directory ``remote`` hold local directory ``local``'s files."""
    actions = _plan(_local_tree(local), _remote_tree(files, remote), UPLOAD, changed_only=changed_only,
                    delete=delete, local_is_source=True)
    return ([Action(MKDIR, "")] if files.kind(remote) is None else []) + actions


def plan_down(files: VaultFiles, remote: str, local: Path, *, changed_only: bool = True,
              delete: bool = False) -> list[Action]:
    """What makes local directory ``local`` hold vault directory ``remote``'s files."""
    if files.kind(remote) is None:
        raise VaultPathError(f"{remote}: no such directory")
    if local.exists() and not local.is_dir():
        raise SyncError(f"{local} is not a directory")
    actions = _plan(_remote_tree(files, remote), _local_tree(local), DOWNLOAD, changed_only=changed_only,
                    delete=delete, local_is_source=False)
    return ([Action(MKDIR, "")] if not local.exists() else []) + actions


def _join(remote: str, path: str) -> str:
    return remote.rstrip("/") + "/" + path if path else remote


def carry_out_up(actions: Iterable[Action], local: Path, files: VaultFiles, remote: str,
                 progress: Callable[[int], None]) -> None:
    for action in actions:
        target = _join(remote, action.path)
        if action.kind == MKDIR:
            files.makedirs(target)
        elif action.kind == UPLOAD:
            source = local / action.path
            try:
                stream = source.open("rb")
            except OSError as exc:
                raise SyncError(f"{source}: {exc.strerror}") from None
            with stream:
                files.put(stream, target, progress)
        else:
            files.remove(target)


def carry_out_down(actions: Iterable[Action], files: VaultFiles, remote: str, local: Path,
                   progress: Callable[[int], None]) -> None:
    for action in actions:
        target = local / action.path if action.path else local
        try:
            if action.kind == MKDIR:
                target.mkdir(parents=True, exist_ok=True)
            elif action.kind == DOWNLOAD:
                files.download(_join(remote, action.path), target, progress)
                if action.mtime:  # what the next sync compares with
                    os.utime(target, (action.mtime, action.mtime))
            elif action.is_dir:
                target.rmdir()
            else:
                target.unlink()
        except OSError as exc:
            raise SyncError(f"{target}: {exc.strerror or exc}") from None
