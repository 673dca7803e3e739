"""Property tests for the rendezvous API's parsing (server) and the client's reading of its answers.

Server: whatever bytes, JSON, headers, session ids or sequence tokens arrive, the answer is a 4xx
problem that names the field at fault — never a 5xx — and a refused request changes nothing: the
session keeps its data and token, and no session is created. Client: whatever a server answers,
``HttpRendezvous`` returns well-typed values or raises a ``RendezvousError``, never anything else.
"""
from __future__ import annotations

import json
from urllib.parse import quote

import boto3
import pytest
import requests
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chalicelib.rendezvous.service import MAX_DATA_BYTES
from chalicelib.settings import get_settings
from katta_client.linking.errors import (
    RendezvousConflict,
    RendezvousError,
    RendezvousNotFound,
    RendezvousPayloadTooLarge,
)
from katta_client.linking.rendezvous import HttpRendezvous
from tests.support.rendezvous import BASE, alice, create, ok, problem, rdv, send  # noqa: F401 — fixtures

pytestmark = pytest.mark.slow  # a live stack, a subprocess or a long run: not in the fast lane

# The fixtures (one moto table, one session) are shared by every example on purpose: a refusal
# must leave them as they were, and each example checks that it did.
SERVER = settings(max_examples=60, deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CLIENT = settings(max_examples=200, deadline=None)

json_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                | st.text(max_size=30))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=16)
field_names = st.sampled_from(["data", "sequence_token", "id", "Data", "data ", ""]) | st.text(max_size=12)


