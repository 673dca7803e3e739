"""``POST /oauth2/token``: RFC 8693 token exchange for backends.

A token of a trusted IdP (verified exactly as a bearer token of the API) is
exchanged for one of ours with a narrower audience and scope:

- the target (``audience`` / ``resource``) must be named and be one of the
  configured ``token_exchange_audiences`` (never the STS audience: vault
  tokens come only from s3-token);
- the scope may only shrink: every requested scope value must be in the
  subject token's ``scope``;
- the new token never outlives the subject token.

Our own tokens are never subject tokens: their issuer is not trusted (the
settings refuse to trust ``public_base_url``), and they are turned away by
issuer before any verification. Errors use RFC 6749 §5.2 codes. A subject
token that fails verification is ``invalid_grant`` (RFC 6749's code for a
grant that is "invalid, expired, revoked"), which lets a client tell "get a
fresh IdP token" from "fix the request" (RFC 8693 §2.2.2 would fold both into
``invalid_request``).
"""
from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

from chalicelib import errors
from chalicelib.audit import catalogue
from chalicelib.auth import claims as claim_paths
from chalicelib.auth.bearer import read_token
from chalicelib.crypto import jose
from chalicelib.oauth import (GRANT_TOKEN_EXCHANGE, INVALID_GRANT, INVALID_SCOPE, INVALID_TARGET,
                              TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT, UNSUPPORTED_GRANT_TYPE, FormRules, OAuthError,
                              invalid_request, read_form)
from chalicelib.tokens import names

if TYPE_CHECKING:
    from chalicelib.audit import AuditLog
    from chalicelib.auth.accounts import AccountService
    from chalicelib.auth.bearer import BearerVerifier
    from chalicelib.crypto.pop import PopKeys
    from chalicelib.settings import Settings

SUBJECT_TOKEN_TYPES = frozenset({TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT})
# audience and resource may be repeated (RFC 8693 §2.1), and parameters we do not know are ignored.
_SINGLE = frozenset({"grant_type", "subject_token", "subject_token_type", "requested_token_type", "scope",
                     "actor_token", "actor_token_type"})
_MAX_TARGETS = 10
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


@dataclass(frozen=True)
class ExchangeRequest:
    subject_token: str
    subject_token_type: str
    requested_token_type: str
    targets: tuple[str, ...]
    scope: frozenset[str] | None


def parse(content_type: str | None, raw: bytes | None, settings: Settings) -> ExchangeRequest:
    """The exchange parameters of a form-encoded body; OAuthError says what is wrong."""
    form = read_form(content_type, raw, FormRules(max_bytes=settings.max_body_bytes, encoding="utf-8",
                                                  single=_SINGLE))
    grant_type = form.get("grant_type")
    if not grant_type:
        raise invalid_request("grant_type is required")
    if grant_type != GRANT_TOKEN_EXCHANGE:
        raise OAuthError(UNSUPPORTED_GRANT_TYPE, f"only {GRANT_TOKEN_EXCHANGE} is supported")
    if "actor_token" in form or "actor_token_type" in form:
        raise invalid_request("delegation (actor_token) is not supported")
    subject_token = form.get("subject_token")
    if not subject_token:
        raise invalid_request("subject_token is required")
    subject_type = form.get("subject_token_type")
    if not subject_type:
        raise invalid_request("subject_token_type is required")
    if subject_type not in SUBJECT_TOKEN_TYPES:
        raise invalid_request("subject_token_type must be an access_token or jwt token type")
    requested = form.get("requested_token_type") or TOKEN_TYPE_ACCESS_TOKEN
    if requested not in SUBJECT_TOKEN_TYPES:
        raise invalid_request("requested_token_type must be the access_token or jwt token type")
    return ExchangeRequest(subject_token, subject_type, requested,
                           _targets(form.all("audience"), form.all("resource"), settings.token_exchange_audiences),
                           _scope(form.get("scope")))


