"""KMS throttled or down: the request fails retryably (ServiceUnavailable, a 503) and nothing is half-written."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from chalicelib import aws, deps, errors
from chalicelib.web import to_api_error
from tests.support.clock import FakeClock
from tests.support.kms import kms_key  # noqa: F401 — fixture
from tests.support.pop import instance


def _fail(operation: str, error: Exception) -> None:
    def raise_(**_kwargs):
        raise error
    aws.client("kms").meta.events.register(f"before-call.kms.{operation}", raise_)


THROTTLED = ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                         "ResponseMetadata": {"HTTPStatusCode": 400}}, "Decrypt")
DOWN = EndpointConnectionError(endpoint_url="https://kms.us-east-1.amazonaws.com")


@pytest.mark.parametrize("error", [THROTTLED, DOWN])
def test_a_cold_open_with_kms_failing_is_retryable_not_a_record_error(kms_key, error):
    sealed = deps.key_rings().seal("secrets", b"x", "id").record
    deps.key_rings.cache_clear()  # a cold instance: nothing unwrapped
    _fail("Decrypt", error)
    with pytest.raises(errors.ServiceUnavailable) as raised:
        deps.key_rings().open("secrets", sealed, "id")
    mapped = to_api_error(raised.value)
    assert mapped.status == 503 and mapped.headers["Retry-After"]


def test_a_first_seal_with_kms_failing_creates_no_ring(kms_key):
    _fail("GenerateDataKey", THROTTLED)
    with pytest.raises(errors.ServiceUnavailable):
        deps.key_rings().seal("secrets", b"x", "id")
    assert list(deps.table().query_all("RING#secrets")) == []


def test_a_pop_rotation_with_kms_failing_writes_nothing_and_frees_the_lock(kms_key):
    clock = FakeClock()
    warm = instance(clock)
    warm.jwks()  # both POP rings and the 'pop' key ring exist
    before = sorted(i["sk"] for i in deps.table().query_all("POP#sig"))
    cold = instance(clock)  # nothing unwrapped yet: sealing the new key needs KMS
    _fail("Decrypt", THROTTLED)
    with pytest.raises(errors.ServiceUnavailable):
        cold.rotate("sig", force=True)
    assert sorted(i["sk"] for i in deps.table().query_all("POP#sig")) == before
    assert deps.table().get("LOCK#pop-rotation-sig", "LOCK") is None
