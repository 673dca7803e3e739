"""Errors the CLI reports as one line and exit code 1."""


class CliError(Exception):
    """A user-facing failure of a command; the message says what was wrong and what to do."""
