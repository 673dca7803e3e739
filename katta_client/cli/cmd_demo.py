"""``katta demo``: the whole Katta sequence against the local stack, step by step, for two dev users.

Open connection (login, keys, device) for both, a vault with its bucket through STS, member
added and granted, a file written by the first user and read back by the second. Each user has
their own configuration directory under ``<config dir>/demo/<user>``, as two machines would.
The dev IdP's password grant is used (password = user name, as the local stack's users have).
"""
from __future__ import annotations

import argparse
import io
import time
from pathlib import Path
from typing import Any, Callable

import click

from .context import Context
from .errors import CliError
from .parsing import Command, handled_by
from .vault_session import explained

GREETING = "Hello {member}! This file was encrypted by {owner}'s client; the server never saw its key.\n"


class Steps:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.done: list[dict[str, Any]] = []

    def run(self, who: str, title: str, action: Callable[[], Any]) -> Any:
        number = len(self.done) + 1
        try:
            with explained():
                result = action()
        except CliError as exc:
            raise CliError(f"demo step {number} ({who}: {title}) failed: {exc}") from None
        detail = result[1] if isinstance(result, tuple) else ""
        self.done.append({"step": number, "user": who, "title": title, "detail": detail})
        if not self.ctx.json_output:
            self.ctx.out.print(f"[{number:2}] {who:<8} {title}", markup=False, style="bold")
            for line in str(detail).splitlines():
                self.ctx.out.print(f"             {line}", markup=False)
        return result[0] if isinstance(result, tuple) else result


