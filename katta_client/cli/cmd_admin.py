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
from typing import Any, Callable

import click

from .context import Context
from .errors import CliError
from .output import fields, table
from .parsing import Command, Group, OnOff, Variadic, handled_by
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


# -- the commands ---------------------------------------------------------------------------------

def _user_argument(name: str = "who") -> click.Argument:
    return click.Argument([name], metavar="USER", help="the user: id, name, e-mail address or unique start of the name")


def _group_argument() -> click.Argument:
    return click.Argument(["group"], metavar="GROUP", help="the group: id or name")


def _admin(name: str, handler: Callable[[Context, argparse.Namespace], int], summary: str, examples: tuple[str, ...],
           params: tuple[click.Parameter, ...] = (), help: str | None = None, **fixed: Any) -> Command:
    """An admin command: its failures explained, its help the summary unless said otherwise."""
    return Command(name, callback=handled_by(run_explained(handler), **fixed), params=list(params),
                   short_help=summary, help=help or summary[0].upper() + summary[1:] + ".", examples=examples)


def _number(option: str, help: str) -> click.Option:
    return click.Option([option], type=int, metavar="N", help=help)


def _switch(option: str, help: str) -> click.Option:
    return click.Option([option], type=OnOff(), metavar="on|off", help=help)


settings = Group("settings", short_help="the hub's settings", help="The hub's settings: web of trust, automatic "
                 "access grants, emergency access.",
                 examples=("katta admin settings show", "katta admin settings set --emergency-access on"), commands=[
    _admin("show", run_settings_show, "show the settings", ("katta admin settings show",
                                                           "katta admin settings show --json")),
    _admin("set", run_settings_set, "change some settings (others stay)", (
        "katta admin settings set --wot-max-depth 3 --wot-id-verify-len 2",
        "katta admin settings set --emergency-access on --council bob carol dave --default-threshold 2",
        "katta admin settings set --council"), params=(
        _number("--wot-max-depth", "web of trust: longest signature chain"),
        _number("--wot-id-verify-len", "web of trust: id characters to compare"),
        _switch("--automatic-access-grant", "grant access automatically to members the web of trust vouches for"),
        _number("--trust-threshold", "automatic grant: trust level needed"),
        _switch("--allow-grant-override", "owners may override the automatic grant per vault"),
        _switch("--emergency-access", "let vaults have an emergency council"),
        Variadic(["--council"], metavar="USER…", empty_ok=True,
                 help="the hub's emergency council (given without users: none)"),
        _number("--default-threshold", "council members a recovery needs"),
        _number("--min-members", "smallest council an owner may choose"),
        _switch("--owners-choose-council", "owners seat their own council instead of the hub's"),
    )),
])

users = Group("users", short_help="user accounts", help="User accounts: list them, disable and enable them.",
              examples=("katta admin users list", "katta admin users disable bob"), commands=[
    _admin("list", run_users_list, "list users", ("katta admin users list", "katta admin users list --search example.org"),
           params=(click.Option(["--search"], metavar="TEXT",
                                help="only users whose name, email or id contains TEXT"),)),
    _admin("enable", run_users_enable, "let a user sign in again", ("katta admin users enable bob",),
           params=(_user_argument(),), enabled=True),
    _admin("disable", run_users_enable, "refuse a user every request (keys and vault access stay stored)",
           ("katta admin users disable bob", "katta admin users disable bob@example.org"),
           params=(_user_argument(),), enabled=False),
])

groups = Group("groups", short_help="groups", help="Groups: create, rename and delete them, add and remove members.",
               examples=("katta admin groups list", "katta admin groups create Engineering",
                         "katta admin groups add Engineering bob"), commands=[
    _admin("list", run_groups_list, "list groups", ("katta admin groups list", "katta admin groups list --json")),
    _admin("show", run_groups_show, "a group's members and vaults", ("katta admin groups show Engineering",),
           params=(_group_argument(),), help="Show a group's members and vaults."),
    _admin("create", run_groups_create, "create a group", ("katta admin groups create Engineering",),
           params=(click.Argument(["name"], metavar="NAME", help="the new group's name"),)),
    _admin("rename", run_groups_rename, "rename a group", ("katta admin groups rename Engineering R&D",),
           params=(_group_argument(), click.Argument(["name"], metavar="NAME", help="the group's new name"))),
    _admin("delete", run_groups_delete, "delete a group", ("katta admin groups delete Engineering",),
           params=(_group_argument(),)),
    _admin("add", run_groups_member, "add a user to a group", ("katta admin groups add Engineering bob",
                                                              "katta admin groups add Engineering bob@example.org"),
           params=(_group_argument(), _user_argument()), add=True),
    _admin("remove", run_groups_member, "remove a user from a group", ("katta admin groups remove Engineering bob",),
           params=(_group_argument(), _user_argument()), add=False),
])

storage = Group("storage", short_help="storage profiles", help="Storage profiles: where new vaults keep their files.",
                examples=("katta admin storage list", "katta admin storage create profile.json"), commands=[
    _admin("list", run_storage_list, "list storage profiles", ("katta admin storage list",
                                                               "katta admin storage list --archived off"),
           params=(_switch("--archived", "only archived (on) or live (off)"),)),
    _admin("create", run_storage_create, "create a storage profile (S3 static or STS)",
           ("katta admin storage create profile.json",), params=(
               click.Argument(["definition"], metavar="FILE.json", type=click.Path(path_type=Path),
                              help="the profile as the contract's StorageProfileS3StaticDto or StorageProfileS3STSDto"),)),
    _admin("archive", run_storage_archive, "archive a profile: no new vaults on it",
           ("katta admin storage archive 0f1e2d3c-4b5a-4968-8776-655443322110",),
           params=(click.Argument(["profile_id"], metavar="PROFILE_ID", help="the profile's id"),)),
])

admin = Group("admin", short_help="hub administration (role admin)",
              help="What an admin does in Hub's admin pages, scriptable (--json prints the API's answer). Every "
                   "command needs the admin role.",
              examples=("katta admin users list", "katta admin audit --type VAULT_CREATE --since 2026-01-01",
                        "katta admin storage list --json"), commands=[
    settings, users, groups,
    _admin("audit", run_audit, "one page of the audit log", (
        "katta admin audit", "katta admin audit --type VAULT_CREATE VAULT_MEMBER_ADD --since 2026-01-01",
        "katta admin audit --order asc --page-size 100 --after 1234", "katta admin audit --service"), params=(
        click.Option(["--since"], metavar="ISO8601", help="from (default: 30 days ago)"),
        click.Option(["--until"], metavar="ISO8601", help="to, exclusive (default: now)"),
        Variadic(["--type"], metavar="TYPE…", default=[], help="only these event types"),
        click.Option(["--page-size"], type=int, default=20, metavar="N", help="events per page (1 to 100)"),
        click.Option(["--after"], type=int, metavar="ID", help="the next page: the last id of the previous one"),
        click.Option(["--order"], type=click.Choice(("desc", "asc")), default="desc",
                     help="newest first (desc, the default) or oldest first"),
        click.Option(["--service"], is_flag=True, help="this service's own log (keys, storage, tokens)"),
    ), help="One page of the audit log: type and period filters; --after follows the last id of the previous page."),
    storage,
])

COMMANDS = (admin,)
