"""The secret server's token-exchange request (RFC 8693 §2.1 with RFC 7523 client authentication)."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.oauth import (GRANT_TOKEN_EXCHANGE, INVALID_CLIENT, INVALID_REQUEST, INVALID_TARGET,
                              JWT_BEARER_ASSERTION, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT,
                              UNSUPPORTED_GRANT_TYPE, Form, FormRules, OAuthError, read_form)

SUBJECT_TOKEN_TYPES = frozenset({TOKEN_TYPE_JWT, TOKEN_TYPE_ACCESS_TOKEN})
# Stricter than /oauth2/token: every parameter once, each capped before any token in it is read.
RULES = FormRules(max_bytes=32 * 1024, max_parameter_chars=8192)


@dataclass(frozen=True)
class ExchangeRequest:
    subject_token: str
    audience: str
    client_assertion: str
    client_id: str | None


def parse_exchange(content_type: str | None, body: bytes | None) -> ExchangeRequest:
    """The request of a token-exchange POST; OAuthError says which parameter is wrong."""
    form = read_form(content_type, body, RULES)
    grant_type = _required(form, "grant_type")
    if grant_type != GRANT_TOKEN_EXCHANGE:
        raise OAuthError(UNSUPPORTED_GRANT_TYPE, f"only {GRANT_TOKEN_EXCHANGE} is supported")
    if form.get("client_assertion_type") != JWT_BEARER_ASSERTION or not form.get("client_assertion"):
        raise OAuthError(INVALID_CLIENT, "client authentication is required: client_assertion_type "
                                         f"{JWT_BEARER_ASSERTION} with a client_assertion (private_key_jwt)")
    if "client_secret" in form:
        raise OAuthError(INVALID_CLIENT, "client secrets are not accepted; authenticate with private_key_jwt")
    subject_token = _required(form, "subject_token")
    if _required(form, "subject_token_type") not in SUBJECT_TOKEN_TYPES:
        raise OAuthError(INVALID_REQUEST, "subject_token_type must be "
                                          f"{TOKEN_TYPE_JWT} or {TOKEN_TYPE_ACCESS_TOKEN}")
    requested = form.get("requested_token_type")
    if requested is not None and requested != TOKEN_TYPE_JWT:
        raise OAuthError(INVALID_REQUEST, f"requested_token_type: only {TOKEN_TYPE_JWT} can be issued")
    if "actor_token" in form or "actor_token_type" in form:
        raise OAuthError(INVALID_REQUEST, "delegation (actor_token) is not supported")
    if "resource" in form:
        raise OAuthError(INVALID_TARGET, "resource is not supported; name the resource server in audience")
    return ExchangeRequest(subject_token=subject_token, audience=_required(form, "audience"),
                           client_assertion=form.get("client_assertion"), client_id=form.get("client_id"))


def _required(form: Form, name: str) -> str:
    value = form.get(name)
    if not value:
        raise OAuthError(INVALID_REQUEST, f"parameter {name} is required")
    return value
