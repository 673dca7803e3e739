"""Registration of the secret server's IdPs and resource servers (admin API).

Registrations are checked when they are made, so a bad one is a 400 naming the
field, not a failed exchange later: URLs are http(s) (https and no loopback
host outside the local stages), key sets are public and asymmetric, a resource
server's inline set has a signing and an encryption key, and our own issuer can
never be registered as an IdP (our tokens must not pass for a user's).
"""
from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib import errors
from chalicelib.audit import catalogue
from chalicelib.auth import claims
from chalicelib.secrets import keysets
from chalicelib.settings import ASYMMETRIC_ALGORITHMS, LOOPBACK_HOSTS, Settings
from chalicelib.db.table import ConditionFailed, Transaction

if TYPE_CHECKING:
    # Handed in by deps on first use: the admin routes' import must not load the DynamoDB layer.
    from chalicelib.audit import AuditLog
    from chalicelib.db.secrets import SecretServerRepository
    from chalicelib.db.table import Transactions

CLIENT_ID_PATTERN = r"^[-_.a-zA-Z0-9]{1,128}$"
MAX_INLINE_JWKS_CHARS = 64 * 1024


class _KeySource(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use, not at import

    jwksUri: str | None = Field(default=None, max_length=2048)
    jwks: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_source(self):
        if (self.jwksUri is None) == (self.jwks is None):
            raise ValueError("give exactly one of jwksUri and jwks")
        return self

    @field_validator("jwksUri")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and (urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname):
            raise ValueError("must be an absolute http(s) URL")
        return value


class IdpRegistration(_KeySource):
    issuer: str = Field(min_length=1, max_length=512)
    audience: str = Field(min_length=1, max_length=256)
    # The claim that carries the audience: Cognito's access tokens name their app client in client_id.
    audienceClaim: str = Field(default="aud", min_length=1, max_length=256)
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"], min_length=1, max_length=10)

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL")
        if parts.query or parts.fragment or "#" in value:
            raise ValueError("an issuer has no query and no fragment")
        return value

    @field_validator("audienceClaim")
    @classmethod
    def _claim_path(cls, value: str) -> str:
        return claims.check(value)

    @field_validator("algorithms")
    @classmethod
    def _asymmetric(cls, value: list[str]) -> list[str]:
        refused = sorted(set(value) - ASYMMETRIC_ALGORITHMS)
        if refused:
            raise ValueError(f"only asymmetric algorithms are allowed, refused: {', '.join(refused)}")
        return sorted(set(value))


class ResourceServerRegistration(_KeySource):
    description: str | None = Field(default=None, max_length=256)


class Registry:
    def __init__(self, repository: SecretServerRepository, transactions: Transactions, audit_log: AuditLog,
                 settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self._repository = repository
        self._transactions = transactions
        self._audit = audit_log
        self._settings = settings
        self._clock = clock

    # -- identity providers ---------------------------------------------------------------

    def idps(self) -> list[dict[str, Any]]:
        return [_idp_dto(i) for i in self._repository.idps()]

    def idp(self, issuer: str) -> dict[str, Any]:
        item = self._repository.idp(issuer)
        if item is None:
            raise errors.NotFound(f"no identity provider with issuer {issuer[:512]!r} is registered")
        return _idp_dto(item)

    def put_idp(self, body: IdpRegistration, actor: str) -> tuple[dict[str, Any], bool]:
        """(the registration, whether it is new)."""
        if body.issuer.rstrip("/") == self._settings.public_base_url:
            raise _invalid("issuer", "our own issuer cannot be registered as an identity provider")
        self._check_url("issuer", body.issuer)
        item = {"issuer": body.issuer, "audience": body.audience, "audience_claim": body.audienceClaim,
                "algorithms": body.algorithms,
                **self._key_source(body, require_resource_server_keys=False)}
        created = self._repository.idp(body.issuer) is None
        item = self._stamped(item, actor)
        self._commit(self._repository.put_idp(Transaction(), body.issuer, item),
                     catalogue.SECRET_SERVER_IDP_REGISTER, userId=actor, issuer=body.issuer)
        return _idp_dto(item), created

    def delete_idp(self, issuer: str, actor: str) -> None:
        try:
            self._commit(self._repository.delete_idp(Transaction(), issuer),
                         catalogue.SECRET_SERVER_IDP_DELETE, userId=actor, issuer=issuer)
        except ConditionFailed:
            raise errors.NotFound(f"no identity provider with issuer {issuer[:512]!r} is registered") from None

    # -- resource servers -----------------------------------------------------------------

    def resource_servers(self) -> list[dict[str, Any]]:
        return [_resource_server_dto(i) for i in self._repository.resource_servers()]

    def resource_server(self, client_id: str) -> dict[str, Any]:
        item = self._repository.resource_server(client_id)
        if item is None:
            raise errors.NotFound(f"no resource server with client id {client_id!r} is registered")
        return _resource_server_dto(item)

    def put_resource_server(self, client_id: str, body: ResourceServerRegistration,
                            actor: str) -> tuple[dict[str, Any], bool]:
        item = {"client_id": client_id, "description": body.description,
                **self._key_source(body, require_resource_server_keys=True)}
        created = self._repository.resource_server(client_id) is None
        item = self._stamped(item, actor)
        self._commit(self._repository.put_resource_server(Transaction(), client_id, item),
                     catalogue.SECRET_SERVER_RESOURCE_SERVER_REGISTER, userId=actor, clientId=client_id)
        return _resource_server_dto(item), created

    def delete_resource_server(self, client_id: str, actor: str) -> None:
        try:
            self._commit(self._repository.delete_resource_server(Transaction(), client_id),
                         catalogue.SECRET_SERVER_RESOURCE_SERVER_DELETE, userId=actor, clientId=client_id)
        except ConditionFailed:
            raise errors.NotFound(f"no resource server with client id {client_id!r} is registered") from None

    # -- checks ---------------------------------------------------------------------------

    def _stamped(self, item: dict[str, Any], actor: str) -> dict[str, Any]:
        return {**item, "updated_at": int(self._clock()), "updated_by": actor}

    def _commit(self, transaction: Transaction, event: catalogue.EventType, **details: Any) -> None:
        """The registration change and its audit event, together."""
        self._transactions.commit(self._audit.record(transaction, event, **details))

    def _key_source(self, body: _KeySource, *, require_resource_server_keys: bool) -> dict[str, Any]:
        if body.jwksUri is not None:
            self._check_url("jwksUri", body.jwksUri)
            return {"jwks_uri": body.jwksUri}
        text = json.dumps(body.jwks, separators=(",", ":"), sort_keys=True)
        if len(text) > MAX_INLINE_JWKS_CHARS:
            raise _invalid("jwks", f"an inline JWKS may have at most {MAX_INLINE_JWKS_CHARS} characters")
        try:
            keys = keysets.import_public(body.jwks, require_kids=require_resource_server_keys)
            if require_resource_server_keys:
                keysets.check_resource_server_keys(keys)
        except keysets.UnusableKeySet as reason:
            raise _invalid("jwks", str(reason)) from None
        return {"jwks": text}

    def _check_url(self, field: str, url: str) -> None:
        if self._settings.stage not in ("dev", "prod"):
            return
        parts = urlsplit(url)
        if parts.scheme != "https":
            raise _invalid(field, f"must be https in stage {self._settings.stage}")
        if parts.hostname in LOOPBACK_HOSTS:
            raise _invalid(field, f"a loopback host is refused in stage {self._settings.stage}")


def _invalid(field: str, reason: str) -> errors.InvalidField:
    return errors.InvalidField([{"field": field, "reason": reason}])


def _key_source_dto(item: dict[str, Any]) -> dict[str, Any]:
    return {"jwksUri": item["jwks_uri"]} if item.get("jwks_uri") else {"jwks": json.loads(item["jwks"])}


def _idp_dto(item: dict[str, Any]) -> dict[str, Any]:
    return {"issuer": item["issuer"], "audience": item["audience"],
            "audienceClaim": item.get("audience_claim", "aud"), "algorithms": list(item["algorithms"]),
            **_key_source_dto(item), "updatedAt": int(item["updated_at"]), "updatedBy": item.get("updated_by")}


def _resource_server_dto(item: dict[str, Any]) -> dict[str, Any]:
    dto = {"clientId": item["client_id"], **_key_source_dto(item), "updatedAt": int(item["updated_at"]),
           "updatedBy": item.get("updated_by")}
    if item.get("description"):
        dto["description"] = item["description"]
    return dto
