"""Emergency recovery processes: one item each in their vault's partition, found by id through a pointer.

A process item holds what its council members wrote, opaque to the server: the process public key and,
per member, the process private key encrypted to them and (once they approve) their key share
re-encrypted to the process key. ``status`` is ``OPEN`` until the process is completed or aborted; while
it is, an item per vault and process type names it, so that a second start of that type fails its condition.
"""
from __future__ import annotations

from typing import Any

from chalicelib.db import keys
from chalicelib.db.table import Table, Transaction, record

OPEN = "OPEN"


class RecoveryRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def vault_of(self, process_id: str) -> str | None:
        item = self.table.get(*keys.recovery_vault(process_id), consistent=True)
        return item["vaultId"] if item else None

    def get(self, vault_id: str, process_id: str) -> dict[str, Any] | None:
        item = self.table.get(*keys.recovery(vault_id, process_id), consistent=True)
        return record(item) if item else None

    def create(self, transaction: Transaction, process: dict[str, Any]) -> Transaction:
        pk, sk = keys.recovery(process["vaultId"], process["id"])
        pointer_pk, pointer_sk = keys.recovery_vault(process["id"])
        transaction.put({"pk": pointer_pk, "sk": pointer_sk, "vaultId": process["vaultId"]},
                        condition="attribute_not_exists(pk)")
        open_pk, open_sk = keys.open_recovery(process["vaultId"], process["type"])
        transaction.put({"pk": open_pk, "sk": open_sk, "processId": process["id"]}, condition="attribute_not_exists(pk)")
        return transaction.put({"pk": pk, "sk": sk, **process, "status": OPEN}, condition="attribute_not_exists(pk)")

    def approve(self, transaction: Transaction, vault_id: str, process_id: str, member_id: str,
                share: dict[str, str]) -> Transaction:
        """Adds a member's recovered share: only to an open process, only once."""
        names = {"#shares": "recoveredKeyShares", "#member": member_id, "#status": "status",
                 **{f"#f{i}": name for i, name in enumerate(share)}}
        values = {":open": OPEN, **{f":v{i}": value for i, value in enumerate(share.values())}}
        sets = ", ".join(f"#shares.#member.#f{i} = :v{i}" for i in range(len(share)))
        return transaction.update(
            *keys.recovery(vault_id, process_id), f"SET {sets}", values=values, names=names,
            condition="#status = :open AND attribute_exists(#shares.#member)"
                      " AND attribute_not_exists(#shares.#member.recoveredKeyShare)")

    def close(self, transaction: Transaction, vault_id: str, process: dict[str, Any], status: str,
              closed_by: str) -> Transaction:
        transaction.delete(*keys.open_recovery(vault_id, process["type"]))
        process_id = process["id"]
        return transaction.update(*keys.recovery(vault_id, process_id), "SET #status = :status, closedBy = :by",
                                  values={":status": status, ":by": closed_by, ":open": OPEN},
                                  names={"#status": "status"}, condition="#status = :open")
