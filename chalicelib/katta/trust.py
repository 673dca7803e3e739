"""The web of trust (``/api/users/trusted…``): signatures stored opaque, chains found by breadth-first search.

Each hop is one Query of a signer's partition; the search stops at the hub's
``wotMaxDepth``, so its cost is bounded by the setting, not by the table.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.audit import catalogue
from chalicelib.auth import Principal
from chalicelib.errors import NotFound
from chalicelib.db.table import Transaction

if TYPE_CHECKING:
    from chalicelib.audit import AuditLog
    from chalicelib.katta.hub_settings import HubSettingsService
    from chalicelib.db.table import Transactions
    from chalicelib.db.trust import TrustRepository
    from chalicelib.db.users import UserRepository


def trusted_dto(user_id: str, chain: list[str]) -> dict[str, Any]:
    return {"trustedUserId": user_id, "signatureChain": chain}


class TrustService:
    def __init__(self, users: UserRepository, trust: TrustRepository, hub_settings: HubSettingsService,
                 audit: AuditLog, transactions: Transactions) -> None:
        self._users = users
        self._trust = trust
        self._hub_settings = hub_settings
        self._audit = audit
        self._transactions = transactions

    def sign(self, principal: Principal, user_id: str, signature: str) -> None:
        if self._users.get(user_id) is None:
            raise NotFound(f"no such user: {user_id}")
        signer = self._users.get(principal.user_id) or {}
        signer_key = signer.get("ecdsaPublicKey")
        transaction = self._trust.put(Transaction(), principal.user_id, user_id, signature, signer_key)
        self._audit.record(transaction, catalogue.SIGN_WOT_ID, userId=user_id, signerId=principal.user_id,
                           signerKey=signer_key, signature=signature)
        self._transactions.commit(transaction)

    def chains(self, principal: Principal) -> dict[str, list[str]]:
        """Trusted user id → the shortest chain of signatures leading to them."""
        depth = int(self._hub_settings.current()["wotMaxDepth"])
        found: dict[str, list[str]] = {}
        frontier: list[tuple[str, list[str]]] = [(principal.user_id, [])]
        for _hop in range(max(depth, 1)):
            next_frontier = []
            for signer_id, chain in frontier:
                for signature in self._trust.signed_by(signer_id):
                    user_id = signature["userId"]
                    if user_id == principal.user_id or user_id in found:
                        continue
                    found[user_id] = [*chain, signature["signature"]]
                    next_frontier.append((user_id, found[user_id]))
            frontier = next_frontier
            if not frontier:
                break
        return found

    def trusted_users(self, principal: Principal) -> list[dict[str, Any]]:
        return [trusted_dto(u, c) for u, c in self.chains(principal).items()]

    def trusted_user(self, principal: Principal, user_id: str) -> dict[str, Any]:
        chain = self.chains(principal).get(user_id)
        if chain is None:
            raise NotFound("no sufficiently short chain of trust leads to this user")
        return trusted_dto(user_id, chain)
