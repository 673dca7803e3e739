"""What the vault and file commands share: the unlocked user keys, the selected vault, progress
bars, and turning the vault flows' failures into one-line errors.

The current vault (``katta vault use``, or the last ``vault create``) is remembered per server and
user in ``<config dir>/vaults.json`` — ids and names only; keys are unlocked again by each command.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any, Callable, Iterator, Optional

import click

from ..config import JsonObjectFile
from .context import Context
from .errors import CliError

VAULTS_FILE = "vaults.json"


def vault_option() -> click.Option:
    return click.Option(["--vault"], metavar="NAME|ID", help="the vault (default: the current one, see `katta vault use`)")


@contextlib.contextmanager
def explained() -> Iterator[None]:
    """Failures of the vault, file and storage layers as :class:`CliError` (one line, exit 1)."""
    from ..crypto import InvalidFormat
    from ..files import IntegrityError, VaultPathError
    from ..flows import FlowError
    from ..pop_body import PopKeyUnavailable
    from ..storage import StorageError
    from ..sync import SyncError
    from ..vaults import VaultError

    try:
        yield
    except (FlowError, VaultError, VaultPathError, IntegrityError, StorageError, PopKeyUnavailable,
            SyncError) as exc:
        raise CliError(str(exc)) from None
    except InvalidFormat as exc:  # e.g. a path with "..", a name with NUL
        raise CliError(f"invalid: {exc}") from None


def run_explained(handler: Callable[[Context, argparse.Namespace], int]) -> Callable[[Context, argparse.Namespace], int]:
    def run(ctx: Context, args: argparse.Namespace) -> int:
        with explained():
            return handler(ctx, args)
    run.__doc__ = handler.__doc__
    return run


def connect(ctx: Context):  # type: ignore[no-untyped-def]
    """The user's keys, unlocked with this device's key (never creates keys or asks for the account key)."""
    from ..flows import open_connection

    def no_account_key() -> str:
        raise CliError("this device is not registered for your account; run `katta init` "
                       "(or `katta recover`) first")

    return open_connection(ctx.api, ctx.keychain, ctx.server, ctx.require_user(), account_key=no_account_key,
                           create_user_keys=False)


# -- the current vault --------------------------------------------------------------------------

class CurrentVaults(JsonObjectFile):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx.config_dir / VAULTS_FILE)
        self.key = f"{ctx.server} {ctx.require_user()}"

    def get(self) -> Optional[str]:
        entry = self.load().get(self.key)
        return entry.get("id") if isinstance(entry, dict) and isinstance(entry.get("id"), str) else None

    def set(self, vault_id: str, name: str) -> None:
        data = self.load()
        data[self.key] = {"id": vault_id, "name": name}
        self.save(data)


def selected_vault(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    """The vault ``--vault`` names, else the current one."""
    from ..vaults import resolve_vault

    wanted = getattr(args, "vault", None) or CurrentVaults(ctx).get()
    if not wanted:
        raise CliError("no vault selected; pass --vault NAME|ID or run `katta vault use NAME`")
    with explained():
        return resolve_vault(ctx.api, wanted)


def unlock_selected(ctx: Context, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from ..vaults import unlock_vault

    vault = selected_vault(ctx, args)
    with explained():
        return unlock_vault(ctx.api, connect(ctx), vault["id"])


# -- progress -----------------------------------------------------------------------------------

@contextlib.contextmanager
def progress_bar(ctx: Context, label: str, total: Optional[int]) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr; silent with ``--json`` or when stderr is not a terminal."""
    if ctx.json_output or not sys.stderr.isatty():
        yield lambda _n: None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, \
        TransferSpeedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeRemainingColumn(), console=ctx.err, transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)
