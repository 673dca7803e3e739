"""Actors, vaults and storage profiles for the token-service and storage tests (in-process, moto)."""
from __future__ import annotations

import json
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.katta_api import Actor, body
from tests.support.katta_keys import new_vault_id
from tests.support.kms import create_management_key

STS_PROFILE = {
    "name": "S3 via STS", "protocol": "S3STS", "storageClass": "STANDARD", "region": "us-east-1",
    "regions": ["us-east-1", "eu-central-1"], "bucketPrefix": "katta-",
    "stsRoleCreateBucketClient": "arn:aws:iam::123456789012:role/katta-create-bucket",
    "stsRoleCreateBucketHub": "arn:aws:iam::123456789012:role/katta-create-bucket",
    "stsRoleAccessBucketAssumeRoleWithWebIdentity": "arn:aws:iam::123456789012:role/katta-access-bucket",
    "stsSessionTag": "Vault",
}
STATIC_PROFILE = {"name": "Static S3", "protocol": "S3STATIC", "region": "us-east-1", "regions": ["us-east-1"],
                  "bucketPrefix": "static-"}


@pytest.fixture
def world(client, issuer):
    """The app with a management key (POP keys need it) and a few people."""
    create_management_key()
    return World(client, issuer)


class World:
    def __init__(self, client, issuer) -> None:
        self.client = client
        self.issuer = issuer
        self.alice = Actor(client, issuer, "alice").sign_in()
        self.bob = Actor(client, issuer, "bob", roles=("user",)).sign_in()
        self.admin = Actor(client, issuer, "root", roles=("user", "admin")).sign_in()

    def vault(self, owner: Actor | None = None) -> str:
        vault_id = new_vault_id()
        (owner or self.alice).create_vault(vault_id)
        return vault_id

    def profile(self, **fields: Any) -> dict[str, Any]:
        response = self.admin.call("POST", "/api/storageprofile", {**STS_PROFILE, **fields})
        assert response.status_code == 201, response.body
        return body(response)

    def jwks(self) -> KeySet:
        response = self.client.http.get("/.well-known/jwks.json")
        assert response.status_code == 200
        return KeySet.import_key_set(json.loads(response.body))

    def verify(self, token: str):
        """The token's header and claims, verified against our published JWKS."""
        return jwt.decode(token, self.jwks(), algorithms=["ES256", "ES384", "ES512", "RS256"])

    def audit_events(self, event_type: str) -> list[dict[str, Any]]:
        import datetime as dt

        from chalicelib import audit, deps
        now = dt.datetime.now(dt.timezone.utc)
        return deps.audit_log().events(now - dt.timedelta(days=1), now + dt.timedelta(days=1), log=audit.SERVICE,
                                       page_size=100,
                                       types=frozenset({event_type}))
