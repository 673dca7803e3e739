"""The access epochs: counters that move on after every committed transaction that changes who may
open which vault — a vault (its profile, members, tokens), a group's members, a user's profile (keys
set up or reset, an account disabled).

Readers that derive an answer from many items (the long poll of users awaiting a grant reads every
vault the caller holds a token for) keep it with the epochs they read before deriving it. While the
whole epoch stands, the answer stands: one consistent GetItem. When it moved on but ``people`` (the
count of changes to users and groups, which may touch any vault) did not, only vaults changed: each
vault has its own epoch, read for all of the caller's vaults in one BatchGetItem per 100, and only
the vaults whose epoch moved are read again. When ``people`` moved too, the users and groups each
of those changes touched are in its slot (``keys.people_change``, the last 64 changes): only the
vaults whose answer rests on one of them are read again; a reader further behind, or finding a slot
missing or already reused, derives everything anew. The counters move by ADDs after the commit (the
vaults' first, then the whole one, which readers read first, then the slot), outside the
transaction, so that changes to different items never contend on them; if such a write fails the
change still stands, and readers bound how long they trust an old answer (``VaultService``'s
snapshot age). A deleted vault's epoch stays: counting on from where it was, a vault created again
under the same id cannot meet an old snapshot's count.

Only committed transactions move them. The two writes of such items outside one are both sign-in's
(``auth.accounts``): a new account (no keys yet, so it awaits nothing) and the profile following the
identity provider (name, e-mail, picture, never keys or the disabled flag); neither changes who may
open a vault or who awaits a grant (``tests/test_long_poll_scale.py``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib import errors
from chalicelib.db import keys
from chalicelib.db.table import Table, Transaction

if TYPE_CHECKING:
    from collections.abc import Iterable

log = logging.getLogger("katta")


@dataclass(frozen=True)
class Epoch:
    whole: int  # every change of access
    people: int  # the changes of users and groups


class AccessEpoch:
    def __init__(self, table: Table) -> None:
        self._table = table

    def read(self) -> Epoch:
        item = self._table.get(*keys.ACCESS_EPOCH, consistent=True) or {}
        return Epoch(int(item.get("epoch", 0)), int(item.get("people", 0)))

    def of_vaults(self, vault_ids: Iterable[str]) -> dict[str, int]:
        """Each vault's epoch (0 for a vault never changed since epochs were kept), read consistently."""
        wanted = {keys.vault_epoch(v): v for v in vault_ids}
        found = {(i["pk"], i["sk"]): int(i["epoch"]) for i in self._table.batch_get(wanted, consistent=True)}
        return {vault_id: found.get(key, 0) for key, vault_id in wanted.items()}

    def note(self, transaction: Transaction) -> None:
        """Moves the epochs on if the committed ``transaction`` changed access."""
        changed = [(pk, sk) for pk, sk in transaction.keys() if keys.changes_access(pk, sk)]
        if not changed:
            return
        vault_ids = sorted({v for v in (keys.vault_id_of(pk) for pk, _sk in changed) if v})
        people = sorted({p for pk, sk in changed for p in keys.people_of(pk, sk)})
        try:
            for vault_id in vault_ids:
                self._table.update(*keys.vault_epoch(vault_id), "ADD epoch :one", values={":one": 1})
            moved = self._table.update(*keys.ACCESS_EPOCH, "ADD epoch :one" + (", people :one" if people else ""),
                                       values={":one": 1})
            if people:
                n = int(moved["people"])
                self._table.update(*keys.people_change(n), "SET n = :n, ids = :ids", values={":n": n, ":ids": people})
        except errors.ServiceUnavailable:
            log.warning("access epoch not moved on: cached answers live out their age")

    def people_changed(self, since: int, now: int) -> frozenset[str] | None:
        """The users and groups the changes of people after the ``since``-th up to the ``now``-th
        touched; None when some of them are not known (too many, a slot not written or reused)."""
        if not 0 <= now - since <= keys.PEOPLE_CHANGE_SLOTS:
            return None
        wanted = range(since + 1, now + 1)
        slots = {int(i["n"]): i["ids"] for i in self._table.batch_get(map(keys.people_change, wanted), consistent=True)}
        if any(n not in slots for n in wanted):
            return None
        return frozenset(p for n in wanted for p in slots[n])
