"""The rendezvous API in a test: the service on a fake clock, and requests through the Chalice test client."""
from __future__ import annotations

import json
import time

import boto3
import pytest

from chalicelib import deps
from chalicelib.rendezvous.service import RendezvousService
from chalicelib.settings import Settings, get_settings
from chalicelib.db.rendezvous import RendezvousRepository
from tests.conftest import bearer
from tests.support.clock import FakeClock

BASE = "/api/rendezvous"
JSON = {"Content-Type": "application/json"}


class Rendezvous:
    """The service the API uses in a test: a fake clock and settings the test chooses."""

    def __init__(self, monkeypatch) -> None:
        self.monkeypatch = monkeypatch
        # Near now: anonymous creators are counted in real minute windows that DynamoDB items outlive.
        self.clock = FakeClock(time.time())
        self.configure()

    def configure(self, **overrides) -> None:
        self.settings = Settings(**overrides)
        service = RendezvousService(RendezvousRepository(deps.table()), self.settings, clock=self.clock)
        self.monkeypatch.setattr(deps, "rendezvous", lambda: service)


@pytest.fixture
def rdv(aws, monkeypatch):
    return Rendezvous(monkeypatch)


@pytest.fixture
def alice(issuer):
    return bearer(issuer.token("alice"))


def send(client, method, path, body=None, headers=None):
    raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    return client.http.request(method, path, headers={**JSON, **(headers or {})}, body=raw)


def ok(response, status=200):
    assert response.status_code == status, response.body
    return json.loads(response.body) if response.body else None


def problem(response, status):
    assert response.status_code == status, response.body
    assert response.headers["Content-Type"] == "application/problem+json"
    body = json.loads(response.body)
    assert body["status"] == status
    return body


def create(client, headers, data="hello"):
    return ok(send(client, "POST", BASE, {"data": data}, headers), 201)


def raw_item(pk, sk):
    return boto3.client("dynamodb").get_item(TableName=get_settings().table_name,
                                             Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item")