def oversized_text(limit: int) -> st.SearchStrategy[str]:
    """Text just over ``limit`` UTF-8 bytes, built by repetition (hypothesis would not draw it)."""
    return st.builds(lambda ch, extra: ch * (limit // len(ch.encode()) + 1 + extra),
                     st.sampled_from(["a", "é", "€", "😀", "\u0000"]), st.integers(0, 64))


def encoded(value) -> bytes:
    return json.dumps(value, allow_nan=False).encode()


def nested(depth: int, opener: str, closer: str) -> bytes:
    return (opener * depth + closer * depth).encode()


# Bodies for any rendezvous route: mostly wrong, sometimes by a single field.
bodies = st.one_of(
    st.binary(max_size=200),
    st.builds(encoded, json_values),
    st.builds(encoded, st.dictionaries(field_names, json_values, max_size=4)),
    st.builds(lambda data, token: encoded({"data": data, "sequence_token": token}),
              json_values | oversized_text(MAX_DATA_BYTES), json_values | st.text(max_size=300)),
    st.builds(lambda data: encoded({"data": data}), oversized_text(MAX_DATA_BYTES)),
    st.builds(nested, st.integers(1, 5000), st.just("["), st.just("]")),
    st.builds(nested, st.integers(1, 5000), st.just('{"data":'), st.just("}")),
    st.builds(lambda depth: b"[" * depth, st.integers(1, 200_000)),
    # A lone surrogate is valid JSON but no Unicode text.
    st.builds(lambda token: b'{"data": "\\ud800", "sequence_token": ' + encoded(token) + b"}", st.text(max_size=8)),
    st.builds(lambda pad: b" " * pad + b'{"data": "x"}', st.integers(256 * 1024 - 20, 256 * 1024 + 20)),
)
header_values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
content_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "APPLICATION/JSON",
                                 "text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                 "application/problem+json", "*/*"]) | header_values
request_headers = st.fixed_dictionaries({"Content-Type": content_types}, optional={
    "Sec-Fetch-Mode": st.sampled_from(["navigate", "NAVIGATE", "cors", "nested-navigate"]) | header_values,
    "Sec-Fetch-Dest": st.sampled_from(["document", "iframe", "empty", "frame"]) | header_values,
    "If-Match": header_values, "If-None-Match": header_values, "Content-Length": header_values,
})


def well_formed(raw: bytes, fields: frozenset[str]) -> bool:
    """Would the route's model accept this body (the service may still refuse it)?"""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return (isinstance(value, dict) and set(value) == fields and all(isinstance(v, str) for v in value.values())
            and len(raw) <= get_settings().max_body_bytes)


def assert_refused(response, allowed: set[int], body_fields: set[str]) -> dict:
    """A problem answer with an allowed 4xx; a 400 names only fields the request could have got wrong."""
    assert response.status_code in allowed, (response.status_code, response.body[:300])
    refusal = problem(response, response.status_code)
    if response.status_code == 400:
        named = {error["field"] for error in refusal["errors"]}
        assert named and named <= body_fields | {"body"}, refusal
    return refusal


def sent_fields(raw: bytes) -> set[str]:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return set()
    return set(value) if isinstance(value, dict) else set()


def stored_sessions() -> int:
    scan = boto3.client("dynamodb").scan(TableName=get_settings().table_name, Select="COUNT",
                                         FilterExpression="begins_with(pk, :p)",
                                         ExpressionAttributeValues={":p": {"S": "RDV#"}})
    return scan["Count"]


@pytest.fixture
def session(client, rdv, alice):  # noqa: F811
    """One session and a way to check it is exactly as created."""
    created = create(client, alice, "the offer")
    url = f"{BASE}/{created['id']}"

    def unchanged() -> None:  # the fake clock stands still, so even expires_in_ms must match
        assert ok(send(client, "GET", url)) == {"data": "the offer", "sequence_token": created["sequence_token"],
                                                "expires_in_ms": created["expires_in_ms"]}
    return url, created["sequence_token"], unchanged


# --- the server ----------------------------------------------------------------------------------

@SERVER
@given(raw=bodies, headers=request_headers)
def test_a_refused_creation_names_the_field_and_creates_nothing(client, alice, session, raw, headers):  # noqa: F811
    assume(not well_formed(raw, frozenset({"data"})))
    *_, unchanged = session
    before = stored_sessions()
    response = send(client, "POST", BASE, raw, {**alice, **headers})
    assert_refused(response, {400, 403, 413, 415}, {"data"} | sent_fields(raw))
    assert stored_sessions() == before
    unchanged()


@SERVER
@given(raw=bodies, headers=request_headers)
def test_a_refused_write_names_the_field_and_changes_nothing(client, session, raw, headers):
    url, _token, unchanged = session
    # A well-formed write with a token that is not the current one is refused too: a 409.
    response = send(client, "PUT", url, raw, headers)
    assert_refused(response, {400, 403, 409, 413, 415}, {"data", "sequence_token"} | sent_fields(raw))
    unchanged()


@SERVER
@given(token=st.text(max_size=300), data=st.text(max_size=40))
def test_only_the_current_sequence_token_writes(client, session, token, data):
    url, current, unchanged = session
    assume(token != current)
    response = send(client, "PUT", url, {"sequence_token": token, "data": data})
    if not 1 <= len(token) <= 256:
        assert [e["field"] for e in problem(response, 400)["errors"]] == ["sequence_token"]
    else:
        problem(response, 409)
    unchanged()


@SERVER
@given(session_id=st.text(max_size=60) | st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                          "0123456789-_", min_size=42, max_size=44),
       method=st.sampled_from(["GET", "PUT", "DELETE"]))
def test_unknown_session_ids_are_not_found_and_touch_nothing(client, session, session_id, method):
    url, token, unchanged = session
    assume(session_id and f"{BASE}/{session_id}" != url)
    body = {"sequence_token": token, "data": "hijack"} if method == "PUT" else None
    response = send(client, method, f"{BASE}/{quote(session_id, safe='')}", body)
    assert_refused(response, {404}, set())
    unchanged()


@SERVER
@given(data=st.text(max_size=200) | st.text(alphabet=st.characters(min_codepoint=0x80), min_size=1000,
                                             max_size=MAX_DATA_BYTES // 4))
def test_any_unicode_text_within_the_limit_round_trips(client, alice, rdv, data):  # noqa: F811
    assume(all(not 0xD800 <= ord(ch) <= 0xDFFF for ch in data))
    created = create(client, alice, data)
    url = f"{BASE}/{created['id']}"
    assert ok(send(client, "GET", url))["data"] == data
    written = ok(send(client, "PUT", url, {"sequence_token": created["sequence_token"], "data": data[::-1]}))
    assert ok(send(client, "GET", url)) == {"data": data[::-1], "sequence_token": written["sequence_token"],
                                            "expires_in_ms": created["expires_in_ms"]}
    assert send(client, "DELETE", url).status_code == 204


# --- the client ----------------------------------------------------------------------------------

class Answering:
    """A ``requests.Session`` stand-in that answers every request with one canned response."""

    def __init__(self, status: int, content: bytes) -> None:
        self.status, self.content = status, content

    def request(self, method, url, **_kwargs) -> requests.Response:
        response = requests.Response()
        response.status_code = self.status
        response._content = self.content  # how requests' own tests build a response
        return response


statuses = st.sampled_from([200, 201, 204, 400, 404, 409, 413, 429, 500, 503]) | st.integers(100, 599)
answers = st.one_of(
    st.binary(max_size=200),
    st.builds(encoded, json_values),
    st.builds(encoded, st.fixed_dictionaries({}, optional={
        "id": json_values, "data": json_values, "sequence_token": json_values, "expires_in_ms": json_values})),
    st.builds(lambda n: encoded({"data": "x", "sequence_token": "t", "expires_in_ms": n}),
              st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.booleans()),
    st.builds(lambda text: text.encode("utf-16"), st.builds(json.dumps, json_values)),
    st.builds(nested, st.integers(1, 5000), st.just("["), st.just("]")),
    st.builds(lambda depth: b'{"data":' * depth, st.integers(1, 200_000)),
)
calls = st.sampled_from([
    lambda t: t.create("x"), lambda t: t.get("some-id"), lambda t: t.put("some-id", "token", "x"),
    lambda t: t.delete("some-id"),
])
REFUSALS = {404: RendezvousNotFound, 409: RendezvousConflict, 413: RendezvousPayloadTooLarge}


@CLIENT
@given(status=statuses, content=answers, call=calls)
def test_the_client_reads_any_answer_into_values_or_a_rendezvous_error(status, content, call):
    transport = HttpRendezvous("https://katta.test", "token", session=Answering(status, content))
    try:
        result = call(transport)
    except RendezvousError as err:
        if status in REFUSALS:
            assert type(err) is REFUSALS[status]
        if not 200 <= status < 300:
            assert err.status == status
        return
    assert 200 <= status < 300
    for value in vars(result).values() if hasattr(result, "__dict__") else [result]:
        assert value is None or isinstance(value, (str, int)) and not isinstance(value, bool)


@CLIENT
@given(session_id=st.text(min_size=1, max_size=40), token=st.text(min_size=1, max_size=40),
       data=st.text(max_size=40), expires=st.integers(0, 2**53))
def test_the_client_returns_exactly_what_a_good_answer_says(session_id, token, data, expires):
    assume(all(not 0xD800 <= ord(ch) <= 0xDFFF for ch in session_id + token + data))
    created = encoded({"id": session_id, "sequence_token": token, "expires_in_ms": expires})
    state = encoded({"data": data, "sequence_token": token, "expires_in_ms": expires})
    assert tuple(vars(HttpRendezvous("https://k", "t", session=Answering(201, created)).create()).values()) == (
        session_id, token, expires)
    assert tuple(vars(HttpRendezvous("https://k", session=Answering(200, state)).get(session_id)).values()) == (
        data, token, expires)


@pytest.mark.parametrize("call", ["create", "get"])
def test_a_deeply_nested_answer_is_a_rendezvous_error(call):
    transport = HttpRendezvous("https://katta.test", "token", session=Answering(200, b"[" * 100_000))
    with pytest.raises(RendezvousError):
        transport.create("x") if call == "create" else transport.get("some-id")
