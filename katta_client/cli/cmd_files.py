"""``katta ls|put|get|mkdir|rm|mv|sync``: files of a vault, encrypted in the UVF layout in its bucket."""
from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ..files import VaultFiles
    from ..sync import Action
    from ..vaults import UnlockedVault

import click

from ..crypto import ciphertext_size
from .context import Context
from .errors import CliError
from .output import table
from .parsing import Command, Group, handled_by
from .vault_session import progress_bar, run_explained, unlock_selected, vault_option


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
    if args.recursive:
        return _put_tree(ctx, args)
    if local.is_dir():
        raise CliError(f"{local} is a directory; store it with `put -r`")
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
    if args.recursive:
        return _get_tree(ctx, args)
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


# -- many files -----------------------------------------------------------------------------------

def _put_tree(ctx: Context, args: argparse.Namespace) -> int:
    from ..sync import plan_up

    local: Path = args.local
    if not local.is_dir():
        raise CliError(f"{local}: not a directory (`put -r` stores a directory)")
    unlocked, files = _files(ctx, args)
    remote = files.target_path(args.remote, local.resolve().name)
    return _up(ctx, unlocked, files, local, remote, plan_up(local, files, remote, changed_only=False))


def _get_tree(ctx: Context, args: argparse.Namespace) -> int:
    from ..sync import plan_down

    unlocked, files = _files(ctx, args)
    parts = [p for p in args.remote.split("/") if p]
    local: Path = args.local / parts[-1] if args.local.is_dir() and parts else args.local
    return _down(ctx, unlocked, files, args.remote, local, plan_down(files, args.remote, local, changed_only=False))


def run_sync_up(ctx: Context, args: argparse.Namespace) -> int:
    from ..sync import plan_up

    if not args.local.is_dir():
        raise CliError(f"{args.local}: not a directory")
    unlocked, files = _files(ctx, args)
    actions = plan_up(args.local, files, args.remote, delete=args.delete)
    return _up(ctx, unlocked, files, args.local, args.remote, actions, dry_run=args.dry_run)


def run_sync_down(ctx: Context, args: argparse.Namespace) -> int:
    from ..sync import plan_down

    unlocked, files = _files(ctx, args)
    actions = plan_down(files, args.remote, args.local, delete=args.delete)
    return _down(ctx, unlocked, files, args.remote, args.local, actions, dry_run=args.dry_run)


def _up(ctx: Context, unlocked: UnlockedVault, files: VaultFiles, local: Path, remote: str,
        actions: list[Action], *, dry_run: bool = False) -> int:
    from ..sync import carry_out_up

    def carry(advance: Callable[[int], None]) -> None:
        carry_out_up(actions, local, files, remote, advance)

    return _transfer(ctx, unlocked, actions, carry, str(local), f"{unlocked.name}:{remote}", dry_run)


def _down(ctx: Context, unlocked: UnlockedVault, files: VaultFiles, remote: str, local: Path,
          actions: list[Action], *, dry_run: bool = False) -> int:
    from ..sync import carry_out_down

    def carry(advance: Callable[[int], None]) -> None:
        carry_out_down(actions, files, remote, local, advance)

    return _transfer(ctx, unlocked, actions, carry, f"{unlocked.name}:{remote}", str(local), dry_run)


def _transfer(ctx: Context, unlocked: UnlockedVault, actions: list[Action],
              carry: Callable[[Callable[[int], None]], None], source: str, target: str, dry_run: bool) -> int:
    """Carry out ``actions`` under one progress bar (or only show them), then say what was done."""
    if not dry_run and actions:
        with progress_bar(ctx, f"{source} → {target}", sum(a.transfer_bytes for a in actions)) as advance:
            carry(advance)
    if ctx.json_output:
        ctx.emit_json({"vault": unlocked.id, "from": source, "to": target, "dryRun": dry_run,
                       "actions": [{"action": a.kind, "path": a.path or ".", "size": a.size} for a in actions]})
        return 0
    if dry_run:
        for action in actions:
            size = f" ({action.size} bytes)" if action.kind in ("upload", "download") else ""
            ctx.out.print(f"would {action.kind} {action.path or '.'}{size}", markup=False)
    counts = Counter(a.kind for a in actions)
    summary = ", ".join(f"{counts[kind]} {done}" for kind, done in (
        ("upload", "uploaded"), ("download", "downloaded"), ("mkdir", "directories created"),
        ("delete", "deleted")) if counts[kind]) or "nothing to do"
    ctx.out.print(f"{source} → {target}: {summary}{' (dry run: nothing changed)' if dry_run else ''}, "
                  f"{sum(a.size for a in actions)} bytes.", markup=False)
    return 0


def run_mv(ctx: Context, args: argparse.Namespace) -> int:
    unlocked, files = _files(ctx, args)
    size = files.open_file(args.source)[1] if files.kind(args.source) == "file" else None
    with progress_bar(ctx, f"mv {args.source}", size) as advance:
        moved = files.move(args.source, args.target, advance)
    if ctx.json_output:
        ctx.emit_json({"vault": unlocked.id, "from": args.source, "to": moved})
    else:
        ctx.out.print(f"Moved {args.source} to {moved} in {unlocked.name}.", markup=False)
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


