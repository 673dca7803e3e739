"""SCIM 2.0 provisioning (RFC 7643/7644) as Entra ID and Okta push it: users known before they sign in."""
from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from chalicelib.scim import ERROR_SCHEMA, LIST_SCHEMA, USER_SCHEMA
from chalicelib.settings import SettingsError, get_settings
from tests.conftest import bearer
from tests.support.katta_api import Actor
from tests.support.katta_api import body as body_of

SECRET = "scim-" + "k" * 43
SCIM = {"Content-Type": "application/scim+json", **bearer(SECRET)}
USERS = "/scim/v2/Users"
GROUPS = "/scim/v2/Groups"


def subject(username: str) -> str:
    """The ``sub`` the test issuer gives ``username`` (tests/support/tokens.py)."""
    return str(uuid.uuid5(uuid.NAMESPACE_OID, username))


@pytest.fixture(autouse=True)
def scim_secret(monkeypatch):
    monkeypatch.setenv("KATTA_SCIM_TOKEN_SHA256", hashlib.sha256(SECRET.encode()).hexdigest())
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def send(client, method: str, path: str, body=None, headers=None):
    response = client.http.request(method, path, headers=headers or SCIM,
                                   body=json.dumps(body) if body is not None else b"")
    return response.status_code, (json.loads(response.body) if response.body else None), response.headers


def entra_user(username: str, **extra) -> dict:
    return {"schemas": [USER_SCHEMA], "externalId": subject(username), "userName": f"{username}@katta.test",
            "active": True, "displayName": username.capitalize(),
            "emails": [{"primary": True, "type": "work", "value": f"{username}@katta.test"}],
            "name": {"givenName": username.capitalize(), "familyName": "Test"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}, **extra}


def test_a_provisioned_user_is_the_account_of_their_first_sign_in_and_has_no_keys(client, issuer):
    status, created, headers = send(client, "POST", USERS, entra_user("carol"))
    assert status == 201, created
    assert created["id"] == subject("carol") and created["userName"] == "carol@katta.test"
    assert headers["Location"] == f"https://katta.test/scim/v2/Users/{created['id']}"

    # Before carol ever signs in, alice finds her and adds her to a vault; she waits for a grant as anybody would.
    alice = Actor(client, issuer, "alice").set_up_keys()
    vault_id = str(uuid.uuid4())
    alice.create_vault(vault_id)
    assert [a["id"] for a in body_of(alice.get("/api/authorities/search?query=Carol"))] == [created["id"]]
    assert alice.call("PUT", f"/api/vaults/{vault_id}/users/{created['id']}?role=MEMBER").status_code == 201

    me = client.http.get("/api/users/me", headers=bearer(issuer.token("carol")))
    assert me.status_code == 200
    body = json.loads(me.body)
    assert body["id"] == created["id"] and "ecdhPublicKey" not in body


def test_filter_by_user_name_finds_one_user_and_an_unknown_name_none(client, issuer):
    send(client, "POST", USERS, entra_user("carol"))
    status, found, _ = send(client, "GET", USERS + '?filter=userName%20eq%20%22CAROL@katta.test%22')
    assert status == 200 and found["schemas"] == [LIST_SCHEMA]
    assert (found["totalResults"], found["Resources"][0]["externalId"]) == (1, subject("carol"))
    _, none, _ = send(client, "GET", USERS + '?filter=userName%20eq%20%22nobody%22')
    assert (none["totalResults"], none["Resources"]) == (0, [])
    status, refused, _ = send(client, "GET", USERS + '?filter=name%20co%20%22x%22')
    assert (status, refused["scimType"], refused["schemas"]) == (400, "invalidFilter", [ERROR_SCHEMA])


def test_an_account_that_signed_in_first_is_linked_not_duplicated(client, issuer):
    client.http.get("/api/users/me", headers=bearer(issuer.token("dave")))
    status, created, _ = send(client, "POST", USERS, entra_user("dave"))
    assert status == 201 and created["id"] == subject("dave")
    status, again, _ = send(client, "POST", USERS, entra_user("dave"))
    assert (status, again["scimType"]) == (409, "uniqueness")


