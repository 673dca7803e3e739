"""Every knob of the service, read once from the environment (prefix ``KATTA_``).

Invalid settings fail at start (import of ``app``) with a message that names the
setting, so a misconfigured stage never serves a request.
"""
from __future__ import annotations

import functools
import json
import os
import re
import types
import typing
import uuid
from typing import Any, Literal, Mapping
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from chalicelib.auth import claims

# Asymmetric JWS algorithms only: HS* would let anyone holding the issuer's
# public key forge tokens, and "none" is no signature at all.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
MAX_CLOCK_LEEWAY_SECONDS = 60
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Entra ID names one tenant by two issuers: v2 access tokens carry the first, v1 tokens the second.
ENTRA_V2_ISSUER = re.compile(r"https://login\.microsoftonline\.com/([^/]+)/v2\.0")
ENTRA_V1_ISSUER = re.compile(r"https://sts\.windows\.net/([^/]+)/")
# Entra's multi-tenant endpoints: no token is ever issued by them.
ENTRA_PLACEHOLDER_TENANTS = frozenset({"common", "organizations", "consumers"})
# RFC 6749 §3.3: scope tokens, each separated by one space.
SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*")
# Parameters the clients set per request (or per grant) themselves: an operator's fixed value would
# replace their state, nonce or PKCE challenge, or fight the scope they ask for.
CLIENT_SET_PARAMS = frozenset({
    "client_id", "client_secret", "client_assertion", "client_assertion_type", "redirect_uri", "response_type",
    "response_mode", "state", "nonce", "prompt", "scope", "code_challenge", "code_challenge_method", "request",
    "request_uri", "grant_type", "code", "code_verifier", "device_code", "refresh_token", "username", "password",
})


def entra_v2_issuer(iss: str) -> str | None:
    """The v2 issuer of the Entra ID tenant whose v1 issuer ``iss`` is; None if it is not one."""
    v1 = ENTRA_V1_ISSUER.fullmatch(iss)
    return f"https://login.microsoftonline.com/{v1.group(1)}/v2.0" if v1 else None


