"""Dev IdP: what browser single-page apps (keycloak-js, oidc-client-ts) need, over real HTTP.

Fragment response mode, credentialed CORS for an allowed origin, refresh tokens as signed JWTs
(never bearer tokens for the API), the SSO session cookie with ``prompt=none`` and logout.
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from devstack.idp import DevIdP, generate_key, pkce_challenge
from devstack.idp.__main__ import build_parser
from tests.support.dev_idp import clock, http, idp, server  # noqa: F401 - fixtures
from tests.support.live_stack import live_stack  # noqa: F401 - fixture

REDIRECT = "http://127.0.0.1:8000/app/"
ORIGIN = "http://127.0.0.1:8000"
COOKIE = "KATTA_IDP_SESSION"


def auth_params(verifier, **extra):
    params = {
        "response_type": "code", "client_id": "katta", "redirect_uri": REDIRECT, "scope": "openid",
        "state": "st-1", "nonce": "n-1", "code_challenge": pkce_challenge(verifier),
        "code_challenge_method": "S256", "response_mode": "fragment",
    }
    params.update(extra)
    return {k: v for k, v in params.items() if v is not None}


def authorize(http, idp, params):
    return http.get(idp.authorization_endpoint, params=params, timeout=5, allow_redirects=False)


def sign_in(http, idp, params, username="alice"):
    page = authorize(http, idp, params)
    assert page.status_code == 200, page.text
    if "response_mode" in params:  # the form carries it through to the answer
        assert f'name="response_mode" value="{params["response_mode"]}"' in page.text
    form = {**params, "username": username, "password": username, "action": "login"}
    return http.post(idp.authorization_endpoint, data=form, timeout=5, allow_redirects=False)


def answer_of(location, mode="fragment"):
    """(redirect target without the answer, the answer's parameters) of a ``Location``."""
    parts = urlsplit(location)
    answer = parts.fragment if mode == "fragment" else parts.query
    return (f"{parts.scheme}://{parts.netloc}{parts.path}",
            {k: v[0] for k, v in parse_qs(answer).items()})


def exchange(http, idp, code, verifier, client_id="katta"):
    r = http.post(idp.token_endpoint, data={
        "grant_type": "authorization_code", "client_id": client_id, "code": code,
        "redirect_uri": REDIRECT, "code_verifier": verifier}, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def login(http, idp, username="alice"):
    verifier = secrets.token_urlsafe(48)
    r = sign_in(http, idp, auth_params(verifier), username)
    assert r.status_code == 302, r.text
    return r, exchange(http, idp, answer_of(r.headers["Location"])[1]["code"], verifier)


def refresh(http, idp, refresh_token, client_id="katta", headers=None):
    return http.post(idp.token_endpoint, headers=headers, data={
        "grant_type": "refresh_token", "client_id": client_id, "refresh_token": refresh_token}, timeout=5)


# ---------------------------------------------------------------- (a) response_mode


def test_fragment_response_mode_puts_the_answer_in_the_fragment(http, server, idp):
    verifier = secrets.token_urlsafe(48)
    r = sign_in(http, idp, auth_params(verifier))
    assert r.status_code == 302
    location = r.headers["Location"]
    target, answer = answer_of(location)
    assert target == REDIRECT and urlsplit(location).query == ""
    assert answer["state"] == "st-1" and answer["iss"] == idp.issuer and answer["code"]
    tokens = exchange(http, idp, answer["code"], verifier)
    assert idp.verify(tokens["id_token"], typ="ID")["nonce"] == "n-1"


def test_query_response_mode_is_the_default_and_can_be_asked_for(http, server, idp):
    for mode in ("query", None):
        verifier = secrets.token_urlsafe(48)
        with requests.Session() as fresh:
            r = sign_in(fresh, idp, auth_params(verifier, response_mode=mode))
        assert urlsplit(r.headers["Location"]).fragment == ""
        _, answer = answer_of(r.headers["Location"], "query")
        assert answer["state"] == "st-1" and answer["code"]


def test_errors_follow_the_response_mode(http, server, idp):
    r = authorize(http, idp, auth_params(secrets.token_urlsafe(48), code_challenge_method="plain"))
    assert r.status_code == 302
    _, answer = answer_of(r.headers["Location"])
    assert answer["error"] == "invalid_request" and answer["state"] == "st-1" and "code" not in answer


@pytest.mark.parametrize("mode", ["form_post", "web_message", "bogus"])
def test_an_unknown_response_mode_is_an_error(http, server, idp, mode):
    r = authorize(http, idp, auth_params(secrets.token_urlsafe(48), response_mode=mode))
    assert r.status_code == 302
    _, answer = answer_of(r.headers["Location"], "query")
    assert answer["error"] == "invalid_request" and "response_mode" in answer["error_description"]
    assert "code" not in answer and answer["state"] == "st-1"
    # Posting credentials with it gets no code either.
    form = {**auth_params(secrets.token_urlsafe(48), response_mode=mode), "username": "alice",
            "password": "alice", "action": "login"}
    r = http.post(idp.authorization_endpoint, data=form, timeout=5, allow_redirects=False)
    assert "code" not in answer_of(r.headers["Location"], "query")[1]


def test_discovery_names_both_response_modes_and_the_end_session_endpoint(http, server, idp):
    meta = http.get(idp.discovery_url, timeout=5).json()
    assert meta["response_modes_supported"] == ["query", "fragment"]
    assert meta["end_session_endpoint"] == f"{idp.issuer}/protocol/openid-connect/logout"


# ---------------------------------------------------------------- (b) CORS


@pytest.mark.parametrize("origin", [ORIGIN, "http://localhost:8000"])
def test_browser_endpoints_echo_an_allowed_origin_with_credentials(http, server, idp, origin):
    _, tokens = login(http, idp)
    headers = {"Origin": origin}
    answers = [
        http.get(idp.discovery_url, headers=headers, timeout=5),
        http.get(idp.jwks_uri, headers=headers, timeout=5),
        http.get(idp.userinfo_endpoint, headers={**headers, "Authorization": "Bearer " + tokens["access_token"]},
                 timeout=5),
        refresh(http, idp, tokens["refresh_token"], headers=headers),
        refresh(http, idp, "spent", headers=headers),  # a refusal must be readable by the page too
    ]
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 400]
    for r in answers:
        assert r.headers["Access-Control-Allow-Origin"] == origin
        assert r.headers["Access-Control-Allow-Credentials"] == "true"
        assert "Origin" in r.headers["Vary"]


def test_a_disallowed_origin_gets_no_allow_origin(http, server, idp):
    for origin in ("http://evil.example", "http://127.0.0.1:8001", "null", f"{ORIGIN}/"):
        r = http.get(idp.jwks_uri, headers={"Origin": origin}, timeout=5)
        assert r.status_code == 200
        assert "Access-Control-Allow-Origin" not in r.headers
        assert "Access-Control-Allow-Credentials" not in r.headers
        assert "Origin" in r.headers["Vary"]
    r = http.get(idp.jwks_uri, timeout=5)
    assert "Access-Control-Allow-Origin" not in r.headers


def test_preflight_is_answered_for_an_allowed_origin_only(http, server, idp):
    ask = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "content-type"}
    r = http.options(idp.token_endpoint, headers=ask, timeout=5)
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert "content-type" in r.headers["Access-Control-Allow-Headers"].lower()
    assert "Origin" in r.headers["Vary"]
    r = http.options(idp.token_endpoint, headers={**ask, "Origin": "http://evil.example"}, timeout=5)
    assert r.status_code == 204 and "Access-Control-Allow-Origin" not in r.headers
    assert "Access-Control-Allow-Methods" not in r.headers


