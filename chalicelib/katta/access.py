"""Who a caller is to a vault: direct member, member through a group, or nobody.

A caller's authorities are their user id, the groups named in their token's
groups claim (``Principal.groups``) and the admin-managed groups they belong
to. A claim value names the group whose id is ``group_id(value)``, so an admin
creates a group named like the IdP group once and then both sources agree.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

from chalicelib.auth import Principal
from chalicelib.errors import Forbidden, NotFound
from chalicelib.katta.formats import AuthorityType, Role, is_authority_id

if TYPE_CHECKING:
    from chalicelib.db.groups import GroupRepository
    from chalicelib.db.vaults import VaultRepository

_NOT_ID = re.compile(r"[^-_.a-z0-9]+")
_RANK = {Role.MEMBER.value: 1, Role.OWNER.value: 2}
GROUP = AuthorityType.GROUP.value


@dataclass(frozen=True)
class Authorities:
    """The caller by kind. User and group ids share one namespace of member ids, so a membership
    counts only if its kind matches too: a token's group claim named like a user id, or a subject
    named like a group, must never borrow that member's role."""

    user_id: str
    group_ids: tuple[str, ...]

    def __iter__(self) -> Iterator[str]:
        """Every member id to look up."""
        return iter(dict.fromkeys((self.user_id, *self.group_ids)))

    def holds(self, authority_id: str, member: dict[str, Any]) -> bool:
        if member.get("authorityType") == GROUP:
            return authority_id in self.group_ids
        return authority_id == self.user_id


def group_id(name: str) -> str:
    """A group's id, from its name or from an IdP group path (``/Engineering`` → ``engineering``)."""
    return _NOT_ID.sub("-", name.strip().strip("/").lower()).strip("-")[:255]


def claim_group_ids(principal: Principal) -> list[str]:
    ids = (group_id(name) for name in sorted(principal.groups))
    return [g for g in dict.fromkeys(ids) if is_authority_id(g)]


class VaultAccess:
    """Who a caller is to a vault, as every part that guards a vault (Katta, storage, tokens) asks it."""

    def __init__(self, vaults: VaultRepository, groups: GroupRepository) -> None:
        self._vaults = vaults
        self._groups = groups

    def authorities(self, principal: Principal) -> Authorities:
        """The caller's user id and every group they belong to (one Query for the admin-managed ones)."""
        admin_groups = self._groups.group_ids_of(principal.user_id)
        return Authorities(principal.user_id, tuple(dict.fromkeys([*claim_group_ids(principal), *admin_groups])))

    def vault_and_role(self, principal: Principal, vault_id: str) -> tuple[dict[str, Any], str | None]:
        """The vault and the caller's best role in it (None: no member); 404 for an unknown vault."""
        vault, role = self.role_in(principal, vault_id)
        if vault is None:
            raise NotFound("no such vault")
        return vault, role

    def role_in(self, principal: Principal, vault_id: str) -> tuple[dict[str, Any] | None, str | None]:
        """The vault (None: there is none) and the caller's best role in it (None: no member)."""
        vault = self._vaults.get(vault_id)
        if vault is None:
            return None, None
        authorities = self.authorities(principal)
        return vault, best_role(self._vaults.members_of(vault_id, authorities), authorities)

    def require_owner(self, members: dict[str, dict[str, Any]], principal: Principal) -> str:
        """The member id that makes the caller an owner: their own when they are a direct owner
        (it does not depend on a token's group claim), else one of their groups'."""
        authorities = self.authorities(principal)
        owning = [a for a, m in members.items() if m["role"] == Role.OWNER.value and authorities.holds(a, m)]
        if not owning:
            raise Forbidden("only an owner of the vault may do this")
        return principal.user_id if principal.user_id in owning else owning[0]


def best_role(members: dict[str, dict[str, Any]], authorities: Authorities) -> str | None:
    roles = [m["role"] for a, m in members.items() if authorities.holds(a, m)]
    return max(roles, key=_RANK.__getitem__) if roles else None


def higher(role: str, other: str | None) -> str:
    return role if other is None or _RANK[role] >= _RANK[other] else other

