"""A test-only OIDC issuer on loopback: a JWKS over HTTP and vault-scoped tokens.

Stands in for our token service (built elsewhere) so that SeaweedFS's STS can
be tested against a real JWKS fetch. Tokens are shaped as architecture §7 says.
"""
from __future__ import annotations

import time
import uuid
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey

from devstack.provider_tokens import DocumentServer

AWS_TAGS = "https://aws.amazon.com/tags"
FLAT_PRINCIPAL_TAGS = "https://aws.amazon.com/tags/principal_tags"
JWKS_PATH = "/.well-known/jwks.json"


def new_signing_key(kid: str | None = None) -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid or uuid.uuid4().hex, "alg": "ES256", "use": "sig"})


class OidcTestIssuer:
    """Serves ``<url>/.well-known/jwks.json`` from a thread; counts the fetches."""

    def __init__(self, audience: str) -> None:
        self.audience = audience
        self.keys: list[ECKey] = [new_signing_key()]
        self._server = DocumentServer(lambda path: self.jwks() if path == JWKS_PATH else None)

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def fetches(self) -> int:
        return self._server.fetches

    @property
    def jwks_uri(self) -> str:
        return self.url + JWKS_PATH

    @property
    def key(self) -> ECKey:
        return self.keys[0]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.as_dict(private=False) for key in self.keys]}

    def start(self) -> OidcTestIssuer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def claims(self, vault_id: str, *, tag: str | None = None, lifetime: int = 300, **overrides: Any) -> dict[str, Any]:
        """architecture §7 claims for ``vault_id``; ``tag`` puts another value in the Vault tag. None drops a claim."""
        now = int(time.time())
        tag = vault_id if tag is None else tag
        claims: dict[str, Any] = {
            "iss": self.url, "sub": str(uuid.uuid4()), "aud": self.audience,
            "exp": now + lifetime, "iat": now, "scope": vault_id,
            AWS_TAGS: {"principal_tags": {"Vault": [tag]}, "transitive_tag_keys": ["Vault"]},
            FLAT_PRINCIPAL_TAGS: {"Vault": [tag]},
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def token(self, vault_id: str, *, key: ECKey | None = None, **claims: Any) -> str:
        signing_key = key or self.key
        header = {"alg": "ES256", "kid": signing_key.kid, "typ": "JWT"}
        return jwt.encode(header, self.claims(vault_id, **claims), signing_key, algorithms=["ES256"])
