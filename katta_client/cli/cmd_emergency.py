"""``katta emergency list|setup|start|approve|complete|abort``: a vault's emergency council and its recoveries.

An owner seats a council (``setup``, or ``katta vault create --council``); when the owners are gone, a
council member starts a recovery, the others approve it, and once enough did, one of them completes it
by naming the new owner (or the new council).
"""
from __future__ import annotations

import argparse

import click

from .context import Context
from .errors import CliError
from .output import table
from .parsing import Command, Group, Variadic, handled_by
from .vault_session import connect, run_explained, unlock_selected, vault_option

KINDS = ("CHANGE_PERMISSIONS", "COUNCIL_CHANGE")


def council_options(prefix: str = "") -> list[click.Option]:
    return [
        Variadic([f"--{prefix}council"], metavar="USER…", default=[],
                 help="council members: user ids, names or unique starts of names"),
        click.Option([f"--{prefix}threshold"], metavar="N", type=int, default=0,
                     help="how many council members must approve a recovery (2 or more)"),
    ]


def _uuid(value: str, what: str) -> str:
    # cmd_vault imports this module (for ``vault create --council``): its helper is read late.
    from .cmd_vault import vault_id

    try:
        return vault_id(value)
    except CliError:
        raise CliError(f"{value!r} is not a {what} id (a UUID)") from None


def _process_id(value: str) -> str:
    return _uuid(value, "process")


def run_list(ctx: Context, args: argparse.Namespace) -> int:
    vaults = ctx.api.recoverable_vaults()
    processes = ctx.api.recovery_processes()
    if ctx.json_output:
        ctx.emit_json({"vaults": vaults, "processes": processes})
        return 0
    if not vaults:
        ctx.out.print("You sit on no vault's emergency council.", markup=False)
        return 0
    ctx.out.print(table(("VAULT", "NAME", "COUNCIL", "REQUIRED"), (
        (v.get("id"), v.get("name"), len(v.get("emergencyKeyShares") or {}), v.get("requiredEmergencyKeyShares"))
        for v in vaults)))
    if processes:
        ctx.out.print(table(("PROCESS", "VAULT", "TYPE", "APPROVED"), (
            (p.get("id"), p.get("vaultId"), p.get("type"),
             f"{sum(1 for s in p['recoveredKeyShares'].values() if s.get('recoveredKeyShare'))}"
             f"/{p.get('requiredKeyShares')}") for p in processes)))
    return 0


def run_setup(ctx: Context, args: argparse.Namespace) -> int:
    from ..emergency import resolve_council, set_up_council

    if not args.council or args.threshold < 2:
        raise CliError("name the council (--council USER…) and its --threshold (2 or more)")
    unlocked = unlock_selected(ctx, args)
    vault = set_up_council(ctx.api, unlocked, resolve_council(ctx.api, args.council), args.threshold)
    return _report_council(ctx, vault)


def _report_council(ctx: Context, vault) -> int:  # type: ignore[no-untyped-def]
    council = sorted(vault.get("emergencyKeyShares") or {})
    if ctx.json_output:
        ctx.emit_json({"vault": vault.get("id"), "council": council,
                       "requiredEmergencyKeyShares": vault.get("requiredEmergencyKeyShares")})
    else:
        ctx.out.print(f"{vault.get('name')}: any {vault.get('requiredEmergencyKeyShares')} of its council "
                      f"({', '.join(council)}) can recover it.", markup=False)
    return 0


def run_start(ctx: Context, args: argparse.Namespace) -> int:
    from ..emergency import COUNCIL_CHANGE, council_change_details, resolve_council, start_recovery

    connection = connect(ctx)
    details: dict = {"reason": args.reason} if args.reason else {}
    if args.type == COUNCIL_CHANGE:
        if args.new_owner:
            raise CliError("--new-owner belongs to --type CHANGE_PERMISSIONS")
        if not args.new_council or args.new_threshold < 2:
            raise CliError("a council change names the new council: --new-council USER… --new-threshold N (2 or more)")
        details.update(council_change_details(resolve_council(ctx.api, args.new_council), args.new_threshold))
    elif args.new_council or args.new_threshold:
        raise CliError("--new-council and --new-threshold belong to --type COUNCIL_CHANGE")
    elif args.new_owner:
        details["newOwnerIds"] = resolve_council(ctx.api, args.new_owner)
    process = start_recovery(ctx.api, connection.user_keys, connection.user["id"], _uuid(args.vault_id, "vault"),
                             kind=args.type, details=details or None)
    if ctx.json_output:
        ctx.emit_json({"process": process["id"], "vault": process["vaultId"], "type": process["type"]})
    else:
        ctx.out.print(f"Started recovery {process['id']}; {process['requiredKeyShares']} council members must "
                      "approve it (`katta emergency approve`).", markup=False)
    return 0


