"""The access epoch: one counter that moves on after every committed transaction that changes who
may open which vault — a vault (its profile, members, tokens), a group's members, a user's profile
(keys set up or reset, an account disabled).

Readers that derive an answer from many items (the long poll of users awaiting a grant reads every
vault the caller holds a token for) keep it with the epoch they read before deriving it, and reuse
it while the epoch stands: one consistent GetItem instead of a Query per vault. The counter moves by
an ADD after the commit, outside the transaction, so that changes to different items never contend
on it; if that write fails the change still stands, and readers bound how long they trust an old
answer (``VaultService``'s snapshot age).

Only committed transactions move it. The two writes of such items outside one are both sign-in's
(``auth.accounts``): a new account (no keys yet, so it awaits nothing) and the profile following the
identity provider (name, e-mail, picture, never keys or the disabled flag); neither changes who may
open a vault or who awaits a grant (``tests/test_long_poll_scale.py``).
"""
from __future__ import annotations

import logging

from chalicelib import errors
from chalicelib.db import keys
from chalicelib.db.table import Table, Transaction

log = logging.getLogger("katta")


class AccessEpoch:
    def __init__(self, table: Table) -> None:
        self._table = table

    def read(self) -> int:
        item = self._table.get(*keys.ACCESS_EPOCH, consistent=True)
        return int(item["epoch"]) if item else 0

    def note(self, transaction: Transaction) -> None:
        """Moves the epoch on if the committed ``transaction`` changed access."""
        if not any(keys.changes_access(pk, sk) for pk, sk in transaction.keys()):
            return
        try:
            self._table.update(*keys.ACCESS_EPOCH, "ADD epoch :one", values={":one": 1})
        except errors.ServiceUnavailable:
            log.warning("access epoch not moved on: cached answers live out their age")
