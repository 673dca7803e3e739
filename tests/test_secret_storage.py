"""The secret server's storage: one secret per user under races, sealed at rest, across ring
rotations, and a warm release within its AWS-call budget (architecture §13)."""
from __future__ import annotations

import base64
import threading
import traceback

import boto3
import pytest

from chalicelib import deps
from chalicelib.secrets.form import ExchangeRequest
from chalicelib.secrets.service import RING, secret_identity
from chalicelib.db.keys import secret_key
from devstack.idp import user_id
from tests.support.atomic import atomic_items  # noqa: F401 — fixture
from tests.support.kms import AwsCalls, kms_key  # noqa: F401 — fixture
from tests.test_secret_fixtures import world  # noqa: F401 — fixture


def _raw_secret_item(world, username: str) -> dict:
    pk, sk = secret_key(world.idp.issuer, user_id(username), "secret-server")
    return boto3.client("dynamodb").get_item(TableName="katta-test", Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]


def test_twenty_concurrent_first_requests_get_one_secret(world, atomic_items):
    # Each DynamoDB request is atomic, as in AWS (moto's are not: two conditional puts could both
    # pass); the reads and the conditional put that creates the secret still race.
    backend = world.register()
    deps.pop_keys().active("sig")  # the POP ring exists before traffic (its rotation job makes it)
    service = deps.secret_server()
    requests = [ExchangeRequest(world.user_token("carol"), backend.client_id, backend.client_assertion(), None)
                for _ in range(20)]
    tokens: list[str] = []
    failures: list[str] = []
    start = threading.Barrier(len(requests))

    def exchange(request: ExchangeRequest) -> None:
        start.wait()
        try:
            tokens.append(service.exchange(request)["access_token"])
        except BaseException as error:  # noqa: BLE001 — reported below
            failures.append("".join(traceback.format_exception(error)))

    threads = [threading.Thread(target=exchange, args=(r,)) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures[0]
    secrets = {backend.open_release(token).secret for token in tokens}
    assert len(tokens) == 20 and len(secrets) == 1
    assert sum(e["secretCreated"] for e in world.audit_events("SECRET_RELEASE")) == 1


def test_the_stored_item_holds_the_secret_only_sealed(world):
    backend = world.register()
    secret = backend.release(world.user_token("alice")).secret
    item = _raw_secret_item(world, "alice")
    assert item["sealed_ring"]["S"] == RING and item["gsi1pk"]["S"] == "SEALED#secret"
    raw = repr(item).encode()
    for form in (secret, secret.hex().encode(), base64.b64encode(secret), base64.urlsafe_b64encode(secret).rstrip(b"=")):
        assert form not in raw
    assert secret not in bytes(item["sealed"]["B"])
    # And the record opens only as alice's.
    from chalicelib.crypto.errors import TamperedRecord
    rings = deps.key_rings()
    assert rings.open(RING, item["sealed"]["B"], secret_identity(world.idp.issuer, user_id("alice"))) == secret
    with pytest.raises(TamperedRecord):
        rings.open(RING, item["sealed"]["B"], secret_identity(world.idp.issuer, user_id("bob")))


def test_a_secret_moved_to_another_user_is_not_released(world):
    backend = world.register()
    backend.release(world.user_token("alice"))
    backend.release(world.user_token("bob"))
    alice = _raw_secret_item(world, "alice")
    bob = _raw_secret_item(world, "bob")
    bob["sealed"] = alice["sealed"]  # an attacker with table access swaps records
    boto3.client("dynamodb").put_item(TableName="katta-test", Item=bob)
    response = world.exchange(world.form(backend, world.user_token("bob")))
    assert response.status_code == 500 and b"alice" not in response.body


def _new_instance() -> None:
    """Forget every per-process cache, as a fresh Lambda instance would."""
    for accessor in (deps.key_rings, deps.pop_keys, deps.secret_server):
        accessor.cache_clear()


def test_old_secrets_are_still_released_after_ring_rotations(world):
    backend = world.register()
    before = backend.release(world.user_token("alice")).secret
    rings = deps.key_rings()
    rings.rotate(RING)
    rings.rotate(RING)
    _new_instance()
    assert backend.release(world.user_token("alice")).secret == before
    backend.release(world.user_token("bob"))
    assert [e["secretVersion"] for e in world.audit_events("SECRET_RELEASE")] == [3, 1, 1]  # newest first
    # The re-wrap job moves alice's record to the newest version; her secret does not change.
    report = deps.key_rings().rewrap_records(RING)
    assert report.rewrapped == 1
    _new_instance()
    assert backend.release(world.user_token("alice")).secret == before
    assert world.audit_events("SECRET_RELEASE")[0]["secretVersion"] == 3


def test_a_warm_release_makes_two_dynamodb_calls_and_no_kms_call(world):
    backend = world.register()
    backend.exchange(world.user_token("alice"))  # warms the ring, the POP keys and alice's secret
    calls = AwsCalls().watch("dynamodb").watch("kms")
    backend.exchange(world.user_token("alice"))
    assert calls.of("kms") == 0
    assert calls.of("dynamodb") <= 2, calls.calls
    assert dict(calls.calls) == {"dynamodb.BatchGetItem": 1, "dynamodb.TransactWriteItems": 1}
    # A warm first release of another user adds only the conditional put of the new secret.
    calls.reset()
    backend.exchange(world.user_token("bob"))
    assert calls.of("kms") == 0 and dict(calls.calls) == {
        "dynamodb.BatchGetItem": 1, "dynamodb.PutItem": 1, "dynamodb.TransactWriteItems": 1}


def test_the_calls_do_not_grow_with_the_number_of_users(world):
    backend = world.register()
    for n in range(30):
        if n:
            world.idp.add_user(f"user{n}")
        backend.exchange(world.user_token("alice" if n == 0 else f"user{n}"))
    calls = AwsCalls().watch("dynamodb").watch("kms")
    backend.exchange(world.user_token("alice"))
    assert sum(calls.calls.values()) == 2
