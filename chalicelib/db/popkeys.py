"""POP key items: ``POP#<use>``/``KEY#<kid>`` plus ``POP#<use>``/``HEAD`` (a generation counter).

Every change to a ring of POP keys bumps the generation in the same
transaction, on the condition that it is still the generation that was read:
two rotations can never both apply, even if a lock lease expired mid-way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.db import keys
from chalicelib.db.keyrings import SealedRecordIndex
from chalicelib.db.table import Table, Transaction

SEALED_ATTRIBUTES = ("sealed", "sealed_ring", "sealed_identity", "gsi1pk", "gsi1sk")


@dataclass
class KeyChange:
    kid: str
    from_state: str
    set: dict[str, Any]
    remove: tuple[str, ...] = ()


@dataclass
class RingChange:
    """Everything one rotation step writes, applied all together or not at all."""

    creates: list[dict[str, Any]] = field(default_factory=list)
    changes: list[KeyChange] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.creates or self.changes)


class PopKeyRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def load(self, use: str) -> tuple[int, list[dict[str, Any]]]:
        """The generation and every key item of the ring (one Query)."""
        generation = 0
        found = []
        for item in self.table.query_all(keys.pop_pk(use)):
            if item["sk"] == keys.POP_HEAD_SK:
                generation = int(item["generation"])
            elif item["sk"].startswith(keys.POP_KEY_SK_PREFIX):
                found.append(item)
        return generation, found

    def key_item(self, use: str, kid: str, attributes: dict[str, Any], *, ring: str, sealed: bytes,
                 version: int, identity: str) -> dict[str, Any]:
        """A new key's item, its private part (``sealed`` in ``ring``) indexed for the re-wrap job."""
        pk, sk = keys.pop_pk(use), keys.pop_key_sk(kid)
        return {**attributes, **SealedRecordIndex.attributes(ring, pk, sk, sealed, version, identity),
                "pk": pk, "sk": sk}

    def apply(self, tx: Transaction, use: str, generation: int, change: RingChange) -> Transaction:
        """Adds ``change`` to ``tx``; its commit fails (ConditionFailed) if the ring is no longer at
        ``generation`` or a key left its expected state."""
        if generation == 0:
            tx.put({"pk": keys.pop_pk(use), "sk": keys.POP_HEAD_SK, "generation": 1},
                   condition="attribute_not_exists(pk)")
        else:
            tx.update(keys.pop_pk(use), keys.POP_HEAD_SK, "SET generation = :new",
                      values={":new": generation + 1, ":old": generation}, condition="generation = :old")
        for item in change.creates:
            tx.put(item, condition="attribute_not_exists(pk)")
        for key_change in change.changes:
            names = {"#state": "state"}
            values: dict[str, Any] = {":from": key_change.from_state}
            assignments = []
            for index, (name, value) in enumerate(key_change.set.items()):
                names[f"#s{index}"] = name
                values[f":s{index}"] = value
                assignments.append(f"#s{index} = :s{index}")
            expression = "SET " + ", ".join(assignments)
            if key_change.remove:
                for index, name in enumerate(key_change.remove):
                    names[f"#r{index}"] = name
                expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(key_change.remove)))
            tx.update(keys.pop_pk(use), keys.pop_key_sk(key_change.kid), expression, values=values, names=names,
                      condition="#state = :from")
        return tx