def test_a_user_name_belongs_to_one_account(client, issuer):
    send(client, "POST", USERS, entra_user("carol"))
    status, refused, _ = send(client, "POST", USERS, entra_user("dave", userName="carol@katta.test"))
    assert (status, refused["scimType"]) == (409, "uniqueness")
    _, listed, _ = send(client, "GET", USERS)
    assert [u["userName"] for u in listed["Resources"]] == ["carol@katta.test"]


@pytest.mark.parametrize("body, field", [
    ({"userName": "carol"}, "externalId"),
    ({"externalId": "has space", "userName": "carol"}, "externalId"),
    ({"externalId": "carol"}, "userName"),
    ({"externalId": "carol", "userName": "carol", "active": "yes"}, "active"),
])
def test_a_bad_user_is_a_400_naming_the_field_and_writes_nothing(client, issuer, body, field):
    status, refused, _ = send(client, "POST", USERS, body)
    assert status == 400 and field in refused["detail"] and refused["schemas"] == [ERROR_SCHEMA]
    assert send(client, "GET", USERS)[1]["totalResults"] == 0


def test_entra_deactivates_with_a_string_and_okta_with_a_path_less_value(client, issuer):
    user_id = send(client, "POST", USERS, entra_user("carol"))[1]["id"]
    patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
             "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    status, patched, _ = send(client, "PATCH", f"{USERS}/{user_id}", patch)
    assert (status, patched["active"]) == (200, False)
    assert client.http.get("/api/users/me", headers=bearer(issuer.token("carol"))).status_code == 403

    okta = {"Operations": [{"op": "replace", "value": {"active": True, "displayName": "Carol T."}}]}
    status, patched, _ = send(client, "PATCH", f"{USERS}/{user_id}", okta)
    assert (status, patched["active"], patched["displayName"]) == (200, True, "Carol T.")
    assert client.http.get("/api/users/me", headers=bearer(issuer.token("carol"))).status_code == 200


def test_put_renames_and_the_old_user_name_is_free_again(client, issuer):
    user_id = send(client, "POST", USERS, entra_user("carol"))[1]["id"]
    status, replaced, _ = send(client, "PUT", f"{USERS}/{user_id}", entra_user("carol", userName="c.test@katta.test"))
    assert (status, replaced["userName"]) == (200, "c.test@katta.test")
    assert send(client, "POST", USERS, entra_user("dave", userName="carol@katta.test"))[0] == 201
    status, refused, _ = send(client, "PUT", f"{USERS}/{user_id}", entra_user("carol", externalId="other"))
    assert (status, refused["scimType"]) == (400, "mutability")


def test_delete_disables_the_account_and_hides_it_from_scim(client, issuer):
    user_id = send(client, "POST", USERS, entra_user("carol"))[1]["id"]
    assert send(client, "DELETE", f"{USERS}/{user_id}")[0] == 204
    assert send(client, "GET", f"{USERS}/{user_id}")[0] == 404
    assert client.http.get("/api/users/me", headers=bearer(issuer.token("carol"))).status_code == 403
    status, again, _ = send(client, "POST", USERS, entra_user("carol"))
    assert (status, again["active"]) == (201, True)
    assert client.http.get("/api/users/me", headers=bearer(issuer.token("carol"))).status_code == 200


def test_groups_with_members_as_entra_and_okta_change_them(client, issuer):
    carol = send(client, "POST", USERS, entra_user("carol"))[1]["id"]
    dave = send(client, "POST", USERS, entra_user("dave"))[1]["id"]
    status, group, _ = send(client, "POST", GROUPS, {"displayName": "Engineering", "members": [{"value": carol}]})
    assert status == 201 and [m["value"] for m in group["members"]] == [carol]
    path = f"{GROUPS}/{group['id']}"

    add = {"Operations": [{"op": "Add", "path": "members", "value": [{"value": dave}]}]}
    assert sorted(m["value"] for m in send(client, "PATCH", path, add)[1]["members"]) == sorted([carol, dave])
    remove = {"Operations": [{"op": "remove", "path": f'members[value eq "{carol}"]'}]}
    assert [m["value"] for m in send(client, "PATCH", path, remove)[1]["members"]] == [dave]
    rename = {"Operations": [{"op": "replace", "value": {"id": group["id"], "displayName": "Eng"}}]}
    assert send(client, "PATCH", path, rename)[1]["displayName"] == "Eng"

    _, found, _ = send(client, "GET", GROUPS + "?filter=displayName%20eq%20%22Eng%22&excludedAttributes=members")
    assert [(g["id"], "members" in g) for g in found["Resources"]] == [(group["id"], False)]
    admin = bearer(issuer.token("ada", realm_access={"roles": ["user", "admin"]}))
    members = json.loads(client.http.get(f"/api/groups/{group['id']}/effective-members", headers=admin).body)
    assert [m["id"] for m in members] == [dave]

    status, refused, _ = send(client, "PUT", path, {"displayName": "Eng", "members": [{"value": "nobody"}]})
    assert (status, refused["scimType"]) == (400, "invalidValue")
    assert send(client, "DELETE", path)[0] == 204
    assert send(client, "GET", path)[0] == 404


