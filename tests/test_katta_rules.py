"""The rules clients rely on, each tested for the caller who passes and the one who does not."""
from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from chalicelib import deps
from chalicelib.db.table import Transaction
from tests.support import faults
from chalicelib.settings import get_settings
from tests.support.dynamo_calls import CallCounter
from tests.support.katta_api import Actor, body
from tests.support.katta_keys import DeviceKeys, jwe_to, new_vault_id, vault_dto


@pytest.fixture
def alice(client, issuer):
    return Actor(client, issuer, "alice").sign_in().set_up_keys()


@pytest.fixture
def bob(client, issuer):
    return Actor(client, issuer, "bob", roles=("user",)).sign_in().set_up_keys()


def audit_types(vault_id: str | None = None) -> list[str]:
    now = dt.datetime.now(dt.timezone.utc)
    found = deps.audit_log().events(now - dt.timedelta(days=1), now + dt.timedelta(days=1), page_size=100)
    return [e["type"] + (":" + e["result"] if "result" in e else "") for e in found
            if vault_id is None or e.get("vaultId") == vault_id]


# --- devices ---------------------------------------------------------------------------------------

def test_device_id_must_be_the_hash_of_its_key(alice):
    device, other = DeviceKeys.generate(), DeviceKeys.generate()
    response = alice.call("PUT", f"/api/devices/{other.id}", {**device.dto(), "id": other.id})
    assert response.status_code == 400 and "SHA-256" in body(response)["detail"]
    lower = alice.call("PUT", f"/api/devices/{device.id.lower()}", {**device.dto(), "id": None})
    assert lower.status_code == 400
    assert alice.call("PUT", f"/api/devices/{device.id}", device.dto()).status_code == 201


def test_someone_elses_device_is_404_and_cannot_be_taken_over(alice, bob):
    device = alice.register_device()
    assert alice.get(f"/api/devices/{device.id}").status_code == 200
    assert bob.get(f"/api/devices/{device.id}").status_code == 404
    assert bob.call("PUT", f"/api/devices/{device.id}", device.dto("mine now")).status_code == 409
    assert bob.call("DELETE", f"/api/devices/{device.id}").status_code == 404
    assert body(alice.get(f"/api/devices/{device.id}"))["name"] == "Laptop"
    assert alice.call("DELETE", f"/api/devices/{device.id}").status_code == 204
    assert alice.get(f"/api/devices/{device.id}").status_code == 404
    assert audit_types().count("DEVICE_REGISTER") == 1 and "DEVICE_REMOVE" in audit_types()


# --- formats ---------------------------------------------------------------------------------------

P256_SPKI = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEMKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D7gS2XpJFbZiItSs3m9+9Ue6GnvHw/GW2ZZaVtszggXIw=="


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("ecdhPublicKey", P256_SPKI, "P-384"),
    ("ecdhPublicKey", base64.b64encode(b"\x30\x03\x02\x01\x01").decode(), "SPKI"),
    ("ecdsaPublicKey", "not base64!", "pattern"),
    ("privateKeys", "a.b.c", "pattern"),  # a JWS shape, not a JWE
    ("privateKeys", "a.b.c.d.e." + "f", "pattern"),
    ("setupCode", "x" * 20000, "at most"),
])
def test_user_keys_are_validated_at_the_edge(alice, field, value, reason):
    response = alice.call("PUT", "/api/users/me", {**alice.keys.user_dto(), field: value})
    assert response.status_code == 400
    problem = body(response)
    assert problem["errors"][0]["field"] == field and reason in problem["errors"][0]["reason"]


def test_device_jwe_and_vault_fields_are_validated(alice):
    device = DeviceKeys.generate()
    bad_jwe = alice.call("PUT", f"/api/devices/{device.id}", {**device.dto(), "userPrivateKey": "eyJ.x"})
    assert bad_jwe.status_code == 400 and body(bad_jwe)["errors"][0]["field"] == "userPrivateKey"
    vault_id = new_vault_id()
    for bad in ({"name": 'a<script>"'}, {"uvfMetadataFile": "not json"}, {"masterkey": "AAAA"}, {"id": new_vault_id()}):
        assert alice.call("PUT", f"/api/vaults/{vault_id}", {**vault_dto(vault_id), **bad}).status_code == 400
    assert alice.call("PUT", "/api/vaults/not-a-uuid", vault_dto(vault_id)).status_code == 400


