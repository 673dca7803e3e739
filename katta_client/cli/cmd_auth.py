"""``katta login``, ``katta logout``, ``katta whoami``."""
from __future__ import annotations

import argparse
import getpass
import os
import sys
import webbrowser
from typing import Any

import click

from ..auth import DeviceAuthorization, LoginSession, TokenSet, store_login
from .context import Context
from .errors import CliError
from .output import fields
from .parsing import Command, Invocation, handled_by

PASSWORD_ENV = "KATTA_PASSWORD"
USERNAME_ENV = "KATTA_USERNAME"
#: The fields of /api/users/me that hold the user's private keys, encrypted: printed only with --with-keys.
WRAPPED_KEYS = ("privateKeys", "setupCode")


def run_login(ctx: Context, args: argparse.Namespace) -> int:
    oauth = ctx.oauth_client()
    if args.device:
        tokens = _device_login(ctx, oauth)
    elif args.password is not None or os.environ.get(PASSWORD_ENV):
        username = args.username or os.environ.get(USERNAME_ENV) or _prompt("User name: ")
        password = args.password or os.environ.get(PASSWORD_ENV) or _prompt_secret("Password: ")
        tokens = oauth.password_grant(username, password)
    else:
        open_browser = (lambda _url: False) if args.no_browser else webbrowser.open
        tokens = oauth.authorization_code_login(
            open_browser=open_browser,
            announce=lambda url: ctx.note(f"Sign in with your browser; if it does not open, visit:\n{url}"))
    user = store_login(ctx.keychain, ctx.accounts, ctx.server, tokens)
    if ctx.json_output:
        ctx.emit_json({"server": ctx.server, "user": user})
    else:
        ctx.out.print(f"Signed in to {ctx.server} as {user}.", markup=False)
    return 0


def _device_login(ctx: Context, oauth) -> TokenSet:  # type: ignore[no-untyped-def]
    authorization: DeviceAuthorization = oauth.start_device_authorization()
    ctx.note(f"To sign in, visit {authorization.verification_uri} and enter the code {authorization.user_code}")
    if authorization.verification_uri_complete:
        ctx.note(f"(or open {authorization.verification_uri_complete})")
    with ctx.err.status("Waiting for approval…"):
        return oauth.poll_device(authorization)


def _prompt(label: str) -> str:
    if not sys.stdin.isatty():
        raise CliError(f"{label.rstrip(': ').lower()} needed; pass it as an option (no terminal to ask on)")
    value = input(label).strip()
    if not value:
        raise CliError(f"no {label.rstrip(': ').lower()} given")
    return value


def _prompt_secret(label: str) -> str:
    if not sys.stdin.isatty():
        raise CliError(f"password needed; set ${PASSWORD_ENV} (no terminal to ask on)")
    value = getpass.getpass(label)
    if not value:
        raise CliError("no password given")
    return value


def run_logout(ctx: Context, args: argparse.Namespace) -> int:
    user = ctx.current_user()
    if user is None:
        message = f"Not signed in to {ctx.server}."
        revoked = False
    else:
        revoked = LoginSession(ctx.keychain, ctx.server, user, ctx.oauth_client).logout()
        ctx.accounts.forget(ctx.server)
        message = f"Signed out of {ctx.server} ({user})" + ("; the session was revoked." if revoked else ".")
    if ctx.json_output:
        ctx.emit_json({"server": ctx.server, "user": user, "revoked": revoked})
    else:
        ctx.out.print(message, markup=False)
    return 0


def run_whoami(ctx: Context, args: argparse.Namespace) -> int:
    me = ctx.api.get_me()
    if ctx.json_output:
        # Ciphertext, yet only the account key stands between it and the user's keys: not for pasting.
        ctx.emit_json(me if args.with_keys else {k: v for k, v in me.items() if k not in WRAPPED_KEYS})
        return 0
    ctx.out.print(fields((
        ("User", me.get("name", "")),
        ("Id", me.get("id", "")),
        ("E-mail", me.get("email", "")),
        ("Signed in as", ctx.require_user()),
        ("Server", ctx.server),
        ("User keys", "set up" if me.get("ecdhPublicKey") else "not set up (run `katta init`)"),
    )))
    return 0


# -- the commands ---------------------------------------------------------------------------------

def _login(**params: Any) -> Invocation:
    if params["device"] and params["password"] is not None:
        raise click.UsageError("--device and --password exclude each other")
    return handled_by(run_login)(**params)


login = Command("login", callback=_login, short_help="sign in to the server's identity provider", params=[
    click.Option(["--device"], is_flag=True, help="device authorization: approve on another device"),
    click.Option(["--password"], is_flag=False, flag_value="", default=None, metavar="PASSWORD",
                 help=f"password grant; without a value the password comes from ${PASSWORD_ENV} or a prompt"),
    click.Option(["--username"], help=f"user name for the password grant (default: ${USERNAME_ENV} or a prompt)"),
    click.Option(["--no-browser"], is_flag=True, help="print the sign-in URL, do not open a browser"),
], help="Sign in. Default: the browser (authorization code + PKCE on a loopback redirect). --device: for "
        "machines without a browser. --password / $KATTA_PASSWORD: the password grant (the local stack's "
        "dev IdP; scripts).", examples=(
    "katta login", "katta login --device", "katta login --username alice --password alice",
    "KATTA_PASSWORD=… katta --json login --username alice"))

logout = Command("logout", callback=handled_by(run_logout),
                 short_help="sign out and forget this server's tokens",
                 help="Sign out: revoke the session at the identity provider and forget this server's tokens.",
                 examples=("katta logout", "katta --server https://katta.example.org logout"))

whoami = Command("whoami", callback=handled_by(run_whoami), params=[
    click.Option(["--with-keys"], is_flag=True,
                 help="with --json, also print the wrapped private keys and setup code (ciphertext)"),
], short_help="show the signed-in user (GET /api/users/me)",
    help="Show the signed-in user (GET /api/users/me) and whether their keys are set up.",
    examples=("katta whoami", "katta whoami --json", "katta whoami --json --with-keys"))

COMMANDS = (login, logout, whoami)
