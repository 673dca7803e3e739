"""The ``katta`` command line keeps the conventions of gh, aws, vault and rclone (issue 19 item 4):
examples and help everywhere, ``--version``, shell completion, "did you mean", global options once."""
from __future__ import annotations

import importlib
import shlex
import subprocess
import sys
from importlib import metadata

import click
import pytest

from katta_client.cli import main
from katta_client.cli.errors import CliError
from katta_client.cli.parsing import Invocation

cli_main = importlib.import_module("katta_client.cli.main")  # the module; the package exports its main()


def commands(group: click.Group = cli_main.cli, path: tuple[str, ...] = ()):
    """Every command of the tree with its path, groups included."""
    for name, command in group.commands.items():
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


ALL = list(commands())
IDS = [" ".join(path) for path, _ in ALL]


def parse(argv):
    """What the command line ``argv`` asks for, without running it."""
    return cli_main.cli.main(list(argv), prog_name="katta", standalone_mode=False)


def as_argv(example: str) -> list[str]:
    """An example as the shell would hand it to katta: no variable assignments, no redirections."""
    words = shlex.split(example)
    while words and "=" in words[0] and not words[0].startswith("-"):
        words.pop(0)
    assert words[0] == "katta", example
    argv = []
    rest = iter(words[1:])
    for word in rest:
        if word in (">", "<"):
            next(rest)
        else:
            argv.append(word)
    return argv


def test_the_tree_is_walked():
    assert len(ALL) > 40 and ("vault", "add") in dict(ALL) and ("admin", "groups", "add") in dict(ALL)


@pytest.mark.parametrize("path, command", ALL, ids=IDS)
def test_every_command_has_examples_that_parse(path, command, capsys):
    assert command.examples, f"katta {' '.join(path)} has no examples"
    for example in command.examples:
        argv = as_argv(example)
        words = iter(argv)
        assert all(word in words for word in path), example  # an example of this command, not another's
        parsed = parse(argv)  # a whole invocation, even a group's
        assert parsed == 0 if path == ("completion",) else isinstance(parsed, Invocation), example
    assert main([*path, "--help"]) == 0
    help_text = capsys.readouterr().out
    assert "Examples:" in help_text and command.examples[0] in help_text


@pytest.mark.parametrize("path, command", ALL, ids=IDS)
def test_every_argument_and_option_has_help(path, command):
    ctx = click.Context(command, info_name=path[-1])
    for param in command.get_params(ctx):
        assert getattr(param, "help", None), f"katta {' '.join(path)}: {param.name} has no help"
    assert command.short_help and command.help


def test_version(capsys, monkeypatch):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"katta {metadata.version('katta-client')}\n"

    def missing(_name):
        raise metadata.PackageNotFoundError(_name)

    monkeypatch.setattr(cli_main.metadata, "version", missing)
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == "katta unknown (not installed)\n"


