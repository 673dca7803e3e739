"""The rendezvous API through the Chalice test client and moto (architecture §9, docs/rendezvous.md)."""
from __future__ import annotations

import json
import math
import time

import pytest
from chalice.local import LambdaEventConverter
from pydantic import ValidationError

from chalicelib.rendezvous.service import MAX_DATA_BYTES, rate_source
from chalicelib.settings import Settings, SettingsError, get_settings
from tests.conftest import bearer
from tests.support.rendezvous import BASE, alice, create, ok, problem, raw_item, rdv, send  # noqa: F401 — fixtures


# --- the round trip ------------------------------------------------------------------------------

def test_create_read_write_delete(client, rdv, alice):
    created = create(client, alice, "offer")
    assert set(created) == {"id", "sequence_token", "expires_in_ms"}
    assert created["expires_in_ms"] == 180_000
    url = f"{BASE}/{created['id']}"

    rdv.clock.advance(2.5)
    read = ok(send(client, "GET", url))
    assert read == {"data": "offer", "sequence_token": created["sequence_token"], "expires_in_ms": 177_500}

    written = ok(send(client, "PUT", url, {"sequence_token": read["sequence_token"], "data": "answer"}))
    assert set(written) == {"sequence_token", "expires_in_ms"}
    assert written["sequence_token"] != read["sequence_token"]
    assert written["expires_in_ms"] == 177_500  # a write does not extend the session

    assert ok(send(client, "GET", url)) == {"data": "answer", "sequence_token": written["sequence_token"],
                                            "expires_in_ms": 177_500}
    response = send(client, "DELETE", url)
    assert response.status_code == 204 and response.body == b""
    problem(send(client, "GET", url), 404)
    problem(send(client, "DELETE", url), 404)


def test_ids_and_tokens_are_unguessable_and_url_safe(client, rdv, alice):
    first, second = create(client, alice), create(client, alice)
    for value, bits in ((first["id"], 256), (first["sequence_token"], 128)):
        assert len(value) == math.ceil(bits / 6)
        assert set(value) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert first["id"] != second["id"] and first["sequence_token"] != second["sequence_token"]


def test_every_write_gets_a_new_token(client, rdv, alice):
    created = create(client, alice)
    url, token, seen = f"{BASE}/{created['id']}", created["sequence_token"], {created["sequence_token"]}
    for _ in range(5):
        token = ok(send(client, "PUT", url, {"sequence_token": token, "data": "same"}))["sequence_token"]
        assert token not in seen
        seen.add(token)


def test_empty_data_is_a_payload_like_any_other(client, rdv, alice):
    created = create(client, alice, "")
    assert ok(send(client, "GET", f"{BASE}/{created['id']}"))["data"] == ""


def test_answers_are_no_store_and_etag_free(client, rdv, alice):
    created = create(client, alice)
    url = f"{BASE}/{created['id']}"
    responses = [
        send(client, "POST", BASE, {"data": "x"}, alice),
        send(client, "GET", url),
        send(client, "PUT", url, {"sequence_token": created["sequence_token"], "data": "y"}),
        send(client, "PUT", url, {"sequence_token": "stale", "data": "z"}),  # an error answer too
        send(client, "GET", f"{BASE}/{'A' * 43}"),
        send(client, "DELETE", url),
    ]
    for response in responses:
        headers = {k.lower(): v for k, v in response.headers.items()}
        assert headers["cache-control"] == "no-store"
        assert headers["pragma"] == "no-cache"
        assert "etag" not in headers and "last-modified" not in headers


# --- compare-and-swap ----------------------------------------------------------------------------

def test_stale_token_is_a_conflict_and_changes_nothing(client, rdv, alice):
    created = create(client, alice, "v0")
    url = f"{BASE}/{created['id']}"
    current = ok(send(client, "PUT", url, {"sequence_token": created["sequence_token"], "data": "v1"}))
    problem(send(client, "PUT", url, {"sequence_token": "never-issued", "data": "v2"}), 409)
    assert ok(send(client, "GET", url))["data"] == "v1"
    assert ok(send(client, "GET", url))["sequence_token"] == current["sequence_token"]


def test_identical_retry_of_the_last_write_succeeds_without_a_new_token(client, rdv, alice):
    created = create(client, alice, "v0")
    url = f"{BASE}/{created['id']}"
    write = {"sequence_token": created["sequence_token"], "data": "v1"}
    first = ok(send(client, "PUT", url, write))
    rdv.clock.advance(1)
    retry = ok(send(client, "PUT", url, write))
    assert retry["sequence_token"] == first["sequence_token"]
    assert retry["expires_in_ms"] == first["expires_in_ms"] - 1000
    assert ok(send(client, "GET", url)) == {"data": "v1", "sequence_token": first["sequence_token"],
                                            "expires_in_ms": retry["expires_in_ms"]}


