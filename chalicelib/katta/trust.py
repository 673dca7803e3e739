"""The web of trust (``/api/users/trusted…``): signatures stored opaque, chains found by breadth-first search.

Each hop is one Query of a signer's partition; the search stops at the hub's
``wotMaxDepth``, so its cost is bounded by the setting, not by the table.
"""
from __future__ import annotations

from typing import Any

from chalicelib import audit, deps
from chalicelib.auth import Principal
from chalicelib.errors import NotFound
from chalicelib.katta import events, hub_settings
from chalicelib.store.table import Transaction


def sign(principal: Principal, user_id: str, signature: str) -> None:
    if deps.users().get(user_id) is None:
        raise NotFound(f"no such user: {user_id}")
    signer = deps.users().get(principal.user_id) or {}
    signer_key = signer.get("ecdsaPublicKey")
    transaction = deps.trust().put(Transaction(), principal.user_id, user_id, signature, signer_key)
    audit.record(transaction, events.SIGN_WOT_ID, userId=user_id, signerId=principal.user_id,
                 signerKey=signer_key, signature=signature)
    deps.table().commit(transaction)


def chains(principal: Principal) -> dict[str, list[str]]:
    """Trusted user id → the shortest chain of signatures leading to them."""
    depth = int(hub_settings.current()["wotMaxDepth"])
    found: dict[str, list[str]] = {}
    frontier: list[tuple[str, list[str]]] = [(principal.user_id, [])]
    for _hop in range(max(depth, 1)):
        next_frontier = []
        for signer_id, chain in frontier:
            for signature in deps.trust().signed_by(signer_id):
                user_id = signature["userId"]
                if user_id == principal.user_id or user_id in found:
                    continue
                found[user_id] = [*chain, signature["signature"]]
                next_frontier.append((user_id, found[user_id]))
        frontier = next_frontier
        if not frontier:
            break
    return found


def trusted_dto(user_id: str, chain: list[str]) -> dict[str, Any]:
    return {"trustedUserId": user_id, "signatureChain": chain}


def trusted_users(principal: Principal) -> list[dict[str, Any]]:
    return [trusted_dto(u, c) for u, c in chains(principal).items()]


def trusted_user(principal: Principal, user_id: str) -> dict[str, Any]:
    chain = chains(principal).get(user_id)
    if chain is None:
        raise NotFound("no sufficiently short chain of trust leads to this user")
    return trusted_dto(user_id, chain)