def test_version_as_a_module():
    result = subprocess.run([sys.executable, "-m", "katta_client.cli", "--version"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("katta ")


@pytest.mark.parametrize("shell, marker", [("bash", "complete -o nosort -F _katta_completion katta"),
                                           ("zsh", "#compdef katta"),
                                           ("fish", "complete --no-files --command katta")])
def test_completion_scripts(shell, marker, capsys):
    assert main(["completion", shell]) == 0
    script = capsys.readouterr().out
    assert marker in script and "_KATTA_COMPLETE" in script


def test_completion_completes_commands_subcommands_and_options(capsys, monkeypatch):
    def complete(words, current):
        monkeypatch.setenv("_KATTA_COMPLETE", "bash_complete")
        monkeypatch.setenv("COMP_WORDS", words)
        monkeypatch.setenv("COMP_CWORD", str(current))
        with pytest.raises(SystemExit):
            main([])
        return capsys.readouterr().out.split()

    assert "plain,vault" in complete("katta va", 1)
    assert {"plain,list", "plain,add"} <= set(complete("katta vault ", 2))
    assert "plain,--owner" in complete("katta vault add bob --o", 4)
    assert "plain,--json" in complete("katta --j", 1)


def test_completion_of_an_unknown_shell_is_a_usage_error(capsys):
    assert main(["completion", "tcsh"]) == 2
    assert "'tcsh' is not one of 'bash', 'zsh', 'fish'" in capsys.readouterr().err


@pytest.mark.parametrize("argv, suggestion", [(["vualt", "list"], "Did you mean 'vault'"),
                                              (["vault", "lst"], "Did you mean 'list'?"),
                                              (["admin", "grops", "list"], "Did you mean 'groups'?"),
                                              (["sync", "donw"], "Did you mean 'down'?"),
                                              (["whoami", "--jsno"], "Did you mean '--json'?"),
                                              (["vault", "add", "--ownr", "bob"], "'--owner'")])
def test_did_you_mean(argv, suggestion, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Did you mean" in err and suggestion in err and "Traceback" not in err


def test_nothing_close_is_no_suggestion(capsys):
    assert main(["xyzzy"]) == 2
    err = capsys.readouterr().err
    assert "No such command 'xyzzy'" in err and "Did you mean" not in err


@pytest.fixture
def contexts(monkeypatch):
    """The Context each run would get, recorded; the command then stops (exit 1) before any request."""
    seen = []

    class Recording(cli_main.Context):
        def __init__(self, *args):
            super().__init__(*args)
            seen.append((self.server, str(self.config_dir), self.json_output, self.retry.max_wait))
            raise CliError("stopped by the test")

    monkeypatch.setattr(cli_main, "Context", Recording)
    for name in ("KATTA_SERVER", "KATTA_RETRY_MAX_WAIT", "KATTA_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    return seen


GIVEN = ["--server", "https://katta.test", "--config-dir", "/tmp/k", "--json", "--retry-max-wait", "3"]


@pytest.mark.parametrize("argv", [
    [*GIVEN, "admin", "groups", "add", "Engineering", "bob"],  # before the command
    ["admin", "groups", "add", "Engineering", "bob", *GIVEN],  # after it
    ["admin", *GIVEN[:4], "groups", "add", *GIVEN[4:], "Engineering", "bob"],  # in between
], ids=["before", "after", "between"])
def test_a_global_option_given_once_reaches_a_nested_command(contexts, argv):
    assert main(argv) == 1
    assert contexts == [("https://katta.test", "/tmp/k", True, 3.0)]


def test_the_global_options_defaults_and_environment(contexts, monkeypatch):
    assert main(["vault", "list"]) == 1
    monkeypatch.setenv("KATTA_SERVER", "https://env.test")
    monkeypatch.setenv("KATTA_RETRY_MAX_WAIT", "7")
    assert main(["vault", "list"]) == 1
    assert main(["--server", "https://first.test", "vault", "list", "--server", "https://last.test"]) == 1
    assert [(server, json_output, wait) for server, _dir, json_output, wait in contexts] == [
        ("http://127.0.0.1:8000", False, 30.0), ("https://env.test", False, 7.0), ("https://last.test", False, 7.0)]


def test_the_global_options_are_declared_once():
    names = {p.name for p in cli_main.cli.params}
    assert {"server", "config_dir", "json", "retry_max_wait"} <= names
    for path, command in ALL:  # everywhere else they are the root's, hidden from each command's own options
        inherited = [p for p in command.params if p.name in names]
        assert all(p.hidden for p in inherited), path


def test_options_that_take_several_values(capsys):
    audit = parse(["admin", "audit", "--type", "VAULT_CREATE", "VAULT_MEMBER_ADD", "--page-size", "5"])
    assert audit.args.type == ["VAULT_CREATE", "VAULT_MEMBER_ADD"] and audit.args.page_size == 5
    assert parse(["admin", "audit"]).args.type == []
    assert parse(["admin", "settings", "set", "--council", "--min-members", "3"]).args.council == []  # clears it
    assert parse(["admin", "settings", "set", "--min-members", "3"]).args.council is None  # leaves it
    setup = parse(["emergency", "setup", "--council", "bob", "carol", "--threshold", "2", "--vault", "V"])
    assert (setup.args.council, setup.args.threshold, setup.args.vault) == (["bob", "carol"], 2, "V")
    assert main(["emergency", "setup", "--council", "--threshold", "2"]) == 2
    assert "'--council' requires at least one value" in capsys.readouterr().err


def test_usage_errors_are_exit_2_without_a_traceback(capsys):
    for argv in (["login", "--device", "--password", "x"], ["--retry-max-wait", "soon", "logout"],
                 ["admin", "settings", "set", "--emergency-access", "maybe"], ["vault"], ["vault", "use"]):
        assert main(argv) == 2, argv
        assert "Traceback" not in capsys.readouterr().err


def test_a_unique_start_of_an_option_is_the_option_as_before(capsys):
    assert parse(["sync", "up", "--dry", "./site", "/site"]).args.dry_run is True
    assert parse(["--js", "--serv", "https://katta.test", "vault", "list", "--ro", "OWNER"]).settings["json"] is True
    assert parse(["--serv=https://katta.test", "vault", "list"]).settings["server"] == "https://katta.test"
    assert parse(["emergency", "setup", "--coun", "bob", "carol", "--thr", "2"]).args.council == ["bob", "carol"]
    # A group's value is no subcommand, and a subcommand's options are its own.
    assert parse(["--server", "https://katta.test", "--js", "admin", "users", "list", "--sea", "x"]).args.search == "x"
    assert main(["vault", "create", "X", "--c", "bob"]) == 2  # --council or --config-dir: ambiguous
    assert "No such option '--c'" in capsys.readouterr().err