def test_allowed_origins_are_a_setting(http):
    idp = DevIdP(allowed_origins=["http://app.test:3000"])
    with idp.serve("127.0.0.1", 0):
        r = http.get(idp.jwks_uri, headers={"Origin": "http://app.test:3000"}, timeout=5)
        assert r.headers["Access-Control-Allow-Origin"] == "http://app.test:3000"
        r = http.get(idp.jwks_uri, headers={"Origin": ORIGIN}, timeout=5)
        assert "Access-Control-Allow-Origin" not in r.headers
    assert DevIdP().allowed_origins == ("http://127.0.0.1:8000", "http://localhost:8000")
    args = build_parser().parse_args(["--allowed-origin", "http://a.test:1", "--allowed-origin", "http://b.test:2"])
    assert args.allowed_origin == ["http://a.test:1", "http://b.test:2"]
    with pytest.raises(ValueError):
        DevIdP(allowed_origins=["*"])


# ---------------------------------------------------------------- (c) refresh tokens


def test_refresh_tokens_are_signed_jwts_of_type_refresh(http, server, idp):
    _, tokens = login(http, idp)
    decoded = jwt.decode(tokens["refresh_token"], KeySet.import_key_set(http.get(idp.jwks_uri, timeout=5).json()),
                         algorithms=["ES256"])
    claims = decoded.claims
    assert decoded.header["kid"] == idp.kid
    assert claims["typ"] == "Refresh" and claims["iss"] == idp.issuer and claims["aud"] == idp.issuer
    assert claims["azp"] == "katta" and claims["sid"] == idp.verify(tokens["access_token"])["sid"]
    assert claims["exp"] - claims["iat"] == idp.refresh_token_lifetime
    # Still rotated: the new one works, the old one is spent.
    r = refresh(http, idp, tokens["refresh_token"])
    assert r.status_code == 200, r.text
    assert refresh(http, idp, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert refresh(http, idp, r.json()["refresh_token"]).status_code == 200


def test_tokens_that_are_no_refresh_tokens_of_ours_are_refused(http, server, idp):
    _, tokens = login(http, idp)
    claims = idp.verify(tokens["refresh_token"], typ="Refresh")
    forged = jwt.encode({"alg": "ES256", "kid": idp.kid, "typ": "JWT"}, claims, generate_key("ES256"))
    never_issued = idp.sign({**claims, "jti": "never-issued"})
    for token in (tokens["access_token"], tokens["id_token"], forged, never_issued):
        assert refresh(http, idp, token).json()["error"] == "invalid_grant"
    # None of the above spent the real one; a refresh token is no bearer token for userinfo.
    r = http.get(idp.userinfo_endpoint, headers={"Authorization": "Bearer " + tokens["refresh_token"]}, timeout=5)
    assert r.status_code == 401
    assert refresh(http, idp, tokens["refresh_token"]).status_code == 200


def test_revoked_refresh_token_is_refused(http, server, idp):
    _, tokens = login(http, idp)
    r = http.post(idp.revocation_endpoint, data={"client_id": "katta", "token": tokens["refresh_token"]}, timeout=5)
    assert r.status_code == 200
    assert refresh(http, idp, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_the_api_refuses_a_refresh_token_as_bearer(live_stack):
    idp = live_stack.idp
    tokens = requests.post(idp.token_endpoint, data={
        "grant_type": "password", "client_id": "katta-cli", "username": "alice", "password": "alice"}, timeout=5).json()
    me = f"{live_stack.api_url}/api/users/me"
    assert requests.get(me, headers={"Authorization": "Bearer " + tokens["access_token"]}, timeout=10).status_code != 401
    refresh_claims = idp.verify(tokens["refresh_token"], typ="Refresh")  # signed by the trusted issuer
    # Refused for its type alone too: the same refresh token with the API's audience.
    for token in (tokens["refresh_token"], idp.sign({**refresh_claims, "aud": ["katta"]})):
        r = requests.get(me, headers={"Authorization": "Bearer " + token}, timeout=10)
        assert r.status_code == 401, r.text


# ---------------------------------------------------------------- (d) SSO session and logout


def test_password_login_sets_the_session_cookie(http, server, idp):
    r, _ = login(http, idp)
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    attributes = [a.strip().lower() for a in cookie.split(";")[1:]]
    assert "httponly" in attributes and "samesite=lax" in attributes
    assert "path=/realms/katta/" in attributes
    # A failed login sets none.
    with requests.Session() as other:
        page = authorize(other, idp, auth_params(secrets.token_urlsafe(48)))
        form = {**auth_params(secrets.token_urlsafe(48)), "username": "alice", "password": "nope", "action": "login"}
        assert "Set-Cookie" not in other.post(idp.authorization_endpoint, data=form, timeout=5,
                                              allow_redirects=False).headers
        assert "Set-Cookie" not in page.headers


@pytest.mark.parametrize("prompt", [None, "none"])
def test_a_second_authorization_request_signs_in_silently(http, server, idp, prompt):
    _, first = login(http, idp, "bob")
    verifier = secrets.token_urlsafe(48)
    r = authorize(http, idp, auth_params(verifier, prompt=prompt, nonce="n-2"))
    assert r.status_code == 302, r.text
    _, answer = answer_of(r.headers["Location"])
    tokens = exchange(http, idp, answer["code"], verifier)
    claims = idp.verify(tokens["access_token"])
    assert claims["preferred_username"] == "bob"
    assert claims["sid"] == idp.verify(first["access_token"])["sid"]
    assert idp.verify(tokens["id_token"], typ="ID")["nonce"] == "n-2"


def test_prompt_none_without_a_session_is_login_required(http, server, idp):
    r = authorize(http, idp, auth_params(secrets.token_urlsafe(48), prompt="none"))
    assert r.status_code == 302
    target, answer = answer_of(r.headers["Location"])
    assert target == REDIRECT
    assert answer["error"] == "login_required" and answer["state"] == "st-1" and "code" not in answer
    # A cookie the IdP never issued is no session.
    http.cookies.set(COOKIE, "made-up", path="/realms/katta/")
    _, answer = answer_of(authorize(http, idp, auth_params(secrets.token_urlsafe(48), prompt="none"))
                          .headers["Location"])
    assert answer["error"] == "login_required"


def test_prompt_login_asks_again_despite_a_session(http, server, idp):
    login(http, idp)
    r = authorize(http, idp, auth_params(secrets.token_urlsafe(48), prompt="login"))
    assert r.status_code == 200 and "type=password" in r.text


def test_a_session_ends_when_it_expires_or_its_user_is_disabled(http, server, idp, clock):
    login(http, idp, "carol")
    idp.disable_user("carol")
    _, answer = answer_of(authorize(http, idp, auth_params(secrets.token_urlsafe(48), prompt="none"))
                          .headers["Location"])
    assert answer["error"] == "login_required"
    idp.enable_user("carol")
    with requests.Session() as other:
        login(other, idp, "dave")
        clock.advance(idp.sso_session_lifetime + 1)
        _, answer = answer_of(authorize(other, idp, auth_params(secrets.token_urlsafe(48), prompt="none"))
                              .headers["Location"])
        assert answer["error"] == "login_required"


def logout(http, idp, **params):
    return http.get(idp.end_session_endpoint, params=params, timeout=5, allow_redirects=False)


def test_logout_with_id_token_hint_ends_the_session_and_redirects(http, server, idp):
    _, tokens = login(http, idp)
    r = logout(http, idp, id_token_hint=tokens["id_token"], post_logout_redirect_uri=REDIRECT, state="bye")
    assert r.status_code == 302
    target, answer = answer_of(r.headers["Location"], "query")
    assert target == REDIRECT and answer == {"state": "bye"}
    cookie = r.headers["Set-Cookie"].lower()
    assert cookie.startswith(f"{COOKIE.lower()}=") and "max-age=0" in cookie and "path=/realms/katta/" in cookie
    # Ended on the server too, not only in this browser: the old cookie and refresh token are dead.
    assert COOKIE not in http.cookies
    _, answer = answer_of(authorize(http, idp, auth_params(secrets.token_urlsafe(48), prompt="none"))
                          .headers["Location"])
    assert answer["error"] == "login_required"
    assert refresh(http, idp, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_logout_with_an_expired_id_token_hint_and_client_id(http, server, idp, clock):
    _, tokens = login(http, idp)
    clock.advance(idp.id_token_lifetime + 10)
    r = logout(http, idp, id_token_hint=tokens["id_token"], client_id="katta", post_logout_redirect_uri=REDIRECT)
    assert r.status_code == 302 and r.headers["Location"] == REDIRECT
    r = logout(http, idp)  # no session left, no parameters: still a friendly page
    assert r.status_code == 200 and "signed out" in r.text.lower()


def test_logout_without_parameters_ends_the_browser_session(http, server, idp):
    login(http, idp)
    r = logout(http, idp)
    assert r.status_code == 200 and "max-age=0" in r.headers["Set-Cookie"].lower()
    assert answer_of(authorize(http, idp, auth_params(secrets.token_urlsafe(48), prompt="none"))
                     .headers["Location"])[1]["error"] == "login_required"


def test_refused_logouts_redirect_nowhere_and_end_nothing(http, server, idp):
    _, tokens = login(http, idp)
    other = DevIdP(issuer=idp.issuer, clock=idp.clock)
    foreign_hint = other.mint_id_token("alice", client_id="katta")
    refusals = [
        {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://evil.example/"},
        {"post_logout_redirect_uri": REDIRECT},  # neither id_token_hint nor client_id
        {"client_id": "evil", "post_logout_redirect_uri": REDIRECT},
        {"id_token_hint": foreign_hint, "post_logout_redirect_uri": REDIRECT},
        {"id_token_hint": tokens["access_token"], "post_logout_redirect_uri": REDIRECT},
        {"id_token_hint": tokens["id_token"], "client_id": "katta-cli", "post_logout_redirect_uri": REDIRECT},
    ]
    for params in refusals:
        r = logout(http, idp, **params)
        assert r.status_code == 400, params
        assert "Location" not in r.headers and "Set-Cookie" not in r.headers
    assert authorize(http, idp, auth_params(secrets.token_urlsafe(48), prompt="none")).status_code == 302
    _, answer = answer_of(authorize(http, idp, auth_params(secrets.token_urlsafe(48), prompt="none"))
                          .headers["Location"])
    assert answer["code"]
    assert refresh(http, idp, tokens["refresh_token"]).status_code == 200
