"""KMS envelope key rings: format, refusals, ring operations, caching and KMS failures."""
from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from chalicelib import aws, deps
from chalicelib.crypto import envelope
from chalicelib.crypto.errors import RecordError, RingConflict, TamperedRecord, UnknownRing, VersionRetired
from chalicelib.crypto.keyring import KeyRings
from chalicelib.settings import Settings
from chalicelib.db.keyrings import KeyRingRepository, SealedRecordIndex
from tests.conftest import bearer
from tests.support.clock import FakeClock
from tests.support.kms import calls, create_management_key, kms_key  # noqa: F401 — fixtures
from tests.support.sealed import sealed_item

ALICE = "https://idp.test|alice|vault-secret"
BOB = "https://idp.test|bob|vault-secret"


@pytest.fixture
def clock():
    return FakeClock()


def make_rings(clock, **overrides) -> KeyRings:
    settings = Settings(**overrides)
    table = deps.table()
    return KeyRings(KeyRingRepository(table), SealedRecordIndex(table), deps.transactions(), deps.audit_log(),
                    settings, clock=clock)


@pytest.fixture
def rings(kms_key, clock):
    return make_rings(clock)


def test_seal_names_its_version_and_opens_only_for_its_identity(rings):
    sealed = rings.seal("secrets", b"top secret", ALICE)
    assert sealed.version == 1 and envelope.version_of("secrets", sealed.record) == 1
    assert b"top secret" not in sealed.record
    assert rings.open("secrets", sealed.record, ALICE) == b"top secret"
    with pytest.raises(TamperedRecord):
        rings.open("secrets", sealed.record, BOB)  # moved to another user


def test_every_flipped_byte_is_refused_as_a_record_error(rings):
    sealed = rings.seal("secrets", b"payload", ALICE).record
    for position in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[position] ^= 0x01
        with pytest.raises(RecordError):
            rings.open("secrets", bytes(tampered), ALICE)


@pytest.mark.parametrize("record", [b"", b"KR\x01", b"not a record at all, but long enough to parse", b"\x00" * 64])
def test_garbage_is_refused_not_crashed_on(rings, record):
    rings.seal("secrets", b"x", ALICE)
    with pytest.raises(TamperedRecord):
        rings.open("secrets", record, ALICE)


def test_a_record_of_another_ring_or_deployment_is_foreign(rings, clock):
    sealed = rings.seal("secrets", b"payload", ALICE).record
    rings.seal("other", b"make the ring", ALICE)
    with pytest.raises(TamperedRecord):
        rings.open("other", sealed, ALICE)
    with pytest.raises(TamperedRecord):
        rings.open("never-created", sealed, ALICE)
    # Same ring name and version, but another deployment's data key.
    foreign = envelope.seal(bytes(32), "secrets", 1, b"payload", ALICE)
    with pytest.raises(TamperedRecord):
        rings.open("secrets", foreign, ALICE)


def test_kms_refuses_a_version_copied_into_another_ring(rings):
    rings.seal("secrets", b"x", ALICE)
    rings.seal("other", b"y", ALICE)
    table = deps.table()
    stolen = table.get("RING#secrets", "V#0000000001")
    table.put({**table.get("RING#other", "V#0000000001"), "wrapped": stolen["wrapped"]})
    fresh = make_rings(rings._clock)  # a new instance: nothing cached
    record = rings.seal("other", b"z", ALICE).record
    with pytest.raises(RecordError, match="KMS refuses to unwrap version 1"):
        fresh.open("other", record, ALICE)


def test_warm_requests_make_no_kms_and_no_dynamodb_call(rings, calls):
    first = rings.seal("secrets", b"one", ALICE)
    rings.open("secrets", first.record, ALICE)
    calls.watch("kms").watch("dynamodb")
    for _ in range(5):
        sealed = rings.seal("secrets", b"two", ALICE)
        assert rings.open("secrets", sealed.record, ALICE) == b"two"
        assert rings.open("secrets", first.record, ALICE) == b"one"
    assert calls.of("kms") == 0
    assert calls.of("dynamodb") == 0


def test_cold_instance_unwraps_each_version_once_then_stays_warm(rings, clock, calls):
    old = rings.seal("secrets", b"old", ALICE)
    rings.rotate("secrets")
    new = rings.seal("secrets", b"new", ALICE)
    cold = make_rings(clock)
    calls.watch("kms")
    for _ in range(3):
        assert cold.open("secrets", old.record, ALICE) == b"old"
        assert cold.open("secrets", new.record, ALICE) == b"new"
    assert calls.calls["kms.Decrypt"] == 2


