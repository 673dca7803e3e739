"""``katta init`` and ``katta recover``: the "open connection" flow (katta_client.flows)."""
from __future__ import annotations

import argparse
import getpass
import sys

import click

from .context import Context
from .errors import CliError
from .parsing import Command, handled_by


def _ask_account_key(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    def ask() -> str:
        if args.account_key:
            return str(args.account_key)
        if not sys.stdin.isatty():
            raise CliError("this device is new: the account key is needed; pass --account-key (no terminal to ask on)")
        key = getpass.getpass("This device is new. Account key: ").strip()
        if not key:
            raise CliError("no account key given")
        return key
    return ask


def run_init(ctx: Context, args: argparse.Namespace) -> int:
    from ..flows import FlowError, open_connection

    user = ctx.require_user()
    try:
        connection = open_connection(ctx.api, ctx.keychain, ctx.server, user, account_key=_ask_account_key(args),
                                     device_name=args.device_name, create_user_keys=args.create_user_keys)
    except FlowError as exc:
        raise CliError(str(exc)) from None
    if ctx.json_output:
        result = {"user": connection.user.get("id"), "deviceId": connection.device_id,
                  "registeredDevice": connection.registered_device, "createdUserKeys": bool(connection.new_account_key)}
        if connection.new_account_key:
            result["accountKey"] = connection.new_account_key
        ctx.emit_json(result)
        return 0
    if connection.new_account_key:
        ctx.out.print("Your user keys were created. Your account key — write it down now, it is shown only once:",
                      markup=False)
        ctx.out.print(f"\n    {connection.new_account_key}\n", markup=False, style="bold")
        ctx.out.print("You need it to set up another device without a signed-in one, or to recover.", markup=False)
    elif connection.registered_device:
        ctx.out.print(f"This device ({connection.device_id[:12]}…) is now registered.", markup=False)
    else:
        ctx.out.print(f"This device ({connection.device_id[:12]}…) is set up; your keys are unlocked.", markup=False)
    return 0


# -- the commands ---------------------------------------------------------------------------------

def _device_options() -> list[click.Option]:
    return [click.Option(["--device-name"], help="name of this device (default: the host name)"),
            click.Option(["--account-key"], help="the account key, for scripts (default: a prompt without echo)")]


init = Command("init", callback=handled_by(run_init, create_user_keys=True), params=_device_options(),
               short_help="set up your keys on this device (creates them on first use)",
               help="Open the connection: unlock your user keys with this device's key; if the server does "
                    "not know this device, recover them with your account key and register the device; "
                    "if you have no keys yet, create them and show the new account key once.",
               examples=("katta init", "katta init --device-name laptop", "katta --json init"))
recover = Command("recover", callback=handled_by(run_init, create_user_keys=False), params=_device_options(),
                  short_help="register this device using your account key",
                  help="For an account that already has keys: recover them with the account key and register "
                       "this device.",
                  examples=("katta recover", "katta recover --device-name desktop --account-key \"$ACCOUNT_KEY\""))

COMMANDS = (init, recover)
