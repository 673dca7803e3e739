"""Dev IdP: RFC 8628 device authorization grant, over real HTTP with an injected clock."""

from __future__ import annotations

import re

import pytest


from devstack.idp import DEVICE_CODE_GRANT, DevIdP, user_id  # noqa: E402
from tests.support.dev_idp import clock, http, server  # noqa: F401 - fixtures


@pytest.fixture
def idp(clock):
    return DevIdP(clock=clock, device_code_lifetime=60, device_poll_interval=5)


def start(http, idp, client_id="katta-cli", scope=None):
    data = {"client_id": client_id}
    if scope:
        data["scope"] = scope
    r = http.post(idp.device_authorization_endpoint, data=data, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def poll(http, idp, device_code, client_id="katta-cli"):
    return http.post(idp.token_endpoint, data={
        "grant_type": DEVICE_CODE_GRANT, "client_id": client_id, "device_code": device_code}, timeout=5)


def error_of(r):
    assert r.status_code == 400, (r.status_code, r.text)
    return r.json()["error"]


def test_device_authorization_response(http, server, idp):
    d = start(http, idp)
    assert re.fullmatch(r"[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}", d["user_code"])
    assert d["verification_uri"] == f"{idp.issuer}/device"
    assert d["verification_uri_complete"] == f"{idp.issuer}/device?user_code={d['user_code']}"
    assert d["expires_in"] == 60 and d["interval"] == 5
    assert len(d["device_code"]) >= 32


def test_pending_slow_down_approved_token(http, server, idp, clock):
    d = start(http, idp, scope="openid")
    assert error_of(poll(http, idp, d["device_code"])) == "authorization_pending"

    # Polling again within the interval: slow_down, and the interval grows by 5 s each time.
    clock.advance(1)
    r = poll(http, idp, d["device_code"])
    assert error_of(r) == "slow_down" and r.json()["interval"] == 10
    clock.advance(6)  # enough for the old 5 s interval, not for 10 s
    r = poll(http, idp, d["device_code"])
    assert error_of(r) == "slow_down" and r.json()["interval"] == 15
    clock.advance(15)
    assert error_of(poll(http, idp, d["device_code"])) == "authorization_pending"

    idp.approve_device(d["user_code"].lower().replace("-", ""), "bob")  # codes are normalized
    clock.advance(15)
    r = poll(http, idp, d["device_code"])
    assert r.status_code == 200, r.text
    body = r.json()
    claims = idp.verify(body["access_token"])
    assert claims["sub"] == user_id("bob") and claims["azp"] == "katta-cli"
    assert "id_token" in body and body["refresh_token"]
    # The device code is spent.
    clock.advance(15)
    assert error_of(poll(http, idp, d["device_code"])) == "invalid_grant"


def test_declined_is_access_denied(http, server, idp, clock):
    d = start(http, idp)
    idp.decline_device(d["user_code"])
    r = poll(http, idp, d["device_code"])
    assert error_of(r) == "access_denied"
    with pytest.raises(KeyError):
        idp.approve_device(d["user_code"], "alice")


def test_expired_is_expired_token(http, server, idp, clock):
    d = start(http, idp)
    clock.advance(61)
    assert error_of(poll(http, idp, d["device_code"])) == "expired_token"
    with pytest.raises(ValueError):
        idp.approve_device(d["user_code"], "alice")


def test_unknown_device_code_and_wrong_client(http, server, idp):
    assert error_of(poll(http, idp, "nope")) == "invalid_grant"
    d = start(http, idp)
    assert error_of(poll(http, idp, d["device_code"], client_id="katta")) == "invalid_grant"
    r = http.post(idp.token_endpoint, data={"grant_type": DEVICE_CODE_GRANT, "client_id": "katta-cli"}, timeout=5)
    assert error_of(r) == "invalid_request"
    r = http.post(idp.device_authorization_endpoint, data={"client_id": "evil"}, timeout=5)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_verification_page_approve(http, server, idp, clock):
    d = start(http, idp)
    page = http.get(d["verification_uri_complete"], timeout=5)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert d["user_code"] in page.text and "<form" in page.text

    form = {"user_code": d["user_code"], "username": "carol", "password": "wrong", "action": "approve"}
    r = http.post(d["verification_uri"], data=form, timeout=5)
    assert "Invalid username or password" in r.text
    assert error_of(poll(http, idp, d["device_code"])) == "authorization_pending"

    clock.advance(5)
    r = http.post(d["verification_uri"], data={**form, "password": "carol"}, timeout=5)
    assert r.status_code == 200 and "Device approved" in r.text
    r = poll(http, idp, d["device_code"])
    assert r.status_code == 200
    assert idp.verify(r.json()["access_token"])["preferred_username"] == "carol"


def test_verification_page_decline_and_bad_codes(http, server, idp):
    d = start(http, idp)
    r = http.post(d["verification_uri"], data={
        "user_code": d["user_code"], "username": "dave", "password": "dave", "action": "deny"}, timeout=5)
    assert r.status_code == 200 and "Device declined" in r.text
    assert error_of(poll(http, idp, d["device_code"])) == "access_denied"

    r = http.post(d["verification_uri"], data={
        "user_code": "BBBB-CCCC", "username": "dave", "password": "dave", "action": "approve"}, timeout=5)
    assert r.status_code == 400 and "unknown, expired or already used" in r.text
    page = http.get(f"{d['verification_uri']}?user_code=BBBB-CCCC", timeout=5)
    assert "unknown, expired or already used" in page.text


def test_disabled_user_cannot_approve(http, server, idp):
    idp.add_user("gina", enabled=False)
    d = start(http, idp)
    with pytest.raises(ValueError):
        idp.approve_device(d["user_code"], "gina")
    r = http.post(d["verification_uri"], data={
        "user_code": d["user_code"], "username": "gina", "password": "gina", "action": "approve"}, timeout=5)
    assert "Account disabled" in r.text
