"""The secret server's items (DESIGN §8; keys in ``chalicelib/store/__init__.py``).

``SECRET#<iss>#<sub>``/``<purpose>``   a user's secret, sealed in the ``secret`` key ring
``SSIDP``/``<issuer>``                 a registered identity provider
``SSRS``/``<clientId>``                a registered resource server
``JTI#<clientId>``/``<jti>``           a spent client-assertion id (TTL)

A release reads the resource server, the IdP and the secret with one
BatchGetItem and writes the spent ``jti`` with its audit event in one
transaction: two DynamoDB calls, whatever the number of users.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib import audit
from chalicelib.store.table import TTL_ATTRIBUTE, Table, Transaction

IDP_PK = "SSIDP"
RESOURCE_SERVER_PK = "SSRS"


def secret_key(issuer: str, subject: str, purpose: str) -> tuple[str, str]:
    # Registered issuers never contain '#' (checked at registration), so the key is unambiguous.
    return f"SECRET#{issuer}#{subject}", purpose


def jti_key(client_id: str, jti: str) -> tuple[str, str]:
    return f"JTI#{client_id}", jti


@dataclass(frozen=True)
class ReleaseItems:
    """What one exchange needs, read together; None where the item does not exist."""

    resource_server: dict[str, Any] | None
    idp: dict[str, Any] | None
    secret: dict[str, Any] | None


class SecretServerRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    # -- the exchange ---------------------------------------------------------------------

    def read_for_release(self, client_id: str | None, issuer: str | None,
                         subject: str | None, purpose: str) -> ReleaseItems:
        """One BatchGetItem for whichever of the three keys are known."""
        wanted: dict[str, tuple[str, str]] = {}
        if client_id:
            wanted["resource_server"] = (RESOURCE_SERVER_PK, client_id)
        if issuer:
            wanted["idp"] = (IDP_PK, issuer)
            if subject:
                wanted["secret"] = secret_key(issuer, subject, purpose)
        found = {(i["pk"], i["sk"]): i for i in self.table.batch_get(wanted.values())} if wanted else {}
        return ReleaseItems(**{name: found.get(wanted[name]) if name in wanted else None
                               for name in ("resource_server", "idp", "secret")})

    def secret(self, issuer: str, subject: str, purpose: str) -> dict[str, Any] | None:
        return self.table.get(*secret_key(issuer, subject, purpose), consistent=True)

    def create_secret(self, issuer: str, subject: str, purpose: str, sealed_attributes: dict[str, Any],
                      created_at: int) -> None:
        """ConditionFailed if the user already has this secret (a concurrent first request won)."""
        pk, sk = secret_key(issuer, subject, purpose)
        self.table.put({"pk": pk, "sk": sk, "issuer": issuer, "subject": subject, "purpose": purpose,
                        "created_at": created_at, **sealed_attributes},
                       condition="attribute_not_exists(pk)")

    def spend_assertion(self, transaction: Transaction, client_id: str, jti: str, expires_at: int,
                        now: int) -> Transaction:
        """Adds the spent ``jti`` to ``transaction``; its commit fails (ConditionFailed) on a replay.

        An entry past its TTL that DynamoDB has not reaped yet no longer counts.
        """
        pk, sk = jti_key(client_id, jti)
        return transaction.put({"pk": pk, "sk": sk, TTL_ATTRIBUTE: expires_at},
                               condition="attribute_not_exists(pk) OR #ttl <= :now",
                               values={":now": now}, names={"#ttl": TTL_ATTRIBUTE})

    def commit(self, transaction: Transaction) -> None:
        self.table.commit(transaction)

    # -- registrations --------------------------------------------------------------------

    def idps(self) -> list[dict[str, Any]]:
        return list(self.table.query_all(IDP_PK))

    def idp(self, issuer: str) -> dict[str, Any] | None:
        return self.table.get(IDP_PK, issuer)

    def resource_servers(self) -> list[dict[str, Any]]:
        return list(self.table.query_all(RESOURCE_SERVER_PK))

    def resource_server(self, client_id: str) -> dict[str, Any] | None:
        return self.table.get(RESOURCE_SERVER_PK, client_id)

    def put_idp(self, issuer: str, registration: dict[str, Any], actor: str) -> None:
        self._put(IDP_PK, issuer, registration, "SECRET_SERVER_IDP_REGISTER", {"issuer": issuer}, actor)

    def put_resource_server(self, client_id: str, registration: dict[str, Any], actor: str) -> None:
        self._put(RESOURCE_SERVER_PK, client_id, registration, "SECRET_SERVER_RESOURCE_SERVER_REGISTER",
                  {"clientId": client_id}, actor)

    def delete_idp(self, issuer: str, actor: str) -> None:
        """ConditionFailed if there is no such registration."""
        self._delete(IDP_PK, issuer, "SECRET_SERVER_IDP_DELETE", {"issuer": issuer}, actor)

    def delete_resource_server(self, client_id: str, actor: str) -> None:
        self._delete(RESOURCE_SERVER_PK, client_id, "SECRET_SERVER_RESOURCE_SERVER_DELETE",
                     {"clientId": client_id}, actor)

    def _put(self, pk: str, sk: str, registration: dict[str, Any], event: str, about: dict[str, str],
             actor: str) -> None:
        transaction = Transaction().put({**registration, "pk": pk, "sk": sk})
        self.table.commit(audit.record(transaction, event, userId=actor, **about))

    def _delete(self, pk: str, sk: str, event: str, about: dict[str, str], actor: str) -> None:
        transaction = Transaction().delete(pk, sk, condition="attribute_exists(pk)")
        self.table.commit(audit.record(transaction, event, userId=actor, **about))
