"""Client login against the dev IdP over real HTTP: password, auth code + PKCE on the loopback
redirect, device grant, refresh with rotation, revocation — and their refusals."""
from __future__ import annotations

import time

from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests

from devstack.idp import DevIdP, ManualClock
from katta_client.auth import (
    DeviceCodeExpired,
    LoginDeclined,
    LoginError,
    LoginSession,
    OAuthClient,
    OAuthError,
    SessionExpired,
    TokenSet,
    account_name,
    discover_endpoints,
    store_login,
)
from katta_client.config import Accounts
from katta_client.http import KattaApi
from katta_client.keychain import FileStore, Keychain
from tests.support.live_stack import live_stack  # noqa: F401 - fixture


@pytest.fixture
def idp():
    clock = ManualClock()
    provider = DevIdP(clock=clock, device_code_lifetime=60, device_poll_interval=5)
    with provider.serve("127.0.0.1", 0):
        yield provider


def idp_config(provider: DevIdP) -> dict:
    """What /api/config says about an IdP (the server derives the same from its trusted issuer)."""
    base, realm = provider.issuer.split("/realms/")
    return {"keycloakUrl": base, "keycloakRealm": realm, "keycloakClientIdCryptomator": "katta-cli",
            "keycloakAuthEndpoint": provider.authorization_endpoint,
            "keycloakTokenEndpoint": provider.token_endpoint}


@pytest.fixture
def oauth(idp):
    return OAuthClient(discover_endpoints(idp_config(idp)), clock=idp.clock, sleep=idp.clock.advance)


@pytest.fixture
def keychain(tmp_path):
    return Keychain(FileStore(tmp_path))


def test_endpoints_come_from_the_servers_config_and_discovery(live_stack):
    endpoints = discover_endpoints(KattaApi(live_stack.api_url).config())
    idp = live_stack.idp
    assert endpoints.client_id == "katta-cli"
    assert endpoints.token_endpoint == idp.token_endpoint
    assert endpoints.authorization_endpoint == idp.authorization_endpoint
    assert endpoints.issuer == idp.issuer
    assert endpoints.device_authorization_endpoint == idp.device_authorization_endpoint
    assert endpoints.revocation_endpoint == idp.revocation_endpoint


def test_a_provider_not_shaped_like_keycloak_is_discovered_at_its_issuer():
    """/api/config publishes such an issuer as keycloakUrl with no realm (Okta, Auth0, Entra ID, Cognito)."""
    from devstack.provider_tokens import DocumentServer

    documents: dict = {}
    server = DocumentServer(documents.get).start()
    try:
        issuer = server.url + "/oauth2/aus8k2m1xQ7bW3nZp5d7"
        documents["/oauth2/aus8k2m1xQ7bW3nZp5d7/.well-known/openid-configuration"] = {
            "issuer": issuer, "device_authorization_endpoint": issuer + "/v1/device/authorize"}
        endpoints = discover_endpoints({"keycloakUrl": issuer, "keycloakRealm": "",
                                        "keycloakClientIdCryptomator": "0oa8k2lq9hYt3vBn65d7",
                                        "keycloakAuthEndpoint": issuer + "/v1/authorize",
                                        "keycloakTokenEndpoint": issuer + "/v1/token"})
    finally:
        server.stop()
    assert endpoints.issuer == issuer
    assert endpoints.device_authorization_endpoint == issuer + "/v1/device/authorize"


def test_config_without_an_idp_is_refused():
    with pytest.raises(LoginError, match="keycloakTokenEndpoint"):
        discover_endpoints({"keycloakAuthEndpoint": "x", "keycloakClientIdCryptomator": "katta-cli"})


def test_password_grant(oauth, idp):
    tokens = oauth.password_grant("bob", "bob")
    assert idp.verify(tokens.access_token)["preferred_username"] == "bob"
    assert tokens.refresh_token and tokens.expires_at == pytest.approx(idp.clock() + 300)
    assert account_name(tokens) == "bob"


