"""``katta device list|remove``; ``link`` and ``join`` live in cmd_link."""
from __future__ import annotations

import argparse

import click

from . import cmd_link
from .context import Context
from .errors import CliError
from .output import table
from .parsing import Command, Group, handled_by


def _this_device_id(ctx: Context) -> str | None:
    user = ctx.require_user()
    stored = ctx.keychain.device_key(ctx.server, user)
    if stored is None:
        return None
    try:
        from ..crypto import DeviceKeys

        return DeviceKeys.from_pkcs8(stored).device_id
    except Exception:  # an unreadable key only means we cannot mark "this device"
        return None


def run_list(ctx: Context, args: argparse.Namespace) -> int:
    devices = ctx.api.my_devices()
    this_device = _this_device_id(ctx)
    if ctx.json_output:
        ctx.emit_json([{**d, "thisDevice": d.get("id") == this_device} for d in devices])
        return 0
    if not devices:
        ctx.out.print("No devices registered. Run `katta init` on this device.", markup=False)
        return 0
    ctx.out.print(table(("", "ID", "NAME", "TYPE", "CREATED", "LAST ACCESS"), (
        ("*" if d.get("id") == this_device else "", d.get("id"), d.get("name"), d.get("type"),
         d.get("creationTime"), d.get("lastAccessTime")) for d in devices)))
    return 0


def run_remove(ctx: Context, args: argparse.Namespace) -> int:
    wanted = args.device_id.strip().upper()
    if not wanted:
        raise CliError("give a device id")
    ids = [d["id"] for d in ctx.api.my_devices() if d.get("id", "").upper().startswith(wanted)]
    exact = [i for i in ids if i.upper() == wanted]
    if exact:
        ids = exact
    if not ids:
        raise CliError(f"you have no device {args.device_id}; see `katta device list`")
    if len(ids) > 1:
        raise CliError(f"{args.device_id} matches {len(ids)} devices; give more of the id")
    ctx.api.delete_device(ids[0])
    if ctx.json_output:
        ctx.emit_json({"removed": ids[0]})
    else:
        ctx.out.print(f"Removed device {ids[0]}.", markup=False)
    return 0


# -- the commands ---------------------------------------------------------------------------------

device = Group("device", short_help="this user's devices", help="Your registered devices: list, remove, link a new one.",
               examples=("katta device list", "katta device link", "katta device join \"$CODE\""), commands=[
    Command("list", callback=handled_by(run_list), short_help="list your registered devices",
            help="List your registered devices; * marks this one.",
            examples=("katta device list", "katta device list --json")),
    Command("remove", callback=handled_by(run_remove), params=[
        click.Argument(["device_id"], metavar="DEVICE_ID", help="device id, or a unique prefix of it"),
    ], short_help="remove a device (it loses access to your keys)",
        help="Remove a device: it loses access to your keys.", examples=("katta device remove 3F2A9C",)),
    *cmd_link.COMMANDS,
])

COMMANDS = (device,)
