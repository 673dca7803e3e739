"""Who a caller is to a vault: direct member, member through a group, or nobody.

A caller's authorities are their user id, the groups named in their token's
groups claim (``Principal.groups``) and the admin-managed groups they belong
to. A claim value names the group whose id is ``group_id(value)``, so an admin
creates a group named like the IdP group once and then both sources agree.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from chalicelib import deps
from chalicelib.auth import Principal
from chalicelib.errors import Forbidden
from chalicelib.katta.formats import Role, is_authority_id

_NOT_ID = re.compile(r"[^-_.a-z0-9]+")
_RANK = {Role.MEMBER.value: 1, Role.OWNER.value: 2}


def group_id(name: str) -> str:
    """A group's id, from its name or from an IdP group path (``/Engineering`` → ``engineering``)."""
    return _NOT_ID.sub("-", name.strip().strip("/").lower()).strip("-")[:255]


def claim_group_ids(principal: Principal) -> list[str]:
    ids = (group_id(name) for name in sorted(principal.groups))
    return [g for g in dict.fromkeys(ids) if is_authority_id(g)]


def authority_ids(principal: Principal) -> list[str]:
    """The caller's user id and every group they belong to (one Query for the admin-managed ones)."""
    admin_groups = deps.groups().group_ids_of(principal.user_id)
    return list(dict.fromkeys([principal.user_id, *claim_group_ids(principal), *admin_groups]))


def best_role(members: dict[str, dict[str, Any]], authorities: Iterable[str]) -> str | None:
    roles = [members[a]["role"] for a in authorities if a in members]
    return max(roles, key=_RANK.__getitem__) if roles else None


def higher(role: str, other: str | None) -> str:
    return role if other is None or _RANK[role] >= _RANK[other] else other


def require_owner(members: dict[str, dict[str, Any]], principal: Principal) -> None:
    if best_role(members, authority_ids(principal)) != Role.OWNER.value:
        raise Forbidden("only an owner of the vault may do this")
