"""May this caller use this vault's storage? The Katta API's membership rule, applied to one vault.

A member is a user who is a member directly, through a group claim of their
token or through an admin-managed group (chalicelib/katta/access.py decides
that; this module only asks it).
"""
from __future__ import annotations

from typing import Any

from chalicelib import deps
from chalicelib.auth import Principal
from chalicelib.errors import NotFound
from chalicelib.katta import access


def vault_and_role(principal: Principal, vault_id: str) -> tuple[dict[str, Any], str | None]:
    """The vault and the caller's best role in it (None: no member); 404 for an unknown vault."""
    vault = deps.vaults().get(vault_id)
    if vault is None:
        raise NotFound("no such vault")
    authorities = access.authority_ids(principal)
    members = deps.vaults().members_of(vault_id, authorities)
    return vault, access.best_role(members, authorities)
