"""The hub-wide settings an admin edits through ``/api/settings`` (one item)."""
from __future__ import annotations

from typing import Any

from chalicelib.db import keys
from chalicelib.db.table import Table, Transaction, record


class HubSettingsRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self) -> dict[str, Any]:
        item = self.table.get(*keys.HUB_SETTINGS)
        return record(item) if item else {}

    def put(self, transaction: Transaction, values: dict[str, Any]) -> Transaction:
        pk, sk = keys.HUB_SETTINGS
        return transaction.put({"pk": pk, "sk": sk, **values})
