"""The hub-wide settings an admin edits through ``/api/settings`` (one item)."""
from __future__ import annotations

from typing import Any

from chalicelib.store.table import Table, Transaction

SETTINGS_KEY = ("SETTINGS", "HUB")


class HubSettingsRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self) -> dict[str, Any]:
        item = self.table.get(*SETTINGS_KEY)
        return {k: v for k, v in (item or {}).items() if k not in ("pk", "sk")}

    def put(self, transaction: Transaction, values: dict[str, Any]) -> Transaction:
        pk, sk = SETTINGS_KEY
        return transaction.put({"pk": pk, "sk": sk, **values})
