"""A stalled or throttling AWS dependency is a 503 within the call budget, nothing half-written, and
the first request after it succeeds.

The stall comes from the fault layer (``FaultInjector.outage``, a read timeout by default): each attempt waits out the
read timeout its client was given and fails as that timeout would; what the request waited is
the sum of those timeouts and of the back-offs botocore chose — counted, never measured on a clock.
"""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from chalicelib import aws as aws_clients, deps
from chalicelib.settings import Settings, get_settings
from tests.support import faults
from tests.support.katta_api import Actor, body
from tests.support.katta_keys import new_vault_id, vault_dto
from tests.support.kms import kms_key  # noqa: F401 — fixture


@pytest.fixture
def alice(client, issuer):
    return Actor(client, issuer, "alice").sign_in().set_up_keys()


@pytest.fixture
def injector(aws):
    with faults.installed() as installed:
        yield installed


def test_the_defaults_fit_the_budget_and_a_setting_that_does_not_is_refused_at_start():
    defaults = Settings()
    assert defaults.aws_call_worst_seconds == 3 * (1 + 2) + 1 + 2 <= defaults.aws_call_budget_seconds
    with pytest.raises(ValidationError, match="aws_call_budget_seconds: .* 36 s"):
        Settings(aws_read_timeout_seconds=10)
    assert Settings(aws_read_timeout_seconds=10, aws_max_attempts=1).aws_call_worst_seconds == 11


@pytest.mark.parametrize("mode", ["standard", "adaptive"])
def test_the_clients_get_the_configured_timeouts_and_retries(aws, monkeypatch, mode):
    monkeypatch.setenv("KATTA_AWS_RETRY_MODE", mode)
    monkeypatch.setenv("KATTA_AWS_MAX_ATTEMPTS", "2")
    deps.reset()
    config = aws_clients.client("kms").meta.config
    assert (config.connect_timeout, config.read_timeout) == (1.0, 2.0)
    assert config.retries == {"total_max_attempts": 2, "mode": mode}


def test_a_dynamodb_stall_is_a_503_within_the_budget_and_the_next_request_succeeds(alice, injector):
    settings = get_settings()
    with injector.outage("dynamodb") as stall:
        during = alice.get("/api/vaults/accessible")
    assert during.status_code == 503 and during.headers["Retry-After"] == "1"
    assert "retry later" in body(during)["detail"]
    # The request gave up at its first call, after the configured attempts, each with the configured timeouts.
    assert len({a.call for a in stall.attempts}) == 1
    assert len(stall.attempts) == settings.aws_max_attempts
    assert {(a.connect_timeout, a.read_timeout) for a in stall.attempts} == {
        (settings.aws_connect_timeout_seconds, settings.aws_read_timeout_seconds)}
    assert stall.waited <= settings.aws_call_worst_seconds <= settings.aws_call_budget_seconds

    with injector.record() as calls:
        after = alice.get("/api/vaults/accessible")
    assert after.status_code == 200 and calls  # no breaker or poisoned client outlives the stall


@pytest.mark.parametrize("mode", ["standard", "adaptive"])
def test_a_kms_stall_is_a_503_within_the_budget_and_nothing_is_written(kms_key, injector, monkeypatch, mode):
    monkeypatch.setenv("KATTA_AWS_RETRY_MODE", mode)
    deps.reset()
    settings = get_settings()
    with injector.outage("kms") as stall:
        with pytest.raises(Exception) as refused:
            deps.key_rings().seal("stalled", b"record", "identity")
    assert getattr(refused.value, "status", None) == 503
    assert [a.call for a in stall.attempts] == ["kms.GenerateDataKey"] * settings.aws_max_attempts
    assert stall.waited <= settings.aws_call_budget_seconds
    assert "stalled" not in deps.key_rings().names()  # the ring was not created half-way

    sealed = deps.key_rings().seal("stalled", b"record", "identity")
    assert deps.key_rings().open("stalled", sealed.record, "identity") == b"record"


def table_items() -> list[dict]:
    """The whole table (a Scan: test bookkeeping, outside any outage)."""
    from chalicelib.settings import get_settings
    client = aws_clients.session().client("dynamodb")
    return sorted(client.scan(TableName=get_settings().table_name)["Items"], key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


@pytest.mark.parametrize("fault", [faults.THROTTLING, faults.PROVISIONED_THROUGHPUT], ids=str)
def test_sustained_dynamodb_throttling_is_503_on_every_request_and_writes_nothing(alice, client, issuer, injector, fault):
    bob = Actor(client, issuer, "bob", roles=("user",)).sign_in().set_up_keys()
    vault_id = new_vault_id()
    alice.create_vault(vault_id)
    before = table_items()
    requests = [("GET", "/api/users/me", None), ("GET", f"/api/vaults/{vault_id}", None),
                ("PUT", f"/api/vaults/{new_vault_id()}", vault_dto(new_vault_id())),
                ("PUT", f"/api/vaults/{vault_id}/users/{bob.id}", None),
                ("POST", f"/api/vaults/{vault_id}/access-tokens", {bob.id: bob.keys.access_token(b"k" * 32)}),
                ("PUT", "/api/users/me", alice.keys.user_dto()), ("DELETE", f"/api/vaults/{vault_id}", None)]
    with injector.outage("dynamodb", fault=fault) as outage:
        answers = [alice.call(method, path, payload) for _round in range(3) for method, path, payload in requests]
    assert [a.status_code for a in answers] == [503] * len(answers)
    assert all(a.headers["Retry-After"] == "1" and "Traceback" not in a.body.decode() for a in answers)
    assert len(outage.attempts) == len(answers) * get_settings().aws_max_attempts  # each gave up at its first call
    assert table_items() == before

    assert alice.call("PUT", f"/api/vaults/{vault_id}/users/{bob.id}").status_code == 201
    assert alice.get(f"/api/vaults/{vault_id}").status_code == 200


@pytest.mark.parametrize("fault", [faults.THROTTLING, faults.KMS_INTERNAL], ids=str)
def test_sustained_kms_throttling_is_503_where_kms_is_needed_and_the_rest_keeps_working(kms_key, client, issuer,
                                                                                      injector, fault):
    admin = Actor(client, issuer, "ada", roles=("user", "admin")).sign_in()
    deps.key_rings().seal("reports", b"a record", "identity")
    before = table_items()
    with injector.outage("kms", fault=fault) as outage:
        refused = [admin.call("POST", "/api/admin/keys/rings/reports/rotate") for _ in range(5)]
        listing = admin.get("/api/admin/keys")  # metadata only: no KMS call
    assert [r.status_code for r in refused] == [503] * 5
    assert all(r.headers["Retry-After"] == "1" for r in refused)
    assert {a.call for a in outage.attempts} == {"kms.GenerateDataKey"}
    assert listing.status_code == 200
    assert table_items() == before

    after = admin.call("POST", "/api/admin/keys/rings/reports/rotate")
    assert after.status_code == 200, after.body
    assert body(after)["latestVersion"] == 2