def test_wrong_password_is_a_readable_refusal(oauth):
    with pytest.raises(OAuthError) as refused:
        oauth.password_grant("bob", "not-bob")
    assert refused.value.error == "invalid_grant"
    assert str(refused.value) == "the identity provider refused: invalid_grant (Invalid user credentials)"
    assert "not-bob" not in str(refused.value)


# -- authorization code + PKCE on the loopback redirect ---------------------------------------

class Browser:
    """Plays the user's browser: signs in on the IdP's page and follows the redirect."""

    def __init__(self, username="alice", password="alice", action="login", tamper=None):
        self.username, self.password, self.action, self.tamper = username, password, action, tamper
        self.seen_url = None
        self.callback_status = None

    def __call__(self, url: str) -> bool:
        self.seen_url = url
        parts = urlsplit(url)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert requests.get(url, timeout=5).status_code == 200  # the sign-in page
        form = {**params, "username": self.username, "password": self.password, "action": self.action}
        answer = requests.post(urlunsplit(parts._replace(query="")), data=form, timeout=5, allow_redirects=False)
        assert answer.status_code in (302, 303), answer.text
        location = answer.headers["Location"]
        if self.tamper:
            loc = urlsplit(location)
            query = {k: v[0] for k, v in parse_qs(loc.query).items()}
            location = urlunsplit(loc._replace(query=urlencode(self.tamper(query))))
        self.callback_status = requests.get(location, timeout=5).status_code
        return True


