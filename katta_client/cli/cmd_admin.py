"""``katta admin …``: what an admin does in Hub's admin pages, scriptable (``--json`` prints the API's answer).

``settings show|set``, ``users list|enable|disable``, ``groups list|show|create|rename|delete|add|remove``,
``audit`` (a page of the audit log: type and period filters, ``--after`` follows the last id of the
previous page) and ``storage list|create|archive``. Every command needs the ``admin`` role; the
server refuses anybody else (403), and the message says so.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from .context import Context
from .errors import CliError
from .output import fields, table
from .vault_session import run_explained

_ID = re.compile(r"[-_.a-zA-Z0-9]{1,255}")  # the contract's authority ids
# ``katta admin settings set`` option → SettingsDto field.
SETTINGS = {
    "wot_max_depth": "wotMaxDepth", "wot_id_verify_len": "wotIdVerifyLen",
    "automatic_access_grant": "enableAutomaticAccessGrant", "trust_threshold": "automaticAccessGrantTrustThreshold",
    "allow_grant_override": "allowAutomaticAccessGrantOverride", "emergency_access": "enableEmergencyAccess",
    "default_threshold": "defaultRequiredEmergencyKeyShares", "min_members": "defaultMinMembers",
    "owners_choose_council": "allowChoosingEmergencyCouncil",
}


def _on_off(text: str) -> bool:
    if text not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"must be on or off, not {text!r}")
    return text == "on"


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    admin = subparsers.add_parser("admin", parents=[common], help="hub administration (role admin)")
    groups_of = admin.add_subparsers(dest="admin_command", metavar="AREA", required=True)

    settings = groups_of.add_parser("settings", parents=[common], help="the hub's settings")
    settings_commands = settings.add_subparsers(dest="settings_command", metavar="COMMAND", required=True)
    settings_commands.add_parser("show", parents=[common], help="show the settings").set_defaults(
        handler=run_explained(run_settings_show))
    change = settings_commands.add_parser("set", parents=[common], help="change some settings (others stay)")
    change.add_argument("--wot-max-depth", type=int, metavar="N", help="web of trust: longest signature chain")
    change.add_argument("--wot-id-verify-len", type=int, metavar="N", help="web of trust: id characters to compare")
    change.add_argument("--automatic-access-grant", type=_on_off, metavar="on|off")
    change.add_argument("--trust-threshold", type=int, metavar="N", help="automatic grant: trust level needed")
    change.add_argument("--allow-grant-override", type=_on_off, metavar="on|off",
                        help="owners may override the automatic grant per vault")
    change.add_argument("--emergency-access", type=_on_off, metavar="on|off")
    change.add_argument("--council", metavar="USER", nargs="*", help="the hub's emergency council (none: empty)")
    change.add_argument("--default-threshold", type=int, metavar="N", help="council members a recovery needs")
    change.add_argument("--min-members", type=int, metavar="N", help="smallest council an owner may choose")
    change.add_argument("--owners-choose-council", type=_on_off, metavar="on|off",
                        help="owners seat their own council instead of the hub's")
    change.set_defaults(handler=run_explained(run_settings_set))

    users = groups_of.add_parser("users", parents=[common], help="user accounts")
    user_commands = users.add_subparsers(dest="users_command", metavar="COMMAND", required=True)
    listing = user_commands.add_parser("list", parents=[common], help="list users")
    listing.add_argument("--search", metavar="TEXT", help="only users whose name, email or id contains TEXT")
    listing.set_defaults(handler=run_explained(run_users_list))
    for name, help_text in (("enable", "let a user sign in again"),
                            ("disable", "refuse a user every request (keys and vault access stay stored)")):
        command = user_commands.add_parser(name, parents=[common], help=help_text)
        command.add_argument("who", metavar="USER")
        command.set_defaults(handler=run_explained(run_users_enable), enabled=name == "enable")

    groups = groups_of.add_parser("groups", parents=[common], help="groups")
    group_commands = groups.add_subparsers(dest="groups_command", metavar="COMMAND", required=True)
    group_commands.add_parser("list", parents=[common], help="list groups").set_defaults(
        handler=run_explained(run_groups_list))
    show = group_commands.add_parser("show", parents=[common], help="a group's members and vaults")
    show.add_argument("group", metavar="GROUP")
    show.set_defaults(handler=run_explained(run_groups_show))
    create = group_commands.add_parser("create", parents=[common], help="create a group")
    create.add_argument("name", metavar="NAME")
    create.set_defaults(handler=run_explained(run_groups_create))
    rename = group_commands.add_parser("rename", parents=[common], help="rename a group")
    rename.add_argument("group", metavar="GROUP")
    rename.add_argument("name", metavar="NAME")
    rename.set_defaults(handler=run_explained(run_groups_rename))
    delete = group_commands.add_parser("delete", parents=[common], help="delete a group")
    delete.add_argument("group", metavar="GROUP")
    delete.set_defaults(handler=run_explained(run_groups_delete))
    for name in ("add", "remove"):
        command = group_commands.add_parser(name, parents=[common], help=f"{name} a user {'to' if name == 'add' else 'from'} a group")
        command.add_argument("group", metavar="GROUP")
        command.add_argument("who", metavar="USER")
        command.set_defaults(handler=run_explained(run_groups_member), add=name == "add")

    audit = groups_of.add_parser("audit", parents=[common], help="one page of the audit log")
    audit.add_argument("--since", metavar="ISO8601", help="from (default: 30 days ago)")
    audit.add_argument("--until", metavar="ISO8601", help="to, exclusive (default: now)")
    audit.add_argument("--type", metavar="TYPE", nargs="+", default=[], help="only these event types")
    audit.add_argument("--page-size", type=int, default=20, metavar="N", help="events per page (1 to 100)")
    audit.add_argument("--after", type=int, metavar="ID", help="the next page: the last id of the previous one")
    audit.add_argument("--order", choices=("desc", "asc"), default="desc")
    audit.add_argument("--service", action="store_true", help="this service's own log (keys, storage, tokens)")
    audit.set_defaults(handler=run_explained(run_audit))

    storage = groups_of.add_parser("storage", parents=[common], help="storage profiles")
    storage_commands = storage.add_subparsers(dest="storage_command", metavar="COMMAND", required=True)
    profiles = storage_commands.add_parser("list", parents=[common], help="list storage profiles")
    profiles.add_argument("--archived", type=_on_off, metavar="on|off", help="only archived (on) or live (off)")
    profiles.set_defaults(handler=run_explained(run_storage_list))
    new = storage_commands.add_parser("create", parents=[common], help="create a storage profile (S3 static or STS)")
    new.add_argument("definition", metavar="FILE.json", type=Path,
                     help="the profile as the contract's StorageProfileS3StaticDto or StorageProfileS3STSDto")
    new.set_defaults(handler=run_explained(run_storage_create))
    archive = storage_commands.add_parser("archive", parents=[common], help="archive a profile: no new vaults on it")
    archive.add_argument("profile_id", metavar="PROFILE_ID")
    archive.set_defaults(handler=run_explained(run_storage_archive))


def _emit(ctx: Context, value: Any) -> bool:
    if ctx.json_output:
        ctx.emit_json(value)
    return ctx.json_output


def _authority(ctx: Context, who: str, kind: str) -> dict[str, Any]:
    """A user or group by id first (a group's id outlives its renaming), else by name."""
    from ..vaults import find_authority

    if _ID.fullmatch(who):
        by_id = [a for a in ctx.api.authorities([who]) if a.get("id") == who]
        if by_id:
            return _of_kind(dict(by_id[0]), who, kind)
    return _of_kind(dict(find_authority(ctx.api, who)), who, kind)


def _of_kind(found: dict[str, Any], who: str, kind: str) -> dict[str, Any]:
    if found.get("type") != kind:
        raise CliError(f"{who!r} is a {str(found.get('type')).lower()}, not a {kind.lower()}")
    return found


# -- settings ------------------------------------------------------------------------------------

def run_settings_show(ctx: Context, args: argparse.Namespace) -> int:
    settings = ctx.api.settings()
    if not _emit(ctx, settings):
        ctx.out.print(fields((name, json.dumps(value) if isinstance(value, (bool, list)) else value)
                             for name, value in settings.items()))
    return 0


def run_settings_set(ctx: Context, args: argparse.Namespace) -> int:
    from ..emergency import resolve_council

    changes: dict[str, Any] = {field: getattr(args, option) for option, field in SETTINGS.items()
                               if getattr(args, option) is not None}
    if args.council is not None:
        changes["emergencyCouncilMemberIds"] = resolve_council(ctx.api, args.council)
    if not changes:
        raise CliError("name at least one setting to change (see `katta admin settings set --help`)")
    ctx.api.put_settings(changes)  # type: ignore[arg-type]
    return run_settings_show(ctx, args)


# -- users ---------------------------------------------------------------------------------------

def run_users_list(ctx: Context, args: argparse.Namespace) -> int:
    users = ctx.api.users()
    if args.search:
        wanted = args.search.casefold()
        users = [u for u in users if any(wanted in str(u.get(k, "")).casefold() for k in ("id", "name", "email"))]
    if not _emit(ctx, users):
        ctx.out.print(table(("ID", "NAME", "EMAIL", "ENABLED", "KEYS"), (
            (u.get("id"), u.get("name"), u.get("email"), "yes" if u.get("enabled", True) else "no",
             "yes" if u.get("ecdhPublicKey") else "no") for u in users)))
    return 0


def run_users_enable(ctx: Context, args: argparse.Namespace) -> int:
    user = _authority(ctx, args.who, "USER")
    ctx.api.set_user_enabled(user["id"], args.enabled)
    if not _emit(ctx, {"id": user["id"], "enabled": args.enabled}):
        ctx.out.print(f"{user.get('name')} ({user['id']}) can sign in again." if args.enabled else
                      f"{user.get('name')} ({user['id']}) is disabled: every request is refused until enabled "
                      "again; their keys, devices and vault access stay stored.", markup=False)
    return 0


# -- groups --------------------------------------------------------------------------------------

def run_groups_list(ctx: Context, args: argparse.Namespace) -> int:
    groups = ctx.api.groups()
    if not _emit(ctx, groups):
        ctx.out.print(table(("ID", "NAME", "MEMBERS", "VAULTS"), (
            (g.get("id"), g.get("name"), g.get("memberSize"), g.get("vaultCount")) for g in groups)))
    return 0


def run_groups_show(ctx: Context, args: argparse.Namespace) -> int:
    group = ctx.api.group(_authority(ctx, args.group, "GROUP")["id"])
    if not _emit(ctx, group):
        ctx.out.print(f"{group.get('name')} ({group.get('id')})", markup=False)
        ctx.out.print(table(("MEMBER", "NAME"), ((m.get("id"), m.get("name")) for m in group.get("members", []))))
        ctx.out.print(table(("VAULT", "NAME", "ROLE"), (
            (v.get("id"), v.get("name"), v.get("role")) for v in group.get("vaults", []))))
    return 0


def run_groups_create(ctx: Context, args: argparse.Namespace) -> int:
    group = ctx.api.create_group(args.name)
    if not _emit(ctx, group):
        ctx.out.print(f"Created group {group.get('name')} ({group.get('id')}).", markup=False)
    return 0


def run_groups_rename(ctx: Context, args: argparse.Namespace) -> int:
    group = ctx.api.rename_group(_authority(ctx, args.group, "GROUP")["id"], args.name)
    if not _emit(ctx, group):
        ctx.out.print(f"Renamed group {group.get('id')} to {group.get('name')}.", markup=False)
    return 0


def run_groups_delete(ctx: Context, args: argparse.Namespace) -> int:
    group = _authority(ctx, args.group, "GROUP")
    ctx.api.delete_group(group["id"])
    if not _emit(ctx, {"id": group["id"], "deleted": True}):
        ctx.out.print(f"Deleted group {group.get('name')}; its members lost the vaults it gave them.", markup=False)
    return 0


def run_groups_member(ctx: Context, args: argparse.Namespace) -> int:
    group, user = _authority(ctx, args.group, "GROUP"), _authority(ctx, args.who, "USER")
    if args.add:
        ctx.api.add_group_member(group["id"], user["id"])
    else:
        ctx.api.remove_group_member(group["id"], user["id"])
    if not _emit(ctx, {"group": group["id"], "user": user["id"], "member": args.add}):
        ctx.out.print(f"{'Added' if args.add else 'Removed'} {user.get('name')} "
                      f"{'to' if args.add else 'from'} {group.get('name')}.", markup=False)
    return 0


# -- the audit log -------------------------------------------------------------------------------

def _instant(text: str | None, default: dt.datetime) -> str:
    if text is None:
        moment = default
    else:
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise CliError(f"{text!r} is not an ISO 8601 date or time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_audit(ctx: Context, args: argparse.Namespace) -> int:
    now = dt.datetime.now(dt.timezone.utc)
    # The end is exclusive and whole seconds: a minute ahead keeps this second's events in.
    events = ctx.api.audit_log(_instant(args.since, now - dt.timedelta(days=30)),
                               _instant(args.until, now + dt.timedelta(minutes=1)),
                               types=args.type, page_size=args.page_size, pagination_id=args.after,
                               order=args.order, service=args.service)
    if _emit(ctx, events):
        return 0
    skip = {"id", "timestamp", "type"}
    ctx.out.print(table(("ID", "TIME", "TYPE", "DETAILS"), (
        (e.get("id"), e.get("timestamp"), e.get("type"),
         ", ".join(f"{k}={v}" for k, v in sorted(e.items()) if k not in skip)) for e in events)))
    if len(events) == args.page_size:
        ctx.note(f"next page: --after {events[-1]['id']}")
    return 0


# -- storage profiles ----------------------------------------------------------------------------

def run_storage_list(ctx: Context, args: argparse.Namespace) -> int:
    profiles = ctx.api.storage_profiles(archived=args.archived)
    if not _emit(ctx, profiles):
        ctx.out.print(table(("ID", "NAME", "PROTOCOL", "REGION", "ARCHIVED"), (
            (p.get("id"), p.get("name"), p.get("protocol"), p.get("region"), "yes" if p.get("archived") else "")
            for p in profiles)))
    return 0


def run_storage_create(ctx: Context, args: argparse.Namespace) -> int:
    try:
        definition = json.loads(args.definition.read_text())
    except OSError as exc:
        raise CliError(f"cannot read {args.definition}: {exc.strerror}") from None
    except ValueError:
        raise CliError(f"{args.definition} is not JSON") from None
    if not isinstance(definition, dict):
        raise CliError(f"{args.definition} must hold one JSON object")
    profile = ctx.api.create_storage_profile(definition)  # type: ignore[arg-type]
    if not _emit(ctx, profile):
        ctx.out.print(f"Created storage profile {profile.get('name')} ({profile.get('id')}).", markup=False)
    return 0


def run_storage_archive(ctx: Context, args: argparse.Namespace) -> int:
    ctx.api.archive_storage_profile(args.profile_id)
    if not _emit(ctx, {"id": args.profile_id, "archived": True}):
        ctx.out.print(f"Archived storage profile {args.profile_id}: existing vaults keep it, no new vault "
                      "can choose it.", markup=False)
    return 0