def run_demo(ctx: Context, args: argparse.Namespace) -> int:
    from ..auth import store_login
    from ..files import VaultFiles
    from ..flows import open_connection
    from ..vaults import add_member, choose_profile, create_vault, grant_access, open_bucket, unlock_vault

    owner_name, member_name = args.owner, args.member
    if owner_name == member_name:
        raise CliError("the demo needs two different users")
    users = {name: Context(ctx.server, ctx.config_dir / "demo" / name, ctx.json_output,
                           ctx.retry.max_wait)
             for name in (owner_name, member_name)}
    steps = Steps(ctx)

    steps.run("-", "GET /api/config: where the identity provider is", lambda: (
        (c := ctx.public_api.config()), f"token endpoint {c.get('keycloakTokenEndpoint')}"))

    def login(name: str) -> Callable[[], Any]:
        def action() -> Any:
            user_ctx = users[name]
            tokens = user_ctx.oauth_client().password_grant(name, name)
            account = store_login(user_ctx.keychain, user_ctx.accounts, user_ctx.server, tokens)
            return account, f"signed in as {account} (password grant); tokens kept in {user_ctx.config_dir}"
        return action

    def connect(name: str) -> Callable[[], Any]:
        def action() -> Any:
            user_ctx = users[name]

            def account_key() -> str:
                if not args.reset:
                    raise CliError(f"{name} already has user keys this demo does not hold (an earlier run or "
                                   "another client made them); rerun with --reset to reset the dev account")
                user_ctx.api.reset_me()
                raise _Reset()

            def once() -> Any:
                return open_connection(user_ctx.api, user_ctx.keychain, user_ctx.server, user_ctx.require_user(),
                                       account_key=account_key, device_name=f"katta demo ({name})")
            try:
                connection = once()
            except _Reset:
                connection = once()
            if connection.new_account_key:
                detail = ("created user keys (P-384 ECDH + ECDSA) and registered this device;\n"
                          f"account key (shown once, not kept): {connection.new_account_key}")
            else:
                detail = "user keys unlocked with this device's key"
            return connection, detail + f"\ndevice {connection.device_id[:16]}…"
        return action

    connections = {}
    for name in (owner_name, member_name):
        steps.run(name, "log in", login(name))
        connections[name] = steps.run(name, "open connection: keys and device", connect(name))
    owner_connection, member_connection = connections[owner_name], connections[member_name]
    owner_api, member_api = users[owner_name].api, users[member_name].api

    profile = steps.run(owner_name, "choose a storage profile", lambda: (
        (p := choose_profile(owner_api)), f"{p.get('name')} ({p.get('protocol')}, endpoint {p.get('endpoint')})"))

    vault_name = f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    unlocked = steps.run(owner_name, "create a vault: keys, vault.uvf, owner token, bucket via STS", lambda: (
        (v := create_vault(owner_api, owner_connection, vault_name, profile)),
        f"vault {v.name} ({v.id})\nPUT /api/vaults → POST access-tokens (own) → POST s3-token → "
        f"AssumeRoleWithWebIdentity ({profile.get('stsRoleCreateBucketClient')}) → PUT /api/storage "
        f"(sealed to the POP key)\nbucket {v.storage.get('defaultPath')}"))

    greeting = GREETING.format(member=member_name, owner=owner_name).encode()
    path = "/hello.txt"

    def write() -> Any:
        files = VaultFiles(unlocked.uvf, open_bucket(owner_api, unlocked))
        key = files.put(io.BytesIO(greeting), path)
        return key, f"{path} ({len(greeting)} bytes) → object {key}"
    steps.run(owner_name, "write a file (s3-token → STS access role → S3, UVF encrypted)", write)

    steps.run(owner_name, f"add {member_name} as a member", lambda: (
        (a := add_member(owner_api, unlocked.id, member_name)), f"{a.get('name')} ({a.get('id')})"))
    steps.run(owner_name, "grant access: member key encrypted to their ECDH key", lambda: (
        (g := grant_access(owner_api, unlocked)), "granted: " + (", ".join(str(m.get("name")) for m in g) or "nobody")))

    member_vault = steps.run(member_name, "unlock the vault: access token → member key → vault.uvf", lambda: (
        (m := unlock_vault(member_api, member_connection, unlocked.id)),
        f"{m.name}: {len(m.uvf.metadata.seeds)} seed(s), root {m.uvf.dir_prefix(m.uvf.root_dir_id)}"))

    def read() -> Any:
        files = VaultFiles(member_vault.uvf, open_bucket(member_api, member_vault))
        sink = io.BytesIO()
        files.get(path, sink)
        if sink.getvalue() != greeting:
            raise CliError("the file read back differs from the file written")
        return sink.getvalue(), f"{path}: {sink.getvalue().decode().strip()}"
    steps.run(member_name, "read the file (s3-token → STS access role → S3, decrypted)", read)

    if ctx.json_output:
        ctx.emit_json({"vault": unlocked.id, "steps": steps.done, "ok": True})
    else:
        ctx.out.print(f"\nDemo complete: {member_name} read what {owner_name} wrote; states kept in "
                      f"{Path(ctx.config_dir) / 'demo'}.", markup=False)
    return 0


class _Reset(Exception):
    """The account was reset; open the connection again (it now creates keys)."""


# -- the command ----------------------------------------------------------------------------------

demo = Command("demo", callback=handled_by(run_demo), params=[
    click.Option(["--owner"], default="alice", help="the user who creates the vault (default: alice)"),
    click.Option(["--member"], default="bob", help="the user who is granted access (default: bob)"),
    click.Option(["--reset"], is_flag=True,
                 help="reset a user whose keys this demo's configuration does not hold (deletes their "
                      "keys, devices and vault access on the server)"),
], short_help="run the whole Katta sequence for two dev users (local stack)",
    help="Log in two dev-IdP users, set up their keys and devices, create a vault and its bucket "
         "through STS, add and grant the second user, write a file as the first and read it as "
         "the second. Printed step by step. Meant for the local stack (scripts/run-local).",
    examples=("katta --server http://127.0.0.1:8000 demo", "katta demo --owner carol --member dave --reset",
              "katta demo --json"))

COMMANDS = (demo,)
