"""``katta vault list|show|members`` (the commands that need only the API).

``create``, ``add``, ``remove``, ``grant``, ``archive`` and ``unlock`` need the vault crypto;
they live in ``cmd_vault_keys`` and join this group."""
from __future__ import annotations

import argparse
import uuid

from . import cmd_vault_keys
from .context import Context
from .errors import CliError
from .output import fields, table
from .vault_session import run_explained, selected_vault


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    vault = subparsers.add_parser("vault", parents=[common], help="vaults you can access")
    commands = vault.add_subparsers(dest="vault_command", metavar="COMMAND", required=True)
    listing = commands.add_parser("list", parents=[common], help="list the vaults you can access")
    listing.add_argument("--role", choices=("MEMBER", "OWNER"), help="only vaults where you have this role")
    listing.set_defaults(handler=run_list)
    show = commands.add_parser("show", parents=[common], help="show one vault")
    _vault_argument(show)
    show.set_defaults(handler=run_explained(run_show))
    members = commands.add_parser("members", parents=[common], help="list a vault's members")
    _vault_argument(members)
    members.set_defaults(handler=run_explained(run_members))
    cmd_vault_keys.add_commands(commands, common)


def _vault_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("vault", metavar="NAME|ID", nargs="?",
                        help="the vault, as every command names it (default: the current one)")


def vault_id(value: str) -> str:
    """Vault ids are canonical lower-case UUIDs; check before sending."""
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise CliError(f"{value!r} is not a vault id (a UUID)") from None


def run_list(ctx: Context, args: argparse.Namespace) -> int:
    from ..vaults import accessible_with_roles

    vaults = accessible_with_roles(ctx.api, args.role)
    if ctx.json_output:
        ctx.emit_json(vaults)
        return 0
    if not vaults:
        ctx.out.print("No vaults.", markup=False)
        return 0
    ctx.out.print(table(("ID", "NAME", "ROLE", "ARCHIVED", "CREATED"), (
        (v.get("id"), v.get("name"), v.get("role"), "yes" if v.get("archived") else "",
         v.get("creationTime")) for v in vaults)))
    return 0


def run_show(ctx: Context, args: argparse.Namespace) -> int:
    vault = ctx.api.get_vault(selected_vault(ctx, args)["id"])
    if ctx.json_output:
        ctx.emit_json(vault)
        return 0
    ctx.out.print(fields((
        ("Id", vault.get("id")), ("Name", vault.get("name")), ("Description", vault.get("description", "")),
        ("Created", vault.get("creationTime")), ("Archived", "yes" if vault.get("archived") else "no"),
        ("UVF metadata", "present" if vault.get("uvfMetadataFile") else "none"),
    )))
    return 0


def run_members(ctx: Context, args: argparse.Namespace) -> int:
    members = ctx.api.members(selected_vault(ctx, args)["id"])
    if ctx.json_output:
        ctx.emit_json(members)
        return 0
    ctx.out.print(table(("ID", "NAME", "TYPE", "ROLE", "KEYS"), (
        (m.get("id"), m.get("name"), m.get("type"), m.get("vaultRole"),
         "yes" if m.get("ecdhPublicKey") else ("" if m.get("type") == "GROUP" else "no")) for m in members)))
    return 0
