"""Verification of OIDC bearer tokens from the trusted issuers (DESIGN §3).

Every decision is made from settings, never from the token: the issuer must be
configured exactly, the algorithm must be on that issuer's asymmetric
allow-list, and the key must come from that issuer's JWKS — ``jku``, ``x5u``,
``jwk`` and ``x5c`` headers are never looked at.
"""
from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from joserfc import jws
from joserfc.errors import JoseError

from chalicelib.auth.jwks import JwksCache, JwksUnavailable
from chalicelib.errors import ServiceUnavailable, Unauthorized
from chalicelib.http import FetchError, fetch_json
from chalicelib.settings import Settings, TrustedIssuer

MAX_TOKEN_BYTES = 8192
MAX_KID_LENGTH = 256
_OPAQUE_CACHE_SIZE = 1024
# Keycloak marks access tokens "Bearer"; refresh and ID tokens must not open the API.
_ACCEPTED_TYP_CLAIMS = frozenset({"Bearer"})
_ACCEPTED_TYP_HEADERS = frozenset({"JWT", "at+jwt", "application/at+jwt"})


@dataclass(frozen=True)
class VerifiedToken:
    issuer: TrustedIssuer
    claims: dict[str, Any]


class BearerVerifier:
    def __init__(self, settings: Settings, jwks: JwksCache, *,
                 fetch_userinfo: Callable[[str, str], Any] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._jwks = jwks
        self._clock = clock
        self._fetch_userinfo = fetch_userinfo or self._default_userinfo
        self._opaque: dict[str, tuple[float, VerifiedToken]] = {}
        self._opaque_lock = threading.Lock()

    def verify(self, token: str) -> VerifiedToken:
        if len(token) > MAX_TOKEN_BYTES:
            raise Unauthorized("the token is too large")
        segments = token.split(".")
        if len(segments) == 1:
            return self._verify_opaque(token)
        if len(segments) != 3:
            raise Unauthorized("the token is not a compact JWS")
        header = _decode_segment(segments[0], "header")
        unverified = _decode_segment(segments[1], "payload")
        issuer = self._settings.issuer(unverified.get("iss")) if isinstance(unverified.get("iss"), str) else None
        if issuer is None:
            raise Unauthorized("the token's issuer is not trusted")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in issuer.algorithms:
            raise Unauthorized("the token's algorithm is not allowed for its issuer")
        if "crit" in header:
            raise Unauthorized("the token has critical header parameters we do not understand")
        typ = header.get("typ")
        if typ is not None and typ not in _ACCEPTED_TYP_HEADERS:
            raise Unauthorized("the token's type is not an access token")
        kid = header.get("kid")
        if kid is not None and (not isinstance(kid, str) or len(kid) > MAX_KID_LENGTH):
            raise Unauthorized("the token's key id is malformed")
        try:
            key = self._jwks.key_for(issuer, kid)
        except JwksUnavailable:
            raise ServiceUnavailable("the identity provider's keys are unavailable, retry later") from None
        if key is None:
            raise Unauthorized("the token was not signed by a key of its issuer")
        try:
            verified = jws.deserialize_compact(token, key, algorithms=[alg])
        except (JoseError, ValueError, TypeError):
            raise Unauthorized("the token's signature is invalid") from None
        claims = json.loads(verified.payload)
        self._check_claims(issuer, claims)
        return VerifiedToken(issuer, claims)

    def _check_claims(self, issuer: TrustedIssuer, claims: dict[str, Any]) -> None:
        now = self._clock()
        leeway = self._settings.clock_leeway_seconds
        exp = claims.get("exp")
        if not _is_number(exp):
            raise Unauthorized("the token has no expiry")
        if now > exp + leeway:
            raise Unauthorized("the token has expired")
        nbf = claims.get("nbf")
        if nbf is not None and (not _is_number(nbf) or nbf > now + leeway):
            raise Unauthorized("the token is not valid yet")
        iat = claims.get("iat")
        if iat is not None and (not _is_number(iat) or iat > now + leeway):
            raise Unauthorized("the token was issued in the future")
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience
        if not isinstance(audiences, list) or issuer.audience not in audiences:
            raise Unauthorized("the token is not meant for this service")
        if "typ" in claims and claims["typ"] not in _ACCEPTED_TYP_CLAIMS:
            raise Unauthorized("the token is not an access token")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise Unauthorized("the token has no subject")

    def _verify_opaque(self, token: str) -> VerifiedToken:
        issuer = next((i for i in self._settings.trusted_issuers if i.userinfo_endpoint), None)
        if issuer is None:
            raise Unauthorized("the token is not a JWT")
        # The cache is keyed by a hash: the token itself is a credential.
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = self._clock()
        cached = self._opaque.get(digest)
        if cached and cached[0] > now:
            return cached[1]
        try:
            claims = self._fetch_userinfo(issuer.userinfo_endpoint, token)
        except FetchError:
            raise Unauthorized("the identity provider did not accept the token") from None
        if not isinstance(claims, dict) or not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise Unauthorized("the identity provider did not accept the token")
        expires = now + self._settings.opaque_token_cache_seconds
        if _is_number(claims.get("exp")):
            expires = min(expires, claims["exp"])
        result = VerifiedToken(issuer, {**claims, "iss": issuer.issuer})
        with self._opaque_lock:
            if len(self._opaque) >= _OPAQUE_CACHE_SIZE:
                self._opaque = {k: v for k, v in self._opaque.items() if v[0] > now}
                if len(self._opaque) >= _OPAQUE_CACHE_SIZE:
                    self._opaque.clear()
            self._opaque[digest] = (expires, result)
        return result

    def _default_userinfo(self, url: str, token: str) -> Any:
        return fetch_json(url, timeout=self._settings.http_timeout_seconds,
                          max_bytes=self._settings.http_max_response_bytes,
                          headers={"Authorization": f"Bearer {token}"})


def parse_authorization(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header, None if there is none."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def _decode_segment(segment: str, name: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Unauthorized(f"the token's {name} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise Unauthorized(f"the token's {name} is not a JSON object")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
