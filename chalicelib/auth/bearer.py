"""Verification of OIDC bearer tokens from the trusted issuers (architecture §3).

Every decision is made from settings, never from the token: the issuer must be
configured exactly, and ``signed_jwt`` applies that issuer's algorithm
allow-list, key source and claim checks (shared with the secret server).
"""
from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from chalicelib.auth import signed_jwt
from chalicelib.errors import Unauthorized
from chalicelib.settings import entra_v2_issuer

if TYPE_CHECKING:
    from chalicelib.auth.jwks import JwksCache
    from chalicelib.settings import Settings, TrustedIssuer

MAX_TOKEN_BYTES = signed_jwt.MAX_TOKEN_BYTES
# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_OPAQUE_CACHE_SIZE = 1024
# Verified JWTs, so that a client's token is verified once rather than on each of its requests (the
# signature check and joserfc's parsing were three quarters of a warm key retrieval's CPU).
VERIFIED_CACHE_SIZE = 4096


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
        # digest → (trusted until, the token, the issuer's key set it was verified with)
        self._verified: dict[str, tuple[float, VerifiedToken, Any]] = {}

    def verify(self, token: str) -> VerifiedToken:
        if len(token) > MAX_TOKEN_BYTES:
            raise Unauthorized("the token is too large")
        if len(token.split(".")) == 1:
            return self._verify_opaque(token)
        # Keyed by a hash: the token itself is a credential. Any other byte is another token.
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = self._clock()
        cached = self._verified.get(digest)
        # A refreshed key set (a rollover, or its cache lifetime over) is verified against again.
        if cached and cached[0] > now and self._jwks.current(cached[1].issuer) is cached[2]:
            return cached[1]
        verified = self._verify_jwt(token, now)
        until = min(verified.claims["exp"] + self._settings.clock_leeway_seconds,
                    now + self._settings.jwks_cache_seconds)
        entry = (until, verified, self._jwks.current(verified.issuer))
        remember(self._verified, self._opaque_lock, digest, entry, now, VERIFIED_CACHE_SIZE)
        return verified

    def _verify_jwt(self, token: str, now: float) -> VerifiedToken:
        header, unverified = signed_jwt.decode_unverified(token)
        iss = unverified.get("iss")
        issuer = self._settings.issuer(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise Unauthorized(self._untrusted(iss))
        claims = signed_jwt.verify(token, header, issuer, lambda kid: self._jwks.key_for(issuer, kid),
                                   now=now, leeway=self._settings.clock_leeway_seconds)
        return VerifiedToken(issuer, claims)

    def _untrusted(self, iss: Any) -> str:
        """Why a token's issuer is refused: a v1 token of a trusted Entra ID tenant says how to mend it."""
        v2 = entra_v2_issuer(iss) if isinstance(iss, str) else None
        if v2 and self._settings.issuer(v2):
            return ("the token is an Entra ID v1 access token; this service trusts the tenant's v2 issuer: "
                    "set accessTokenAcceptedVersion to 2 in the app registration's manifest")
        return "the token's issuer is not trusted"

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
        # chalicelib.fetch brings urllib.request: paid by the first opaque token, not at import.
        from chalicelib.fetch import FetchError

        try:
            claims = self._fetch_userinfo(issuer.userinfo_endpoint, token)
        except FetchError:
            raise Unauthorized("the identity provider did not accept the token") from None
        if not isinstance(claims, dict) or not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise Unauthorized("the identity provider did not accept the token")
        expires = now + self._settings.opaque_token_cache_seconds
        if signed_jwt.is_numeric_date(claims.get("exp")):
            expires = min(expires, claims["exp"])
        result = VerifiedToken(issuer, {**claims, "iss": issuer.issuer})
        remember(self._opaque, self._opaque_lock, digest, (expires, result), now, _OPAQUE_CACHE_SIZE)
        return result

    def _default_userinfo(self, url: str, token: str) -> Any:
        from chalicelib.fetch import fetch_json

        return fetch_json(url, timeout=self._settings.http_timeout_seconds,
                          max_bytes=self._settings.http_max_response_bytes,
                          headers={"Authorization": f"Bearer {token}"})


def remember(cache: dict[str, Any], lock: threading.Lock, digest: str, entry: tuple[Any, ...], now: float,
              size: int) -> None:
    """Adds ``entry`` (its first member: until when it holds) to a cache keyed by a token's digest; a
    full cache first drops what expired, and everything if nothing had."""
    with lock:
        if len(cache) >= size:
            live = {k: v for k, v in cache.items() if v[0] > now}
            cache.clear()
            if len(live) < size:
                cache.update(live)
        cache[digest] = entry


def parse_authorization(header: str | None) -> str | None:
    """The token of an ``Authorization`` header (RFC 6750 §2.1: ``Bearer`` SP b64token), None if there is none.

    The scheme is case-insensitive (RFC 9110 §11.1); what follows the one space must be the
    token alone, exactly as ``read_token`` takes it from a form.
    """
    if not header:
        return None
    scheme, space, token = header.partition(" ")
    if scheme.lower() != "bearer" or not space:
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return read_token(token)


def read_token(token: str) -> str:
    """``token`` if it is one b64token (RFC 6750 §2.1) with nothing around it; Unauthorized otherwise.

    The one syntax of a token on every surface (the API's and rendezvous' header, the subject
    token of /oauth2/token, the secret server's subject token and client assertion): a token one
    surface takes is never refused by another for its spelling.
    """
    if not _B64TOKEN.fullmatch(token):
        raise Unauthorized("the token must be a single b64token (RFC 6750 §2.1), with no spaces around it")
    return token