# -- the commands ---------------------------------------------------------------------------------

LOCAL_PATH = click.Path(path_type=Path)


def _sync_options() -> list[click.Option]:
    return [click.Option(["--dry-run"], is_flag=True, help="print what would change; change nothing"),
            click.Option(["--delete"], is_flag=True, help="also delete what the target holds and the source does not"),
            vault_option()]


COMMANDS = (
    Command("ls", callback=handled_by(run_explained(run_ls)), params=[
        click.Argument(["path"], metavar="PATH", required=False, default="/",
                       help="the vault directory (default: its root)"),
        vault_option(),
    ], short_help="list a directory of the vault", help="List a directory of the vault.",
        examples=("katta ls", "katta ls /reports --vault Projects", "katta ls / --json")),
    Command("put", callback=handled_by(run_explained(run_put)), params=[
        click.Argument(["local"], metavar="LOCAL", type=LOCAL_PATH, help="the local file (a directory with -r)"),
        click.Argument(["remote"], metavar="REMOTE",
                       help="vault path; a directory (or a path ending in /) keeps the local name"),
        click.Option(["-r", "--recursive"], is_flag=True, help="LOCAL is a directory: store it and everything in it"),
        vault_option(),
    ], short_help="encrypt a local file into the vault",
        help="Encrypt a local file (or, with -r, a directory) into the vault, with a progress bar.",
        examples=("katta put report.pdf /", "katta put report.pdf /reports/2026.pdf --vault Projects",
                  "katta put -r photos /")),
    Command("get", callback=handled_by(run_explained(run_get)), params=[
        click.Argument(["remote"], metavar="REMOTE", help="the vault file (a directory with -r)"),
        click.Argument(["local"], metavar="LOCAL", type=LOCAL_PATH,
                       help="local file, or a directory to keep the name"),
        click.Option(["-r", "--recursive"], is_flag=True, help="REMOTE is a directory: fetch it and everything in it"),
        vault_option(),
    ], short_help="decrypt a vault file to a local file",
        help="Decrypt a vault file (or, with -r, a directory) to a local one, authenticated, with a progress bar.",
        examples=("katta get /report.pdf .", "katta get /reports/2026.pdf copy.pdf --vault Projects",
                  "katta get -r /photos ~/Pictures")),
    Command("mkdir", callback=handled_by(run_explained(run_mkdir)), params=[
        click.Argument(["path"], metavar="PATH", help="the new directory's vault path"),
        vault_option(),
    ], short_help="create a directory in the vault", help="Create a directory in the vault.",
        examples=("katta mkdir /reports", "katta mkdir /reports/2026 --vault Projects")),
    Command("mv", callback=handled_by(run_explained(run_mv)), params=[
        click.Argument(["source"], metavar="SOURCE", help="the file or directory to move"),
        click.Argument(["target"], metavar="TARGET",
                       help="new path; an existing directory (or a path ending in /) keeps the name"),
        vault_option(),
    ], short_help="move or rename a file or directory in the vault",
        help="Move or rename a file or directory in the vault.",
        examples=("katta mv /report.pdf /reports/", "katta mv /drafts /archive/drafts-2026")),
    Group("sync", short_help="make one directory hold another's files: changed files only",
          help="Make one directory hold another's files: changed files only. A file is changed when its size "
               "differs or its source is newer, to the second (content is encrypted with fresh nonces: no "
               "hash can be compared).",
          examples=("katta sync up ./site /site --dry-run", "katta sync down /site ./site --delete"), commands=[
        Command("up", callback=handled_by(run_explained(run_sync_up)), params=[
            click.Argument(["local"], metavar="LOCAL_DIR", type=LOCAL_PATH, help="the local directory (the source)"),
            click.Argument(["remote"], metavar="REMOTE_DIR", help="the vault directory (the target)"),
            *_sync_options(),
        ], short_help="local directory → vault directory",
            help="Local directory → vault directory: upload what changed.",
            examples=("katta sync up ./site /site", "katta sync up ./site /site --delete --dry-run")),
        Command("down", callback=handled_by(run_explained(run_sync_down)), params=[
            click.Argument(["remote"], metavar="REMOTE_DIR", help="the vault directory (the source)"),
            click.Argument(["local"], metavar="LOCAL_DIR", type=LOCAL_PATH, help="the local directory (the target)"),
            *_sync_options(),
        ], short_help="vault directory → local directory",
            help="Vault directory → local directory: download what changed.",
            examples=("katta sync down /site ./site", "katta sync down /site ./site --delete --vault Projects")),
    ]),
    Command("rm", callback=handled_by(run_explained(run_rm)), params=[
        click.Argument(["path"], metavar="PATH", help="the file or empty directory"),
        vault_option(),
    ], short_help="delete a file or an empty directory", help="Delete a file or an empty directory of the vault.",
        examples=("katta rm /report.pdf", "katta rm /drafts --vault Projects")),
)
