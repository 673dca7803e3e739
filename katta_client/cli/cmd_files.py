"""``katta ls|put|get|mkdir|rm``: files of a vault, encrypted in the UVF layout in its bucket."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..crypto import ciphertext_size
from .context import Context
from .errors import CliError
from .output import table
from .vault_session import add_vault_option, progress_bar, run_explained, unlock_selected


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    ls = subparsers.add_parser("ls", parents=[common], help="list a directory of the vault")
    ls.add_argument("path", metavar="PATH", nargs="?", default="/")
    add_vault_option(ls)
    ls.set_defaults(handler=run_explained(run_ls))

    put = subparsers.add_parser("put", parents=[common], help="encrypt a local file into the vault")
    put.add_argument("local", metavar="LOCAL", type=Path)
    put.add_argument("remote", metavar="REMOTE", help="vault path; a directory (or a path ending in /) "
                                                      "keeps the local name")
    add_vault_option(put)
    put.set_defaults(handler=run_explained(run_put))

    get = subparsers.add_parser("get", parents=[common], help="decrypt a vault file to a local file")
    get.add_argument("remote", metavar="REMOTE")
    get.add_argument("local", metavar="LOCAL", type=Path, help="local file, or a directory to keep the name")
    add_vault_option(get)
    get.set_defaults(handler=run_explained(run_get))

    mkdir = subparsers.add_parser("mkdir", parents=[common], help="create a directory in the vault")
    mkdir.add_argument("path", metavar="PATH")
    add_vault_option(mkdir)
    mkdir.set_defaults(handler=run_explained(run_mkdir))

    rm = subparsers.add_parser("rm", parents=[common], help="delete a file or an empty directory")
    rm.add_argument("path", metavar="PATH")
    add_vault_option(rm)
    rm.set_defaults(handler=run_explained(run_rm))


def _files(ctx: Context, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from ..files import VaultFiles
    from ..vaults import open_bucket

    unlocked = unlock_selected(ctx, args)
    return unlocked, VaultFiles(unlocked.uvf, open_bucket(ctx.api, unlocked))


def run_ls(ctx: Context, args: argparse.Namespace) -> int:
    _unlocked, files = _files(ctx, args)
    entries = files.list(args.path)
    if ctx.json_output:
        ctx.emit_json([{"name": e.name, "type": "directory" if e.is_dir else "file", "size": e.size}
                       for e in entries])
        return 0
    if not entries:
        ctx.out.print("(empty)", markup=False)
        return 0
    ctx.out.print(table(("TYPE", "SIZE", "NAME"), (
        ("dir" if e.is_dir else "file", "" if e.size is None else e.size, e.name + ("/" if e.is_dir else ""))
        for e in entries)))
    return 0


def run_put(ctx: Context, args: argparse.Namespace) -> int:
    local: Path = args.local
    if not local.is_file():
        raise CliError(f"{local}: not a readable file")
    unlocked, files = _files(ctx, args)
    remote = files.target_path(args.remote, local.name)
    size = local.stat().st_size
    try:
        source = local.open("rb")
    except OSError as exc:
        raise CliError(f"{local}: {exc.strerror}") from None
    with source, progress_bar(ctx, f"put {local.name}", ciphertext_size(size)) as advance:
        key = files.put(source, remote, advance)
    if ctx.json_output:
        ctx.emit_json({"vault": unlocked.id, "path": remote, "size": size, "object": key})
    else:
        ctx.out.print(f"Stored {remote} ({size} bytes, encrypted) in {unlocked.name}.", markup=False)
    return 0


def run_get(ctx: Context, args: argparse.Namespace) -> int:
    unlocked, files = _files(ctx, args)
    local: Path = args.local
    if local.is_dir():
        parts = [p for p in args.remote.split("/") if p]
        if not parts:
            raise CliError("name a file in the vault, not its root")
        local = local / parts[-1]
    _key, size = files.open_file(args.remote)
    try:
        with progress_bar(ctx, f"get {local.name}", size) as advance:
            written = files.download(args.remote, local, advance)
    except OSError as exc:
        raise CliError(f"{local}: {exc.strerror or exc}") from None
    if ctx.json_output:
        ctx.emit_json({"vault": unlocked.id, "path": args.remote, "local": str(local), "size": written})
    else:
        ctx.out.print(f"Wrote {local} ({written} bytes, decrypted and authenticated).", markup=False)
    return 0


def run_mkdir(ctx: Context, args: argparse.Namespace) -> int:
    unlocked, files = _files(ctx, args)
    files.mkdir(args.path)
    if ctx.json_output:
        ctx.emit_json({"vault": unlocked.id, "created": args.path})
    else:
        ctx.out.print(f"Created directory {args.path} in {unlocked.name}.", markup=False)
    return 0


def run_rm(ctx: Context, args: argparse.Namespace) -> int:
    unlocked, files = _files(ctx, args)
    kind = files.remove(args.path)
    if ctx.json_output:
        ctx.emit_json({"vault": unlocked.id, "removed": args.path, "type": "directory" if kind == "dir" else "file"})
    else:
        ctx.out.print(f"Removed {'directory' if kind == 'dir' else 'file'} {args.path} from {unlocked.name}.",
                      markup=False)
    return 0
