"""``GET /api/authorities/search``: names by prefix, e-mail addresses exactly (issue 19: `vault add bob@…`)."""
from __future__ import annotations

import hashlib
import json

import pytest

from chalicelib import deps
from chalicelib.db import keys
from chalicelib.db.table import Table
from tests.support.katta_api import Actor
from tests.support.katta_api import body as body_of


@pytest.fixture
def alice(client, issuer):
    return Actor(client, issuer, "alice").sign_in()


def found(actor, query):
    response = actor.get(f"/api/authorities/search?query={query}")
    assert response.status_code == 200, response.body
    return [a["id"] for a in body_of(response)]


def test_an_exact_e_mail_finds_its_user_in_any_case(client, issuer, alice):
    bob = Actor(client, issuer, "bob").sign_in()  # e-mail bob@katta.test, name Bob
    assert found(alice, "bob@katta.test") == [bob.id]
    assert found(alice, "BOB@Katta.Test") == [bob.id]
    assert body_of(alice.get("/api/authorities/search?query=bob@katta.test"))[0]["email"] == "bob@katta.test"


@pytest.mark.parametrize("part", ["bob@", "bob@katta", "bob@katta.tes", "ob@katta.test", "@katta.test",
                                  "bob@katta.test.", " bob@katta.test x"])
def test_a_part_of_an_address_finds_nobody(client, issuer, alice, part):
    Actor(client, issuer, "bob").sign_in()
    assert found(alice, part) == []


def test_a_changed_address_finds_the_user_by_the_new_one_only(client, issuer, alice):
    bob = Actor(client, issuer, "bob").sign_in()
    token = issuer.token("bob", email="robert@katta.test")
    assert client.http.request("GET", "/api/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert found(alice, "robert@katta.test") == [bob.id]
    assert found(alice, "bob@katta.test") == []
    # The old address's index item goes with the change: stale items would crowd a search's bounded page.
    assert list(deps.table().query_all(keys.users_with_email("bob@katta.test"))) == []
    assert [i["userId"] for i in deps.table().query_all(keys.users_with_email("robert@katta.test"))] == [bob.id]


def test_two_accounts_of_one_address_are_both_found(client, issuer, alice):
    bob = Actor(client, issuer, "bob").sign_in()
    other = Actor(client, issuer, "bobby")
    token = issuer.token("bobby", email="Bob@katta.test")
    assert client.http.request("GET", "/api/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert sorted(found(alice, "bob@katta.test")) == sorted([bob.id, other.id])


def test_a_profile_stored_before_the_index_is_indexed_at_the_next_sign_in(client, issuer, alice):
    bob = Actor(client, issuer, "bob").sign_in()
    table: Table = deps.table()
    table.delete(*keys.user_email("bob@katta.test", bob.id))
    table.update(*keys.user(bob.id), "REMOVE indexedEmail")
    assert found(alice, "bob@katta.test") == []
    bob.sign_in()
    assert found(alice, "bob@katta.test") == [bob.id]


def test_a_provisioned_user_is_found_by_e_mail_before_signing_in(client, issuer, alice, monkeypatch):
    from chalicelib.scim import USER_SCHEMA
    from chalicelib.settings import get_settings

    secret = "scim-" + "k" * 43
    monkeypatch.setenv("KATTA_SCIM_TOKEN_SHA256", hashlib.sha256(secret.encode()).hexdigest())
    get_settings.cache_clear()
    body = {"schemas": [USER_SCHEMA], "externalId": "carol-1", "userName": "carol", "active": True,
            "displayName": "Carol", "emails": [{"primary": True, "value": "Carol@Katta.test"}]}
    response = client.http.request("POST", "/scim/v2/Users", body=json.dumps(body), headers={
        "Content-Type": "application/scim+json", "Authorization": f"Bearer {secret}"})
    get_settings.cache_clear()
    assert response.status_code == 201, response.body
    assert found(alice, "carol@katta.test") == [json.loads(response.body)["id"]]


def test_the_e_mail_search_reads_a_bounded_page(client, issuer, alice, monkeypatch):
    Actor(client, issuer, "bob").sign_in()
    queries = []
    original = Table.query

    def recording(self, pk, *args, **kwargs):
        queries.append((pk, kwargs.get("limit")))
        return original(self, pk, *args, **kwargs)

    monkeypatch.setattr(Table, "query", recording)
    found(alice, "bob@katta.test")
    assert ("EMAIL#bob@katta.test", 50) in queries and all(limit for _pk, limit in queries)
    queries.clear()
    found(alice, "bob")  # no "@": no e-mail lookup at all
    assert not any(pk.startswith("EMAIL#") for pk, _limit in queries)
