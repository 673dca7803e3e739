"""User ids and group ids share the members' namespace: a membership counts only for its own kind."""
from __future__ import annotations

import uuid

import pytest

from tests.support.katta_api import Actor, body
from tests.support.katta_keys import new_vault_id


@pytest.fixture
def alice_vault(client, issuer):
    alice = Actor(client, issuer, "alice").sign_in()
    alice.set_up_keys()
    vault_id = new_vault_id()
    alice.create_vault(vault_id)
    return alice, vault_id


@pytest.mark.parametrize("claim", ["/{id}", "{id}", "/{ID}"])
def test_a_group_claim_named_like_a_user_borrows_nothing(client, issuer, alice_vault, claim):
    alice, vault_id = alice_vault
    mallory = Actor(client, issuer, "mallory", roles=("user",),
                    groups=(claim.format(id=alice.id, ID=alice.id.upper()),)).sign_in()
    assert mallory.get(f"/api/vaults/{vault_id}/members").status_code == 403
    assert mallory.call("PUT", f"/api/vaults/{vault_id}/users/{mallory.id}?role=OWNER").status_code == 403
    assert mallory.get(f"/api/vaults/{vault_id}").status_code == 403
    assert mallory.get(f"/api/vaults/{vault_id}/access-token").status_code == 403
    assert mallory.call("POST", f"/api/storage/s3-token?vault={vault_id}").status_code == 403
    assert body(mallory.get("/api/vaults/accessible")) == []
    assert alice.get(f"/api/vaults/{vault_id}/members").status_code == 200


def test_a_subject_named_like_a_group_is_not_provisioned(client, issuer, alice_vault):
    alice, vault_id = alice_vault
    admin = Actor(client, issuer, "root", roles=("user", "admin")).sign_in()
    assert admin.call("POST", "/api/groups", {"name": "Finance"}).status_code == 201
    assert alice.call("PUT", f"/api/vaults/{vault_id}/groups/finance?role=OWNER").status_code in (200, 201)
    token = issuer.token("finance", sub="finance")
    response = client.http.get(f"/api/vaults/{vault_id}/members", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_group_members_still_get_the_groups_role(client, issuer, alice_vault):
    alice, vault_id = alice_vault
    member = Actor(client, issuer, f"eng-{uuid.uuid4().hex[:6]}", roles=("user",), groups=("/Engineering",)).sign_in()
    admin = Actor(client, issuer, "root", roles=("user", "admin")).sign_in()
    assert admin.call("POST", "/api/groups", {"name": "Engineering"}).status_code == 201
    assert alice.call("PUT", f"/api/vaults/{vault_id}/groups/engineering").status_code in (200, 201)
    assert member.get(f"/api/vaults/{vault_id}").status_code == 200
    assert [v["id"] for v in body(member.get("/api/vaults/accessible"))] == [vault_id]
