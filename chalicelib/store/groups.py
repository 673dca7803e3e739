"""Admin-managed groups: ``GROUP#<groupId>`` holds ``PROFILE`` and ``MEMBER#<userId>``.

Group profiles sit in the ``AUTHORITIES`` index beside users (search by name);
member items are indexed by user (gsi1 ``AUTH#<userId>`` / ``GROUP#<groupId>``),
so a user's groups are one Query. ``memberSize`` and ``vaultCount`` are counters
kept in the same transaction as the change that moves them.
"""
from __future__ import annotations

from typing import Any, Iterable

from chalicelib.store.table import GSI1, Table, Transaction
from chalicelib.store.updates import set_or_remove
from chalicelib.store.users import authority_sort_key

_ITEM_ATTRIBUTES = ("pk", "sk", "gsi1pk", "gsi1sk")


def group_key(group_id: str) -> tuple[str, str]:
    return f"GROUP#{group_id}", "PROFILE"


def group_member_key(group_id: str, user_id: str) -> tuple[str, str]:
    return f"GROUP#{group_id}", f"MEMBER#{user_id}"


def record(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _ITEM_ATTRIBUTES}


class GroupRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self, group_id: str) -> dict[str, Any] | None:
        item = self.table.get(*group_key(group_id))
        return record(item) if item else None

    def get_many(self, group_ids: Iterable[str]) -> list[dict[str, Any]]:
        return [record(i) for i in self.table.batch_get(group_key(g) for g in group_ids)]

    def all(self) -> list[dict[str, Any]]:
        return [record(i) for i in self.table.query_all("AUTHORITIES", "GROUP#", index=GSI1)]

    def named(self, name: str) -> list[dict[str, Any]]:
        return [record(i) for i in self.table.query_all("AUTHORITIES", f"GROUP#{name.lower()}#", index=GSI1)]

    def search(self, prefix: str, limit: int) -> list[dict[str, Any]]:
        page = self.table.query("AUTHORITIES", f"GROUP#{prefix.lower()}", index=GSI1, limit=limit)
        return [record(i) for i in page.items]

    def member_ids(self, group_id: str) -> list[str]:
        return [i["userId"] for i in self.table.query_all(group_key(group_id)[0], "MEMBER#")]

    def group_ids_of(self, user_id: str) -> list[str]:
        return [i["groupId"] for i in self.table.query_all(f"AUTH#{user_id}", "GROUP#", index=GSI1)]

    def create(self, transaction: Transaction, group: dict[str, Any]) -> Transaction:
        pk, sk = group_key(group["id"])
        return transaction.put({"pk": pk, "sk": sk, "gsi1pk": "AUTHORITIES",
                                "gsi1sk": authority_sort_key("GROUP", group["name"], group["id"]),
                                "memberSize": 0, "vaultCount": 0, **group},
                               condition="attribute_not_exists(pk)")

    def update(self, transaction: Transaction, group_id: str, name: str, picture_url: str | None) -> Transaction:
        expression, names, values = set_or_remove({"name": name, "pictureUrl": picture_url,
                                                   "gsi1sk": authority_sort_key("GROUP", name, group_id)})
        return transaction.update(*group_key(group_id), expression, values=values, names=names,
                                  condition="attribute_exists(pk)")

    def add_member(self, transaction: Transaction, group_id: str, user_id: str) -> Transaction:
        pk, sk = group_member_key(group_id, user_id)
        transaction.put({"pk": pk, "sk": sk, "gsi1pk": f"AUTH#{user_id}", "gsi1sk": f"GROUP#{group_id}",
                         "groupId": group_id, "userId": user_id}, condition="attribute_not_exists(pk)")
        return self.count(transaction, group_id, "memberSize", 1)

    def remove_member(self, transaction: Transaction, group_id: str, user_id: str) -> Transaction:
        transaction.delete(*group_member_key(group_id, user_id), condition="attribute_exists(pk)")
        return self.count(transaction, group_id, "memberSize", -1)

    def count(self, transaction: Transaction, group_id: str, counter: str, delta: int) -> Transaction:
        return transaction.update(*group_key(group_id), f"ADD {counter} :delta", values={":delta": delta},
                                  condition="attribute_exists(pk)")

    def sort_keys(self, group_id: str) -> list[str]:
        return [i["sk"] for i in self.table.query_all(group_key(group_id)[0])]

    def delete_item(self, transaction: Transaction, group_id: str, sort_key: str) -> Transaction:
        return transaction.delete(group_key(group_id)[0], sort_key)
