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

import base64
import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from chalicelib import audit, deps, errors
from chalicelib.secrets.oauth import INVALID_GRANT, INVALID_REQUEST, INVALID_TARGET, UNSUPPORTED_GRANT_TYPE, OAuthError
from chalicelib.settings import get_settings
from chalicelib.tokens import names

EVENT = "TOKEN_EXCHANGE"
SUBJECT_TOKEN_TYPES = frozenset({names.TOKEN_TYPE_ACCESS_TOKEN, names.TOKEN_TYPE_JWT})
_SINGLE = ("grant_type", "subject_token", "subject_token_type", "requested_token_type", "scope",
           "actor_token", "actor_token_type")
_MAX_FIELDS = 32
_MAX_TARGETS = 10
INVALID_SCOPE = "invalid_scope"  # RFC 6749 §5.2
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def invalid_request(description: str) -> OAuthError:
    return OAuthError(INVALID_REQUEST, description)


@dataclass(frozen=True)
class ExchangeRequest:
    subject_token: str
    subject_token_type: str
    requested_token_type: str
    targets: tuple[str, ...]
    scope: frozenset[str] | None


def parse(raw: bytes, content_type: str) -> ExchangeRequest:
    """The exchange parameters of a form-encoded body; OAuthError says what is wrong."""
    if content_type != "application/x-www-form-urlencoded":
        raise invalid_request("the body must be application/x-www-form-urlencoded (RFC 6749 §4.1.3)")
    if len(raw) > get_settings().max_body_bytes:
        raise invalid_request("the body is too large")
    try:
        form = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw),
                        max_num_fields=_MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise invalid_request("the body is not a valid form encoding") from None
    for name in _SINGLE:
        if len(form.get(name, [])) > 1:
            raise invalid_request(f"{name} must not be repeated")
    single = {name: form[name][0] for name in _SINGLE if name in form}
    grant_type = single.get("grant_type")
    if not grant_type:
        raise invalid_request("grant_type is required")
    if grant_type != names.GRANT_TOKEN_EXCHANGE:
        raise OAuthError(UNSUPPORTED_GRANT_TYPE, f"only {names.GRANT_TOKEN_EXCHANGE} is supported")
    if "actor_token" in single or "actor_token_type" in single:
        raise invalid_request("delegation (actor_token) is not supported")
    if not single.get("subject_token"):
        raise invalid_request("subject_token is required")
    subject_type = single.get("subject_token_type")
    if not subject_type:
        raise invalid_request("subject_token_type is required")
    if subject_type not in SUBJECT_TOKEN_TYPES:
        raise invalid_request("subject_token_type must be an access_token or jwt token type")
    requested = single.get("requested_token_type") or names.TOKEN_TYPE_ACCESS_TOKEN
    if requested not in SUBJECT_TOKEN_TYPES:
        raise invalid_request("requested_token_type must be the access_token or jwt token type")
    return ExchangeRequest(single["subject_token"], subject_type, requested,
                           _targets(form.get("audience", []), form.get("resource", [])),
                           _scope(single.get("scope")))


def _targets(audiences: list[str], resources: list[str]) -> tuple[str, ...]:
    for resource in resources:
        parts = urlsplit(resource)
        if not parts.scheme or not parts.netloc or parts.fragment:
            raise OAuthError(INVALID_TARGET, "resource must be an absolute URI without a fragment (RFC 8707)")
    targets = tuple(dict.fromkeys(audiences + resources))
    if not targets:
        raise OAuthError(INVALID_TARGET, "name the audience or resource the token is for")
    if len(targets) > _MAX_TARGETS:
        raise OAuthError(INVALID_TARGET, f"at most {_MAX_TARGETS} audiences and resources")
    allowed = set(get_settings().token_exchange_audiences)
    refused = [t for t in targets if t not in allowed]
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


def exchange(request: ExchangeRequest, *, clock: Callable[[], float] = time.time) -> dict[str, Any]:
    settings = get_settings()
    if _unverified_issuer(request.subject_token) == settings.public_base_url:
        raise OAuthError(INVALID_GRANT, "tokens issued by this service cannot be exchanged")
    try:
        if request.subject_token.count(".") != 2:
            # An opaque token names no audience and no expiry: nothing to narrow, nothing to bound.
            raise errors.Unauthorized("the subject token must be a JWT")
        verified = deps.bearer_verifier().verify(request.subject_token)
        principal = deps.accounts().resolve(verified)
    except (errors.Unauthorized, errors.Forbidden) as refused:
        raise OAuthError(INVALID_GRANT, f"subject_token: {refused.detail}") from None
    granted = _scope_of(verified.claims)
    scope = granted if request.scope is None else request.scope
    wider = sorted(scope - granted)
    if wider:
        raise OAuthError(INVALID_SCOPE, f"scope {wider[0][:100]!r} exceeds the subject token's scope")
    now = int(clock())
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
    token = deps.pop_keys().sign_jwt(claims, header_overrides={"typ": names.ACCESS_TOKEN_TYP})
    deps.table().put(audit.event_item(EVENT, {
        "issuedTo": principal.user_id, "audience": list(request.targets), "jti": claims["jti"],
        "expiresAt": exp, "clientId": claims["client_id"]}))
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
        payload = json.loads(base64.urlsafe_b64decode(segments[1] + "=" * (-len(segments[1]) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    iss = payload.get("iss") if isinstance(payload, dict) else None
    return iss.rstrip("/") if isinstance(iss, str) else None


def _scope_of(claims: dict[str, Any]) -> frozenset[str]:
    value = claims.get("scope")
    return frozenset(value.split()) if isinstance(value, str) else frozenset()


def _client_id(verified) -> str:
    for claim in ("client_id", "azp"):
        if isinstance(verified.claims.get(claim), str) and verified.claims[claim]:
            return verified.claims[claim]
    return verified.issuer.client_id
