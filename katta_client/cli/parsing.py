"""How the command line is read (click): the classes every command is made of, the global options
declared once, and what a parsed command hands to :func:`katta_client.cli.main.main`.

A command's callback only collects its parameters (:func:`handled_by`); ``main`` runs the handler
after click is done, so that every failure passes through the one place that words it.
"""
from __future__ import annotations

import argparse
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import click
from click.core import ParameterSource

from ..config import DEFAULT_SERVER
from ..http import DEFAULT_MAX_WAIT

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
#: Where the global options' values gather (``click.Context.meta`` is shared by a command's contexts).
GLOBALS = "katta.globals"


@dataclass
class Invocation:
    """A parsed command: its handler, its parameters as the handler reads them, the global options."""
    handler: Callable[..., int]
    args: argparse.Namespace
    settings: dict[str, Any]


def handled_by(handler: Callable[..., int], **fixed: Any) -> Callable[..., Invocation]:
    """The callback of a command run by ``handler(context, args)``; ``fixed`` are parameters the
    command line does not give (one handler serving two commands)."""
    def callback(**params: Any) -> Invocation:
        values = {name: list(value) if isinstance(value, tuple) else value for name, value in params.items()}
        ctx = click.get_current_context()
        return Invocation(handler, argparse.Namespace(**values, **fixed), dict(ctx.meta[GLOBALS]))
    return callback


# -- the global options ------------------------------------------------------------------------------

class Seconds(click.ParamType):
    name = "seconds"

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> float:
        if isinstance(value, float):
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = -1.0
        if not 0 <= number <= 3600:
            self.fail(f"must be a number of seconds from 0 to 3600, not {value!r}", param, ctx)
        return number


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    # The root's value (given, from the environment or the default) comes first; one given after a
    # subcommand replaces it, as argparse's parents=[…] did.
    if ctx.parent is None or ctx.get_parameter_source(param.name or "") is ParameterSource.COMMANDLINE:
        ctx.meta.setdefault(GLOBALS, {})[param.name] = value
    return value


def global_options(*, root: bool) -> list[click.Option]:
    """The options of every command: on the root with their defaults, after a subcommand hidden
    (the root's help lists them) and only when given."""
    def option(decls: list[str], help: str, default: Any = None, envvar: Optional[str] = None,
               **attrs: Any) -> click.Option:
        return click.Option(decls, help=help, default=default if root else None, envvar=envvar if root else None,
                            expose_value=False, callback=_remember, hidden=not root, **attrs)

    return [
        option(["--server"], f"the Katta server (default: $KATTA_SERVER or {DEFAULT_SERVER})",
               DEFAULT_SERVER, "KATTA_SERVER", metavar="URL"),
        option(["--config-dir"], "configuration directory (default: $KATTA_CONFIG_DIR or ~/.config/katta)",
               metavar="DIR", type=click.Path(path_type=Path)),
        option(["--json"], "print results as JSON", False, is_flag=True),
        option(["--retry-max-wait"], "longest a request waits in all for retries after timeouts and 503s "
               f"(default: $KATTA_RETRY_MAX_WAIT or {DEFAULT_MAX_WAIT:g}; 0: no retries)",
               DEFAULT_MAX_WAIT, "KATTA_RETRY_MAX_WAIT", metavar="SECONDS", type=Seconds()),
    ]


# -- parameters ------------------------------------------------------------------------------------

class Variadic(click.Option):
    """An option that takes every value up to the next option (``--council alice bob``), as
    argparse's ``nargs="+"``/``"*"`` did; ``empty_ok``: given without values it means none."""

    def __init__(self, *args: Any, empty_ok: bool = False, **kwargs: Any) -> None:
        self.when_absent = kwargs.pop("default", None)
        super().__init__(*args, multiple=True, **kwargs)
        self.empty_ok = empty_ok

    def process_value(self, ctx: click.Context, value: Any) -> Any:
        value = super().process_value(ctx, value)
        if ctx.get_parameter_source(self.name or "") is ParameterSource.DEFAULT:
            return self.when_absent
        return [v for v in value if v]  # "--opt=" stands for "given, no values"

    def spread(self, option: str, values: list[str], ctx: click.Context) -> list[str]:
        if not values and not self.empty_ok:
            raise click.BadOptionUsage(option, f"Option {option!r} requires at least one value.", ctx)
        return [f"{option}={v}" for v in values or [""]]


