"""``PUT /api/storage/{vaultId}``: the vault bucket and its UVF template, made with the client's credentials.

moto stands in for S3 here, so these tests show what we create and refuse —
not that the credentials are confined to anything (moto accepts any); that is
test_storage_sts_e2e.py's job against SeaweedFS.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import time

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib import audit, deps
from chalicelib.audit import AuditLog
from chalicelib.auth import Principal
from chalicelib.errors import ServiceUnavailable
from chalicelib.katta.access import VaultAccess
from chalicelib.settings import Settings
from chalicelib.storage import s3 as bucket_s3
from chalicelib.storage.buckets import CREATION_LEASE_SECONDS, BucketService
from chalicelib.storage.formats import CreateBucketInput
from chalicelib.db.audit import AuditEventRepository
from chalicelib.db.groups import GroupRepository
from chalicelib.db.locks import Locks
from chalicelib.db.storage_profiles import StorageProfileRepository
from chalicelib.db.table import Table, Transaction, Transactions
from chalicelib.db.vaults import VaultRepository
from tests.support.clock import FakeClock
from tests.support.katta_api import body
from tests.support.katta_keys import new_vault_id
from tests.support.storage_world import STATIC_PROFILE, STS_PROFILE, world  # noqa: F401 — fixture

ROOT_DIR_HASH = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
DIR_UVF = os.urandom(68)
SECRETS = {"awsAccessKey": "ASIAKATTATESTACCESS", "awsSecretKey": "katta-secret-key-never-logged",
           "sessionToken": "katta-session-token-never-logged"}


def dto(vault_id: str, profile_id: str, **overrides) -> dict:
    fields = {"vaultId": vault_id, "storageConfigId": profile_id,
              "vaultUvf": json.dumps({"protected": "e30", "recipients": [], "ciphertext": "x"}),
              "dirUvf": base64.urlsafe_b64encode(DIR_UVF).rstrip(b"=").decode(), "rootDirHash": ROOT_DIR_HASH,
              "region": "us-east-1", **SECRETS, **overrides}
    return {k: v for k, v in fields.items() if v is not None}


def put_storage(actor, vault_id: str, payload, content_type="application/json"):
    return actor.call("PUT", f"/api/storage/{vault_id}", payload, content_type=content_type)


def s3():
    return boto3.client("s3", region_name="us-east-1")


def objects(bucket: str) -> dict[str, bytes]:
    listed = s3().list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: s3().get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


@pytest.fixture
def profile(world):
    return world.profile()


def test_owner_creates_the_bucket_and_template(world, profile):
    vault_id = world.vault()
    response = put_storage(world.alice, vault_id, dto(vault_id, profile["id"]))
    assert response.status_code == 200, response.body
    assert body(response) == {}
    assert objects("katta-" + vault_id) == {
        "vault.uvf": dto(vault_id, profile["id"])["vaultUvf"].encode(),
        "d/AB/CDEFGHIJKLMNOPQRSTUVWXYZ234567/": b"",
        "d/AB/CDEFGHIJKLMNOPQRSTUVWXYZ234567/dir.uvf": DIR_UVF,
    }
    events = world.audit_events("VAULT_BUCKET_CREATE")
    assert [(e["createdBy"], e["vaultId"], e["bucket"]) for e in events] == [(world.alice.id, vault_id,
                                                                              "katta-" + vault_id)]


def test_bucket_may_be_created_before_the_vault_exists(world, profile):
    vault_id = "0f8e0d9a-5b7c-4d3e-9f21-0a1b2c3d4e5f"
    assert put_storage(world.bob, vault_id, dto(vault_id, profile["id"])).status_code == 200
    assert "vault.uvf" in objects("katta-" + vault_id)


def test_existing_bucket_is_409_and_left_as_it_was(world, profile):
    vault_id = world.vault()
    assert put_storage(world.alice, vault_id, dto(vault_id, profile["id"])).status_code == 200
    again = dto(vault_id, profile["id"], vaultUvf=json.dumps({"other": "template"}))
    assert put_storage(world.alice, vault_id, again).status_code == 409
    assert objects("katta-" + vault_id)["vault.uvf"] == dto(vault_id, profile["id"])["vaultUvf"].encode()


def test_a_creation_in_progress_is_503_and_writes_nothing(world, profile):
    vault_id = world.vault()
    locks = Locks(deps.table())
    assert locks.acquire(f"bucket:katta-{vault_id}", "another-request", 120, int(time.time()))
    busy = put_storage(world.alice, vault_id, dto(vault_id, profile["id"]))
    assert busy.status_code == 503 and busy.headers["Retry-After"]
    assert "katta-" + vault_id not in [b["Name"] for b in s3().list_buckets()["Buckets"]]
    locks.release(f"bucket:katta-{vault_id}", "another-request")
    assert put_storage(world.alice, vault_id, dto(vault_id, profile["id"])).status_code == 200
    assert deps.table().get(f"LOCK#bucket:katta-{vault_id}", "LOCK") is None  # released with the record
    other = dto(vault_id, profile["id"], vaultUvf=json.dumps({"other": "template"}))
    assert put_storage(world.alice, vault_id, other).status_code == 409


def test_the_same_creation_again_is_its_answer_again_and_writes_nothing(world, profile):
    """A client whose answer was lost sends the same PUT again (issue 16 item 7)."""
    vault_id = world.vault()
    assert put_storage(world.alice, vault_id, dto(vault_id, profile["id"])).status_code == 200
    stored = objects("katta-" + vault_id)
    again = put_storage(world.alice, vault_id, dto(vault_id, profile["id"]))
    assert (again.status_code, body(again)) == (200, {})
    assert objects("katta-" + vault_id) == stored
    assert len(world.audit_events("VAULT_BUCKET_CREATE")) == 1
    assert deps.table().get(f"LOCK#bucket:katta-{vault_id}", "LOCK") is None
    for changed in ({"dirUvf": "AAAA"}, {"rootDirHash": "B" * 32}):
        assert put_storage(world.alice, vault_id, dto(vault_id, profile["id"], **changed)).status_code == 409
    assert objects("katta-" + vault_id) == stored


def test_archived_profile_is_410(world, profile):
    vault_id = world.vault()
    world.admin.call("PUT", f"/api/storageprofile/{profile['id']}", "archived=true",
                     content_type="application/x-www-form-urlencoded")
    assert put_storage(world.alice, vault_id, dto(vault_id, profile["id"])).status_code == 410
    assert "katta-" + vault_id not in [b["Name"] for b in s3().list_buckets()["Buckets"]]


def test_unknown_profile_is_400(world):
    vault_id = world.vault()
    response = put_storage(world.alice, vault_id, dto(vault_id, "0f8e0d9a-5b7c-4d3e-9f21-0a1b2c3d4e5f"))
    assert response.status_code == 400
    assert body(response)["errors"][0]["field"] == "storageConfigId"


def test_static_profile_is_400(world):
    static = body(world.admin.call("POST", "/api/storageprofile", STATIC_PROFILE))
    vault_id = world.vault()
    assert put_storage(world.alice, vault_id, dto(vault_id, static["id"])).status_code == 400


@pytest.mark.parametrize("bad", ["*", "UPPER", "katta-bucket", "0F8E0D9A-5B7C-4D3E-9F21-0A1B2C3D4E5F"])
def test_a_bad_vault_id_for_a_bucket_name_is_400(world, profile, bad):
    response = put_storage(world.alice, bad, dto(bad, profile["id"]))
    assert response.status_code == 400
    assert s3().list_buckets()["Buckets"] == []


@pytest.mark.parametrize("field, value", [
    ("vaultId", "0f8e0d9a-5b7c-4d3e-9f21-0a1b2c3d4e5f"), ("rootDirHash", "abcdefghijklmnopqrstuvwxyz234567"),
    ("rootDirHash", "ABC"), ("rootDirHash", "../../../../../../../../../../etc"), ("dirUvf", "not base64!"),
    ("vaultUvf", "not json"), ("region", "eu-west-3"), ("sessionToken", ""), ("awsSecretKey", None),
    ("storageConfigId", "*"),
])
def test_invalid_requests_are_400(world, profile, field, value):
    vault_id = world.vault()
    response = put_storage(world.alice, vault_id, dto(vault_id, profile["id"], **{field: value}))
    assert response.status_code == 400, (field, value)
    assert s3().list_buckets()["Buckets"] == []


def test_another_user_cannot_create_the_bucket_of_an_existing_vault(world, profile):
    vault_id = world.vault()
    assert put_storage(world.bob, vault_id, dto(vault_id, profile["id"])).status_code == 403
    world.alice.call("PUT", f"/api/vaults/{vault_id}/users/{world.bob.id}")
    assert put_storage(world.bob, vault_id, dto(vault_id, profile["id"])).status_code == 403  # members: no
    assert s3().list_buckets()["Buckets"] == []


def test_anonymous_is_401(world, profile):
    vault_id = world.vault()
    response = world.client.http.put(f"/api/storage/{vault_id}", headers={"Content-Type": "application/json"},
                                      body=json.dumps(dto(vault_id, profile["id"])))
    assert response.status_code == 401


def test_region_comes_from_the_request_within_the_profiles_regions(world, profile):
    vault_id = world.vault()
    assert put_storage(world.alice, vault_id, dto(vault_id, profile["id"], region="eu-central-1")).status_code == 200
    assert s3().get_bucket_location(Bucket="katta-" + vault_id)["LocationConstraint"] == "eu-central-1"


def test_the_service_built_from_its_collaborators_takes_over_a_crashed_creations_lease_on_its_clock(aws):
    """No deps: moto-backed repositories, a fake S3 client factory, a fake clock."""
    table = Table(Settings().table_name)
    clock = FakeClock()
    made = []

    def s3_clients(profile, request):
        made.append((profile["id"], request.region))
        return s3()

    profiles, locks, transactions = StorageProfileRepository(table), Locks(table), Transactions(table)
    profile = {**STS_PROFILE, "id": "0f8e0d9a-5b7c-4d3e-9f21-0a1b2c3d4e5f"}
    transactions.commit(profiles.create(Transaction(), profile))
    vaults = VaultRepository(table)
    audit_log = AuditLog(AuditEventRepository(table), clock)
    service = BucketService(profiles, VaultAccess(vaults, GroupRepository(table)), locks, transactions,
                            audit_log, s3_clients, clock)
    alice = Principal("alice", "https://idp.test", "alice", frozenset({"user"}), frozenset(), "Alice", None)
    vault_id = new_vault_id()
    request = CreateBucketInput.model_validate(dto(vault_id, profile["id"]))
    assert locks.acquire(f"bucket:katta-{vault_id}", "crashed", CREATION_LEASE_SECONDS, int(clock()))

    clock.advance(CREATION_LEASE_SECONDS - 1)
    with pytest.raises(ServiceUnavailable):
        service.create(alice, vault_id, request)
    assert made == []
    clock.advance(1)
    assert service.create(alice, vault_id, request) == {}
    assert made == [(profile["id"], "us-east-1")]
    assert set(objects("katta-" + vault_id)) == {"vault.uvf", *bucket_s3.template_keys(ROOT_DIR_HASH)}
    moment = dt.datetime.fromtimestamp(clock(), dt.timezone.utc)
    events = audit_log.events(moment - dt.timedelta(seconds=1), moment + dt.timedelta(seconds=1), log=audit.SERVICE)
    assert [(e["type"], e["createdBy"], e["bucket"]) for e in events] == [
        ("VAULT_BUCKET_CREATE", "alice", "katta-" + vault_id)]


# --- the credentials ------------------------------------------------------------------------

def test_the_client_holds_the_callers_credentials_and_the_profiles_endpoint(world):
    profile = {"endpoint": "https://s3.storage.test", "pathStyleAccessEnabled": True}
    request = CreateBucketInput.model_validate(dto("0f8e0d9a-5b7c-4d3e-9f21-0a1b2c3d4e5f",
                                                   "0f8e0d9a-5b7c-4d3e-9f21-0a1b2c3d4e5f", region="eu-central-1"))
    client = bucket_s3.request_client(profile, request)
    assert client.meta.endpoint_url == "https://s3.storage.test"
    assert client.meta.region_name == "eu-central-1"
    assert client.meta.config.s3["addressing_style"] == "path"
    credentials = client._request_signer._credentials
    assert (credentials.access_key, credentials.secret_key, credentials.token) == tuple(SECRETS.values())


def test_credentials_are_neither_stored_nor_logged_nor_echoed(world, profile, caplog):
    caplog.set_level(logging.DEBUG)
    vault_id = world.vault()
    ok = put_storage(world.alice, vault_id, dto(vault_id, profile["id"]))
    refused = put_storage(world.alice, vault_id, dto(vault_id, profile["id"], rootDirHash="bad"))
    conflict = put_storage(world.alice, vault_id, dto(vault_id, profile["id"], vaultUvf=json.dumps({"x": 1})))
    assert (ok.status_code, refused.status_code, conflict.status_code) == (200, 400, 409)
    table = json.dumps(boto3.client("dynamodb").scan(TableName=os.environ["KATTA_TABLE_NAME"])["Items"])
    for secret in SECRETS.values():
        assert secret not in table
        assert secret.encode() not in refused.body and secret.encode() not in conflict.body
        assert secret not in caplog.text


def test_validation_errors_never_echo_a_credential():
    with pytest.raises(Exception) as failed:
        CreateBucketInput.model_validate({**SECRETS, "sessionToken": 42})
    assert all(secret not in str(failed.value) for secret in SECRETS.values())
    valid = CreateBucketInput.model_validate(dto("0f8e0d9a-5b7c-4d3e-9f21-0a1b2c3d4e5f",
                                                 "0f8e0d9a-5b7c-4d3e-9f21-0a1b2c3d4e5f"))
    assert all(secret not in repr(valid) and secret not in str(valid) for secret in SECRETS.values())


# --- S3 refusals ----------------------------------------------------------------------------

def _stubbed(monkeypatch, program):
    """Replaces the request's S3 client by a stub answering ``program``; returns the stub."""
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    stub = Stubber(client)
    program(stub)
    stub.activate()
    service = BucketService(deps.storage_profiles(), deps.vault_access(), Locks(deps.table()),
                            deps.transactions(), deps.audit_log(), lambda profile, body: client)
    monkeypatch.setattr(deps, "bucket_service", lambda: service)
    return stub


