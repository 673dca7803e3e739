"""Admin-managed groups (``/api/groups…``) and the authority lookups (``/api/authorities…``)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.audit import catalogue
from chalicelib.auth import Principal
from chalicelib.errors import Conflict, NotFound
from chalicelib.katta.access import group_id
from chalicelib.katta.formats import AuthorityType, GroupInput, is_authority_id
from chalicelib.katta.users import public_user_dto
from chalicelib.katta.vaults import vault_with_role_dto
from chalicelib.db.table import ConditionFailed, Transaction

if TYPE_CHECKING:
    from chalicelib.audit import AuditLog
    from chalicelib.db.authorities import AuthorityRepository
    from chalicelib.db.groups import GroupRepository
    from chalicelib.db.table import Transactions
    from chalicelib.db.users import UserRepository
    from chalicelib.db.vaults import VaultRepository

MAX_SEARCH_RESULTS = 50


def group_dto(group: dict[str, Any]) -> dict[str, Any]:
    dto = {"id": group["id"], "type": AuthorityType.GROUP.value, "name": group["name"],
           "memberSize": int(group.get("memberSize", 0)), "vaultCount": int(group.get("vaultCount", 0))}
    if group.get("pictureUrl"):
        dto["pictureUrl"] = group["pictureUrl"]
    return dto


class GroupService:
    def __init__(self, groups: GroupRepository, users: UserRepository, vaults: VaultRepository,
                 authorities: AuthorityRepository, audit: AuditLog, transactions: Transactions) -> None:
        self._groups = groups
        self._users = users
        self._vaults = vaults
        self._authorities = authorities
        self._audit = audit
        self._transactions = transactions

    def _group(self, group_id_: str) -> dict[str, Any]:
        group = self._groups.get(group_id_)
        if group is None:
            raise NotFound(f"no such group: {group_id_}")
        return group

    def _name_taken(self, name: str, except_id: str | None = None) -> bool:
        return any(g["id"] != except_id for g in self._groups.named(name))

    def all_groups(self) -> list[dict[str, Any]]:
        return [group_dto(g) for g in self._groups.all()]

    def create(self, dto: GroupInput, member_ids: list[str] | None = None) -> dict[str, Any]:
        """The id is derived from the name, so an IdP group of that name is this group; ``member_ids``
        (users known to exist) join it in the same transaction."""
        new_id = group_id(dto.name)
        if not is_authority_id(new_id):
            raise Conflict("the name must contain a letter or digit")
        if self._name_taken(dto.name) or self._users.get(new_id) is not None:
            raise Conflict(f"a group or user named like '{dto.name}' exists")
        group = {"id": new_id, "name": dto.name, "pictureUrl": dto.pictureUrl}
        try:
            self._transactions.commit(self._groups.create(Transaction(), group, member_ids or ()))
        except ConditionFailed:
            raise Conflict(f"a group named like '{dto.name}' exists") from None
        return group_dto(group)

    def update(self, group_id_: str, dto: GroupInput) -> dict[str, Any]:
        group = self._group(group_id_)
        if self._name_taken(dto.name, except_id=group_id_):
            raise Conflict(f"a group named '{dto.name}' exists")
        self._transactions.commit(self._groups.update(Transaction(), group_id_, dto.name, dto.pictureUrl))
        return group_dto({**group, "name": dto.name, "pictureUrl": dto.pictureUrl})

    def _members(self, group_id_: str) -> list[dict[str, Any]]:
        return [public_user_dto(u) for u in self._users.get_many(self._groups.member_ids(group_id_))]

    def details(self, group_id_: str) -> dict[str, Any]:
        group = self._group(group_id_)
        members = self._members(group_id_)
        memberships = {m["vaultId"]: m["role"] for m in self._vaults.memberships(group_id_)}
        vaults = [vault_with_role_dto(v, memberships[v["id"]]) for v in self._vaults.get_many(memberships)]
        return {**group_dto(group), "members": members, "vaults": vaults}

    def effective_members(self, group_id_: str) -> list[dict[str, Any]]:
        self._group(group_id_)
        return self._members(group_id_)

    def add_member(self, principal: Principal, group_id_: str, user_id: str) -> None:
        self._group(group_id_)
        if self._users.get(user_id) is None:
            raise NotFound(f"no such user: {user_id}")
        try:
            self._transactions.commit(self._groups.add_member(Transaction(), group_id_, user_id))
        except ConditionFailed:
            return  # a member already

    def remove_member(self, principal: Principal, group_id_: str, user_id: str) -> None:
        self._group(group_id_)
        try:
            self._transactions.commit(self._groups.remove_member(Transaction(), group_id_, user_id))
        except ConditionFailed:
            raise NotFound(f"user {user_id} is not a member of group {group_id_}") from None

    def delete(self, principal: Principal, group_id_: str) -> None:
        """Removes the group, its memberships and its vault memberships (each audited)."""
        self._group(group_id_)
        steps = [lambda tx, u=user_id: self._groups.delete_member(tx, group_id_, u)
                 for user_id in self._groups.member_ids(group_id_)]
        for membership in self._vaults.memberships(group_id_):
            def step(tx, vault_id=membership["vaultId"]):
                self._vaults.remove_member(tx, vault_id, group_id_)
                self._audit.record(tx, catalogue.VAULT_MEMBER_REMOVE, removedBy=principal.user_id,
                                   vaultId=vault_id, authorityId=group_id_)
            steps.append(step)
        self._transactions.commit_chunked(steps, self._groups.delete(Transaction(), group_id_))

    # --- authorities -----------------------------------------------------------------------------

    def authorities(self, ids: list[str]) -> list[dict[str, Any]]:
        users, groups = self._authorities.get_many(ids)
        return [public_user_dto(u) for u in users] + [group_dto(g) for g in groups]

    def search(self, query: str, with_member_size: bool) -> list[dict[str, Any]]:
        """Users and groups whose name starts with ``query``, and users whose e-mail is exactly
        ``query`` (both case-insensitive): a part of an address finds nobody by it."""
        by_email = self._users.with_email(query, MAX_SEARCH_RESULTS) if "@" in query else []
        users = {u["id"]: u for u in (*by_email, *self._users.search(query, MAX_SEARCH_RESULTS))}
        found = [public_user_dto(u) for u in users.values()] + \
            [group_dto(g) for g in self._groups.search(query, MAX_SEARCH_RESULTS)]
        result = []
        for dto in found[:MAX_SEARCH_RESULTS]:
            if not with_member_size:
                dto.pop("memberSize", None)
            result.append(dto)
        return result