def test_old_token_with_other_data_is_a_conflict(client, rdv, alice):
    created = create(client, alice, "v0")
    url = f"{BASE}/{created['id']}"
    first = ok(send(client, "PUT", url, {"sequence_token": created["sequence_token"], "data": "v1"}))
    problem(send(client, "PUT", url, {"sequence_token": created["sequence_token"], "data": "v1 forked"}), 409)
    assert ok(send(client, "GET", url)) == {"data": "v1", "sequence_token": first["sequence_token"],
                                            "expires_in_ms": first["expires_in_ms"]}


def test_retry_after_the_other_side_wrote_is_a_conflict(client, rdv, alice):
    created = create(client, alice, "v0")
    url = f"{BASE}/{created['id']}"
    mine = {"sequence_token": created["sequence_token"], "data": "v1"}
    first = ok(send(client, "PUT", url, mine))
    ok(send(client, "PUT", url, {"sequence_token": first["sequence_token"], "data": "reply"}))
    problem(send(client, "PUT", url, mine), 409)
    assert ok(send(client, "GET", url))["data"] == "reply"


def test_the_creation_token_cannot_be_replayed_as_a_retry(client, rdv, alice):
    # Creation is not a write: its token was never "previous", so only the current token works.
    created = create(client, alice, "v0")
    url = f"{BASE}/{created['id']}"
    ok(send(client, "PUT", url, {"sequence_token": created["sequence_token"], "data": "v0"}))
    problem(send(client, "PUT", url, {"sequence_token": created["sequence_token"], "data": "v1"}), 409)


# --- sizes and bodies ----------------------------------------------------------------------------

