"""``katta vault list|show|members`` (the commands that need only the API).

``create``, ``add``, ``remove``, ``grant``, ``archive`` and ``unlock`` need the vault crypto;
they live in ``cmd_vault_keys`` and join this group."""
from __future__ import annotations

import argparse
import uuid

import click

from . import cmd_vault_keys
from .context import Context
from .errors import CliError
from .output import fields, table
from .parsing import Command, Group, handled_by
from .vault_session import run_explained, selected_vault


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


# -- the commands ---------------------------------------------------------------------------------

def _vault_argument() -> click.Argument:
    return click.Argument(["vault"], metavar="NAME|ID", required=False,
                          help="the vault, as every command names it (default: the current one)")


vault = Group("vault", short_help="vaults you can access",
              help="Vaults you can access: list and show them; create, share, grant, archive and unlock them.",
              examples=("katta vault list", "katta vault create Projects", "katta vault add bob@example.org",
                        "katta vault grant"), commands=[
    Command("list", callback=handled_by(run_list), params=[
        click.Option(["--role"], type=click.Choice(("MEMBER", "OWNER")), help="only vaults where you have this role"),
    ], short_help="list the vaults you can access", help="List the vaults you can access, with your role in each.",
        examples=("katta vault list", "katta vault list --role OWNER", "katta vault list --json")),
    Command("show", callback=handled_by(run_explained(run_show)), params=[_vault_argument()],
            short_help="show one vault", help="Show one vault.",
            examples=("katta vault show", "katta vault show Projects --json")),
    Command("members", callback=handled_by(run_explained(run_members)), params=[_vault_argument()],
            short_help="list a vault's members", help="List a vault's members, their roles and whether they have keys.",
            examples=("katta vault members", "katta vault members Projects")),
    *cmd_vault_keys.COMMANDS,
])

COMMANDS = (vault,)
