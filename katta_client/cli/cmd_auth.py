"""``katta login``, ``katta logout``, ``katta whoami``."""
from __future__ import annotations

import argparse
import getpass
import os
import sys
import webbrowser

from ..auth import DeviceAuthorization, LoginSession, TokenSet, store_login
from .context import Context
from .errors import CliError
from .output import fields

PASSWORD_ENV = "KATTA_PASSWORD"
USERNAME_ENV = "KATTA_USERNAME"
#: The fields of /api/users/me that hold the user's private keys, encrypted: printed only with --with-keys.
WRAPPED_KEYS = ("privateKeys", "setupCode")


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    login = subparsers.add_parser(
        "login", parents=[common], help="sign in to the server's identity provider",
        description="Sign in. Default: the browser (authorization code + PKCE on a loopback redirect). "
                    "--device: for machines without a browser. --password / $KATTA_PASSWORD: the "
                    "password grant (the local stack's dev IdP; scripts).")
    mode = login.add_mutually_exclusive_group()
    mode.add_argument("--device", action="store_true", help="device authorization: approve on another device")
    mode.add_argument("--password", nargs="?", const="", default=None, metavar="PASSWORD",
                      help=f"password grant; without a value the password comes from ${PASSWORD_ENV} or a prompt")
    login.add_argument("--username", help=f"user name for the password grant (default: ${USERNAME_ENV} or a prompt)")
    login.add_argument("--no-browser", action="store_true", help="print the sign-in URL, do not open a browser")
    login.set_defaults(handler=run_login)

    logout = subparsers.add_parser("logout", parents=[common], help="sign out and forget this server's tokens")
    logout.set_defaults(handler=run_logout)

    whoami = subparsers.add_parser("whoami", parents=[common], help="show the signed-in user (GET /api/users/me)")
    whoami.add_argument("--with-keys", action="store_true",
                        help="with --json, also print the wrapped private keys and setup code (ciphertext)")
    whoami.set_defaults(handler=run_whoami)


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
