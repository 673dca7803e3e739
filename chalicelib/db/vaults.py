"""Vaults: the vault item, its members and its access tokens share one partition.

``VAULT#<vaultId>`` holds ``PROFILE``, ``MEMBER#<authorityId>``, ``TOKEN#<userId>``,
``COUNCIL#<userId>`` (emergency council seats, indexed by user under gsi1 ``COUNCILS#<userId>``)
and ``RECOVERY#<processId>`` (recovery processes, ``db/recoveries.py``); one Query reads a whole vault. Member items are indexed by
authority (gsi1 ``AUTH#<authorityId>``) for "vaults of a user or group", token
items by user (gsi1 ``TOKENS#<userId>``) for an account reset, and vault items
under gsi1 ``VAULTS`` for the admin listing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from chalicelib.db import keys
from chalicelib.db.recoveries import OPEN
from chalicelib.db.table import GSI1, Table, Transaction, record
from chalicelib.db.updates import set_or_remove

@dataclass
class VaultContents:
    """Everything stored in one vault's partition."""

    vault: dict[str, Any] | None
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # authority id → member
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)  # user id → token
    council: set[str] = field(default_factory=set)  # user ids with a council seat
    recoveries: dict[str, dict[str, Any]] = field(default_factory=dict)  # process id → recovery process


@dataclass
class RetrievalView:
    """What one BatchGetItem tells about a caller asking for a vault's access token."""

    user: dict[str, Any] | None
    vault: dict[str, Any] | None
    token: dict[str, Any] | None
    members: dict[str, dict[str, Any]]  # the caller's authorities that are direct members
    device: dict[str, Any] | None = None  # the caller's device the request names, if it is theirs


class VaultRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    # --- reads ----------------------------------------------------------------------------------

    def get(self, vault_id: str) -> dict[str, Any] | None:
        item = self.table.get(*keys.vault(vault_id))
        return record(item) if item else None

    def get_many(self, vault_ids: Iterable[str]) -> list[dict[str, Any]]:
        return [record(i) for i in self.table.batch_get(keys.vault(v) for v in vault_ids)]

    def all(self) -> list[dict[str, Any]]:
        return [record(i) for i in self.table.query_all(keys.VAULTS, index=GSI1)]

    def contents(self, vault_id: str) -> VaultContents:
        contents = VaultContents(vault=None)
        for item in self.table.query_all(keys.vault(vault_id)[0]):
            sk = item["sk"]
            if sk == keys.PROFILE:
                contents.vault = record(item)
            elif sk.startswith(keys.MEMBER_PREFIX):
                contents.members[item["authorityId"]] = record(item)
            elif sk.startswith(keys.TOKEN_PREFIX):
                contents.tokens[item["userId"]] = record(item)
            elif sk.startswith(keys.COUNCIL_PREFIX):
                contents.council.add(item["userId"])
            elif sk.startswith(keys.RECOVERY_PREFIX):
                contents.recoveries[item["id"]] = record(item)
        return contents

    def council_vault_ids(self, user_id: str) -> list[str]:
        """The vaults whose emergency council the user sits on."""
        return [i["vaultId"] for i in self.table.query_all(keys.councils_of(user_id), index=GSI1)]

    def member_page(self, vault_id: str, limit: int, after: str | None) -> list[tuple[dict[str, Any], str]]:
        """A vault's direct members in id order, ``Table.page``'s way."""
        return [(record(item), position) for item, position in
                self.table.page(keys.vault(vault_id)[0], keys.MEMBER_PREFIX, limit=limit, after=after)]

    def memberships(self, authority_id: str) -> list[dict[str, Any]]:
        """The direct vault memberships of a user or group."""
        return [record(i) for i in self.table.query_all(keys.memberships_of(authority_id), keys.vault_index(), index=GSI1)]

    def token_vault_ids(self, user_id: str) -> list[str]:
        return [i["vaultId"] for i in self.table.query_all(keys.tokens_of(user_id), index=GSI1)]

    def retrieval_view(self, vault_id: str, user_id: str, authority_ids: Iterable[str],
                       device_id: str | None = None, user: dict[str, Any] | None = None) -> RetrievalView:
        """The caller (unless ``user`` is their item, read already), the vault, the caller's token, direct
        memberships and device in ONE BatchGetItem."""
        authorities = list(dict.fromkeys([user_id, *authority_ids]))
        wanted = [*([] if user else [keys.user(user_id)]), keys.vault(vault_id), keys.vault_token(vault_id, user_id),
                  *(keys.vault_member(vault_id, a) for a in authorities)]
        if device_id:
            wanted.append(keys.device(user_id, device_id))
        view = RetrievalView(user=user, vault=None, token=None, members={})
        for item in self.table.batch_get(wanted):
            sk = item["sk"]
            if (item["pk"], sk) == keys.user(user_id):
                view.user = item
            elif device_id and (item["pk"], sk) == keys.device(user_id, device_id):
                view.device = record(item)
            elif sk == keys.PROFILE:
                view.vault = record(item)
            elif sk.startswith(keys.TOKEN_PREFIX):
                view.token = record(item)
            elif sk.startswith(keys.MEMBER_PREFIX):
                view.members[item["authorityId"]] = record(item)
        return view

    def memberships_in(self, vault_ids: Iterable[str], authority_ids: Iterable[str]
                       ) -> tuple[set[str], dict[str, dict[str, dict[str, Any]]]]:
        """(the vaults that exist, vault id → the given authorities' direct memberships), one BatchGetItem
        per 100 keys."""
        vault_ids, authority_ids = list(vault_ids), list(authority_ids)
        wanted = [keys.vault(v) for v in vault_ids] + [keys.vault_member(v, a) for v in vault_ids for a in authority_ids]
        found: set[str] = set()
        members: dict[str, dict[str, dict[str, Any]]] = {}
        for item in self.table.batch_get(wanted):
            if item["sk"] == keys.PROFILE:
                found.add(item["id"])
            else:
                members.setdefault(item["vaultId"], {})[item["authorityId"]] = record(item)
        return found, members

    def members_of(self, vault_id: str, authority_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        items = self.table.batch_get(keys.vault_member(vault_id, a) for a in authority_ids)
        return {i["authorityId"]: record(i) for i in items}

    # --- writes (added to a transaction so the audit event lands with them) -----------------------

    def create(self, transaction: Transaction, vault: dict[str, Any]) -> Transaction:
        pk, sk = keys.vault(vault["id"])
        return transaction.put({"pk": pk, "sk": sk, "gsi1pk": keys.VAULTS, "gsi1sk": keys.vault_index(vault["id"]), **vault},
                               condition="attribute_not_exists(pk)")

    def update(self, transaction: Transaction, vault_id: str, changes: dict[str, Any]) -> Transaction:
        expression, names, values = set_or_remove(changes)
        return transaction.update(*keys.vault(vault_id), expression, values=values, names=names,
                                  condition="attribute_exists(pk)")

    def put_member(self, transaction: Transaction, vault_id: str, authority_id: str, authority_type: str,
                   role: str, *, was: str | None = None, new: bool = False) -> Transaction:
        """Writes the membership; ``new`` requires it absent, ``was`` requires that role (lost update → refused)."""
        pk, sk = keys.vault_member(vault_id, authority_id)
        condition, values, names = None, None, None
        if new:
            condition = "attribute_not_exists(pk)"
        elif was is not None:
            condition, values, names = "#role = :was", {":was": was}, {"#role": "role"}
        return transaction.put({"pk": pk, "sk": sk, "gsi1pk": keys.memberships_of(authority_id), "gsi1sk": keys.vault_index(vault_id),
                                "vaultId": vault_id, "authorityId": authority_id,
                                "authorityType": authority_type, "role": role},
                               condition=condition, values=values, names=names)

    def require_role(self, transaction: Transaction, vault_id: str, authority_id: str, role: str) -> Transaction:
        return transaction.check(*keys.vault_member(vault_id, authority_id), "#role = :role", values={":role": role},
                                 names={"#role": "role"})

    def remove_member(self, transaction: Transaction, vault_id: str, authority_id: str, *,
                      must_exist: bool = True) -> Transaction:
        return transaction.delete(*keys.vault_member(vault_id, authority_id),
                                  condition="attribute_exists(pk)" if must_exist else None)

    def put_token(self, transaction: Transaction, vault_id: str, user_id: str, token: str, *,
                  only_if_absent: bool = False) -> Transaction:
        pk, sk = keys.vault_token(vault_id, user_id)
        return transaction.put({"pk": pk, "sk": sk, "gsi1pk": keys.tokens_of(user_id), "gsi1sk": keys.vault_index(vault_id),
                                "vaultId": vault_id, "userId": user_id, "token": token},
                               condition="attribute_not_exists(pk)" if only_if_absent else None)

    def put_council_seat(self, transaction: Transaction, vault_id: str, user_id: str) -> Transaction:
        pk, sk = keys.council_member(vault_id, user_id)
        return transaction.put({"pk": pk, "sk": sk, "gsi1pk": keys.councils_of(user_id),
                                "gsi1sk": keys.vault_index(vault_id), "vaultId": vault_id, "userId": user_id})

    def remove_council_seat(self, transaction: Transaction, vault_id: str, user_id: str) -> Transaction:
        return transaction.delete(*keys.council_member(vault_id, user_id))

    def delete_recovery(self, transaction: Transaction, vault_id: str, process: dict[str, Any]) -> Transaction:
        """A recovery process and its pointer (and, while it is open, its hold on its type), with the vault
        they belong to."""
        transaction.delete(*keys.recovery_vault(process["id"]))
        if process["status"] == OPEN:
            transaction.delete(*keys.open_recovery(vault_id, process["type"]))
        return transaction.delete(*keys.recovery(vault_id, process["id"]))

    def delete_token(self, transaction: Transaction, vault_id: str, user_id: str) -> Transaction:
        return transaction.delete(*keys.vault_token(vault_id, user_id))

    def delete(self, transaction: Transaction, vault_id: str) -> Transaction:
        return transaction.delete(*keys.vault(vault_id))
