"""The rendezvous transports: the in-memory server's rules and the HTTP client's mapping."""
from __future__ import annotations

import json

import pytest
import requests

from katta_client.linking import (
    MAX_PAYLOAD_BYTES,
    HttpRendezvous,
    InMemoryRendezvous,
    RendezvousConflict,
    RendezvousError,
    RendezvousNotFound,
    RendezvousPayloadTooLarge,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_create_get_put_delete():
    server = InMemoryRendezvous()
    created = server.create("hello")
    assert created.expires_in_ms > 0
    state = server.get(created.id)
    assert (state.data, state.sequence_token) == ("hello", created.sequence_token)
    token = server.put(created.id, created.sequence_token, "again")
    assert token != created.sequence_token
    assert server.get(created.id).data == "again"
    server.delete(created.id)
    with pytest.raises(RendezvousNotFound):
        server.get(created.id)
    with pytest.raises(RendezvousNotFound):
        server.delete(created.id)


def test_put_is_compare_and_swap_with_idempotent_identical_retry():
    server = InMemoryRendezvous()
    created = server.create("")
    t1 = server.put(created.id, created.sequence_token, "one")
    # the same write again (its response was lost) succeeds and yields the same token
    assert server.put(created.id, created.sequence_token, "one") == t1
    assert server.get(created.id).sequence_token == t1
    # a different write over the stale token is a conflict, and changes nothing
    with pytest.raises(RendezvousConflict) as err:
        server.put(created.id, created.sequence_token, "two")
    assert err.value.status == 409
    assert server.get(created.id).data == "one"
    # after the next write, the first write can no longer be "retried"
    t2 = server.put(created.id, t1, "two")
    with pytest.raises(RendezvousConflict):
        server.put(created.id, created.sequence_token, "one")
    assert server.get(created.id).sequence_token == t2


def test_identical_data_from_two_writers_gets_distinct_tokens():
    server = InMemoryRendezvous()
    created = server.create("x")
    t1 = server.put(created.id, created.sequence_token, "x")
    t2 = server.put(created.id, t1, "x")
    assert len({created.sequence_token, t1, t2}) == 3


def test_payload_limit_is_4096_bytes_not_characters():
    server = InMemoryRendezvous()
    created = server.create("a" * MAX_PAYLOAD_BYTES)
    with pytest.raises(RendezvousPayloadTooLarge) as err:
        server.create("a" * (MAX_PAYLOAD_BYTES + 1))
    assert err.value.status == 413
    with pytest.raises(RendezvousPayloadTooLarge):
        server.put(created.id, created.sequence_token, "é" * (MAX_PAYLOAD_BYTES // 2 + 1))
    assert server.get(created.id).data == "a" * MAX_PAYLOAD_BYTES


def test_expired_sessions_answer_404_for_every_operation():
    clock = FakeClock()
    server = InMemoryRendezvous(ttl_seconds=120, clock=clock)
    created = server.create("")
    clock.now += 119.9
    assert 0 < server.get(created.id).expires_in_ms <= 100
    clock.now += 0.1
    with pytest.raises(RendezvousNotFound):
        server.get(created.id)
    with pytest.raises(RendezvousNotFound):
        server.put(created.id, created.sequence_token, "late")
    with pytest.raises(RendezvousNotFound):
        server.delete(created.id)


class FakeResponse:
    def __init__(self, status: int, body=None) -> None:
        self.status_code = status
        self._body = body
        self.content = b"" if body is None else json.dumps(body).encode()

    def json(self):
        if self._body is None:
            raise ValueError("no body")
        return self._body


class FakeSession:
    """Answers queued responses and records requests, like requests.Session.request."""

    def __init__(self, *responses) -> None:
        self.responses = list(responses)
        self.calls = []

    def request(self, method, url, json=None, headers=None, timeout=None):
        self.calls.append((method, url, json, dict(headers or {})))
        response = self.responses.pop(0)
        if isinstance(response, Exception):
            raise response
        return response


def test_http_create_get_put_delete_requests():
    session = FakeSession(
        FakeResponse(200, {"id": "r/1", "sequence_token": "t0", "expires_in_ms": 120000}),
        FakeResponse(200, {"data": "", "sequence_token": "t0", "expires_in_ms": 119000}),
        FakeResponse(200, {"sequence_token": "t1"}),
        FakeResponse(204),
    )
    http = HttpRendezvous("https://katta.example.com/", "tok", session=session)
    created = http.create("")
    assert created.id == "r/1"
    assert http.get("r/1").sequence_token == "t0"
    assert http.put("r/1", "t0", "data") == "t1"
    http.delete("r/1")
    methods = [(m, u) for m, u, _, _ in session.calls]
    assert methods == [
        ("POST", "https://katta.example.com/api/rendezvous"),
        ("GET", "https://katta.example.com/api/rendezvous/r%2F1"),
        ("PUT", "https://katta.example.com/api/rendezvous/r%2F1"),
        ("DELETE", "https://katta.example.com/api/rendezvous/r%2F1"),
    ]
    assert session.calls[0][2] == {"data": ""}
    assert session.calls[2][2] == {"sequence_token": "t0", "data": "data"}
    assert all(h["Authorization"] == "Bearer tok" for _, _, _, h in session.calls)


def test_http_without_token_sends_no_authorization():
    session = FakeSession(FakeResponse(200, {"data": "", "sequence_token": "t0", "expires_in_ms": 1}))
    HttpRendezvous("https://k.example", session=session).get("x")
    assert "Authorization" not in session.calls[0][3]


@pytest.mark.parametrize("status, error", [
    (404, RendezvousNotFound), (409, RendezvousConflict), (413, RendezvousPayloadTooLarge),
    (500, RendezvousError), (403, RendezvousError),
])
def test_http_status_codes_map_to_errors(status, error):
    http = HttpRendezvous("https://k.example", session=FakeSession(FakeResponse(status, {"errcode": "x"})))
    with pytest.raises(error) as err:
        http.put("r", "t", "d")
    assert err.value.status == status


def test_http_refuses_oversize_payload_before_sending():
    session = FakeSession()
    with pytest.raises(RendezvousPayloadTooLarge):
        HttpRendezvous("https://k.example", session=session).put("r", "t", "x" * 4097)
    assert session.calls == []


@pytest.mark.parametrize("body", [
    {"data": "", "sequence_token": 5, "expires_in_ms": 1},
    {"data": None, "sequence_token": "t", "expires_in_ms": 1},
    {"data": "", "sequence_token": "t", "expires_in_ms": True},
    ["not", "an", "object"],
])
def test_http_refuses_malformed_responses(body):
    http = HttpRendezvous("https://k.example", session=FakeSession(FakeResponse(200, body)))
    with pytest.raises(RendezvousError):
        http.get("r")


def test_http_put_retries_once_after_a_lost_response_with_the_same_body():
    session = FakeSession(requests.ConnectionError("reset"), FakeResponse(200, {"sequence_token": "t1"}))
    assert HttpRendezvous("https://k.example", session=session).put("r", "t0", "d") == "t1"
    assert session.calls[0][2] == session.calls[1][2] == {"sequence_token": "t0", "data": "d"}


def test_http_put_gives_up_after_the_retry():
    session = FakeSession(requests.ConnectionError("a"), requests.Timeout("b"))
    with pytest.raises(RendezvousError) as err:
        HttpRendezvous("https://k.example", session=session).put("r", "t0", "d")
    assert err.value.status is None
