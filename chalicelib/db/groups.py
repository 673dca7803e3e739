"""Admin-managed groups: ``GROUP#<groupId>`` holds ``PROFILE`` and ``MEMBER#<userId>``.

Group profiles sit in the ``AUTHORITIES`` index beside users (search by name);
member items are indexed by user (gsi1 ``AUTH#<userId>`` / ``GROUP#<groupId>``),
so a user's groups are one Query. ``memberSize`` and ``vaultCount`` are counters
kept in the same transaction as the change that moves them.
"""
from __future__ import annotations

from typing import Any, Iterable

from chalicelib.db import keys
from chalicelib.db.table import GSI1, Table, Transaction, record
from chalicelib.db.updates import set_or_remove

class GroupRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self, group_id: str) -> dict[str, Any] | None:
        item = self.table.get(*keys.group(group_id))
        return record(item) if item else None

    def get_many(self, group_ids: Iterable[str]) -> list[dict[str, Any]]:
        return [record(i) for i in self.table.batch_get(keys.group(g) for g in group_ids)]

    def all(self) -> list[dict[str, Any]]:
        return [record(i) for i in self.table.query_all(keys.AUTHORITIES, keys.authority_by_name("GROUP", ""), index=GSI1)]

    def named(self, name: str) -> list[dict[str, Any]]:
        return [record(i) for i in self.table.query_all(keys.AUTHORITIES, keys.authorities_named("GROUP", name), index=GSI1)]

    def search(self, prefix: str, limit: int) -> list[dict[str, Any]]:
        page = self.table.query(keys.AUTHORITIES, keys.authority_by_name("GROUP", prefix), index=GSI1, limit=limit)
        return [record(i) for i in page.items]

    def member_ids(self, group_id: str) -> list[str]:
        return [i["userId"] for i in self.table.query_all(keys.group(group_id)[0], keys.MEMBER_PREFIX)]

    def group_ids_of(self, user_id: str) -> list[str]:
        return [i["groupId"] for i in self.table.query_all(keys.memberships_of(user_id), keys.group_index(), index=GSI1)]

    def create(self, transaction: Transaction, group: dict[str, Any], member_ids: Iterable[str] = ()) -> Transaction:
        pk, sk = keys.group(group["id"])
        members = list(member_ids)
        transaction.put({"pk": pk, "sk": sk, "gsi1pk": keys.AUTHORITIES,
                         "gsi1sk": keys.authority_by_name("GROUP", group["name"], group["id"]),
                         "memberSize": len(members), "vaultCount": 0, **group},
                        condition="attribute_not_exists(pk)")
        for user_id in members:
            self._put_member(transaction, group["id"], user_id)
        return transaction

    def change(self, transaction: Transaction, group_id: str, name: str, added: Iterable[str],
               removed: Iterable[str]) -> Transaction:
        """A new name and members in and out, the counter moved in the group's one update
        (a transaction may touch an item only once)."""
        added, removed = list(added), list(removed)
        for user_id in added:
            self._put_member(transaction, group_id, user_id)
        for user_id in removed:
            transaction.delete(*keys.group_member(group_id, user_id), condition="attribute_exists(pk)")
        return transaction.update(*keys.group(group_id), "SET #name = :name, gsi1sk = :gsi1sk ADD memberSize :delta",
                                  values={":name": name, ":gsi1sk": keys.authority_by_name("GROUP", name, group_id),
                                          ":delta": len(added) - len(removed)},
                                  names={"#name": "name"}, condition="attribute_exists(pk)")

    def _put_member(self, transaction: Transaction, group_id: str, user_id: str) -> Transaction:
        pk, sk = keys.group_member(group_id, user_id)
        return transaction.put({"pk": pk, "sk": sk, "gsi1pk": keys.memberships_of(user_id),
                                "gsi1sk": keys.group_index(group_id), "groupId": group_id, "userId": user_id},
                               condition="attribute_not_exists(pk)")

    def update(self, transaction: Transaction, group_id: str, name: str, picture_url: str | None) -> Transaction:
        expression, names, values = set_or_remove({"name": name, "pictureUrl": picture_url,
                                                   "gsi1sk": keys.authority_by_name("GROUP", name, group_id)})
        return transaction.update(*keys.group(group_id), expression, values=values, names=names,
                                  condition="attribute_exists(pk)")

    def add_member(self, transaction: Transaction, group_id: str, user_id: str) -> Transaction:
        self._put_member(transaction, group_id, user_id)
        return self.count(transaction, group_id, "memberSize", 1)

    def remove_member(self, transaction: Transaction, group_id: str, user_id: str) -> Transaction:
        transaction.delete(*keys.group_member(group_id, user_id), condition="attribute_exists(pk)")
        return self.count(transaction, group_id, "memberSize", -1)

    def count(self, transaction: Transaction, group_id: str, counter: str, delta: int) -> Transaction:
        return transaction.update(*keys.group(group_id), f"ADD {counter} :delta", values={":delta": delta},
                                  condition="attribute_exists(pk)")

    def delete_member(self, transaction: Transaction, group_id: str, user_id: str) -> Transaction:
        """Deletes a membership of a group that is being deleted (no counter to keep)."""
        return transaction.delete(*keys.group_member(group_id, user_id))

    def delete(self, transaction: Transaction, group_id: str) -> Transaction:
        return transaction.delete(*keys.group(group_id))