def test_user_keys_round_trip_opaque_and_changes_are_audited(alice):
    stored = alice.keys.user_dto()
    assert alice.call("PUT", "/api/users/me", stored).status_code == 201
    me = body(alice.get("/api/users/me"))
    assert {k: me[k] for k in stored} == stored
    assert audit_types().count("USER_KEYS_CHANGE") == 2 and audit_types().count("USER_SETUP_CODE_CHANGE") == 2
    assert alice.call("PUT", "/api/users/me", stored).status_code == 201  # unchanged: nothing to audit
    assert audit_types().count("USER_KEYS_CHANGE") == 2


# --- access token ----------------------------------------------------------------------------------

def shared_vault(alice: Actor, bob: Actor) -> str:
    vault_id = new_vault_id()
    alice.create_vault(vault_id)
    assert alice.call("PUT", f"/api/vaults/{vault_id}/users/{bob.id}").status_code == 201
    assert alice.call("POST", f"/api/vaults/{vault_id}/access-tokens",
                      {bob.id: bob.keys.access_token(b"k" * 32)}).status_code == 200
    return vault_id


def test_access_token_statuses(client, issuer, alice, bob):
    vault_id = shared_vault(alice, bob)
    assert bob.get(f"/api/vaults/{new_vault_id()}/access-token").status_code == 404
    newcomer = Actor(client, issuer, "nora", roles=("user",)).sign_in()
    assert alice.call("PUT", f"/api/vaults/{vault_id}/users/{newcomer.id}").status_code == 201
    response = newcomer.get(f"/api/vaults/{vault_id}/access-token")
    assert response.status_code == 449 and response.headers["Content-Type"] == "application/problem+json"
    newcomer.set_up_keys()
    assert newcomer.get(f"/api/vaults/{vault_id}/access-token").status_code == 403  # member, no token yet
    assert audit_types(vault_id).count("VAULT_KEY_RETRIEVE:UNAUTHORIZED") == 1
    assert bob.get(f"/api/vaults/{vault_id}/access-token").status_code == 200
    assert "VAULT_KEY_RETRIEVE:SUCCESS" in audit_types(vault_id)
    # Removed from the vault, the stored token no longer opens it.
    assert alice.call("DELETE", f"/api/vaults/{vault_id}/authority/{bob.id}").status_code == 204
    assert bob.get(f"/api/vaults/{vault_id}/access-token").status_code == 403


def test_reset_removes_keys_devices_and_tokens(alice, bob):
    vault_id = shared_vault(alice, bob)
    device = bob.register_device()
    assert bob.call("POST", "/api/users/me/reset").status_code == 204
    me = body(bob.get("/api/users/me?withDevices=true"))
    assert "ecdhPublicKey" not in me and "privateKeys" not in me and me["devices"] == []
    assert bob.get(f"/api/devices/{device.id}").status_code == 404
    assert bob.get(f"/api/vaults/{vault_id}/access-token").status_code == 449
    bob.set_up_keys()
    assert bob.get(f"/api/vaults/{vault_id}/access-token").status_code == 403
    assert "USER_ACCOUNT_RESET" in audit_types()


def test_warm_access_token_costs_two_dynamodb_calls(alice, bob, monkeypatch):
    vault_id = shared_vault(alice, bob)
    assert bob.get(f"/api/vaults/{vault_id}/access-token").status_code == 200  # warm: JWKS and clients
    counter = CallCounter()
    assert bob.get(f"/api/vaults/{vault_id}/access-token").status_code == 200
    assert counter.calls == ["GetItem", "BatchGetItem", "PutItem"]  # auth, the handler's one read, the audit
    assert (f"USER#{bob.id}", "PROFILE") not in counter.batch_keys  # authentication read the user already
    monkeypatch.setattr(get_settings(), "audit_key_retrieval_success", False)
    counter.calls.clear()
    assert bob.get(f"/api/vaults/{vault_id}/access-token").status_code == 200
    assert counter.calls == ["GetItem", "BatchGetItem"]


