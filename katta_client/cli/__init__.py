"""The ``katta`` command line (click): ``katta_client.cli:main`` is the console script.

Each command module lists its commands and groups in ``COMMANDS``; add a module to
:data:`katta_client.cli.main.COMMAND_MODULES` to add commands. ``parsing`` holds what every
command is made of. See docs/client-cli.md.
"""

from .main import main

__all__ = ["main"]