@pytest.mark.parametrize("headers, status", [
    ({}, 401),
    (bearer("scim-" + "x" * 43), 401),
    (bearer("not a token"), 401),
])
def test_only_the_secret_or_an_admin_may_provision(client, issuer, headers, status):
    code, refused, answer = send(client, "POST", USERS, entra_user("carol"),
                                 headers={"Content-Type": "application/scim+json", **headers})
    assert code == status and refused["schemas"] == [ERROR_SCHEMA] and "WWW-Authenticate" in answer
    assert SECRET not in json.dumps(refused)


def test_an_admin_token_provisions_and_a_users_token_is_refused(client, issuer):
    user = bearer(issuer.token("bob"))
    code, refused, _ = send(client, "POST", USERS, entra_user("carol"),
                            headers={"Content-Type": "application/json", **user})
    assert (code, refused["schemas"]) == (403, [ERROR_SCHEMA])
    admin = bearer(issuer.token("ada", realm_access={"roles": ["user", "admin"]}))
    assert send(client, "POST", USERS, entra_user("carol"), headers={"Content-Type": "application/json", **admin})[0] == 201


def test_without_a_configured_secret_the_secret_opens_nothing(client, issuer, monkeypatch):
    monkeypatch.delenv("KATTA_SCIM_TOKEN_SHA256")
    get_settings.cache_clear()
    assert send(client, "GET", USERS)[0] == 401


def test_the_scim_issuer_must_be_trusted_and_named_when_several_are(monkeypatch):
    monkeypatch.setenv("KATTA_SCIM_ISSUER", "https://elsewhere.test")
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match="scim_issuer"):
        get_settings()
    monkeypatch.delenv("KATTA_SCIM_ISSUER")
    two = [{"issuer": "https://a.test", "audience": "k"}, {"issuer": "https://b.test", "audience": "k",
                                                           "user_id_prefix": "b."}]
    monkeypatch.setenv("KATTA_TRUSTED_ISSUERS", json.dumps(two))
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match="scim_issuer"):
        get_settings()
    monkeypatch.setenv("KATTA_SCIM_ISSUER", "https://b.test")
    get_settings.cache_clear()
    assert get_settings().scim_trusted_issuer.user_id_prefix == "b."


def test_katta_vault_add_of_an_unknown_name_says_how_the_user_becomes_known():
    from katta_client.vaults import VaultError, find_authority

    class NobodyKnown:
        def search_authorities(self, query):
            return []

    with pytest.raises(VaultError) as refused:
        find_authority(NobodyKnown(), "carol")
    assert "no user or group named 'carol'" in str(refused.value)
    assert "sign in" in str(refused.value) and "SCIM" in str(refused.value)


def test_with_several_issuers_and_none_named_an_admin_is_told_what_to_configure(client, issuer, monkeypatch):
    from tests.support.tokens import AUDIENCE, ISSUER
    monkeypatch.delenv("KATTA_SCIM_TOKEN_SHA256")
    monkeypatch.setenv("KATTA_TRUSTED_ISSUERS", json.dumps([
        {"issuer": ISSUER, "audience": AUDIENCE, "jwks_uri": ISSUER + "/protocol/openid-connect/certs"},
        {"issuer": "https://other.test", "audience": "k", "user_id_prefix": "o."}]))
    get_settings.cache_clear()
    admin = bearer(issuer.token("ada", realm_access={"roles": ["user", "admin"]}))
    status, refused, _ = send(client, "POST", USERS, entra_user("carol"), headers={"Content-Type": "application/json", **admin})
    assert status == 501 and "KATTA_SCIM_ISSUER" in refused["detail"]