def test_cached_versions_expire_after_the_configured_time(kms_key, clock, calls):
    rings = make_rings(clock, data_key_cache_seconds=30, key_ring_cache_seconds=10)
    sealed = rings.seal("secrets", b"x", ALICE)
    calls.watch("kms")
    clock.advance(29)
    rings.open("secrets", sealed.record, ALICE)
    assert calls.of("kms") == 0
    clock.advance(2)
    rings.open("secrets", sealed.record, ALICE)
    assert calls.calls["kms.Decrypt"] == 1


def test_versions_use_the_documented_encryption_context(rings, calls):
    calls.watch("kms")
    captured = []
    aws.client("kms").meta.events.register("provide-client-params.kms.GenerateDataKey",
                                           lambda params, **_: captured.append(dict(params)))
    rings.seal("secrets", b"x", ALICE)
    rings.rotate("secrets")
    assert [p["EncryptionContext"] for p in captured] == [
        {"katta:ring": "secrets", "katta:version": "1"}, {"katta:ring": "secrets", "katta:version": "2"}]
    assert all(p["KeyId"] == "alias/katta-management" and p["KeySpec"] == "AES_256" for p in captured)


def test_rotation_makes_the_new_version_the_sealing_version(rings):
    old = rings.seal("secrets", b"old", ALICE)
    rings.rotate("secrets")
    new = rings.seal("secrets", b"new", ALICE)
    assert (old.version, new.version) == (1, 2)
    assert rings.open("secrets", old.record, ALICE) == b"old"


def test_another_instances_rotation_is_found_on_an_unknown_version(rings, clock):
    other = make_rings(clock)
    rings.seal("secrets", b"x", ALICE)
    other.rotate("secrets")
    record = other.seal("secrets", b"from v2", ALICE).record
    assert rings.open("secrets", record, ALICE) == b"from v2"


def test_a_version_rotated_in_just_after_a_reload_still_opens(rings, clock):
    # The race the key-ring soak found: an instance that had just reloaded for one new version
    # refused the next one, another instance's rotation seconds later, as tampered.
    other = make_rings(clock)
    rings.seal("secrets", b"x", ALICE)
    for version in (2, 3):
        other.rotate("secrets")
        record = other.seal("secrets", b"v%d" % version, ALICE).record
        clock.advance(1)
        assert rings.open("secrets", record, ALICE) == b"v%d" % version


def test_a_version_the_ring_never_had_is_tampered_after_one_reload(rings, calls):
    good = rings.seal("secrets", b"x", ALICE).record
    forged = good[:3] + (7).to_bytes(4, "big") + good[7:]
    calls.watch("dynamodb")
    with pytest.raises(TamperedRecord, match="names version 7"):
        rings.open("secrets", forged, ALICE)
    assert calls.calls["dynamodb.Query"] == 1


def test_the_floor_refuses_older_versions_with_a_distinct_error(rings, clock):
    old = rings.seal("secrets", b"old", ALICE)
    rings.rotate("secrets")
    with pytest.raises(RingConflict, match="other instances may still seal"):
        rings.set_min_decryption_version("secrets", 2)
    clock.advance(60)
    rings.set_min_decryption_version("secrets", 2)
    with pytest.raises(VersionRetired) as refused:
        rings.open("secrets", old.record, ALICE)
    assert (refused.value.version, refused.value.floor, refused.value.status) == (1, 2, 410)
    rings.set_min_decryption_version("secrets", 1)  # lowering is allowed until trimmed
    assert rings.open("secrets", old.record, ALICE) == b"old"


def test_the_floor_stays_within_the_ring(rings, clock):
    rings.seal("secrets", b"x", ALICE)
    for floor in (0, 2):
        with pytest.raises(RingConflict, match="between 1 and 1"):
            rings.set_min_decryption_version("secrets", floor)
    with pytest.raises(UnknownRing):
        rings.set_min_decryption_version("missing", 1)


def test_trim_deletes_only_versions_below_the_floor(rings, clock):
    old = rings.seal("secrets", b"old", ALICE)
    rings.rotate("secrets")
    rings.rotate("secrets")
    assert rings.trim("secrets") == []
    clock.advance(60)
    rings.set_min_decryption_version("secrets", 2)
    assert rings.trim("secrets") == [1]
    assert deps.table().get("RING#secrets", "V#0000000001") is None
    assert rings.describe("secrets")["minAvailableVersion"] == 2
    with pytest.raises(VersionRetired):
        rings.open("secrets", old.record, ALICE)
    with pytest.raises(RingConflict):
        rings.set_min_decryption_version("secrets", 1)  # gone for good


