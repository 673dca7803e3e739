"""Shared wiring of the secret-server tests (no tests here): a world with a registered IdP and backend.

``SecretWorld`` holds the in-process app (chalice.test.Client over moto), a dev
IdP that is registered for the secret server, an admin token, and helpers to
register resource servers and to run exchanges the way a backend would
(``katta_client.resource_server`` over a transport that calls the test client).
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from joserfc import jws

from katta_client.resource_server import (
    JWT_BEARER_ASSERTION, JWT_TOKEN_TYPE, TOKEN_EXCHANGE, ResourceServer, ResourceServerKeys,
)
from tests.conftest import bearer
from tests.support.clock import FakeClock
from tests.support.kms import create_management_key

BASE_URL = "https://katta.test"
TOKEN_ENDPOINT = BASE_URL + "/secret-server/token-exchange"
SECRET_AUDIENCE = "secret-server"
FORM = "application/x-www-form-urlencoded"


class ChaliceTransport:
    """``katta_client.resource_server.Transport`` over chalice.test.Client (no sockets)."""

    def __init__(self, client) -> None:
        self.client = client
        self.jwks_fetches = 0

    def post_form(self, url: str, form: dict[str, str]) -> tuple[int, Any]:
        response = self.client.http.post(urlsplit(url).path, headers={"Content-Type": FORM}, body=urlencode(form))
        return response.status_code, json.loads(response.body)

    def get_json(self, url: str) -> Any:
        self.jwks_fetches += 1
        return json.loads(self.client.http.get(urlsplit(url).path).body)


@dataclass
class SecretWorld:
    client: Any
    idp: Any
    admin_token: str
    fetched: dict[str, Any] = field(default_factory=dict)  # URL -> JWKS document served by "the internet"
    fetches: list[str] = field(default_factory=list)
    jwks_clock: FakeClock = field(default_factory=FakeClock)  # the secret server's JWKS cache clock

    @property
    def admin(self) -> dict[str, str]:
        return bearer(self.admin_token)

    def fetch(self, url: str) -> Any:
        self.fetches.append(url)
        if url not in self.fetched:
            raise OSError(f"nothing served at {url}")
        return self.fetched[url]

    def user_token(self, username: str = "alice", **claims: Any) -> str:
        claims.setdefault("aud", SECRET_AUDIENCE)
        return self.idp.mint(username, **claims)

    def register(self, client_id: str | None = None, keys: ResourceServerKeys | None = None, *,
                 jwks_uri: str | None = None) -> ResourceServer:
        """A new backend, registered with inline keys (or by URL), using the in-process transport."""
        client_id = client_id or f"backend-{uuid.uuid4().hex[:8]}"
        keys = keys or ResourceServerKeys.generate()
        if jwks_uri:
            self.fetched[jwks_uri] = keys.public_jwks()
            body = {"jwksUri": jwks_uri}
        else:
            body = {"jwks": keys.public_jwks()}
        response = self.client.http.put(f"/secret-server/admin/resource-servers/{client_id}",
                                        headers={**self.admin, "Content-Type": "application/json"},
                                        body=json.dumps(body))
        assert response.status_code in (200, 201), response.body
        return ResourceServer(client_id, BASE_URL, keys, transport=ChaliceTransport(self.client))

    def exchange(self, form: dict[str, str]):
        """A raw token-exchange POST; returns the chalice response."""
        return self.client.http.post("/secret-server/token-exchange", headers={"Content-Type": FORM},
                                     body=urlencode(form))

    def form(self, backend: ResourceServer, token: str, *, assertion: str | None = None,
             **overrides: str | None) -> dict[str, str]:
        form = {"grant_type": TOKEN_EXCHANGE, "subject_token": token,
                "subject_token_type": JWT_TOKEN_TYPE, "audience": backend.client_id,
                "client_assertion_type": JWT_BEARER_ASSERTION,
                "client_assertion": assertion or backend.client_assertion()}
        form.update(overrides)
        return {k: v for k, v in form.items() if v is not None}

    def audit_events(self, event_type: str) -> list[dict[str, Any]]:
        import datetime as dt

        from chalicelib import audit, deps
        now = dt.datetime.now(dt.timezone.utc)
        events = deps.audit_log().events(now - dt.timedelta(days=1), now + dt.timedelta(days=1), log=audit.SERVICE,
                                         page_size=100)
        return [e for e in events if e["type"] == event_type]


def assertion(keys: ResourceServerKeys, client_id: str, *, key=None, alg: str | None = None,
              header: dict[str, Any] | None = None, **claims: Any) -> str:
    """A client assertion with any claims and header we need (None removes a claim)."""
    now = int(time.time())
    body = {"iss": client_id, "sub": client_id, "aud": TOKEN_ENDPOINT, "iat": now, "exp": now + 60,
            "jti": uuid.uuid4().hex}
    body.update(claims)
    signing = key or keys.signing
    alg = alg or "ES256"
    jws_header = {"alg": alg, "kid": signing.kid, **(header or {})}
    return jws.serialize_compact(jws_header, json.dumps({k: v for k, v in body.items() if v is not None}).encode(),
                                 signing, algorithms=[alg])


def build_world(client, issuer, monkeypatch, *, audience: str = SECRET_AUDIENCE) -> SecretWorld:
    from chalicelib import deps
    from chalicelib.auth.jwks import JwksCache
    from chalicelib.settings import get_settings
    from devstack.idp import DevIdP

    create_management_key()
    idp = DevIdP()
    world = SecretWorld(client=client, idp=idp,
                        admin_token=issuer.token("root", realm_access={"roles": ["user", "admin"]}))
    cache = JwksCache(get_settings(), fetch=world.fetch, clock=world.jwks_clock)
    monkeypatch.setattr(deps, "secret_server_jwks", lambda: cache)
    deps.secret_server.cache_clear()
    response = client.http.put("/secret-server/admin/idps", headers={**world.admin, "Content-Type": "application/json"},
                               body=json.dumps({"issuer": idp.issuer, "audience": audience, "jwks": idp.jwks(),
                                                "algorithms": ["ES256"]}))
    assert response.status_code == 201, response.body
    return world


@pytest.fixture
def world(client, issuer, monkeypatch) -> SecretWorld:
    return build_world(client, issuer, monkeypatch)
