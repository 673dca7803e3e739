"""A test identity provider: keys, a JWKS and tokens with any claims we need."""
from __future__ import annotations

import time
import uuid
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

ISSUER = "https://idp.test/realms/katta"
AUDIENCE = "katta"


class TokenIssuer:
    def __init__(self, issuer: str = ISSUER, kid: str = "test-es256") -> None:
        self.issuer = issuer
        self.key = ECKey.generate_key("P-256", parameters={"kid": kid, "alg": "ES256", "use": "sig"})
        self.rsa = RSAKey.generate_key(2048, parameters={"kid": "test-rs256", "alg": "RS256", "use": "sig"})
        self.fetches: list[str] = []

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False), self.rsa.as_dict(private=False)]}

    def trust(self, patch) -> "TokenIssuer":
        """Makes the app verify bearer tokens against this issuer's keys (``patch``: a MonkeyPatch)."""
        from chalicelib import deps
        from chalicelib.auth.jwks import JwksCache
        from chalicelib.settings import get_settings

        cache = JwksCache(get_settings(), fetch=self.fetch)
        patch.setattr(deps, "jwks", lambda: cache)
        deps.bearer_verifier.cache_clear()
        return self

    def fetch(self, url: str) -> dict[str, Any]:
        """Stands in for the HTTP fetch of the JWKS; counts calls."""
        self.fetches.append(url)
        return self.jwks()

    def claims(self, username: str, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.issuer, "sub": str(uuid.uuid5(uuid.NAMESPACE_OID, username)), "aud": [AUDIENCE, "account"],
            "exp": now + 300, "iat": now, "typ": "Bearer", "azp": "katta-cli", "preferred_username": username,
            "name": username.capitalize(), "email": f"{username}@katta.test",
            "realm_access": {"roles": ["user", "create-vaults"]}, "groups": [],
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, username: str = "alice", *, header: dict[str, Any] | None = None, key=None,
              **overrides: Any) -> str:
        signing_key = key or self.key
        alg = "RS256" if isinstance(signing_key, RSAKey) else "ES256"
        jws_header = {"alg": alg, "kid": signing_key.kid, **(header or {})}
        return jwt.encode(jws_header, self.claims(username, **overrides), signing_key, algorithms=[jws_header["alg"]])
