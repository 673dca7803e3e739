"""Admin-managed groups (``/api/groups…``) and the authority lookups (``/api/authorities…``)."""
from __future__ import annotations

from typing import Any

from chalicelib import audit, deps
from chalicelib.auth import Principal
from chalicelib.errors import Conflict, NotFound
from chalicelib.katta import events
from chalicelib.katta.access import group_id
from chalicelib.katta.formats import GroupInput, is_authority_id
from chalicelib.katta.users import public_user_dto
from chalicelib.katta.vaults import vault_with_role_dto
from chalicelib.store.table import ConditionFailed, Transaction

MAX_SEARCH_RESULTS = 50


def group_dto(group: dict[str, Any]) -> dict[str, Any]:
    dto = {"id": group["id"], "type": "GROUP", "name": group["name"],
           "memberSize": int(group.get("memberSize", 0)), "vaultCount": int(group.get("vaultCount", 0))}
    if group.get("pictureUrl"):
        dto["pictureUrl"] = group["pictureUrl"]
    return dto


def _group(group_id_: str) -> dict[str, Any]:
    group = deps.groups().get(group_id_)
    if group is None:
        raise NotFound(f"no such group: {group_id_}")
    return group


def _name_taken(name: str, except_id: str | None = None) -> bool:
    return any(g["id"] != except_id for g in deps.groups().named(name))


def all_groups() -> list[dict[str, Any]]:
    return [group_dto(g) for g in deps.groups().all()]


def create(dto: GroupInput) -> dict[str, Any]:
    """The id is derived from the name, so an IdP group of that name is this group."""
    new_id = group_id(dto.name)
    if not is_authority_id(new_id):
        raise Conflict("the name must contain a letter or digit")
    if _name_taken(dto.name) or deps.users().get(new_id) is not None:
        raise Conflict(f"a group or user named like '{dto.name}' exists")
    group = {"id": new_id, "name": dto.name, "pictureUrl": dto.pictureUrl}
    try:
        deps.table().commit(deps.groups().create(Transaction(), group))
    except ConditionFailed:
        raise Conflict(f"a group named like '{dto.name}' exists") from None
    return group_dto(group)


def update(group_id_: str, dto: GroupInput) -> dict[str, Any]:
    group = _group(group_id_)
    if _name_taken(dto.name, except_id=group_id_):
        raise Conflict(f"a group named '{dto.name}' exists")
    deps.table().commit(deps.groups().update(Transaction(), group_id_, dto.name, dto.pictureUrl))
    return group_dto({**group, "name": dto.name, "pictureUrl": dto.pictureUrl})


def details(group_id_: str) -> dict[str, Any]:
    group = _group(group_id_)
    members = [dict(public_user_dto(u)) for u in deps.users().get_many(deps.groups().member_ids(group_id_))]
    memberships = {m["vaultId"]: m["role"] for m in deps.vaults().memberships(group_id_)}
    vaults = [vault_with_role_dto(v, memberships[v["id"]]) for v in deps.vaults().get_many(memberships)]
    return {**group_dto(group), "members": members, "vaults": vaults}


def effective_members(group_id_: str) -> list[dict[str, Any]]:
    _group(group_id_)
    return [public_user_dto(u) for u in deps.users().get_many(deps.groups().member_ids(group_id_))]


def add_member(principal: Principal, group_id_: str, user_id: str) -> None:
    _group(group_id_)
    if deps.users().get(user_id) is None:
        raise NotFound(f"no such user: {user_id}")
    try:
        deps.table().commit(deps.groups().add_member(Transaction(), group_id_, user_id))
    except ConditionFailed:
        return  # a member already


def remove_member(principal: Principal, group_id_: str, user_id: str) -> None:
    _group(group_id_)
    try:
        deps.table().commit(deps.groups().remove_member(Transaction(), group_id_, user_id))
    except ConditionFailed:
        raise NotFound(f"user {user_id} is not a member of group {group_id_}") from None


def delete(principal: Principal, group_id_: str) -> None:
    """Removes the group, its memberships and its vault memberships (each audited)."""
    _group(group_id_)
    groups, vaults = deps.groups(), deps.vaults()
    steps = [lambda tx, s=sort_key: groups.delete_item(tx, group_id_, s)
             for sort_key in groups.sort_keys(group_id_) if sort_key != "PROFILE"]
    for membership in vaults.memberships(group_id_):
        def step(tx, vault_id=membership["vaultId"]):
            vaults.remove_member(tx, vault_id, group_id_)
            audit.record(tx, events.VAULT_MEMBER_REMOVE, removedBy=principal.user_id, vaultId=vault_id,
                         authorityId=group_id_)
        steps.append(step)
    events.commit_bulk(steps, groups.delete_item(Transaction(), group_id_, "PROFILE"))


# --- authorities ---------------------------------------------------------------------------------

def _authority_dto(item: dict[str, Any]) -> dict[str, Any]:
    return group_dto(item) if item["pk"].startswith("GROUP#") else public_user_dto(item)


def authorities(ids: list[str]) -> list[dict[str, Any]]:
    keys = [key for a in ids for key in ((f"USER#{a}", "PROFILE"), (f"GROUP#{a}", "PROFILE"))]
    return [_authority_dto(item) for item in deps.table().batch_get(keys)]


def search(query: str, with_member_size: bool) -> list[dict[str, Any]]:
    """Users and groups whose name starts with ``query`` (case-insensitive)."""
    found = deps.users().search(query, MAX_SEARCH_RESULTS) + [
        dict(g, pk=f"GROUP#{g['id']}") for g in deps.groups().search(query, MAX_SEARCH_RESULTS)]
    result = []
    for item in found[:MAX_SEARCH_RESULTS]:
        dto = _authority_dto(item)
        if not with_member_size:
            dto.pop("memberSize", None)
        result.append(dto)
    return result
