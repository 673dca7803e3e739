"""Client input of the wrong shape is a 4xx, never a 500 (findings of the security review)."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.support.katta_api import Actor


@pytest.fixture
def alice(client, issuer):
    return Actor(client, issuer, "alice").sign_in()


@pytest.mark.parametrize("wait", ["²", "9" * 400, "-1", "1.5"])
def test_long_poll_wait_must_be_a_small_integer(alice, wait):
    response = alice.get(f"/api/vaults/users-requiring-access-grant?wait={wait}")
    assert response.status_code == 400
    assert json.loads(response.body)["errors"][0]["field"] == "wait"


def test_deeply_nested_json_body_is_a_400(alice):
    response = alice.call("PUT", "/api/users/me", "[" * 100_000)
    assert response.status_code == 400
    assert json.loads(response.body)["errors"][0]["reason"] == "nested too deeply"


def test_deeply_nested_json_body_before_authentication_is_not_a_500(client, issuer):
    response = client.http.post("/api/rendezvous", body="[" * 100_000, headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 401)


def test_audit_log_end_in_the_far_future_reads_up_to_now(client, issuer):
    from botocore.client import BaseClient

    admin = Actor(client, issuer, "root", roles=("user", "admin")).sign_in()
    queries = []
    original = BaseClient._make_api_call

    def counting(self, operation, params):
        queries.append(operation)
        return original(self, operation, params)

    BaseClient._make_api_call = counting
    try:
        start = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
        response = admin.get(f"/api/auditlog?startDate={start}&endDate=9999-12-31T00:00:00Z")
    finally:
        BaseClient._make_api_call = original
    assert response.status_code == 200
    assert queries.count("Query") <= 4  # three months at most, not 95,000
