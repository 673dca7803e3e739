"""``katta emergency list|setup|start|approve|complete|abort``: a vault's emergency council and its recoveries.

An owner seats a council (``setup``, or ``katta vault create --council``); when the owners are gone, a
council member starts a recovery, the others approve it, and once enough did, one of them completes it
by naming the new owner (or the new council).
"""
from __future__ import annotations

import argparse

from .context import Context
from .errors import CliError
from .output import table
from .vault_session import add_vault_option, connect, run_explained, unlock_selected

KINDS = ("CHANGE_PERMISSIONS", "COUNCIL_CHANGE")


def add_council_options(parser: argparse.ArgumentParser, *, prefix: str = "") -> None:
    parser.add_argument(f"--{prefix}council", metavar="USER", nargs="+", default=[],
                        help="council members: user ids, names or unique starts of names")
    parser.add_argument(f"--{prefix}threshold", metavar="N", type=int, default=0,
                        help="how many council members must approve a recovery (2 or more)")


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    emergency = subparsers.add_parser("emergency", parents=[common], help="emergency access: recover a vault "
                                      "whose owners are gone, with its council")
    commands = emergency.add_subparsers(dest="emergency_command", metavar="COMMAND", required=True)
    listing = commands.add_parser("list", parents=[common], help="the vaults you can help recover, and their "
                                  "open recoveries")
    listing.set_defaults(handler=run_explained(run_list))
    setup = commands.add_parser("setup", parents=[common], help="seat a vault's council (owners)")
    add_council_options(setup)
    add_vault_option(setup)
    setup.set_defaults(handler=run_explained(run_setup))
    start = commands.add_parser("start", parents=[common], help="start recovering a vault (council members)")
    start.add_argument("vault_id", metavar="VAULT_ID")
    start.add_argument("--type", choices=KINDS, default=KINDS[0],
                       help="a new owner (default) or a new council")
    start.add_argument("--reason", default="", help="why: shown to the other council members")
    start.add_argument("--no-approve", action="store_true", help="start without approving it yourself")
    add_council_options(start, prefix="new-")  # COUNCIL_CHANGE: the council the others approve
    start.set_defaults(handler=run_explained(run_start))
    approve = commands.add_parser("approve", parents=[common], help="approve a recovery with your key share")
    approve.add_argument("process_id", metavar="PROCESS_ID")
    approve.set_defaults(handler=run_explained(run_approve))
    complete = commands.add_parser("complete", parents=[common], help="recover the vault and make the change")
    complete.add_argument("process_id", metavar="PROCESS_ID")
    complete.add_argument("--new-owner", metavar="USER", nargs="+", default=[],
                          help="who becomes owner (CHANGE_PERMISSIONS)")
    add_council_options(complete, prefix="new-")
    complete.set_defaults(handler=run_explained(run_complete))
    abort = commands.add_parser("abort", parents=[common], help="abort a recovery")
    abort.add_argument("process_id", metavar="PROCESS_ID")
    abort.set_defaults(handler=run_explained(run_abort))


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
        if not args.new_council or args.new_threshold < 2:
            raise CliError("a council change names the new council: --new-council USER… --new-threshold N (2 or more)")
        details.update(council_change_details(resolve_council(ctx.api, args.new_council), args.new_threshold))
    elif args.new_council or args.new_threshold:
        raise CliError("--new-council and --new-threshold belong to --type COUNCIL_CHANGE")
    process = start_recovery(ctx.api, connection.user_keys, connection.user["id"], _uuid(args.vault_id, "vault"),
                             kind=args.type, details=details or None, approve=not args.no_approve)
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
