"""The command tree (click), and the one place that turns failures into messages and exit codes.

Exit codes: 0 success, 1 a failure the message explains, 2 a usage error, 130 interrupted.
No traceback reaches the user unless ``KATTA_DEBUG=1``.
"""
from __future__ import annotations

import os
import sys
import traceback
from importlib import metadata
from typing import Optional, Sequence

import click

from ..auth import LoginError
from ..config import ConfigError, default_config_dir
from ..http import KattaApiError
from ..keychain import KeychainError
from . import cmd_admin, cmd_auth, cmd_demo, cmd_device, cmd_emergency, cmd_files, cmd_setup, cmd_vault
from .context import Context
from .errors import CliError
from .parsing import Group, Invocation, command

#: Each module lists its top-level commands and groups in ``COMMANDS``.
COMMAND_MODULES = (cmd_auth, cmd_setup, cmd_device, cmd_vault, cmd_emergency, cmd_admin, cmd_files, cmd_demo)
SHELLS = ("bash", "zsh", "fish")

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def version() -> str:
    try:
        return metadata.version("katta-client")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"katta {version()}")
        ctx.exit(EXIT_OK)


cli = Group("katta", root=True, help="Katta client: zero-knowledge vault keys.", examples=(
    "katta login", "katta init", "katta vault create Projects", "katta put report.pdf /",
    "katta --server https://katta.example.org --json vault list"))
cli.params.append(click.Option(["--version"], is_flag=True, expose_value=False, is_eager=True,
                               callback=_print_version, help="print the version of katta and exit"))


@command("completion", short_help="print the shell completion script", examples=(
    "katta completion bash > ~/.local/share/bash-completion/completions/katta",
    "katta completion zsh > \"${fpath[1]}/_katta\"",
    "katta completion fish > ~/.config/fish/completions/katta.fish"),
    help="Print the script that completes katta's commands and options in SHELL; install it where "
         "the shell reads completions (the examples), or `eval \"$(katta completion bash)\"` in the "
         "shell's start-up file.")
@click.argument("shell", type=click.Choice(SHELLS), help="bash, zsh or fish")
def completion(shell: str) -> int:
    from click.shell_completion import get_completion_class

    completer = get_completion_class(shell)
    assert completer is not None  # the choice admits only click's own shells
    click.echo(completer(cli, {}, "katta", "_KATTA_COMPLETE").source())
    return EXIT_OK


for _module in COMMAND_MODULES:
    for _command in _module.COMMANDS:
        cli.add_command(_command)
cli.add_command(completion)


def _error(message: str) -> int:
    print(f"katta: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        parsed = cli.main(list(argv) if argv is not None else None, prog_name="katta", standalone_mode=False)
    except click.ClickException as exc:  # a usage error (2)
        exc.show()
        return exc.exit_code
    except click.Abort:  # Ctrl-C while click read the command line
        print("katta: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not isinstance(parsed, Invocation):  # --help, --version, completion
        return parsed if isinstance(parsed, int) else EXIT_OK
    settings = parsed.settings
    try:
        context = Context(settings["server"], settings["config_dir"] or default_config_dir(), settings["json"],
                          settings["retry_max_wait"])
        return parsed.handler(context, parsed.args) or EXIT_OK
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
