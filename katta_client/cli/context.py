"""What every command gets: the server, the configuration directory, the output mode, and lazily
the API client, key store and login session built from them."""
from __future__ import annotations

import json
import sys
from functools import cached_property
from pathlib import Path
from typing import Any, Optional

from rich.console import Console

from ..auth import LoginSession, OAuthClient, discover_endpoints
from ..config import Accounts, ensure_private_dir, normalize_server
from ..http import DEFAULT_MAX_WAIT, KattaApi, RetryPolicy
from ..keychain import Keychain
from .errors import CliError

PIPED_WIDTH = 400


class Context:
    def __init__(self, server: str, config_dir: Path, json_output: bool,
                 retry_max_wait: float = DEFAULT_MAX_WAIT) -> None:
        self.server = normalize_server(server)
        self.config_dir = Path(config_dir).expanduser()
        self.json_output = json_output
        self.retry = RetryPolicy(max_wait=retry_max_wait)

    # -- output --------------------------------------------------------------------------

    @property
    def out(self) -> Console:
        """Results (stdout). Built per use, so redirected/captured stdout is honoured.

        Piped output is not cut to 80 columns: scripts and users copy whole ids from it."""
        width = None if sys.stdout.isatty() else PIPED_WIDTH
        return Console(file=sys.stdout, highlight=False, soft_wrap=True, width=width)

    @property
    def err(self) -> Console:
        """Prompts, progress and notes (stderr): never mixed into --json output."""
        return Console(file=sys.stderr, highlight=False, soft_wrap=True)

    def emit_json(self, value: Any) -> None:
        sys.stdout.write(json.dumps(value, indent=2, sort_keys=True) + "\n")

    def note(self, text: str) -> None:
        self.err.print(text, markup=False)

    # -- state ---------------------------------------------------------------------------

    @cached_property
    def keychain(self) -> Keychain:
        ensure_private_dir(self.config_dir)
        return Keychain.open(self.config_dir)

    @cached_property
    def accounts(self) -> Accounts:
        return Accounts(self.config_dir)

    @cached_property
    def public_api(self) -> KattaApi:
        """The API without a login (``/api/config``, ``/api/version``)."""
        return KattaApi(self.server, retry=self.retry)

    def oauth_client(self) -> OAuthClient:
        return OAuthClient(discover_endpoints(self.public_api.config()))

    def current_user(self) -> Optional[str]:
        return self.accounts.current_user(self.server)

    def require_user(self) -> str:
        user = self.current_user()
        if user is None:
            raise CliError(f"not signed in to {self.server}; run `katta login` first")
        return user

    @cached_property
    def session(self) -> LoginSession:
        return LoginSession(self.keychain, self.server, self.require_user(), self.oauth_client)

    @cached_property
    def api(self) -> KattaApi:
        """The API as the signed-in user."""
        return KattaApi(self.server, self.session, retry=self.retry)
