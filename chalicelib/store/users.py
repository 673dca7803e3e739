"""Users: one item per account, keyed by user id (see the key design in ``store``)."""
from __future__ import annotations

from typing import Any

from chalicelib.store.table import ConditionFailed, Table


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