def test_accessible_vaults_cost_does_not_grow_with_the_table(alice, bob):
    vault_id = shared_vault(alice, bob)

    def cost() -> list[str]:
        counter = CallCounter()
        assert [v["id"] for v in body(bob.get("/api/vaults/accessible"))] == [vault_id]
        counter.stop()
        return counter.calls

    small = cost()
    repository = deps.vaults()
    from chalicelib.db.table import Transaction
    for start in range(0, 60, 20):
        transaction = Transaction()
        for n in range(start, start + 20):
            other = new_vault_id()
            repository.create(transaction, {"id": other, "name": f"v{n}", "creationTime": "2026-01-01T00:00:00Z"})
            repository.put_member(transaction, other, f"user-{n}", "USER", "OWNER")
        deps.table().commit(transaction)
    assert cost() == small


def test_a_key_retrieval_naming_the_device_records_its_last_use_at_most_once_an_interval(alice, bob, monkeypatch):
    device = alice.register_device()
    vault_id = new_vault_id()
    alice.create_vault(vault_id)
    headers = {**alice.headers(), "Hub-Device-ID": device.id}

    def retrieve():
        response = alice.client.http.request("GET", f"/api/vaults/{vault_id}/access-token", headers=headers)
        assert response.status_code == 200, response.body

    def devices(query: str = "withDevices=true&withLastAccess=true"):
        return body(alice.get(f"/api/users/me?{query}"))["devices"]

    assert "lastAccessTime" not in devices()[0]  # never used
    retrieve()
    (used,) = devices()
    assert used["lastAccessTime"] and "lastIpAddress" in used
    assert "lastAccessTime" not in devices("withDevices=true")[0]  # only when asked, as in Hub
    counter = CallCounter()
    try:
        retrieve()  # within the interval: the reads and the audit event, no device write
    finally:
        counter.stop()
    assert sorted(counter.calls) == ["BatchGetItem", "GetItem", "PutItem"]  # the account, the view, the event
    monkeypatch.setattr(get_settings(), "device_last_access_interval_seconds", 0)
    counter = CallCounter()
    try:
        retrieve()
    finally:
        counter.stop()
    assert sorted(counter.calls) == ["BatchGetItem", "GetItem", "PutItem", "UpdateItem"]
    now = dt.datetime.now(dt.timezone.utc)
    (event, *_) = deps.audit_log().events(now - dt.timedelta(days=1), now + dt.timedelta(days=1),
                                          types=frozenset({"VAULT_KEY_RETRIEVE"}))
    assert event["deviceId"] == device.id


def test_a_key_retrieval_survives_a_failure_to_record_the_device_use(alice, monkeypatch):
    from chalicelib.errors import ServiceUnavailable
    device = alice.register_device()
    vault_id = new_vault_id()
    alice.create_vault(vault_id)

    def unavailable(*_args, **_kwargs):
        raise ServiceUnavailable()
    monkeypatch.setattr(deps.devices(), "record_use", unavailable)
    response = alice.client.http.request("GET", f"/api/vaults/{vault_id}/access-token",
                                         headers={**alice.headers(), "Hub-Device-ID": device.id})
    assert response.status_code == 200 and response.body  # the key, whatever the bookkeeping