def test_credentials_refused_by_s3_are_400(world, profile, monkeypatch):
    vault_id = world.vault()
    _stubbed(monkeypatch, lambda stub: (
        stub.add_client_error("head_bucket", "403", http_status_code=403),
        stub.add_client_error("create_bucket", "AccessDenied", http_status_code=403)))
    response = put_storage(world.alice, vault_id, dto(vault_id, profile["id"]))
    assert response.status_code == 400
    assert "AccessDenied" in body(response)["detail"]


def test_a_bucket_of_someone_else_is_409(world, profile, monkeypatch):
    vault_id = world.vault()
    _stubbed(monkeypatch, lambda stub: (
        stub.add_client_error("head_bucket", "403", http_status_code=403),
        stub.add_client_error("create_bucket", "BucketAlreadyExists", http_status_code=409)))
    assert put_storage(world.alice, vault_id, dto(vault_id, profile["id"])).status_code == 409


def test_an_s3_outage_is_503_and_a_half_written_template_is_removed(world, profile, monkeypatch):
    vault_id = world.vault()
    bucket = "katta-" + vault_id

    def program(stub):
        stub.add_client_error("head_bucket", "404", http_status_code=404)
        stub.add_response("create_bucket", {}, {"Bucket": bucket})
        stub.add_response("put_object", {}, None)
        stub.add_client_error("put_object", "InternalError", http_status_code=500)
        for key in ("vault.uvf", "d/AB/CDEFGHIJKLMNOPQRSTUVWXYZ234567/",
                    "d/AB/CDEFGHIJKLMNOPQRSTUVWXYZ234567/dir.uvf"):
            stub.add_response("delete_object", {}, {"Bucket": bucket, "Key": key})
        stub.add_response("delete_bucket", {}, {"Bucket": bucket})

    stub = _stubbed(monkeypatch, program)
    response = put_storage(world.alice, vault_id, dto(vault_id, profile["id"]))
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    stub.assert_no_pending_responses()
    assert world.audit_events("VAULT_BUCKET_CREATE") == []
    assert deps.table().get(f"LOCK#bucket:{bucket}", "LOCK") is None  # a retry may start at once