def _targets(audiences: list[str], resources: list[str], allowed: list[str]) -> tuple[str, ...]:
    for resource in resources:
        parts = urlsplit(resource)
        if not parts.scheme or not parts.netloc or parts.fragment:
            raise OAuthError(INVALID_TARGET, "resource must be an absolute URI without a fragment (RFC 8707)")
    targets = tuple(dict.fromkeys(audiences + resources))
    if not targets:
        raise OAuthError(INVALID_TARGET, "name the audience or resource the token is for")
    if len(targets) > _MAX_TARGETS:
        raise OAuthError(INVALID_TARGET, f"at most {_MAX_TARGETS} audiences and resources")
    refused = [t for t in targets if t not in set(allowed)]
    if refused:
        raise OAuthError(INVALID_TARGET, f"tokens are not issued for {refused[0][:200]!r}")
    return targets


def _scope(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    tokens = value.split(" ")
    if not all(_SCOPE_TOKEN.fullmatch(t) for t in tokens):
        raise OAuthError(INVALID_SCOPE, "scope must be space-separated scope tokens (RFC 6749 §3.3)")
    return frozenset(tokens)


class TokenExchange:
    def __init__(self, verifier: BearerVerifier, accounts: AccountService, pop: PopKeys, audit_log: AuditLog,
                 settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self._verifier = verifier
        self._accounts = accounts
        self._pop = pop
        self._audit = audit_log
        self._settings = settings
        self._clock = clock

    def exchange(self, request: ExchangeRequest) -> dict[str, Any]:
        """The token response for ``request``; OAuthError if the subject token does not allow it."""
        settings = self._settings
        if _unverified_issuer(request.subject_token) == settings.public_base_url:
            raise OAuthError(INVALID_GRANT, "tokens issued by this service cannot be exchanged")
        try:
            if request.subject_token.count(".") != 2:
                # An opaque token names no audience and no expiry: nothing to narrow, nothing to bound.
                raise errors.Unauthorized("the subject token must be a JWT")
            verified = self._verifier.verify(read_token(request.subject_token))
            principal = self._accounts.resolve(verified)
        except (errors.Unauthorized, errors.Forbidden) as refused:
            raise OAuthError(INVALID_GRANT, f"subject_token: {refused.detail}") from None
        granted = _scope_of(verified)
        scope = granted if request.scope is None else request.scope
        wider = sorted(scope - granted)
        if wider:
            raise OAuthError(INVALID_SCOPE, f"scope {wider[0][:100]!r} exceeds the subject token's scope")
        now = int(self._clock())
        exp = min(now + settings.token_exchange_lifetime_seconds, int(verified.claims["exp"]))
        if exp <= now:
            raise OAuthError(INVALID_GRANT, "subject_token: the token has expired")
        claims: dict[str, Any] = {
            "iss": settings.public_base_url, "sub": principal.user_id,
            "aud": request.targets[0] if len(request.targets) == 1 else list(request.targets),
            "iat": now, "exp": exp, "jti": str(uuid.uuid4()), "client_id": _client_id(verified),
        }
        if scope:
            claims["scope"] = " ".join(sorted(scope))
        token = self._pop.sign_jwt(claims, header_overrides={"typ": names.ACCESS_TOKEN_TYP})
        self._audit.write(catalogue.TOKEN_EXCHANGE, issuedTo=principal.user_id, audience=list(request.targets),
                          jti=claims["jti"], expiresAt=exp, clientId=claims["client_id"])
        answer: dict[str, Any] = {"access_token": token, "issued_token_type": request.requested_token_type,
                                  "token_type": "Bearer", "expires_in": exp - now}
        if scope:
            answer["scope"] = claims["scope"]
        return answer


def _unverified_issuer(token: str) -> str | None:
    """Only to turn our own tokens away early; nothing else trusts this value."""
    segments = token.split(".")
    if len(segments) != 3:
        return None
    try:
        payload = jose.decode_segment(segments[1], "the payload")
    except ValueError:
        return None
    iss = payload.get("iss")
    return iss.rstrip("/") if isinstance(iss, str) else None


def _scope_of(verified) -> frozenset[str]:
    """The subject token's scopes: one space-separated string (RFC 8693, Entra's scp) or a list (Okta's scp)."""
    found = claim_paths.strings(claim_paths.value(verified.claims, verified.issuer.scope_claim))
    return frozenset(scope for value in found for scope in value.split())


def _client_id(verified) -> str:
    for path in (verified.issuer.authorized_party_claim, "client_id", "azp"):
        found = claim_paths.value(verified.claims, path)
        if isinstance(found, str) and found:
            return found
    return verified.issuer.client_id