def test_a_device_header_naming_another_users_device_records_nothing(alice, bob):
    bobs = bob.register_device()
    vault_id = new_vault_id()
    alice.create_vault(vault_id)
    response = alice.client.http.request("GET", f"/api/vaults/{vault_id}/access-token",
                                         headers={**alice.headers(), "Hub-Device-ID": bobs.id})
    assert response.status_code == 200
    assert "lastAccessTime" not in body(bob.get("/api/users/me?withDevices=true&withLastAccess=true"))["devices"][0]
    now = dt.datetime.now(dt.timezone.utc)
    (event, *_) = deps.audit_log().events(now - dt.timedelta(days=1), now + dt.timedelta(days=1),
                                          types=frozenset({"VAULT_KEY_RETRIEVE"}))
    assert "deviceId" not in event
    bad = alice.client.http.request("GET", f"/api/vaults/{vault_id}/access-token",
                                    headers={**alice.headers(), "Hub-Device-ID": "not a device id!"})
    assert bad.status_code == 400 and body(bad)["errors"][0]["field"] == "Hub-Device-ID"


# --- vaults and members ----------------------------------------------------------------------------

def test_a_deployment_without_a_licence_says_so_as_the_contract_does(client, issuer, alice, bob):
    admin = Actor(client, issuer, "ada", roles=("user", "admin")).sign_in()
    info = body(bob.get("/api/license/user-info"))
    assert info == {"licensedSeats": 2**31 - 1, "usedSeats": 3}  # alice, bob, ada: no limit, no expiry
    billing = body(admin.get("/api/billing"))
    assert billing == {"hubId": body(admin.get("/api/settings"))["hubId"], "licensedSeats": 2**31 - 1,
                       "usedSeats": 3, "managedInstance": False}
    assert bob.get("/api/billing").status_code == 403
    changed = admin.call("PUT", "/api/billing/token", "a.b.c", content_type="text/plain")
    assert changed.status_code == 501 and "do not exist" in body(changed)["detail"]


def test_hubs_sign_in_puts_me_with_no_body_and_the_name_follows_the_token(client, issuer, alice):
    headers = {"Authorization": "Bearer " + issuer.token("alice", realm_access={"roles": ["user"]},
                                                         name="Alice Liddell")}
    response = client.http.request("PUT", "/api/users/me", headers=headers, body=b"")
    assert response.status_code == 201, response.body
    me = body(client.http.request("GET", "/api/users/me", headers=headers))
    assert me["name"] == "Alice Liddell"
    assert me["ecdhPublicKey"] == alice.keys.user_dto()["ecdhPublicKey"]  # nothing cleared
    assert alice.call("PUT", "/api/users/me", "{").status_code == 400  # a body is still checked


def test_a_get_with_a_content_type_and_no_body_is_answered(alice):
    vault_id = new_vault_id()
    alice.create_vault(vault_id)
    for content_type in ("text/plain", "application/octet-stream", "application/x-www-form-urlencoded"):
        response = alice.client.http.request("GET", f"/api/vaults/{vault_id}/access-token",
                                             headers=alice.headers(content_type))
        assert response.status_code == 200, (content_type, response.body)
    refused = alice.call("PUT", f"/api/vaults/{vault_id}/archived", "true", content_type="application/json")
    assert refused.status_code == 415  # where a body is read, its media type still decides


def test_the_update_archives_and_restores_as_hubs_web_client_does(client, issuer, alice, bob):
    admin = Actor(client, issuer, "ada", roles=("user", "admin")).sign_in()
    vault_id = new_vault_id()
    alice.create_vault(vault_id)
    assert alice.call("PUT", f"/api/vaults/{vault_id}/users/{bob.id}").status_code == 201
    as_hub_sends = {**body(alice.get(f"/api/vaults/{vault_id}")), "archived": True}
    assert bob.call("PUT", f"/api/vaults/{vault_id}", as_hub_sends).status_code == 403  # a member
    archived = alice.call("PUT", f"/api/vaults/{vault_id}", as_hub_sends)
    assert archived.status_code == 200 and body(archived)["archived"] is True
    assert body(alice.get(f"/api/vaults/{vault_id}"))["archived"] is True
    assert admin.call("PUT", f"/api/vaults/{vault_id}", {**as_hub_sends, "name": "Taken"}).status_code == 403
    restored = admin.call("PUT", f"/api/vaults/{vault_id}", {**as_hub_sends, "archived": False})
    assert restored.status_code == 200 and body(restored)["archived"] is False
    kept = alice.call("PUT", f"/api/vaults/{vault_id}", {**as_hub_sends, "archived": None, "name": "Renamed"})
    assert body(kept)["archived"] is False and body(kept)["name"] == "Renamed"  # no field: unchanged
    now = dt.datetime.now(dt.timezone.utc)
    updates = deps.audit_log().events(now - dt.timedelta(days=1), now + dt.timedelta(days=1), descending=False,
                                      types=frozenset({"VAULT_UPDATE"}))
    assert [(e["updatedBy"], e["vaultArchived"]) for e in updates] == [
        (alice.id, True), (admin.id, False), (alice.id, False)]