def test_authorization_code_login_on_the_loopback_redirect(oauth, idp):
    browser, announced = Browser(username="carol", password="carol"), []
    tokens = oauth.authorization_code_login(open_browser=browser, announce=announced.append, timeout=10)
    assert idp.verify(tokens.access_token)["preferred_username"] == "carol"
    assert announced == [browser.seen_url]
    query = parse_qs(urlsplit(browser.seen_url).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    redirect = urlsplit(query["redirect_uri"][0])
    assert (redirect.scheme, redirect.hostname, redirect.path) == ("http", "127.0.0.1", "/callback")
    assert redirect.port and query["state"][0]
    assert browser.callback_status == 200


def test_authorization_code_login_refuses_a_foreign_state(oauth):
    browser = Browser(tamper=lambda q: {**q, "state": "forged"})
    with pytest.raises(LoginError, match="wrong state"):
        oauth.authorization_code_login(open_browser=browser, announce=lambda _u: None, timeout=10)


def test_authorization_code_login_refuses_another_issuer(oauth):
    browser = Browser(tamper=lambda q: {**q, "iss": "http://127.0.0.1:1/realms/evil"})
    with pytest.raises(LoginError, match="another issuer"):
        oauth.authorization_code_login(open_browser=browser, announce=lambda _u: None, timeout=10)


def test_authorization_code_login_cancelled_in_the_browser(oauth):
    with pytest.raises(LoginDeclined):
        oauth.authorization_code_login(open_browser=Browser(action="cancel"), announce=lambda _u: None, timeout=10)


def test_authorization_code_login_times_out_without_an_answer(oauth):
    with pytest.raises(LoginError, match="no sign-in arrived"):
        oauth.authorization_code_login(open_browser=lambda _u: False, announce=lambda _u: None, timeout=0.2)


# -- device authorization grant ---------------------------------------------------------------

def test_device_grant_polls_until_approved(oauth, idp):
    authorization = oauth.start_device_authorization()
    assert authorization.interval == 5 and authorization.verification_uri == idp.verification_uri
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        idp.clock.advance(seconds)
        if len(waits) == 3:
            idp.approve_device(authorization.user_code, "dave")

    oauth.sleep = sleep
    tokens = oauth.poll_device(authorization)
    assert idp.verify(tokens.access_token)["preferred_username"] == "dave"
    assert waits == [5, 5, 5]


def test_device_grant_slows_down_when_told(oauth, idp):
    authorization = oauth.start_device_authorization()
    asked = []

    def sleep(seconds):
        asked.append(seconds)
        idp.clock.advance(1 if len(asked) == 2 else seconds)  # the second wait comes back too early
        if len(asked) == 4:
            idp.approve_device(authorization.user_code, "alice")

    oauth.sleep = sleep
    oauth.poll_device(authorization)
    assert asked == [5, 5, 10, 10]  # slow_down: +5 s for this and every later poll


def test_device_grant_declined(oauth, idp):
    authorization = oauth.start_device_authorization()
    idp.decline_device(authorization.user_code)
    with pytest.raises(LoginDeclined):
        oauth.poll_device(authorization)


def test_device_grant_expires(oauth, idp):
    authorization = oauth.start_device_authorization()
    oauth.sleep = lambda seconds: idp.clock.advance(seconds * 4)
    with pytest.raises(DeviceCodeExpired, match="expired"):
        oauth.poll_device(authorization)


def test_device_grant_without_an_endpoint_says_so(idp):
    config = idp_config(idp)
    config["keycloakUrl"] = "http://127.0.0.1:1"  # discovery unreachable: no device endpoint known
    client = OAuthClient(discover_endpoints(config))
    with pytest.raises(LoginError, match="no device authorization endpoint"):
        client.start_device_authorization()


# -- what the server tells clients to ask for --------------------------------------------------

ENTRA_SCOPE = "openid offline_access api://3f9c1e07-5b2d-4a8e-9d60-c4b7a1e2f853/Vaults.ReadWrite"
AUDIENCE = {"audience": "https://api.katta.example"}


class RecordingSession(requests.Session):
    """Sends as usual and keeps each form posted, as the IdP received it."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def post(self, url, data=None, **kwargs):
        self.forms.append(dict(data or {}))
        return super().post(url, data=data, **kwargs)


@pytest.fixture
def asking(idp):
    """A client of a server whose /api/config says: Entra's API scope, and Auth0's audience parameter."""
    config = {**idp_config(idp), "clientScope": ENTRA_SCOPE, "authorizationParams": AUDIENCE}
    return OAuthClient(discover_endpoints(config), session=RecordingSession(), clock=idp.clock,
                       sleep=idp.clock.advance)


def test_the_authorization_request_asks_for_the_published_scope_and_parameters(asking):
    browser = Browser()
    tokens = asking.authorization_code_login(open_browser=browser, announce=lambda _u: None, timeout=10)
    query = parse_qs(urlsplit(browser.seen_url).query)
    assert query["scope"] == [ENTRA_SCOPE] and query["audience"] == [AUDIENCE["audience"]]
    assert query["response_type"] == ["code"] and query["client_id"] == ["katta-cli"]
    assert "api://3f9c1e07-5b2d-4a8e-9d60-c4b7a1e2f853/Vaults.ReadWrite" in tokens.scope.split()


def test_the_device_request_and_the_refresh_carry_the_published_scope_and_parameters(asking, idp):
    authorization = asking.start_device_authorization()
    idp.approve_device(authorization.user_code, "dave")
    tokens = asking.poll_device(authorization)
    asking.refresh(tokens.refresh_token)
    device, poll, refresh = asking.session.forms
    assert device == {"scope": ENTRA_SCOPE, **AUDIENCE, "client_id": "katta-cli"}  # Auth0 takes audience here too
    assert poll.keys() == {"grant_type", "device_code", "client_id"}  # bound to the device code already
    assert refresh["scope"] == ENTRA_SCOPE and refresh["audience"] == AUDIENCE["audience"]


def test_a_server_that_publishes_nothing_more_gets_scope_openid_only(idp):
    """Katta's own hub publishes no clientScope: the login is what it always was."""
    client = OAuthClient(discover_endpoints(idp_config(idp)), session=RecordingSession())
    client.start_device_authorization()
    assert client.session.forms == [{"scope": "openid", "client_id": "katta-cli"}]


@pytest.mark.parametrize("published", [
    {"clientScope": ""},
    {"clientScope": ["openid"]},
    {"authorizationParams": ["audience"]},
    {"authorizationParams": {"audience": 7}},
])
def test_malformed_login_settings_in_the_config_are_refused(idp, published):
    with pytest.raises(LoginError, match=next(iter(published))):
        discover_endpoints({**idp_config(idp), **published})


# -- refresh, rotation, revocation ------------------------------------------------------------

def login_session(live_stack, keychain, tmp_path, clock):
    user = live_stack.new_user("refresh")
    api = KattaApi(live_stack.api_url)
    oauth = OAuthClient(discover_endpoints(api.config()))
    assert store_login(keychain, Accounts(tmp_path), live_stack.api_url, oauth.password_grant(user, user)) == user
    return LoginSession(keychain, live_stack.api_url, user, lambda: oauth, clock=clock), user


def test_expired_access_token_is_refreshed_and_the_refresh_token_rotates(live_stack, keychain, tmp_path):
    now = [time.time()]
    session, user = login_session(live_stack, keychain, tmp_path, lambda: now[0])
    first = keychain.tokens(live_stack.api_url, user)
    api = KattaApi(live_stack.api_url, session)
    assert api.get_me()["name"]
    assert keychain.tokens(live_stack.api_url, user) == first  # still fresh: no refresh

    now[0] = first["expires_at"] - 10  # inside the safety margin: refresh before use
    assert api.get_me()["id"]
    second = keychain.tokens(live_stack.api_url, user)
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    with pytest.raises(OAuthError, match="invalid_grant"):  # the spent refresh token is dead
        session._client().refresh(first["refresh_token"])


def test_a_refused_access_token_is_refreshed_once_and_the_request_retried(live_stack, keychain, tmp_path):
    session, user = login_session(live_stack, keychain, tmp_path, time.time)
    stored = keychain.tokens(live_stack.api_url, user)
    stale = live_stack.idp.mint(user, lifetime=-600)  # the server refuses it, the client thinks it fresh
    keychain.save_tokens(live_stack.api_url, user, {**stored, "access_token": stale})
    me = KattaApi(live_stack.api_url, session).get_me()
    assert me["id"]
    assert keychain.tokens(live_stack.api_url, user)["access_token"] not in (stale, stored["access_token"])


def test_a_spent_refresh_token_ends_the_session(live_stack, keychain, tmp_path):
    session, user = login_session(live_stack, keychain, tmp_path, time.time)
    stored = keychain.tokens(live_stack.api_url, user)
    session._client().refresh(stored["refresh_token"])  # someone else spends it; we keep the old pair
    keychain.save_tokens(live_stack.api_url, user, {**stored, "expires_at": 0})
    with pytest.raises(SessionExpired, match="katta login"):
        session.access_token()


def test_logout_revokes_and_forgets(live_stack, keychain, tmp_path):
    session, user = login_session(live_stack, keychain, tmp_path, time.time)
    refresh_token = keychain.tokens(live_stack.api_url, user)["refresh_token"]
    assert session.logout() is True
    assert keychain.tokens(live_stack.api_url, user) is None
    with pytest.raises(OAuthError, match="invalid_grant"):
        session._client().refresh(refresh_token)
    with pytest.raises(SessionExpired):
        session.access_token()


def test_token_set_round_trip_and_damage():
    tokens = TokenSet.from_response({"access_token": "ACCESS-SECRET", "expires_in": 300, "refresh_token": "REFRESH-SECRET",
                                     "refresh_expires_in": 1800, "token_type": "Bearer"}, now=1000)
    assert TokenSet.from_dict(tokens.to_dict()) == tokens
    assert tokens.access_usable(1000) and not tokens.access_usable(1000 + 280)
    assert tokens.refresh_usable(1000 + 1799) and not tokens.refresh_usable(1000 + 1800)
    assert "SECRET" not in repr(tokens)
    with pytest.raises(SessionExpired):
        TokenSet.from_dict({"access_token": "a"})
    with pytest.raises(LoginError, match="token type"):
        TokenSet.from_response({"access_token": "a", "token_type": "mac"}, now=0)