def variadic(*decls: str, **attrs: Any) -> Callable[[Any], Any]:
    return click.option(*decls, cls=Variadic, **attrs)


def _spread(command: click.Command, ctx: click.Context, args: list[str]) -> list[str]:
    """``--council a b`` as ``--council=a --council=b``, the form click reads."""
    variadics = {opt: p for p in command.params if isinstance(p, Variadic) for opt in p.opts}
    if not variadics:
        return args
    result: list[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            return [*result, arg, *rest]
        if arg not in variadics:
            result.append(arg)
            continue
        values = []
        while rest and not (rest[0].startswith("-") and len(rest[0]) > 1):
            values.append(rest.pop(0))
        result.extend(variadics[arg].spread(arg, values, ctx))
    return result


def _whole_names(command: click.Command, args: list[str]) -> list[str]:
    """A unique start of a long option as the option (``--dry`` for ``--dry-run``), as argparse took
    it. A group looks only at its own options, before the subcommand's name."""
    options = {opt: p for p in command.params if isinstance(p, click.Option)
               for opt in (*p.opts, *p.secondary_opts) if opt.startswith("--")}
    result: list[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--" or (isinstance(command, click.Group) and not arg.startswith("-")):
            return [*result, arg, *rest]
        name, equals, value = arg.partition("=")
        if name.startswith("--") and name not in options:
            starting = [opt for opt in options if opt.startswith(name)]
            name = starting[0] if len(starting) == 1 else name
        result.append(name + equals + value)
        option = options.get(name)
        if isinstance(command, click.Group) and option is not None and not option.is_flag and not equals and rest:
            result.append(rest.pop(0))  # its value, not the subcommand
    return result


class OnOff(click.ParamType):
    name = "on|off"

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> bool:
        if isinstance(value, bool):
            return value
        if value not in ("on", "off"):
            self.fail(f"must be on or off, not {value!r}", param, ctx)
        return value == "on"

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        from click.shell_completion import CompletionItem

        return [CompletionItem(v) for v in ("on", "off") if v.startswith(incomplete)]


# -- commands and groups ---------------------------------------------------------------------------

class _Conventions:
    """What every katta command has: -h, examples in its help, the global options (the root
    declares them; every other command accepts them too)."""

    def __init__(self, *args: Any, examples: Sequence[str] = (), root: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", CONTEXT_SETTINGS)
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        self.examples = tuple(examples)
        self.params.extend(global_options(root=root))  # type: ignore[attr-defined]
        self.root = root

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _spread(self, ctx, _whole_names(self, args)))  # type: ignore[misc, arg-type]

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_options(ctx, formatter)  # type: ignore[misc]
        if not self.root:
            records = [o.get_help_record(ctx) for o in global_options(root=True)]
            with formatter.section("Global options (here or before the command)"):
                formatter.write_dl([r for r in records if r])

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)  # type: ignore[misc]
        if self.examples:
            with formatter.section("Examples"):
                for line in self.examples:
                    formatter.write(f"{'':>{formatter.current_indent}}{line}\n")


class Command(_Conventions, click.Command):
    pass


class Group(_Conventions, click.Group):
    command_class = Command
    group_class = type  # subgroups are Groups too

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # in the order they were added: related commands stay together

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[Any, Any, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            close = difflib.get_close_matches(name, self.list_commands(ctx), n=3, cutoff=0.5)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            ctx.fail(f"No such command {name!r}.{hint} See '{ctx.command_path} --help'.")
        return super().resolve_command(ctx, args)


def command(name: str, **attrs: Any) -> Callable[[Callable[..., Any]], Command]:
    """A top-level command (a module's; ``main`` adds it to the root)."""
    return click.command(name, cls=Command, **attrs)  # type: ignore[return-value]