def test_create_needs_the_role_and_update_needs_ownership(alice, bob):
    vault_id = new_vault_id()
    refused = bob.call("PUT", f"/api/vaults/{vault_id}", vault_dto(vault_id))
    assert refused.status_code == 403 and "create-vaults" in body(refused)["detail"]
    alice.create_vault(vault_id)
    (owner,) = body(alice.get(f"/api/vaults/{vault_id}/members"))
    assert owner["vaultRole"] == owner["role"] == "OWNER"  # the contract's name and Hub's web client's
    assert alice.call("PUT", f"/api/vaults/{vault_id}/users/{bob.id}").status_code == 201
    assert bob.call("PUT", f"/api/vaults/{vault_id}", vault_dto(vault_id, name="Mine")).status_code == 403
    updated = alice.call("PUT", f"/api/vaults/{vault_id}", vault_dto(vault_id, name="Renamed"))
    assert updated.status_code == 200 and body(updated)["name"] == "Renamed"
    assert audit_types(vault_id)[::-1] == ["VAULT_CREATE", "VAULT_MEMBER_ADD", "VAULT_ACCESS_GRANT",
                                           "VAULT_MEMBER_ADD", "VAULT_UPDATE"]


def test_roles_and_the_last_owner(alice, bob):
    vault_id = shared_vault(alice, bob)
    assert alice.call("PUT", f"/api/vaults/{vault_id}/users/{bob.id}?role=OWNER").status_code == 200
    assert bob.get(f"/api/vaults/{vault_id}/members").status_code == 200
    assert [v["id"] for v in body(bob.get("/api/vaults/accessible?role=OWNER"))] == [vault_id]
    assert bob.call("PUT", f"/api/vaults/{vault_id}/members", {bob.id: "OWNER"}).status_code == 204
    assert alice.get(f"/api/vaults/{vault_id}").status_code == 403
    assert bob.call("DELETE", f"/api/vaults/{vault_id}/authority/{bob.id}").status_code == 409
    assert bob.call("PUT", f"/api/vaults/{vault_id}/members", {"nobody": "OWNER"}).status_code == 400
    assert bob.call("PUT", f"/api/vaults/{vault_id}/users/nobody").status_code == 404
    assert bob.call("PUT", f"/api/vaults/{vault_id}/users/{alice.id}?role=ADMIN").status_code == 400