@pytest.mark.parametrize("data", ["a" * MAX_DATA_BYTES, "é" * (MAX_DATA_BYTES // 2), "€" * 1365 + "a"])
def test_4096_bytes_of_utf8_are_accepted(client, rdv, alice, data):
    assert len(data.encode()) == MAX_DATA_BYTES
    created = create(client, alice, data)
    url = f"{BASE}/{created['id']}"
    assert ok(send(client, "GET", url))["data"] == data
    ok(send(client, "PUT", url, {"sequence_token": created["sequence_token"], "data": data}))


@pytest.mark.parametrize("data", ["a" * (MAX_DATA_BYTES + 1), "é" * (MAX_DATA_BYTES // 2) + "a"])
def test_4097_bytes_are_too_large(client, rdv, alice, data):
    assert len(data.encode()) == MAX_DATA_BYTES + 1
    assert "4097 bytes" in problem(send(client, "POST", BASE, {"data": data}, alice), 413)["detail"]
    created = create(client, alice, "small")
    url = f"{BASE}/{created['id']}"
    problem(send(client, "PUT", url, {"sequence_token": created["sequence_token"], "data": data}), 413)
    assert ok(send(client, "GET", url)) == {"data": "small", "sequence_token": created["sequence_token"],
                                            "expires_in_ms": 180_000}


def test_the_limit_counts_utf8_bytes_not_characters(client, rdv, alice):
    data = "é" * 2049  # 2049 characters, 4098 bytes
    problem(send(client, "POST", BASE, {"data": data}, alice), 413)


@pytest.mark.parametrize("body, field", [
    (b"", "body"), (b"not json", "body"), ({}, "data"), ({"data": 7}, "data"), ({"data": None}, "data"),
    ({"data": "x", "extra": 1}, "extra"), (b'{"data": "\\ud800"}', "data"),
])
def test_bad_creation_bodies_name_the_field(client, rdv, alice, body, field):
    errors = problem(send(client, "POST", BASE, body, alice), 400)["errors"]
    assert errors[0]["field"] == field


@pytest.mark.parametrize("body, field", [
    ({"data": "x"}, "sequence_token"), ({"sequence_token": "t"}, "data"),
    ({"sequence_token": "", "data": "x"}, "sequence_token"), ({"sequence_token": 1, "data": "x"}, "sequence_token"),
])
def test_bad_write_bodies_name_the_field(client, rdv, alice, body, field):
    created = create(client, alice)
    errors = problem(send(client, "PUT", f"{BASE}/{created['id']}", body), 400)["errors"]
    assert errors[0]["field"] == field


# --- unknown and expired -------------------------------------------------------------------------

@pytest.mark.parametrize("session_id", ["A" * 43, "nope", "A" * 44, "%2E%2E"])
def test_unknown_ids_are_not_found(client, rdv, session_id):
    url = f"{BASE}/{session_id}"
    problem(send(client, "GET", url), 404)
    problem(send(client, "PUT", url, {"sequence_token": "t", "data": "x"}), 404)
    problem(send(client, "DELETE", url), 404)


def test_an_expired_session_is_gone_at_once_though_dynamodb_still_holds_it(client, rdv, alice):
    created = create(client, alice)
    url = f"{BASE}/{created['id']}"
    rdv.clock.advance(179.999)
    assert ok(send(client, "GET", url))["expires_in_ms"] == 1
    rdv.clock.advance(0.001)
    problem(send(client, "GET", url), 404)
    problem(send(client, "PUT", url, {"sequence_token": created["sequence_token"], "data": "late"}), 404)
    problem(send(client, "DELETE", url), 404)
    assert raw_item(f"RDV#{created['id']}", "SESSION")["data"] == {"S": "hello"}  # not reaped, not served


def test_the_ttl_setting_sets_the_lifetime(client, rdv, alice):
    rdv.configure(rendezvous_ttl_seconds=120)
    created = create(client, alice)
    assert created["expires_in_ms"] == 120_000
    rdv.clock.advance(120)
    problem(send(client, "GET", f"{BASE}/{created['id']}"), 404)


def test_raw_items_carry_the_ttl_attribute(client, rdv, alice, issuer):
    created = create(client, alice)
    session = raw_item(f"RDV#{created['id']}", "SESSION")
    expires_ms = int(session["expires_at_ms"]["N"])
    assert expires_ms == int(rdv.clock.now * 1000) + 180_000
    assert int(session["expires_at"]["N"]) == math.ceil(expires_ms / 1000)
    user_id = json.loads(client.http.get("/api/users/me", headers=alice).body)["id"]
    slot = raw_item(f"RDVUSER#{user_id}", "SLOT#0")
    assert slot["session_id"] == {"S": created["id"]}
    assert slot["expires_at"] == session["expires_at"]

    rdv.configure(rendezvous_open_creation=True)
    create(client, {})
    window = int(rdv.clock.now) - int(rdv.clock.now) % 60
    counter = raw_item("RDVRATE#127.0.0.1", str(window))
    assert counter["count"] == {"N": "1"}
    assert int(counter["expires_at"]["N"]) == window + 120


# --- browser navigations -------------------------------------------------------------------------

NAVIGATIONS = [{"Sec-Fetch-Mode": "navigate"}, {"Sec-Fetch-Dest": "document"},
               {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"}, {"Sec-Fetch-Dest": "iframe"}]


@pytest.mark.parametrize("navigation", NAVIGATIONS)
def test_navigation_requests_are_forbidden(client, rdv, alice, navigation):
    created = create(client, alice, "secret-ish")
    url = f"{BASE}/{created['id']}"
    for method, path, body, extra in [("POST", BASE, {"data": "x"}, alice), ("GET", url, None, {}),
                                      ("PUT", url, {"sequence_token": created["sequence_token"], "data": "y"}, {}),
                                      ("DELETE", url, None, {})]:
        response = send(client, method, path, body, {**extra, **navigation})
        assert "secret-ish" not in problem(response, 403)["detail"]
        assert response.headers["Cache-Control"] == "no-store"
    # Nothing happened: same data, same token, still there.
    assert ok(send(client, "GET", url)) == {"data": "secret-ish", "sequence_token": created["sequence_token"],
                                            "expires_in_ms": 180_000}


def test_programmatic_fetches_are_allowed(client, rdv, alice):
    fetch = {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty", "Sec-Fetch-Site": "cross-site"}
    created = ok(send(client, "POST", BASE, {"data": "x"}, {**alice, **fetch}), 201)
    ok(send(client, "GET", f"{BASE}/{created['id']}", headers=fetch))


# --- per-user limit ------------------------------------------------------------------------------

def test_open_sessions_per_user_are_limited_and_deleting_frees_a_slot(client, rdv, alice, issuer):
    rdv.configure(rendezvous_max_open_per_user=3)
    sessions = [create(client, alice) for _ in range(3)]
    response = send(client, "POST", BASE, {"data": "x"}, alice)
    assert "at most 3" in problem(response, 429)["detail"]
    assert response.headers["Retry-After"] == "180"
    create(client, bearer(issuer.token("bob")))  # another user's slots are their own

    assert send(client, "DELETE", f"{BASE}/{sessions[1]['id']}").status_code == 204
    create(client, alice)
    problem(send(client, "POST", BASE, {"data": "x"}, alice), 429)


def test_an_expired_session_frees_its_slot_before_it_is_reaped(client, rdv, alice):
    rdv.configure(rendezvous_max_open_per_user=2)
    create(client, alice)
    rdv.clock.advance(60)
    create(client, alice)
    problem(send(client, "POST", BASE, {"data": "x"}, alice), 429)
    rdv.clock.advance(120)  # the first has expired, the second has 60 s left
    create(client, alice)
    response = send(client, "POST", BASE, {"data": "x"}, alice)
    problem(response, 429)
    assert response.headers["Retry-After"] == "60"


def test_deleting_someone_elses_expired_slot_holder_is_not_found(client, rdv, alice):
    rdv.configure(rendezvous_max_open_per_user=1)
    old = create(client, alice)
    rdv.clock.advance(180)
    create(client, alice)  # reuses slot 0
    problem(send(client, "DELETE", f"{BASE}/{old['id']}"), 404)
    problem(send(client, "POST", BASE, {"data": "x"}, alice), 429)  # the new session still holds the slot


# --- who may create ------------------------------------------------------------------------------

def test_anonymous_creation_is_refused_by_default(client, rdv):
    response = send(client, "POST", BASE, {"data": "x"})
    problem(response, 401)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="katta"'


def test_a_bad_token_is_refused_even_when_creation_is_open(client, rdv, issuer):
    rdv.configure(rendezvous_open_creation=True)
    response = send(client, "POST", BASE, {"data": "x"}, bearer(issuer.token("alice", exp=int(time.time()) - 600)))
    problem(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_reading_writing_and_ending_need_no_token(client, rdv, alice):
    created = create(client, alice)
    url = f"{BASE}/{created['id']}"
    ok(send(client, "GET", url))
    ok(send(client, "PUT", url, {"sequence_token": created["sequence_token"], "data": "y"}))
    assert send(client, "DELETE", url).status_code == 204


def test_open_creation_is_rate_limited_per_source_address(client, rdv, alice, monkeypatch):
    rdv.configure(rendezvous_open_creation=True, rendezvous_anonymous_rate_per_minute=3)
    rdv.clock.now = (time.time() // 60) * 60 + 15  # 15 s into a minute
    anonymous = [create(client, {}) for _ in range(3)]
    url = f"{BASE}/{anonymous[0]['id']}"
    assert ok(send(client, "GET", url))["data"] == "hello"
    response = send(client, "POST", BASE, {"data": "x"})
    problem(response, 429)
    assert response.headers["Retry-After"] == "45"
    create(client, alice)  # signed-in creators are not counted against the address

    monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", "203.0.113.9")
    create(client, {})
    monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", "127.0.0.1")
    problem(send(client, "POST", BASE, {"data": "x"}), 429)
    rdv.clock.advance(45)  # the next minute
    create(client, {})


def test_anonymous_sessions_do_not_count_against_a_user(client, rdv, alice):
    rdv.configure(rendezvous_open_creation=True, rendezvous_max_open_per_user=1)
    create(client, {})
    create(client, {})
    create(client, alice)


@pytest.mark.parametrize("address, bucket", [
    ("198.51.100.7", "198.51.100.7"), ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"), ("::ffff:198.51.100.7", "198.51.100.7"),
    (None, "unknown"), ("not-an-ip", "unknown"),
])
def test_anonymous_creators_are_counted_per_ipv4_address_or_ipv6_64(address, bucket):
    assert rate_source(address) == bucket


# --- settings ------------------------------------------------------------------------------------

@pytest.mark.parametrize("ttl", [119, 301, 0])
def test_ttl_outside_120_to_300_seconds_is_refused(ttl):
    with pytest.raises(ValidationError):
        Settings(rendezvous_ttl_seconds=ttl)


def test_an_invalid_rendezvous_setting_fails_at_start_naming_it(monkeypatch):
    monkeypatch.setenv("KATTA_RENDEZVOUS_TTL_SECONDS", "600")
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError, match="KATTA_RENDEZVOUS_TTL_SECONDS"):
            get_settings()
    finally:
        monkeypatch.delenv("KATTA_RENDEZVOUS_TTL_SECONDS")
        get_settings.cache_clear()


def test_defaults():
    settings = Settings()
    assert (settings.rendezvous_ttl_seconds, settings.rendezvous_max_open_per_user,
            settings.rendezvous_open_creation, settings.rendezvous_anonymous_rate_per_minute) == (180, 5, False, 10)
