"""The whole Katta flow through the API, as two desktop clients and an outsider would drive it."""
from __future__ import annotations

import base64
import json
import os

import pytest
from joserfc import jwe
from joserfc.jwk import ECKey

from tests.support.katta_api import Actor, body
from tests.support.katta_keys import new_vault_id, vault_dto


@pytest.fixture
def alice(client, issuer):
    return Actor(client, issuer, "alice").sign_in()


@pytest.fixture
def bob(client, issuer):
    return Actor(client, issuer, "bob", roles=("user",)).sign_in()


@pytest.fixture
def carol(client, issuer):
    return Actor(client, issuer, "carol", roles=("user",)).sign_in()


def test_share_a_vault_and_archive_it(alice, bob, carol):
    alice.set_up_keys()
    bob.set_up_keys()
    carol.set_up_keys()
    alice.register_device()
    vault_id = new_vault_id()
    vault_key = os.urandom(32)
    created = alice.call("PUT", f"/api/vaults/{vault_id}", vault_dto(vault_id))
    assert created.status_code == 201 and body(created)["id"] == vault_id
    assert alice.call("POST", f"/api/vaults/{vault_id}/access-tokens",
                      {alice.id: alice.keys.access_token(vault_key)}).status_code == 200

    # Alice adds Bob; he now awaits a grant.
    assert alice.call("PUT", f"/api/vaults/{vault_id}/users/{bob.id}").status_code == 201
    assert [m["id"] for m in body(alice.get(f"/api/vaults/{vault_id}/users-requiring-access-grant"))] == [bob.id]
    assert body(alice.get("/api/vaults/users-requiring-access-grant?wait=0")) == {vault_id: [bob.id]}
    before = bob.get(f"/api/vaults/{vault_id}/access-token")
    assert before.status_code == 403

    assert alice.call("POST", f"/api/vaults/{vault_id}/access-tokens",
                      {bob.id: bob.keys.access_token(vault_key)}).status_code == 200
    response = bob.get(f"/api/vaults/{vault_id}/access-token")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain"
    plaintext = jwe.decrypt_compact(response.body, ECKey.import_key(bob.keys.ecdh)).plaintext
    assert base64.b64decode(json.loads(plaintext)["key"]) == vault_key
    assert body(alice.get(f"/api/vaults/{vault_id}/users-requiring-access-grant")) == []

    # Carol is no member: refused, and the refusal is audited.
    assert carol.get(f"/api/vaults/{vault_id}/access-token").status_code == 403
    assert carol.get(f"/api/vaults/{vault_id}").status_code == 403
    assert [v["id"] for v in body(bob.get("/api/vaults/accessible"))] == [vault_id]
    assert body(carol.get("/api/vaults/accessible")) == []

    # Archived: 410 unless the client insists.
    archived = alice.call("PUT", f"/api/vaults/{vault_id}/archived", "true", content_type="text/plain")
    assert archived.status_code == 200 and body(archived)["archived"] is True
    assert bob.get(f"/api/vaults/{vault_id}/access-token").status_code == 410
    assert bob.get(f"/api/vaults/{vault_id}/access-token?evenIfArchived=true").status_code == 200
