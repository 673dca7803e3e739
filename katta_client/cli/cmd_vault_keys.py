"""``katta vault create|use|add|remove|grant|archive|unlock``: the commands that need vault keys.

``cmd_vault`` owns the ``vault`` group and puts :data:`COMMANDS` beside ``list|show|members``.
"""
from __future__ import annotations

import argparse
import contextlib

import click

from .cmd_emergency import council_options
from .context import Context
from .errors import CliError
from .output import fields, table
from .parsing import Command, handled_by
from .vault_session import CurrentVaults, connect, run_explained, selected_vault, unlock_selected, vault_option


def run_create(ctx: Context, args: argparse.Namespace) -> int:
    from ..vaults import choose_profile, create_vault

    from ..emergency import council_keys, resolve_council

    name = args.name.strip()
    if not name:
        raise CliError("give the vault a name")
    if bool(args.council) != bool(args.threshold) or (args.council and args.threshold < 2):
        raise CliError("an emergency council needs --council USER… and a --threshold of 2 or more")
    connection = connect(ctx)
    profile = choose_profile(ctx.api, args.profile)
    council = resolve_council(ctx.api, args.council)
    if len(council) < args.threshold:
        raise CliError(f"a council of {len(council)} cannot meet a threshold of {args.threshold}")
    with ctx.err.status(f"Creating vault {name} on {profile.get('name')}…") if not ctx.json_output else contextlib.nullcontext():
        unlocked = create_vault(ctx.api, connection, name, profile, description=args.description, region=args.region,
                                council=council_keys(ctx.api, council), threshold=args.threshold)
    CurrentVaults(ctx).set(unlocked.id, unlocked.name)
    storage = unlocked.storage
    if ctx.json_output:
        ctx.emit_json({"id": unlocked.id, "name": unlocked.name, "storageProfile": profile.get("id"),
                       "bucket": storage.get("defaultPath"), "region": storage.get("region"),
                       "emergencyCouncil": council, "requiredEmergencyKeyShares": args.threshold})
        return 0
    ctx.out.print(f"Created vault {unlocked.name} ({unlocked.id}); it is now the current vault.", markup=False)
    ctx.out.print(fields((("Storage profile", f"{profile.get('name')} ({profile.get('id')})"),
                          ("Bucket", storage.get("defaultPath")), ("Region", storage.get("region")))))
    return 0


def run_use(ctx: Context, args: argparse.Namespace) -> int:
    vault = selected_vault(ctx, args)
    CurrentVaults(ctx).set(vault["id"], vault.get("name", ""))
    if ctx.json_output:
        ctx.emit_json({"id": vault["id"], "name": vault.get("name")})
    else:
        ctx.out.print(f"The current vault is now {vault.get('name')} ({vault['id']}).", markup=False)
    return 0


def run_add(ctx: Context, args: argparse.Namespace) -> int:
    from ..vaults import add_member

    vault = selected_vault(ctx, args)
    role = "OWNER" if args.owner else "MEMBER"
    authority = add_member(ctx.api, vault["id"], args.who, role)
    if ctx.json_output:
        ctx.emit_json({"vault": vault["id"], "added": authority, "role": role})
        return 0
    ctx.out.print(f"Added {authority.get('name')} ({authority.get('id')}) to {vault.get('name')}. "
                  "Run `katta vault grant` to give them the vault key.", markup=False)
    return 0


def run_remove(ctx: Context, args: argparse.Namespace) -> int:
    from ..vaults import remove_member

    vault = selected_vault(ctx, args)
    member = remove_member(ctx.api, vault["id"], args.who)
    if ctx.json_output:
        ctx.emit_json({"vault": vault["id"], "removed": member.get("id")})
        return 0
    ctx.out.print(f"Removed {member.get('name')} from {vault.get('name')}. Files they already read stay "
                  "readable to them; the vault key is not rotated.", markup=False)
    return 0


def run_grant(ctx: Context, args: argparse.Namespace) -> int:
    from ..vaults import grant_access

    unlocked = unlock_selected(ctx, args)
    granted = grant_access(ctx.api, unlocked, args.who)
    if ctx.json_output:
        ctx.emit_json({"vault": unlocked.id, "granted": [{"id": m.get("id"), "name": m.get("name")}
                                                         for m in granted]})
        return 0
    if not granted:
        ctx.out.print("Nobody is awaiting access (members need user keys first: `katta init`).", markup=False)
        return 0
    ctx.out.print(f"Granted access to {unlocked.name}:", markup=False)
    ctx.out.print(table(("ID", "NAME", "ROLE"), ((m.get("id"), m.get("name"), m.get("vaultRole")) for m in granted)))
    return 0


def run_archive(ctx: Context, args: argparse.Namespace) -> int:
    vault = selected_vault(ctx, args)
    result = ctx.api.set_archived(vault["id"], not args.undo)
    if ctx.json_output:
        ctx.emit_json(result)
        return 0
    state = "reactivated" if args.undo else "archived"
    ctx.out.print(f"Vault {vault.get('name')} ({vault['id']}) is {state}.", markup=False)
    return 0


