"""The secret server's items (architecture §8; keys in ``chalicelib/db/__init__.py``).

``SECRET#<iss>#<sub>``/``<purpose>``   a user's secret, sealed in the ``secret`` key ring
``SSIDP``/``<issuer>``                 a registered identity provider
``SSRS``/``<clientId>``                a registered resource server
``JTI#<clientId>``/``<jti>``           a spent client-assertion id (TTL)

A release reads the resource server, the IdP, the secret and — for a user of an
issuer the hub trusts — the user's hub account with one BatchGetItem and writes the spent ``jti`` with its audit event in one
transaction: two DynamoDB calls, whatever the number of users.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.db import keys
from chalicelib.db.keyrings import SealedRecordIndex
from chalicelib.db.table import TTL_ATTRIBUTE, Table, Transaction


@dataclass(frozen=True)
class ReleaseItems:
    """What one exchange needs, read together; None where the item does not exist."""

    resource_server: dict[str, Any] | None
    idp: dict[str, Any] | None
    secret: dict[str, Any] | None
    account: dict[str, Any] | None = None


class SecretServerRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    # -- the exchange ---------------------------------------------------------------------

    def read_for_release(self, client_id: str | None, issuer: str | None,
                         subject: str | None, purpose: str, account_id: str | None = None) -> ReleaseItems:
        """One BatchGetItem for whichever of the four keys are known."""
        wanted: dict[str, tuple[str, str]] = {}
        if account_id:
            wanted["account"] = keys.user(account_id)
        if client_id:
            wanted["resource_server"] = (keys.RESOURCE_SERVER_PK, client_id)
        if issuer:
            wanted["idp"] = (keys.IDP_PK, issuer)
            if subject:
                wanted["secret"] = keys.secret_key(issuer, subject, purpose)
        found = {(i["pk"], i["sk"]): i for i in self.table.batch_get(wanted.values())} if wanted else {}
        return ReleaseItems(**{name: found.get(wanted[name]) if name in wanted else None
                               for name in ("resource_server", "idp", "secret", "account")})

    def secret(self, issuer: str, subject: str, purpose: str) -> dict[str, Any] | None:
        return self.table.get(*keys.secret_key(issuer, subject, purpose), consistent=True)

    def create_secret(self, issuer: str, subject: str, purpose: str, *, ring: str, sealed: bytes, version: int,
                      identity: str, created_at: int) -> None:
        """The secret (``sealed`` in ``ring``), indexed for the re-wrap job; ConditionFailed if the user
        already has it (a concurrent first request won)."""
        pk, sk = keys.secret_key(issuer, subject, purpose)
        self.table.put({"pk": pk, "sk": sk, "issuer": issuer, "subject": subject, "purpose": purpose,
                        "created_at": created_at,
                        **SealedRecordIndex.attributes(ring, pk, sk, sealed, version, identity)},
                       condition="attribute_not_exists(pk)")

    def spend_assertion(self, transaction: Transaction, client_id: str, jti: str, expires_at: int,
                        now: int) -> Transaction:
        """Adds the spent ``jti`` to ``transaction``; its commit fails (ConditionFailed) on a replay.

        An entry past its TTL that DynamoDB has not reaped yet no longer counts.
        """
        pk, sk = keys.jti_key(client_id, jti)
        return transaction.put({"pk": pk, "sk": sk, TTL_ATTRIBUTE: expires_at},
                               condition="attribute_not_exists(pk) OR #ttl <= :now",
                               values={":now": now}, names={"#ttl": TTL_ATTRIBUTE})

    # -- registrations --------------------------------------------------------------------

    def idps(self) -> list[dict[str, Any]]:
        return list(self.table.query_all(keys.IDP_PK))

    def idp(self, issuer: str) -> dict[str, Any] | None:
        return self.table.get(keys.IDP_PK, issuer)

    def resource_servers(self) -> list[dict[str, Any]]:
        return list(self.table.query_all(keys.RESOURCE_SERVER_PK))

    def resource_server(self, client_id: str) -> dict[str, Any] | None:
        return self.table.get(keys.RESOURCE_SERVER_PK, client_id)

    def put_idp(self, transaction: Transaction, issuer: str, registration: dict[str, Any]) -> Transaction:
        return transaction.put({**registration, "pk": keys.IDP_PK, "sk": issuer})

    def put_resource_server(self, transaction: Transaction, client_id: str,
                            registration: dict[str, Any]) -> Transaction:
        return transaction.put({**registration, "pk": keys.RESOURCE_SERVER_PK, "sk": client_id})

    def delete_idp(self, transaction: Transaction, issuer: str) -> Transaction:
        """The commit fails (ConditionFailed) if there is no such registration."""
        return transaction.delete(keys.IDP_PK, issuer, condition="attribute_exists(pk)")

    def delete_resource_server(self, transaction: Transaction, client_id: str) -> Transaction:
        """The commit fails (ConditionFailed) if there is no such registration."""
        return transaction.delete(keys.RESOURCE_SERVER_PK, client_id, condition="attribute_exists(pk)")
