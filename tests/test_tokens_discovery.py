"""Our issuer's discovery document: what AWS IAM needs to register us as an OIDC provider."""
from __future__ import annotations

import json

from tests.support.storage_world import world  # noqa: F401 — fixture

BASE = "https://katta.test"


def test_discovery_names_our_issuer_keys_and_token_endpoint(world):
    response = world.client.http.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    document = json.loads(response.body)
    assert document["issuer"] == BASE
    assert document["jwks_uri"] == BASE + "/.well-known/jwks.json"
    assert document["token_endpoint"] == BASE + "/oauth2/token"
    assert document["grant_types_supported"] == ["urn:ietf:params:oauth:grant-type:token-exchange"]
    assert document["response_types_supported"] == ["id_token"]
    assert document["subject_types_supported"] == ["public"]
    assert document["id_token_signing_alg_values_supported"] == ["ES256"]
    for claim in ("iss", "sub", "aud", "exp", "iat", "https://aws.amazon.com/tags",
                  "https://aws.amazon.com/tags/principal_tags"):
        assert claim in document["claims_supported"]


def test_discovery_algorithms_match_the_published_signing_keys(world):
    document = json.loads(world.client.http.get("/.well-known/openid-configuration").body)
    published = {key.alg for key in world.jwks().keys if key.get("use") == "sig"}
    assert published and published <= set(document["id_token_signing_alg_values_supported"])


def test_discovery_needs_no_authentication(world):
    response = world.client.http.get("/.well-known/openid-configuration", headers={"Authorization": "Bearer junk"})
    assert response.status_code == 200