def test_group_members_reach_the_vault(client, issuer, alice, bob):
    admin = Actor(client, issuer, "ada", roles=("user", "admin")).sign_in()
    vault_id = new_vault_id()
    alice.create_vault(vault_id)
    assert admin.call("POST", "/api/groups", {"name": "Engineering"}).status_code == 201
    assert alice.call("PUT", f"/api/vaults/{vault_id}/groups/engineering").status_code == 201
    assert bob.get(f"/api/vaults/{vault_id}").status_code == 403
    # Through the token's groups claim (an IdP group path)...
    claimed = Actor(client, issuer, "bob", roles=("user",), groups=("/Engineering",), keys=bob.keys)
    assert claimed.get(f"/api/vaults/{vault_id}").status_code == 200
    assert [v["id"] for v in body(claimed.get("/api/vaults/accessible"))] == [vault_id]
    # ...and through admin-managed membership.
    assert admin.call("POST", f"/api/groups/engineering/members/{bob.id}").status_code == 204
    assert bob.get(f"/api/vaults/{vault_id}").status_code == 200
    awaiting = body(alice.get(f"/api/vaults/{vault_id}/users-requiring-access-grant"))
    assert [(m["id"], m["vaultRole"], m["role"]) for m in awaiting] == [(bob.id, "MEMBER", "MEMBER")]
    assert alice.call("POST", f"/api/vaults/{vault_id}/access-tokens",
                      {bob.id: bob.keys.access_token(b"k" * 32)}).status_code == 200
    assert bob.get(f"/api/vaults/{vault_id}/access-token").status_code == 200
    assert admin.call("DELETE", f"/api/groups/engineering/members/{bob.id}").status_code == 204
    assert bob.get(f"/api/vaults/{vault_id}/access-token").status_code == 403
    group = body(admin.get("/api/groups/engineering"))
    assert group["vaultCount"] == 1 and group["memberSize"] == 0 and group["vaults"][0]["id"] == vault_id


def test_automatic_grant_only_for_users_awaiting_one(client, issuer, alice, bob):
    vault_id = shared_vault(alice, bob)
    carol = Actor(client, issuer, "carol", roles=("user",)).sign_in().set_up_keys()
    token = carol.keys.access_token(b"k" * 32)
    refused = bob.call("POST", f"/api/vaults/{vault_id}/access-tokens/auto", {carol.id: token})
    assert refused.status_code == 400  # carol is no member
    assert alice.call("PUT", f"/api/vaults/{vault_id}/users/{carol.id}").status_code == 201
    assert carol.call("POST", f"/api/vaults/{vault_id}/access-tokens/auto", {carol.id: token}).status_code == 403
    assert body(bob.get("/api/vaults/users-requiring-access-grant?wait=0")) == {vault_id: [carol.id]}
    assert bob.call("POST", f"/api/vaults/{vault_id}/access-tokens/auto", {carol.id: token}).status_code == 200
    other = carol.keys.access_token(b"o" * 32)
    again = bob.call("POST", f"/api/vaults/{vault_id}/access-tokens/auto", {carol.id: other})
    assert again.status_code == 400  # no longer awaiting: never overwrites a token
    # The same grant again (a retry after a lost answer) is done already: nothing is written.
    assert bob.call("POST", f"/api/vaults/{vault_id}/access-tokens/auto", {carol.id: token}).status_code == 200
    assert deps.vaults().contents(vault_id).tokens[carol.id]["token"] == token
    assert carol.get(f"/api/vaults/{vault_id}/access-token").status_code == 200


def test_long_poll_is_capped_by_the_setting(alice, bob, monkeypatch):
    from chalicelib.auth import Principal
    from chalicelib.katta.vaults import VaultService
    monkeypatch.setattr(get_settings(), "access_grant_wait_max_seconds", 3.0)
    monkeypatch.setattr(get_settings(), "access_grant_poll_interval_seconds", 1.0)
    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    vaults = VaultService(deps.vaults(), deps.groups(), deps.users(), deps.devices(), deps.authorities(),
                          deps.vault_access(), deps.audit_log(), deps.transactions(), get_settings(),
                          deps.hub_settings_service(), epoch=deps.access_epoch(), sleep=sleep,
                          monotonic=lambda: now[0])
    principal = Principal(bob.id, "iss", bob.id, frozenset({"user"}), frozenset(), "Bob", None)
    assert vaults.pending_grants(principal, 25) == {}
    assert sum(slept) == 3.0  # asked for 25 s, held 3 s
    slept.clear()
    assert vaults.pending_grants(principal, 0) == {}
    assert slept == []


def test_delete_vault_removes_everything(alice, bob):
    vault_id = shared_vault(alice, bob)
    assert bob.call("DELETE", f"/api/vaults/{vault_id}").status_code == 403
    assert alice.call("DELETE", f"/api/vaults/{vault_id}").status_code == 204
    assert list(deps.table().query_all(f"VAULT#{vault_id}")) == []
    assert body(bob.get("/api/vaults/accessible")) == []
    assert "VAULT_DELETE" in audit_types(vault_id)


