"""Dev IdP: authorization code grant with PKCE (S256) and loopback redirect URIs, over real HTTP."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

import pytest


from devstack.idp import is_loopback_redirect_uri, pkce_challenge, user_id  # noqa: E402
from tests.support.dev_idp import clock, http, idp, server  # noqa: F401 - fixtures

REDIRECT = "http://127.0.0.1:53682/callback"


def auth_params(verifier, redirect_uri=REDIRECT, **extra):
    params = {
        "response_type": "code", "client_id": "katta-cli", "redirect_uri": redirect_uri,
        "scope": "openid", "state": "st-123", "nonce": "n-456",
        "code_challenge": pkce_challenge(verifier), "code_challenge_method": "S256",
    }
    params.update(extra)
    return params


def sign_in(http, idp, params, username="alice", password="alice", action="login"):
    """Load the form, then submit it like a browser (hidden fields + credentials)."""
    http.cookies.clear()  # a browser without an SSO session (test_devidp_browser covers the session)
    page = http.get(idp.authorization_endpoint, params=params, timeout=5, allow_redirects=False)
    assert page.status_code == 200, page.text
    assert 'name="code_challenge"' in page.text and 'type=password' in page.text
    form = {**params, "username": username, "password": password, "action": action}
    return http.post(idp.authorization_endpoint, data=form, timeout=5, allow_redirects=False)


def query_of(location):
    parts = urlsplit(location)
    return parts, {k: v[0] for k, v in parse_qs(parts.query).items()}


def exchange(http, idp, code, verifier, redirect_uri=REDIRECT, client_id="katta-cli"):
    return http.post(idp.token_endpoint, data={
        "grant_type": "authorization_code", "client_id": client_id, "code": code,
        "redirect_uri": redirect_uri, "code_verifier": verifier}, timeout=5)


def test_code_flow_with_pkce(http, server, idp):
    verifier = secrets.token_urlsafe(48)
    r = sign_in(http, idp, auth_params(verifier))
    assert r.status_code == 302
    parts, q = query_of(r.headers["Location"])
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == REDIRECT
    assert q["state"] == "st-123" and q["iss"] == idp.issuer and q["code"]

    t = exchange(http, idp, q["code"], verifier)
    assert t.status_code == 200, t.text
    body = t.json()
    assert idp.verify(body["access_token"])["sub"] == user_id("alice")
    id_claims = idp.verify(body["id_token"], typ="ID")
    assert id_claims["nonce"] == "n-456" and id_claims["aud"] == "katta-cli"

    # Codes are single-use.
    again = exchange(http, idp, q["code"], verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_wrong_verifier_is_refused(http, server, idp):
    verifier = secrets.token_urlsafe(48)
    _, q = query_of(sign_in(http, idp, auth_params(verifier)).headers["Location"])
    r = exchange(http, idp, q["code"], secrets.token_urlsafe(48))
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    # Missing verifier on a fresh code.
    _, q = query_of(sign_in(http, idp, auth_params(verifier)).headers["Location"])
    r = exchange(http, idp, q["code"], "")
    assert r.json()["error"] == "invalid_grant"


def test_redirect_uri_and_client_must_match(http, server, idp):
    verifier = secrets.token_urlsafe(48)
    _, q = query_of(sign_in(http, idp, auth_params(verifier)).headers["Location"])
    assert exchange(http, idp, q["code"], verifier, redirect_uri="http://127.0.0.1:53682/other").json()["error"] == "invalid_grant"
    _, q = query_of(sign_in(http, idp, auth_params(verifier)).headers["Location"])
    assert exchange(http, idp, q["code"], verifier, client_id="katta").json()["error"] == "invalid_grant"


@pytest.mark.parametrize("redirect_uri", [
    "https://evil.example/callback",
    "http://evil.example:8080/callback",
    "http://127.0.0.1.evil.example:80/cb",
    "http://127.0.0.1/callback",  # no port
    "https://127.0.0.1:8443/callback",
    "http://user@127.0.0.1:53682/callback",
    "http://10.0.0.1:53682/callback",
])
def test_non_loopback_redirect_uri_is_refused(http, server, idp, redirect_uri):
    verifier = secrets.token_urlsafe(48)
    params = auth_params(verifier, redirect_uri=redirect_uri)
    r = http.get(idp.authorization_endpoint, params=params, timeout=5, allow_redirects=False)
    assert r.status_code == 400 and "Location" not in r.headers
    assert "redirect_uri" in r.text
    # Posting credentials directly does not get a code either.
    r = http.post(idp.authorization_endpoint, data={**params, "username": "alice", "password": "alice",
                                                     "action": "login"}, timeout=5, allow_redirects=False)
    assert r.status_code == 400 and "Location" not in r.headers


def test_loopback_redirect_uri_rules():
    assert is_loopback_redirect_uri("http://127.0.0.1:1234/cb")
    assert is_loopback_redirect_uri("http://localhost:1234/")
    assert is_loopback_redirect_uri("http://localhost:1234/cb?x=1")
    assert not is_loopback_redirect_uri("http://localhost:1234/cb#frag")
    assert not is_loopback_redirect_uri("http://localhost:notaport/cb")
    assert not is_loopback_redirect_uri("http://[::1]:1234/cb")


def test_localhost_redirect_keeps_existing_query(http, server, idp):
    verifier = secrets.token_urlsafe(48)
    r = sign_in(http, idp, auth_params(verifier, redirect_uri="http://localhost:4000/cb?flow=1"))
    parts, q = query_of(r.headers["Location"])
    assert parts.netloc == "localhost:4000" and q["flow"] == "1" and q["code"]
    assert exchange(http, idp, q["code"], verifier, redirect_uri="http://localhost:4000/cb?flow=1").status_code == 200


def test_unknown_client_is_not_redirected(http, server, idp):
    params = auth_params(secrets.token_urlsafe(48), client_id="evil")
    r = http.get(idp.authorization_endpoint, params=params, timeout=5, allow_redirects=False)
    assert r.status_code == 400 and "Location" not in r.headers


def test_request_errors_go_back_to_the_client(http, server, idp):
    verifier = secrets.token_urlsafe(48)
    for bad in ({"code_challenge_method": "plain"}, {"code_challenge": ""}, {"response_type": "token"}):
        r = http.get(idp.authorization_endpoint, params=auth_params(verifier, **bad), timeout=5,
                     allow_redirects=False)
        assert r.status_code == 302, bad
        _, q = query_of(r.headers["Location"])
        assert q["error"] in ("invalid_request", "unsupported_response_type") and q["state"] == "st-123"
        assert "code" not in q


def test_wrong_password_rerenders_form_and_cancel_is_access_denied(http, server, idp):
    verifier = secrets.token_urlsafe(48)
    r = sign_in(http, idp, auth_params(verifier), password="nope")
    assert r.status_code == 200 and "Location" not in r.headers
    assert "Invalid username or password" in r.text
    r = sign_in(http, idp, auth_params(verifier), action="cancel")
    assert r.status_code == 302
    _, q = query_of(r.headers["Location"])
    assert q["error"] == "access_denied" and "code" not in q