def run_unlock(ctx: Context, args: argparse.Namespace) -> int:
    unlocked = unlock_selected(ctx, args)
    metadata = unlocked.uvf.metadata
    storage = unlocked.storage
    summary = {"id": unlocked.id, "name": unlocked.name, "owner": unlocked.keys.is_owner,
               "recoveryKeyId": unlocked.keys.recovery_key_id, "seeds": len(metadata.seeds),
               "fileFormat": "AES-256-GCM-32k", "nameFormat": "AES-SIV-512-B64URL",
               "rootDirectory": unlocked.uvf.dir_prefix(unlocked.uvf.root_dir_id),
               "storageProfile": storage.get("provider"), "bucket": storage.get("defaultPath")}
    if ctx.json_output:
        ctx.emit_json(summary)
        return 0
    ctx.out.print(f"Unlocked {unlocked.name}: the member key opened vault.uvf (nothing was stored on disk).",
                  markup=False)
    ctx.out.print(fields((
        ("Vault", f"{unlocked.name} ({unlocked.id})"),
        ("Access", "owner (member key + recovery key)" if unlocked.keys.is_owner else "member (member key)"),
        ("Recovery key", summary["recoveryKeyId"]),
        ("Seeds", summary["seeds"]),
        ("Formats", "AES-256-GCM-32k content, AES-SIV-512-B64URL names"),
        ("Root directory", summary["rootDirectory"]),
        ("Bucket", f"{storage.get('defaultPath')} (profile {storage.get('provider')})"),
    )))
    return 0


# -- the commands ---------------------------------------------------------------------------------

COMMANDS = (
    Command("create", callback=handled_by(run_explained(run_create)), params=[
        click.Argument(["name"], metavar="NAME", help="the vault's name"),
        click.Option(["--description"], default="", help="a description shown to members"),
        click.Option(["--profile"], metavar="ID", help="storage profile id (default: the first S3 STS profile)"),
        click.Option(["--region"], help="bucket region (default: the profile's default region)"),
        *council_options(),
    ], short_help="create a vault, its keys and its bucket",
        help="Create a vault: its keys, vault.uvf, your own access token and its bucket (through STS); "
             "it becomes the current vault.",
        examples=("katta vault create Projects", "katta vault create Projects --description 'team files' --region eu-west-1",
                  "katta vault create Payroll --council bob carol --threshold 2")),
    Command("use", callback=handled_by(run_explained(run_use)), params=[
        click.Argument(["vault"], metavar="NAME|ID", help="the vault to make the current one"),
    ], short_help="make a vault the current one for later commands",
        help="Make a vault the current one: later commands use it without --vault.",
        examples=("katta vault use Projects", "katta vault use 2b1f0c3e-5d6a-4c1e-9f0a-0d7c2e4b8a11")),
    Command("add", callback=handled_by(run_explained(run_add)), params=[
        click.Argument(["who"], metavar="USER",
                       help="user or group: id, name, e-mail address, or unique start of the name"),
        click.Option(["--owner"], is_flag=True, help="add as OWNER instead of MEMBER"),
        vault_option(),
    ], short_help="add a user or group as a member",
        help="Add a user or group as a member (then `katta vault grant` gives them the vault key).",
        examples=("katta vault add bob", "katta vault add bob@example.org", "katta vault add Engineering --owner",
                  "katta vault add carol --vault Projects")),
    Command("remove", callback=handled_by(run_explained(run_remove)), params=[
        click.Argument(["who"], metavar="USER", help="the member: id, name, or unique start of the name"),
        vault_option(),
    ], short_help="remove a direct member", help="Remove a direct member (the vault key is not rotated).",
        examples=("katta vault remove bob", "katta vault remove Engineering --vault Projects")),
    Command("grant", callback=handled_by(run_explained(run_grant)), params=[
        click.Argument(["who"], metavar="USER", nargs=-1,
                       help="only these members (default: everyone awaiting access)"),
        vault_option(),
    ], short_help="give members their access token (default: everyone awaiting one)",
        help="Give members their access token: the vault key encrypted to each member's key (default: "
             "everyone awaiting one).",
        examples=("katta vault grant", "katta vault grant bob carol --vault Projects")),
    Command("archive", callback=handled_by(run_explained(run_archive)), params=[
        click.Option(["--undo"], is_flag=True, help="reactivate an archived vault"),
        vault_option(),
    ], short_help="archive a vault (no more access)", help="Archive a vault: nobody can access it until reactivated.",
        examples=("katta vault archive --vault Projects", "katta vault archive --undo --vault Projects")),
    Command("unlock", callback=handled_by(run_explained(run_unlock)), params=[vault_option()],
            short_help="check that you can unlock a vault and show what was unlocked",
            help="Check that you can unlock a vault and show what was unlocked (nothing is stored on disk).",
            examples=("katta vault unlock", "katta vault unlock --vault Projects --json")),
)
