"""Argument parsing, dispatch, and the one place that turns failures into messages and exit codes.

Exit codes: 0 success, 1 a failure the message explains, 2 a usage error, 130 interrupted.
No traceback reaches the user unless ``KATTA_DEBUG=1``.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import Optional, Sequence

from ..auth import LoginError
from ..config import DEFAULT_SERVER, ConfigError, default_config_dir
from ..http import DEFAULT_MAX_WAIT, KattaApiError
from ..keychain import KeychainError
from . import cmd_admin, cmd_auth, cmd_demo, cmd_device, cmd_emergency, cmd_files, cmd_setup, cmd_vault
from .context import Context
from .errors import CliError

#: Each module registers its commands; later issues add modules here (files, linking, demo).
COMMAND_MODULES = (cmd_auth, cmd_setup, cmd_device, cmd_vault, cmd_emergency, cmd_admin, cmd_files, cmd_demo)

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _global_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """The global options; on subcommands they default to SUPPRESS so either position works."""
    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument("--server", metavar="URL", default=default(os.environ.get("KATTA_SERVER", DEFAULT_SERVER)),
                        help=f"the Katta server (default: $KATTA_SERVER or {DEFAULT_SERVER})")
    parser.add_argument("--config-dir", metavar="DIR", type=Path, default=default(None),
                        help="configuration directory (default: $KATTA_CONFIG_DIR or ~/.config/katta)")
    parser.add_argument("--json", action="store_true", default=default(False),
                        help="print results as JSON")
    parser.add_argument("--retry-max-wait", metavar="SECONDS", type=_seconds,
                        default=default(os.environ.get("KATTA_RETRY_MAX_WAIT", DEFAULT_MAX_WAIT)),
                        help="longest a request waits in all for retries after timeouts and 503s "
                             f"(default: $KATTA_RETRY_MAX_WAIT or {DEFAULT_MAX_WAIT:g}; 0: no retries)")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be a number of seconds from 0 to 3600, not {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="katta", description="Katta client: zero-knowledge vault keys.")
    _global_options(parser, defaults=True)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, defaults=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(subparsers, common)
    return parser


def _error(message: str) -> int:
    print(f"katta: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        context = Context(args.server, args.config_dir or default_config_dir(), args.json, args.retry_max_wait)
        return args.handler(context, args) or EXIT_OK
    except (CliError, KattaApiError, LoginError, KeychainError, ConfigError) as exc:
        return _error(str(exc))
    except KeyboardInterrupt:
        print("katta: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if _crypto_error(exc):
            return _error(str(exc))
        if os.environ.get("KATTA_DEBUG") == "1":
            traceback.print_exc()
        return _error(f"unexpected {type(exc).__name__}; run with KATTA_DEBUG=1 for details")


def _crypto_error(exc: Exception) -> bool:
    try:
        from ..crypto import KattaCryptoError
    except ImportError:
        return False
    return isinstance(exc, KattaCryptoError)