# --- the JWE body ---------------------------------------------------------------------------

def _encrypt_to_pop(world, payload: bytes, **header) -> str:
    from joserfc import jwe
    from joserfc.jwk import JWKRegistry

    document = json.loads(world.client.http.get("/pop").body)
    kid = document["active"]["enc"]
    public = next(k for k in document["keys"] if k["kid"] == kid)
    protected = {"alg": public["alg"], "enc": "A256GCM", "kid": kid, "cty": "json", **header}
    return jwe.encrypt_compact(protected, payload, JWKRegistry.import_key(public),
                               algorithms=[protected["alg"], "A256GCM"])


def test_the_request_may_arrive_as_a_jwe_to_a_pop_key(world, profile):
    vault_id = world.vault()
    compact = _encrypt_to_pop(world, json.dumps(dto(vault_id, profile["id"])).encode())
    assert all(secret not in compact for secret in SECRETS.values())
    response = put_storage(world.alice, vault_id, compact, content_type="application/jose")
    assert response.status_code == 200, response.body
    assert objects("katta-" + vault_id)["d/AB/CDEFGHIJKLMNOPQRSTUVWXYZ234567/dir.uvf"] == DIR_UVF


def test_a_tampered_jwe_is_400_and_creates_nothing(world, profile):
    vault_id = world.vault()
    parts = _encrypt_to_pop(world, json.dumps(dto(vault_id, profile["id"])).encode()).split(".")
    ciphertext = bytearray(base64.urlsafe_b64decode(parts[3] + "=="))
    ciphertext[0] ^= 1
    parts[3] = base64.urlsafe_b64encode(bytes(ciphertext)).rstrip(b"=").decode()
    response = put_storage(world.alice, vault_id, ".".join(parts), content_type="application/jose")
    assert response.status_code == 400
    assert s3().list_buckets()["Buckets"] == []


def test_a_jwe_to_an_unknown_key_or_with_an_invalid_payload_is_400(world, profile):
    vault_id = world.vault()
    unknown = _encrypt_to_pop(world, json.dumps(dto(vault_id, profile["id"])).encode(), kid="not-a-pop-key")
    assert put_storage(world.alice, vault_id, unknown, content_type="application/jose").status_code == 400
    invalid = _encrypt_to_pop(world, json.dumps(dto(vault_id, profile["id"], rootDirHash="x")).encode())
    assert put_storage(world.alice, vault_id, invalid, content_type="application/jose").status_code == 400
    assert s3().list_buckets()["Buckets"] == []
