"""``private_key_jwt`` client authentication (RFC 7523 §2.2, §3) of registered resource servers.

The assertion is a JWS whose ``iss`` and ``sub`` are the client id, whose
``aud`` names our token endpoint, that expires within the configured maximum
lifetime and carries a ``jti``. It must verify with a ``sig`` key of the
client's registered JWKS — never with a key named by the assertion's own
header. The ``jti`` is spent by the caller, in the transaction that records
the outcome, so an assertion opens at most one exchange.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from chalicelib.auth import bearer, signed_jwt
from chalicelib.auth.jwks import JwksUnavailable
from chalicelib.errors import ServiceUnavailable, Unauthorized
from chalicelib.oauth import INVALID_CLIENT, OAuthError
from chalicelib.secrets import keysets
from chalicelib.secrets.keys import RegisteredKeys
from chalicelib.settings import ASYMMETRIC_ALGORITHMS

MAX_JTI_LENGTH = 256
MAX_CLIENT_ID_LENGTH = 128


@dataclass(frozen=True)
class Assertion:
    """A client assertion, decoded but not yet verified."""

    token: str
    header: dict[str, Any]
    claims: dict[str, Any]
    client_id: str

    @property
    def kid(self) -> str | None:
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None


@dataclass(frozen=True)
class AuthenticatedClient:
    client_id: str
    registration: dict[str, Any]
    keys: Any
    kid: str
    jti: str
    expires_at: int


def read_assertion(token: str, form_client_id: str | None) -> Assertion:
    """The assertion's client id, from the unverified claims (to look the client up)."""
    try:
        header, claims = signed_jwt.decode_unverified(bearer.read_token(token))
    except Unauthorized as error:
        raise OAuthError(INVALID_CLIENT, f"client_assertion: {error.detail.replace('the token', 'it')}") from None
    client_id = claims.get("iss")
    if not isinstance(client_id, str) or not 0 < len(client_id) <= MAX_CLIENT_ID_LENGTH:
        raise OAuthError(INVALID_CLIENT, "client_assertion: iss must be the client id")
    if claims.get("sub") != client_id:
        raise OAuthError(INVALID_CLIENT, "client_assertion: sub must equal iss (the client id)")
    if form_client_id is not None and form_client_id != client_id:
        raise OAuthError(INVALID_CLIENT, "client_id does not match the client assertion's issuer")
    return Assertion(token, header, claims, client_id)


def authenticate(assertion: Assertion, registration: dict[str, Any] | None, keys: RegisteredKeys, *,
                 token_endpoint: str, now: float, leeway: int, max_lifetime: int) -> AuthenticatedClient:
    """The verified client; OAuthError ``invalid_client`` saying what was wrong."""
    from joserfc.errors import JoseError

    if registration is None:
        raise OAuthError(INVALID_CLIENT, f"client {assertion.client_id!r} is not a registered resource server")
    alg = assertion.header.get("alg")
    if not isinstance(alg, str) or alg not in ASYMMETRIC_ALGORITHMS:
        raise OAuthError(INVALID_CLIENT, "client_assertion: the algorithm must be an asymmetric signature "
                                         f"({', '.join(sorted(ASYMMETRIC_ALGORITHMS))})")
    if "crit" in assertion.header:
        raise OAuthError(INVALID_CLIENT, "client_assertion: critical header parameters are not understood")
    kid = assertion.header.get("kid")
    if kid is not None and (not isinstance(kid, str) or not 0 < len(kid) <= keysets.MAX_KID_LENGTH):
        raise OAuthError(INVALID_CLIENT, "client_assertion: kid is malformed")
    try:
        key_set = keys.key_set(registration, kid)
    except JwksUnavailable:
        raise ServiceUnavailable("the resource server's keys are unavailable, retry later") from None
    key = keysets.signing_key(key_set, kid, alg)
    if key is None:
        raise OAuthError(INVALID_CLIENT, "client_assertion: not signed by a registered signing key "
                                         "of the client (unknown kid, or a key not meant for this alg)")
    try:
        valid = signed_jwt.signature_is_valid(assertion.token, assertion.header, key)
    except (JoseError, ValueError, TypeError):
        valid = False
    if not valid:
        raise OAuthError(INVALID_CLIENT, "client_assertion: the signature is invalid")
    claims = assertion.claims
    _check_lifetime(claims, now=now, leeway=leeway, max_lifetime=max_lifetime)
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or token_endpoint not in audiences:
        raise OAuthError(INVALID_CLIENT, f"client_assertion: aud must name the token endpoint {token_endpoint}")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise OAuthError(INVALID_CLIENT, f"client_assertion: jti must be a string of 1 to {MAX_JTI_LENGTH} characters")
    # Spent until strictly after the last moment the assertion is accepted (exp may be fractional).
    return AuthenticatedClient(assertion.client_id, registration, key_set, key.kid or "", jti,
                               math.ceil(claims["exp"]) + leeway + 1)


def _check_lifetime(claims: dict[str, Any], *, now: float, leeway: int, max_lifetime: int) -> None:
    exp = claims.get("exp")
    if not signed_jwt.is_numeric_date(exp):
        raise OAuthError(INVALID_CLIENT, "client_assertion: exp is required (a NumericDate)")
    if now > exp + leeway:
        raise OAuthError(INVALID_CLIENT, "client_assertion: it has expired")
    if exp > now + max_lifetime + leeway:
        raise OAuthError(INVALID_CLIENT, f"client_assertion: exp may lie at most {max_lifetime} s ahead")
    for claim in ("nbf", "iat"):
        if claim in claims and (not signed_jwt.is_numeric_date(claims[claim]) or claims[claim] > now + leeway):
            raise OAuthError(INVALID_CLIENT, f"client_assertion: {claim} lies in the future")


def describe(assertion: Assertion | None) -> dict[str, Any]:
    """Audit details of a (possibly unauthenticated) assertion: bounded, never the token."""
    if assertion is None:
        return {}
    details = {"clientId": assertion.client_id}
    if assertion.kid:
        details["assertionKid"] = assertion.kid[:keysets.MAX_KID_LENGTH]
    return details

