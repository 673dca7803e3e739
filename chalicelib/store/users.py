"""Users: one item per account, keyed by user id (see the key design in ``store``)."""
from __future__ import annotations

from typing import Any

from chalicelib.store.table import GSI1, ConditionFailed, Table, Transaction
from chalicelib.store.updates import set_or_remove


def user_key(user_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", "PROFILE"


def authority_sort_key(kind: str, name: str, authority_id: str) -> str:
    return f"{kind}#{name.lower()}#{authority_id}"


class UserRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self, user_id: str) -> dict[str, Any] | None:
        return self.table.get(*user_key(user_id))

    def create(self, user: dict[str, Any]) -> bool:
        """Stores a new user; False if the id is taken already (a concurrent first request)."""
        pk, sk = user_key(user["id"])
        item = {"pk": pk, "sk": sk, "gsi1pk": "AUTHORITIES",
                "gsi1sk": authority_sort_key("USER", user.get("name") or user["id"], user["id"]), **user}
        try:
            self.table.put(item, condition="attribute_not_exists(pk)")
        except ConditionFailed:
            return False
        return True

    def update_profile(self, user_id: str, name: str, email: str | None) -> None:
        pk, sk = user_key(user_id)
        self.table.update(pk, sk, "SET #name = :name, email = :email, gsi1sk = :sort",
                          values={":name": name, ":email": email,
                                  ":sort": authority_sort_key("USER", name, user_id)},
                          names={"#name": "name"}, condition="attribute_exists(pk)")

    def get_many(self, user_ids) -> list[dict[str, Any]]:
        return self.table.batch_get(user_key(u) for u in user_ids)

    def all(self) -> list[dict[str, Any]]:
        return list(self.table.query_all("AUTHORITIES", "USER#", index=GSI1))

    def search(self, prefix: str, limit: int) -> list[dict[str, Any]]:
        return self.table.query("AUTHORITIES", f"USER#{prefix.lower()}", index=GSI1, limit=limit).items

    def partition_sort_keys(self, user_id: str, prefix: str) -> list[str]:
        """Sort keys of the user's own items (devices ``DEVICE#``, signatures ``TRUST#``)."""
        return [i["sk"] for i in self.table.query_all(user_key(user_id)[0], prefix)]

    def set_attributes(self, transaction: Transaction, user_id: str, changes: dict[str, Any]) -> Transaction:
        """SETs the given attributes, REMOVEs those whose value is None."""
        expression, names, values = set_or_remove(changes)
        return transaction.update(*user_key(user_id), expression, values=values, names=names,
                                  condition="attribute_exists(pk)")

    def delete_item(self, transaction: Transaction, user_id: str, sort_key: str) -> Transaction:
        return transaction.delete(user_key(user_id)[0], sort_key)
