"""The ``katta`` command line: ``katta_client.cli:main`` is the console script.

Each command group is a module with a ``register(subparsers, common)`` function; add a module to
:data:`katta_client.cli.main.COMMAND_MODULES` to add commands. See docs/client-cli.md.
"""

from .main import main

__all__ = ["main"]