class TrustedIssuer(BaseModel):
    """An OIDC identity provider whose bearer tokens the API accepts."""

    model_config = {"extra": "forbid"}

    issuer: str = Field(min_length=1)
    audience: str = Field(min_length=1)
    # Cognito's access tokens have no aud: they name the app client in client_id.
    audience_claim: str = "aud"
    # When set, the claim authorized_party_claim (Keycloak's and Auth0's azp, Okta's cid) must be one of these.
    authorized_parties: list[str] = Field(default=[])
    authorized_party_claim: str = "azp"
    jwks_uri: str | None = None
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    # Okta's sub is the user's login (an e-mail address), which no user id may contain.
    subject_claim: str = "sub"
    roles_claim: str = "realm_access.roles"
    groups_claim: str | None = "groups"
    # Provider role or group names (or Entra group object ids) that grant one of our roles.
    role_map: dict[str, Literal["user", "create-vaults", "admin"]] = Field(default={})
    scope_claim: str = "scope"
    userinfo_endpoint: str | None = None
    client_id: str = "katta-cli"
    # What clients must ask the provider for to get a token for this API (published in /api/config):
    # Entra ID issues one only for the API's own scope, Auth0 only given an audience parameter.
    client_scope: str = "openid"
    authorization_params: dict[str, str] = Field(default={})
    # The public client the web app (/app/) signs in with; client_id when unset.
    web_client_id: str | None = Field(default=None, min_length=1)
    # Published in /api/config for desktop clients; Keycloak-shaped when unset.
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    # Prepended to ``sub`` to form the user id; needed only when several
    # issuers are trusted, so their subjects cannot collide.
    user_id_prefix: str = Field(default="", pattern=r"^[-_.a-zA-Z0-9]*$", max_length=32)

    @field_validator("issuer", "jwks_uri", "userinfo_endpoint")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("https", "http"):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("issuer")
    @classmethod
    def _one_issuer_per_tenant(cls, value: str) -> str:
        if entra_v2_issuer(value):
            raise ValueError("this is Entra ID's v1 issuer: configure the tenant's v2 issuer "
                             "https://login.microsoftonline.com/<tenant>/v2.0 and set the app registration's "
                             "accessTokenAcceptedVersion to 2")
        entra = ENTRA_V2_ISSUER.fullmatch(value)
        if entra and entra.group(1) in ENTRA_PLACEHOLDER_TENANTS:
            raise ValueError(f"'{entra.group(1)}' is no tenant, and no token carries this issuer: "
                             "configure https://login.microsoftonline.com/<tenant id>/v2.0")
        return value

    @field_validator("audience_claim", "authorized_party_claim", "subject_claim", "roles_claim", "groups_claim",
                     "scope_claim")
    @classmethod
    def _claim_path(cls, value: str | None) -> str | None:
        return value if value is None else claims.check(value)

    @field_validator("client_scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        if not SCOPE.fullmatch(value):
            raise ValueError("must be a space-separated scope list (RFC 6749 §3.3), e.g. \"openid offline_access\"")
        return value

    @field_validator("authorization_params")
    @classmethod
    def _not_client_set(cls, value: dict[str, str]) -> dict[str, str]:
        if "" in value:
            raise ValueError("a parameter name may not be empty")
        for name in sorted(value):
            if name in CLIENT_SET_PARAMS:
                raise ValueError(f"authorization_params may not set {name}: the clients set it themselves")
        return value

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one algorithm is required")
        refused = sorted(set(value) - ASYMMETRIC_ALGORITHMS)
        if refused:
            raise ValueError(f"only asymmetric algorithms are allowed, refused: {', '.join(refused)}")
        return value

    @property
    def discovery_uri(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    @property
    def keycloak_url(self) -> str:
        """The issuer without Keycloak's ``/realms/<realm>`` suffix."""
        base, sep, _realm = self.issuer.rstrip("/").rpartition("/realms/")
        return base if sep else self.issuer.rstrip("/")

    @property
    def keycloak_realm(self) -> str:
        _base, sep, realm = self.issuer.rstrip("/").rpartition("/realms/")
        return realm if sep else ""

    @property
    def is_loopback(self) -> bool:
        return urlsplit(self.issuer).hostname in LOOPBACK_HOSTS


ENV_PREFIX = "KATTA_"


class SettingsError(RuntimeError):
    """Raised at start when the environment holds an invalid setting."""


class Settings(BaseModel):
    """Read from the environment (``KATTA_<FIELD>``, any case) beside the keyword arguments given, which win.

    A plain model with its own reader rather than pydantic-settings, whose import (asyncio, dotenv,
    argparse) cost more than the rest of the settings together at every cold start."""

    model_config = {"extra": "ignore", "validate_default": True}

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**environment(type(self), os.environ), **values})

    stage: Literal["local", "dev", "prod", "test"] = "local"
    table_name: str = Field(default="katta", min_length=3, max_length=255)
    kms_key_id: str = Field(default="alias/katta-management", min_length=1)
    public_base_url: str = "http://127.0.0.1:8000"
    trusted_issuers: list[TrustedIssuer] = Field(default=[])
    autoprovision: bool = True
    autoprovision_required_role: str | None = None
    clock_leeway_seconds: int = Field(default=MAX_CLOCK_LEEWAY_SECONDS, ge=0, le=MAX_CLOCK_LEEWAY_SECONDS)
    jwks_cache_seconds: int = Field(default=600, ge=0)
    jwks_refetch_cooldown_seconds: int = Field(default=60, ge=0)
    opaque_token_cache_seconds: int = Field(default=300, ge=0)
    http_timeout_seconds: float = Field(default=3.0, gt=0, le=10)
    http_max_response_bytes: int = Field(default=256 * 1024, gt=0)
    max_body_bytes: int = Field(default=256 * 1024, gt=0)
    installation_id: str | None = None
    api_level: int = Field(default=5, ge=0)
    hub_version: str = "1.5.0"
    desktop_download_url_mac: str = "https://cryptomator.org/downloads/mac/"
    desktop_download_url_win: str = "https://cryptomator.org/downloads/win/"
    # Device-linking rendezvous sessions (docs/rendezvous.md).
    rendezvous_ttl_seconds: int = Field(default=180, ge=120, le=300)
    rendezvous_max_open_per_user: int = Field(default=5, ge=1, le=50)
    rendezvous_open_creation: bool = False
    rendezvous_anonymous_rate_per_minute: int = Field(default=10, ge=1, le=10_000)
    # Server-side key management (docs/key-management.md).
    data_key_cache_seconds: int = Field(default=300, ge=0, le=3600)
    key_ring_cache_seconds: int = Field(default=60, ge=0, le=900)
    key_ring_refresh_cooldown_seconds: int = Field(default=10, ge=0, le=300)
    pop_jwks_cache_seconds: int = Field(default=3600, ge=0, le=86400)
    max_token_lifetime_seconds: int = Field(default=3600, gt=0, le=86400)
    pop_rotation_seconds: int = Field(default=30 * 86400, gt=0)
    pop_signing_alg: Literal["ES256", "ES384", "ES512", "RS256"] = "ES256"
    pop_encryption_alg: Literal["ECDH-ES+A256KW", "RSA-OAEP-256"] = "ECDH-ES+A256KW"
    rotation_lock_seconds: int = Field(default=120, ge=10, le=900)
    # Katta API: the long poll of users-requiring-access-grant holds a Lambda
    # invocation, and API Gateway cuts every request at 29 s.
    access_grant_wait_max_seconds: float = Field(default=5.0, ge=0, le=25)
    access_grant_poll_interval_seconds: float = Field(default=1.0, gt=0, le=10)
    # A successful key retrieval is audited with one PutItem beside the reads.
    audit_key_retrieval_success: bool = True
    # A device's last use (the Hub-Device-ID of a key retrieval) is written at most this often:
    # the warm retrieval path gains no write in between.
    device_last_access_interval_seconds: int = Field(default=300, ge=0, le=86400)
    # Secret server (docs/secret-server.md): lifetime of a release token, and the
    # longest a client assertion may live (its jti is remembered that long).
    secret_server_token_lifetime_seconds: int = Field(default=60, ge=10, le=600)
    secret_server_assertion_max_lifetime_seconds: int = Field(default=300, ge=30, le=600)
    # Token service (docs/tokens-and-storage.md). The STS audience is the client id
    # AWS IAM (or SeaweedFS) registers for our issuer; vault tokens carry it as a
    # single string because SeaweedFS reads only a string aud.
    sts_audience: str = Field(default="sts.amazonaws.com", min_length=1, max_length=255)
    s3_token_lifetime_seconds: int = Field(default=300, ge=60, le=3600)
    # Audiences POST /oauth2/token may issue tokens for; empty = every target is refused.
    token_exchange_audiences: list[str] = Field(default=[])
    token_exchange_lifetime_seconds: int = Field(default=300, ge=60, le=3600)
    # AWS clients (chalicelib/aws.py). A held request is paid Lambda concurrency: a stalled dependency
    # must become a 503 within the call budget, not after botocore's defaults (60 s reads, retried).
    aws_connect_timeout_seconds: float = Field(default=1.0, gt=0, le=10)
    aws_read_timeout_seconds: float = Field(default=2.0, gt=0, le=20)
    aws_max_attempts: int = Field(default=3, ge=1, le=10)
    aws_retry_mode: Literal["standard", "adaptive"] = "standard"
    aws_call_budget_seconds: float = Field(default=15.0, gt=0, le=28)
    # SCIM provisioning (README "Members before they sign in"): only the secret's SHA-256 is configured,
    # so reading the function's environment does not reveal the bearer the IdP sends.
    scim_token_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    scim_issuer: str | None = None

    @property
    def hub_id(self) -> str:
        """This installation's id: ``installation_id``, else derived from the public base URL (stable per deployment)."""
        return self.installation_id or str(uuid.uuid5(uuid.NAMESPACE_URL, self.public_base_url))

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _rotation_leaves_room_to_prepublish(self) -> "Settings":
        # The next POP key is published one JWKS-cache lifetime (plus our own ring
        # cache) before it takes over; a shorter active period could never honour that.
        lead = self.pop_jwks_cache_seconds + self.key_ring_cache_seconds
        if self.pop_rotation_seconds <= lead:
            raise ValueError(f"pop_rotation_seconds: must exceed pop_jwks_cache_seconds + key_ring_cache_seconds ({lead})")
        return self

    @property
    def aws_call_worst_seconds(self) -> float:
        """The longest one AWS call can hold a request: every attempt waits out both timeouts, and
        botocore's back-off before retry n is at most 2^(n-1) s (capped at 20 s), in both modes."""
        attempts = self.aws_max_attempts * (self.aws_connect_timeout_seconds + self.aws_read_timeout_seconds)
        return attempts + sum(min(2.0 ** n, 20.0) for n in range(self.aws_max_attempts - 1))

    @model_validator(mode="after")
    def _aws_calls_within_budget(self) -> "Settings":
        if self.aws_call_worst_seconds > self.aws_call_budget_seconds:
            raise ValueError(f"aws_call_budget_seconds: the timeouts and attempts allow one AWS call "
                             f"{self.aws_call_worst_seconds:g} s")
        return self

    @model_validator(mode="after")
    def _secret_tokens_within_signing_limit(self) -> "Settings":
        if self.secret_server_token_lifetime_seconds > self.max_token_lifetime_seconds:
            raise ValueError("secret_server_token_lifetime_seconds: must not exceed max_token_lifetime_seconds")
        return self

    @model_validator(mode="after")
    def _stage_rules(self) -> "Settings":
        issuers = [i.issuer for i in self.trusted_issuers]
        if len(issuers) != len(set(issuers)):
            raise ValueError("trusted_issuers: each issuer may appear once")
        prefixes = [i.user_id_prefix for i in self.trusted_issuers]
        if len(prefixes) != len(set(prefixes)):
            raise ValueError("trusted_issuers: each issuer needs its own user_id_prefix")
        if self.public_base_url in (i.issuer.rstrip("/") for i in self.trusted_issuers):
            # Our own minted tokens must never be accepted where an IdP token is expected.
            raise ValueError("trusted_issuers: our own issuer (public_base_url) cannot be trusted")
        if self.stage in ("dev", "prod"):
            local = [i.issuer for i in self.trusted_issuers if i.is_loopback]
            if local:
                # The dev IdP hands out tokens for anybody who knows a user name.
                raise ValueError(f"trusted_issuers: loopback issuer {local[0]} is refused in stage {self.stage}")
            if urlsplit(self.public_base_url).scheme != "https":
                raise ValueError(f"public_base_url: must be https in stage {self.stage}")
        return self

    @model_validator(mode="after")
    def _token_service_rules(self) -> "Settings":
        for name in ("s3_token_lifetime_seconds", "token_exchange_lifetime_seconds"):
            if getattr(self, name) > self.max_token_lifetime_seconds:
                # POP signing keys are retired on the assumption that no token outlives this bound.
                raise ValueError(f"{name}: must not exceed max_token_lifetime_seconds")
        if self.sts_audience in self.token_exchange_audiences:
            # Vault-scoped STS tokens come only from s3-token: membership checked, vault tag set.
            raise ValueError("token_exchange_audiences: the STS audience cannot be obtained by token exchange")
        if any(not audience or len(audience) > 255 for audience in self.token_exchange_audiences):
            raise ValueError("token_exchange_audiences: each audience must be 1-255 characters")
        return self

    @model_validator(mode="after")
    def _scim_names_one_issuer(self) -> "Settings":
        if self.scim_issuer is not None and self.issuer(self.scim_issuer) is None:
            raise ValueError("scim_issuer: must be one of trusted_issuers")
        if self.scim_token_sha256 and self.scim_issuer is None and len(self.trusted_issuers) != 1:
            raise ValueError("scim_issuer: required unless exactly one issuer is trusted (SCIM provisions its users)")
        return self

    @property
    def scim_trusted_issuer(self) -> TrustedIssuer | None:
        """The issuer whose users SCIM provisions: ``scim_issuer``, else the only trusted one."""
        if self.scim_issuer is not None:
            return self.issuer(self.scim_issuer)
        return self.trusted_issuers[0] if len(self.trusted_issuers) == 1 else None

    def issuer(self, iss: str) -> TrustedIssuer | None:
        for candidate in self.trusted_issuers:
            if candidate.issuer == iss:
                return candidate
        return None


def _is_structured(annotation: Any) -> bool:
    """Lists, dicts and models come as JSON; everything else as the text pydantic's lax mode reads."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_structured(arg) for arg in typing.get_args(annotation))
    return origin in (list, dict) or (isinstance(annotation, type) and issubclass(annotation, BaseModel))


def environment(model: type[BaseModel], environ: Mapping[str, str]) -> dict[str, Any]:
    """The ``KATTA_`` variables naming a field of ``model``, structured ones parsed from JSON."""
    wanted = {ENV_PREFIX + name.upper(): name for name in model.model_fields}
    values: dict[str, Any] = {}
    for variable, text in environ.items():
        name = wanted.get(variable.upper())
        if name is None:
            continue
        if _is_structured(model.model_fields[name].annotation):
            try:
                values[name] = json.loads(text)
            except ValueError:
                raise SettingsError(f"invalid settings: {ENV_PREFIX}{name.upper()} is not valid JSON") from None
        else:
            values[name] = text
    return values


def describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "settings"
        lines.append(f"KATTA_{field.split('.')[0].upper()} ({field}): {item['msg']}")
    return "invalid settings: " + "; ".join(lines)


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError(describe(error)) from None