def test_rewrap_records_moves_them_to_the_newest_version(rings, clock):
    table = deps.table()
    for user in ("alice", "bob"):
        table.put(sealed_item(rings, "secrets", f"TEST#{user}", "S", user.encode(), f"id-{user}"))
    rings.rotate("secrets")
    report = rings.rewrap_records("secrets")
    assert report.as_dict() == {"rewrapped": 2, "retired": 0, "unreadable": 0, "conflicts": 0}
    for user in ("alice", "bob"):
        item = table.get(f"TEST#{user}", "S")
        assert envelope.version_of("secrets", bytes(item["sealed"])) == 2
        assert rings.open("secrets", bytes(item["sealed"]), f"id-{user}") == user.encode()
    assert rings.rewrap_records("secrets").rewrapped == 0


def test_rewrap_versions_moves_ring_keys_to_a_new_management_key(rings, clock, calls):
    sealed = rings.seal("secrets", b"payload", ALICE)
    rings.rotate("secrets")
    new_arn = create_management_key("alias/katta-management-2")
    calls.watch("kms")
    assert rings.rewrap_versions("secrets", "alias/katta-management-2") == 2
    assert calls.calls["kms.ReEncrypt"] == 2 and calls.calls["kms.Decrypt"] == 0
    assert {v["kmsKey"] for v in rings.describe("secrets")["versions"]} == {new_arn}
    cold = make_rings(clock)
    assert cold.open("secrets", sealed.record, ALICE) == b"payload"


def test_kms_throttling_is_a_503_with_retry_after_and_writes_nothing(client, issuer, kms_key):
    admin = issuer.token("root", realm_access={"roles": ["admin"]})
    assert client.http.post("/api/admin/keys/rings/secrets/rotate", headers=bearer(admin)).status_code == 404
    deps.key_rings().seal("secrets", b"x", ALICE)

    def throttle(**_kwargs):
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                           "ResponseMetadata": {"HTTPStatusCode": 400}}, "GenerateDataKey")

    aws.client("kms").meta.events.register("before-call.kms.GenerateDataKey", throttle)
    before = list(deps.table().query_all("RING#secrets"))
    response = client.http.post("/api/admin/keys/rings/secrets/rotate", headers=bearer(admin))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert json.loads(response.body)["title"] == "Service Unavailable"
    assert list(deps.table().query_all("RING#secrets")) == before


def test_ring_endpoints_need_the_admin_role(client, issuer, kms_key):
    deps.key_rings().seal("secrets", b"x", ALICE)
    user = issuer.token("alice")
    admin = issuer.token("root", realm_access={"roles": ["admin"]})
    calls_ = [("post", "/api/admin/keys/rings/secrets/rotate", None),
              ("put", "/api/admin/keys/rings/secrets/min-decryption-version", {"version": 1}),
              ("post", "/api/admin/keys/rings/secrets/trim", None),
              ("post", "/api/admin/keys/rings/secrets/rewrap", None),
              ("post", "/api/admin/keys/rings/secrets/rewrap-versions", None),
              ("post", "/api/admin/keys/pop/sig/rotate", None),
              ("get", "/api/admin/keys", None)]
    for method, path, body in calls_:
        kwargs = {"body": json.dumps(body)} if body else {}
        headers = {"Content-Type": "application/json"}
        assert getattr(client.http, method)(path, headers=headers, **kwargs).status_code == 401, path
        assert getattr(client.http, method)(path, headers={**headers, **bearer(user)}, **kwargs).status_code == 403
        assert getattr(client.http, method)(path, headers={**headers, **bearer(admin)}, **kwargs).status_code == 200
    assert deps.key_rings().describe("secrets")["latestVersion"] == 2


def test_floor_endpoint_validates_its_input(client, issuer, kms_key):
    deps.key_rings().seal("secrets", b"x", ALICE)
    admin = {**bearer(issuer.token("root", realm_access={"roles": ["admin"]})), "Content-Type": "application/json"}
    path = "/api/admin/keys/rings/secrets/min-decryption-version"
    assert client.http.put(path, headers=admin, body=json.dumps({"version": 0})).status_code == 400
    assert client.http.put(path, headers=admin, body=json.dumps({"versions": 1})).status_code == 400
    assert client.http.put(path, headers=admin, body=json.dumps({"version": 9})).status_code == 409
    bad = client.http.post("/api/admin/keys/rings/Bad_Name/rotate", headers=admin)
    assert bad.status_code == 400 and json.loads(bad.body)["errors"][0]["field"] == "ring"
