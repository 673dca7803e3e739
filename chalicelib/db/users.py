"""Users: one item per account, keyed by user id (see the key design in ``db``)."""
from __future__ import annotations

from typing import Any

from chalicelib.db import keys
from chalicelib.db.table import GSI1, ConditionFailed, Table, Transaction
from chalicelib.db.updates import set_or_remove


class UserRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self, user_id: str) -> dict[str, Any] | None:
        return self.table.get(*keys.user(user_id))

    def create(self, user: dict[str, Any]) -> bool:
        """Stores a new user; False if the id is taken already (a concurrent first request)."""
        try:
            self.table.commit(self.create_in(Transaction(), user))
        except ConditionFailed:
            return False
        return True

    def create_in(self, transaction: Transaction, user: dict[str, Any]) -> Transaction:
        transaction.put(_item(user), condition="attribute_not_exists(pk)")
        return _index_email(transaction, user["id"], user.get("email"))

    def id_named(self, user_name: str) -> str | None:
        """The account a SCIM userName belongs to."""
        claim = self.table.get(*keys.user_name(user_name))
        return claim["userId"] if claim else None

    def claim_name(self, transaction: Transaction, user_name: str, user_id: str) -> Transaction:
        pk, sk = keys.user_name(user_name)
        return transaction.put({"pk": pk, "sk": sk, "userId": user_id}, condition="attribute_not_exists(pk)")

    def release_name(self, transaction: Transaction, user_name: str) -> Transaction:
        return transaction.delete(*keys.user_name(user_name))

    @staticmethod
    def profile_differs(user: dict[str, Any], name: str, email: str | None, picture_url: str | None) -> bool:
        """Whether :meth:`update_profile` has something to write (a profile stored before the
        e-mail index has its address indexed by it)."""
        return ((user.get("name"), user.get("email"), user.get("pictureUrl")) != (name, email, picture_url)
                or user.get("indexedEmail") != _indexed(email))

    def update_profile(self, user_id: str, name: str, email: str | None, picture_url: str | None,
                       indexed_email: str | None = None) -> None:
        """Name, e-mail and picture as the identity provider names them now; None removes one."""
        transaction = self.set_attributes(Transaction(), user_id, {"name": name, "email": email,
                                                                   "pictureUrl": picture_url},
                                          indexed_email=indexed_email)
        self.table.commit(transaction)

    def get_many(self, user_ids) -> list[dict[str, Any]]:
        return self.table.batch_get(keys.user(u) for u in user_ids)

    def page(self, limit: int, after: str | None) -> list[tuple[dict[str, Any], str]]:
        """Users in name order, ``Table.page``'s way."""
        return self.table.page(keys.AUTHORITIES, keys.authority_by_name("USER", ""), index=GSI1, limit=limit,
                               after=after)

    def count(self) -> int:
        return sum(1 for _ in self.table.query_all(keys.AUTHORITIES, keys.authority_by_name("USER", ""), index=GSI1))

    def search(self, prefix: str, limit: int) -> list[dict[str, Any]]:
        return self.table.query(keys.AUTHORITIES, keys.authority_by_name("USER", prefix), index=GSI1, limit=limit).items

    def with_email(self, email: str, limit: int) -> list[dict[str, Any]]:
        """The users whose e-mail is exactly ``email`` (any case): one Query, one BatchGetItem."""
        indexed = self.table.query(keys.users_with_email(email), limit=limit).items
        profiles = self.get_many(i["userId"] for i in indexed)
        # An index item outlives a change of address: the profile says whose address it still is.
        return [u for u in profiles if _indexed(u.get("email")) == _indexed(email)]

    def set_attributes(self, transaction: Transaction, user_id: str, changes: dict[str, Any], *,
                       indexed_email: str | None = None) -> Transaction:
        """SETs the given attributes, REMOVEs those whose value is None; a new name moves the user in the
        search, a new e-mail address moves them in the address index (``indexed_email``: the profile's
        ``indexedEmail`` now, whose item goes, so that stale items never crowd out a search's page)."""
        if changes.get("name"):
            changes = {**changes, "gsi1sk": keys.authority_by_name("USER", changes["name"], user_id)}
        if "email" in changes:
            changes = {**changes, "indexedEmail": _indexed(changes["email"])}
            _index_email(transaction, user_id, changes["email"])
            if indexed_email and indexed_email != changes["indexedEmail"]:
                transaction.delete(*keys.user_email(indexed_email, user_id))
        expression, names, values = set_or_remove(changes)
        return transaction.update(*keys.user(user_id), expression, values=values, names=names,
                                  condition="attribute_exists(pk)")


def _item(user: dict[str, Any]) -> dict[str, Any]:
    pk, sk = keys.user(user["id"])
    item = {"pk": pk, "sk": sk, "gsi1pk": keys.AUTHORITIES,
            "gsi1sk": keys.authority_by_name("USER", user.get("name") or user["id"], user["id"]), **user}
    if _indexed(user.get("email")):
        item["indexedEmail"] = _indexed(user.get("email"))
    return item


def _indexed(email: str | None) -> str | None:
    return email.lower() if email else None


def _index_email(transaction: Transaction, user_id: str, email: str | None) -> Transaction:
    if not email:
        return transaction
    pk, sk = keys.user_email(email, user_id)
    return transaction.put({"pk": pk, "sk": sk, "userId": user_id})