def run_approve(ctx: Context, args: argparse.Namespace) -> int:
    from ..emergency import approve_recovery

    connection = connect(ctx)
    process_id = _process_id(args.process_id)
    approve_recovery(ctx.api, connection.user_keys, connection.user["id"], process_id)
    if ctx.json_output:
        ctx.emit_json({"process": process_id, "approved": True})
    else:
        ctx.out.print(f"Approved recovery {process_id}.", markup=False)
    return 0


def run_complete(ctx: Context, args: argparse.Namespace) -> int:
    from ..emergency import complete_recovery, resolve_council

    connection = connect(ctx)
    process_id = _process_id(args.process_id)
    process = complete_recovery(ctx.api, connection.user_keys, connection.user["id"], process_id,
                                new_owners=resolve_council(ctx.api, args.new_owner),
                                new_council=resolve_council(ctx.api, args.new_council),
                                new_threshold=args.new_threshold)
    if ctx.json_output:
        ctx.emit_json({"process": process_id, "vault": process["vaultId"], "completed": True})
    else:
        ctx.out.print(f"Recovered vault {process['vaultId']} and completed recovery {process_id}.", markup=False)
    return 0


def run_abort(ctx: Context, args: argparse.Namespace) -> int:
    process_id = _process_id(args.process_id)
    ctx.api.abort_recovery(process_id)
    if ctx.json_output:
        ctx.emit_json({"process": process_id, "aborted": True})
    else:
        ctx.out.print(f"Aborted recovery {process_id}.", markup=False)
    return 0


# -- the commands ---------------------------------------------------------------------------------

def _new_owner_option(help_text: str) -> click.Option:
    return Variadic(["--new-owner"], metavar="USER…", default=[], help=help_text)


def _process_argument() -> click.Argument:
    return click.Argument(["process_id"], metavar="PROCESS_ID", help="the recovery's id (see `katta emergency list`)")


emergency = Group("emergency", short_help="emergency access: recover a vault whose owners are gone, with its council",
                  help="A vault's emergency council and its recoveries: an owner seats a council; when the owners "
                       "are gone, council members start, approve and complete a recovery.",
                  examples=("katta emergency list", "katta emergency setup --vault Projects --council bob carol --threshold 2",
                            "katta emergency start 2b1f0c3e-5d6a-4c1e-9f0a-0d7c2e4b8a11 --reason 'alice left'"), commands=[
    Command("list", callback=handled_by(run_explained(run_list)),
            short_help="the vaults you can help recover, and their open recoveries",
            help="The vaults whose council you sit on, and their open recoveries.",
            examples=("katta emergency list", "katta emergency list --json")),
    Command("setup", callback=handled_by(run_explained(run_setup)), params=[*council_options(), vault_option()],
            short_help="seat a vault's council (owners)",
            help="Seat a vault's emergency council (owners): any THRESHOLD of its members can recover the vault.",
            examples=("katta emergency setup --council bob carol dave --threshold 2",
                      "katta emergency setup --vault Projects --council bob carol --threshold 2")),
    Command("start", callback=handled_by(run_explained(run_start)), params=[
        click.Argument(["vault_id"], metavar="VAULT_ID", help="the vault to recover (its id)"),
        click.Option(["--type"], type=click.Choice(KINDS), default=KINDS[0],
                     help="a new owner (default) or a new council"),
        click.Option(["--reason"], default="", help="why: shown to the other council members"),
        _new_owner_option("who becomes owner (CHANGE_PERMISSIONS): the others approve it"),
        *council_options(prefix="new-"),  # COUNCIL_CHANGE: the council the others approve
    ], short_help="start recovering a vault (council members)",
        help="Start recovering a vault (council members); it is approved with your key share.",
        examples=("katta emergency start 2b1f0c3e-5d6a-4c1e-9f0a-0d7c2e4b8a11 --new-owner erin --reason 'alice left'",
                  "katta emergency start 2b1f0c3e-5d6a-4c1e-9f0a-0d7c2e4b8a11 --type COUNCIL_CHANGE "
                  "--new-council carol dave erin --new-threshold 2")),
    Command("approve", callback=handled_by(run_explained(run_approve)), params=[_process_argument()],
            short_help="approve a recovery with your key share",
            help="Approve a recovery with your key share.",
            examples=("katta emergency approve 7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",)),
    Command("complete", callback=handled_by(run_explained(run_complete)), params=[
        _process_argument(),
        _new_owner_option("who becomes owner (CHANGE_PERMISSIONS), if the start named none"),
        *council_options(prefix="new-"),
    ], short_help="recover the vault and make the change",
        help="Recover the vault once enough council members approved, and make the change: a new owner "
             "(CHANGE_PERMISSIONS) or a new council (COUNCIL_CHANGE).",
        examples=("katta emergency complete 7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f --new-owner carol",
                  "katta emergency complete 7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f --new-council bob carol dave "
                  "--new-threshold 2")),
    Command("abort", callback=handled_by(run_explained(run_abort)), params=[_process_argument()],
            short_help="abort a recovery", help="Abort a recovery.",
            examples=("katta emergency abort 7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",)),
])

COMMANDS = (emergency,)