# -- discovery (RFC 7644 §4) ------------------------------------------------------------------

DISCOVERY = ["/scim/v2/ServiceProviderConfig", "/scim/v2/ResourceTypes", "/scim/v2/Schemas",
             "/scim/v2/ResourceTypes/User", f"/scim/v2/Schemas/{USER_SCHEMA}"]


def test_the_service_provider_config_says_what_the_routes_accept(client, issuer):
    status, config, headers = send(client, "GET", "/scim/v2/ServiceProviderConfig")
    assert status == 200 and headers["Content-Type"] == "application/scim+json"
    assert config["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    assert (config["patch"]["supported"], config["bulk"]["supported"], config["sort"]["supported"],
            config["etag"]["supported"], config["changePassword"]["supported"]) == (True, False, False, False, False)
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    most = config["filter"]["maxResults"]
    assert send(client, "GET", f"{USERS}?count={most}")[0] == 200
    assert send(client, "GET", f"{USERS}?count={most + 1}")[0] == 400
    # A PATCH is taken, as it says; a bulk request is not a route.
    send(client, "POST", USERS, entra_user("carol"))
    patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
             "Operations": [{"op": "replace", "path": "displayName", "value": "Caro"}]}
    assert send(client, "PATCH", f"{USERS}/{subject('carol')}", patch)[0] == 200
    assert send(client, "POST", "/scim/v2/Bulk", {"Operations": []})[0] in (403, 404)


def test_every_resource_type_names_a_route_that_answers_and_a_schema_that_is_served(client, issuer):
    status, types, _ = send(client, "GET", "/scim/v2/ResourceTypes")
    assert status == 200 and types["schemas"] == [LIST_SCHEMA]
    assert sorted(t["id"] for t in types["Resources"]) == ["Group", "User"]
    for resource_type in types["Resources"]:
        assert send(client, "GET", "/scim/v2" + resource_type["endpoint"])[0] == 200
        code, schema, _ = send(client, "GET", f"/scim/v2/Schemas/{resource_type['schema']}")
        assert code == 200 and schema["id"] == resource_type["schema"]
        assert send(client, "GET", f"/scim/v2/ResourceTypes/{resource_type['id']}")[1] == resource_type
    _, listed, _ = send(client, "GET", "/scim/v2/Schemas")
    assert sorted(s["id"] for s in listed["Resources"]) == sorted(t["schema"] for t in types["Resources"])


def test_the_user_schema_names_only_attributes_a_user_comes_back_with(client, issuer):
    _, created, _ = send(client, "POST", USERS, entra_user("carol"))
    _, schema, _ = send(client, "GET", f"/scim/v2/Schemas/{USER_SCHEMA}")
    named = {a["name"] for a in schema["attributes"]}
    assert "userName" in named and named <= set(created), named - set(created)
    required = [a["name"] for a in schema["attributes"] if a["required"]]
    assert required == ["userName"]
    without = {k: v for k, v in entra_user("dave").items() if k != "userName"}
    assert send(client, "POST", USERS, without)[0] == 400  # what the schema calls required is


@pytest.mark.parametrize("path", ["/scim/v2/ResourceTypes/Device", "/scim/v2/Schemas/urn:example:nothing"])
def test_an_unknown_resource_type_or_schema_is_a_scim_404(client, issuer, path):
    status, refused, _ = send(client, "GET", path)
    assert (status, refused["schemas"], refused["status"]) == (404, [ERROR_SCHEMA], "404")


@pytest.mark.parametrize("path", DISCOVERY)
def test_discovery_needs_the_provisioning_secret_or_an_admin(client, issuer, path):
    assert send(client, "GET", path, headers={"Accept": "application/scim+json"})[0] == 401
    assert send(client, "GET", path, headers=bearer(issuer.token("bob")))[0] == 403
    admin = bearer(issuer.token("ada", realm_access={"roles": ["user", "admin"]}))
    assert send(client, "GET", path, headers=admin)[0] == 200
