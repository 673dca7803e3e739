"""The client's HTTP transport (katta_client.linking) against this server: both sides read the API alike."""
from __future__ import annotations

import json as jsonlib

import pytest

from katta_client.linking.errors import RendezvousConflict, RendezvousNotFound
from katta_client.linking.rendezvous import HttpRendezvous
from tests.support.rendezvous import rdv  # noqa: F401 — the fixture with a fake clock


class ChaliceSession:
    """Just enough of ``requests.Session`` to route the transport into chalice.test.Client."""

    class Answer:
        def __init__(self, response) -> None:
            self.status_code = response.status_code
            self.content = response.body

        def json(self):
            return jsonlib.loads(self.content)

    def __init__(self, client) -> None:
        self.client = client

    def request(self, method, url, json=None, headers=None, timeout=None):  # noqa: A002 — requests' name
        path = url.removeprefix("https://katta.test")
        body = b"" if json is None else jsonlib.dumps(json).encode()
        headers = {**(headers or {}), "Content-Type": "application/json"}
        return self.Answer(self.client.http.request(method, path, headers=headers, body=body))


@pytest.fixture
def transports(client, rdv, issuer):  # noqa: F811
    session = ChaliceSession(client)
    existing = HttpRendezvous("https://katta.test", issuer.token("alice"), session=session)
    new = HttpRendezvous("https://katta.test", session=session)  # not signed in
    return existing, new, rdv


def test_a_linking_exchange_over_the_server(transports):
    existing, new, _ = transports
    created = existing.create("")
    assert created.expires_in_ms == 180_000

    seen = new.get(created.id)
    token = new.put(created.id, seen.sequence_token, "LOGIN_INITIATE")
    reply = existing.get(created.id)
    assert (reply.data, reply.sequence_token) == ("LOGIN_INITIATE", token)
    existing.put(created.id, token, "LOGIN_OK")
    assert new.get(created.id).data == "LOGIN_OK"

    with pytest.raises(RendezvousConflict):
        new.put(created.id, token, "forked")
    new.delete(created.id)
    with pytest.raises(RendezvousNotFound):
        existing.get(created.id)


def test_expiry_reaches_the_client_as_not_found(transports):
    existing, new, rdv = transports
    created = existing.create("x")
    rdv.clock.advance(180)
    with pytest.raises(RendezvousNotFound):
        new.get(created.id)