def test_a_large_vault_delete_that_fails_part_way_leaves_its_owner_able_to_retry(alice, bob):
    """Over 100 items the delete goes in chunks; the caller's ownership is in the last one."""
    vault_id = shared_vault(alice, bob)
    for n in range(150):
        deps.table().commit(deps.vaults().put_token(Transaction(), vault_id, f"gone-user-{n:03d}", "jwe"))
    with faults.installed() as injector:
        with injector.failing(("dynamodb", "TransactWriteItems", 2), faults.INTERNAL_ERROR):
            assert alice.call("DELETE", f"/api/vaults/{vault_id}").status_code == 503
        assert injector.fired
    left = {item["sk"] for item in deps.table().query_all(f"VAULT#{vault_id}")}
    assert {"PROFILE", f"MEMBER#{alice.id}"} <= left and len(left) < 150
    assert bob.call("DELETE", f"/api/vaults/{vault_id}").status_code == 403
    assert alice.call("DELETE", f"/api/vaults/{vault_id}").status_code == 204
    assert list(deps.table().query_all(f"VAULT#{vault_id}")) == []


# --- audit log and web of trust ---------------------------------------------------------------------

def test_audit_log_filters_and_pages(client, issuer, alice, bob):
    admin = Actor(client, issuer, "ada", roles=("user", "admin")).sign_in()
    vault_id = shared_vault(alice, bob)
    window = "startDate=2020-01-01T00:00:00Z&endDate=2100-01-01T00:00:00Z"
    first = body(admin.get(f"/api/auditlog?{window}&pageSize=2"))
    second = body(admin.get(f"/api/auditlog?{window}&pageSize=2&paginationId={first[-1]['id']}"))
    assert first[0]["id"] > first[1]["id"] > second[0]["id"]
    grants = body(admin.get(f"/api/auditlog?{window}&type=VAULT_ACCESS_GRANT"))
    assert [(e["vaultId"], e["authorityId"], e["grantedBy"]) for e in grants] == [
        (vault_id, bob.id, alice.id), (vault_id, alice.id, alice.id)]
    for bad in ("pageSize=0", "pageSize=101", "order=up", "type=NOPE", "paginationId=x"):
        assert admin.get(f"/api/auditlog?{window}&{bad}").status_code == 400
    assert admin.get("/api/auditlog?startDate=2020-01-01T00:00:00Z").status_code == 400
    assert admin.get("/api/auditlog?startDate=2030-01-01T00:00:00Z&endDate=2020-01-01T00:00:00Z").status_code == 400
    assert bob.get(f"/api/auditlog?{window}").status_code == 403


def test_web_of_trust_chain(client, issuer, alice, bob):
    carol = Actor(client, issuer, "carol", roles=("user",)).sign_in()
    jws = "eyJhbGciOiJFUzM4NCJ9.eyJzdWIiOiJ4In0.c2ln"
    assert alice.call("PUT", f"/api/users/trusted/{bob.id}", jws, content_type="text/plain").status_code == 204
    assert bob.call("PUT", f"/api/users/trusted/{carol.id}", jws + "2", content_type="text/plain").status_code == 204
    assert body(alice.get(f"/api/users/trusted/{carol.id}"))["signatureChain"] == [jws, jws + "2"]
    assert bob.get(f"/api/users/trusted/{alice.id}").status_code == 404
    assert alice.call("PUT", f"/api/users/trusted/{bob.id}", jwe_to(alice.keys.ecdh.public_key(), {}),
                      content_type="text/plain").status_code == 400
    signed = [e for e in body(Actor(client, issuer, "ada", roles=("user", "admin")).get(
        "/api/auditlog?startDate=2020-01-01T00:00:00Z&endDate=2100-01-01T00:00:00Z&type=SIGN_WOT_ID"))]
    assert {e["signerId"] for e in signed} == {alice.id, bob.id}
    assert json.dumps(signed)  # the events serialize
