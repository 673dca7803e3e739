"""Signing in to the identity provider the Katta server trusts, and keeping the tokens fresh.

The server's ``/api/config`` names the IdP (``keycloakTokenEndpoint``, ``keycloakAuthEndpoint``,
``keycloakClientIdCryptomator``) and what to ask it for (``clientScope``, ``authorizationParams``:
Entra ID's API scope, Auth0's ``audience``); its OIDC discovery document adds the device-authorization
and revocation endpoints. Grants, all for a public client:

* authorization code + PKCE (S256) on a one-shot loopback redirect ``http://127.0.0.1:<port>/callback``
  (RFC 8252), the browser opened for the user and the URL printed as well;
* RFC 8628 device authorization for machines without a browser;
* the resource-owner password grant, for the dev IdP and scripts on the local stack;
* refresh (the refresh token rotates on every use) and RFC 7009 revocation on logout.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
import webbrowser
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Callable, Mapping, Optional
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from .config import Accounts
from .crypto import InvalidFormat, json_segment
from .http.errors import KattaApiError
from .http.models import ConfigDto
from .keychain import Keychain

#: what to ask for when the server publishes no ``clientScope`` (Katta's own hub)
DEFAULT_SCOPE = "openid"
#: refresh this long before the access token expires, so a request never races the expiry
EXPIRY_MARGIN_SECONDS = 30.0
DEFAULT_TIMEOUT = (5.0, 30.0)
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
LOOPBACK_HOST = "127.0.0.1"
CALLBACK_PATH = "/callback"


class LoginError(Exception):
    """Signing in failed; the message says why and what to do."""


class OAuthError(LoginError):
    """The identity provider answered with an RFC 6749 error."""

    def __init__(self, error: str, description: str = "", *, interval: Optional[int] = None) -> None:
        message = f"the identity provider refused: {error}"
        if description:
            message += f" ({description})"
        super().__init__(message)
        self.error = error
        self.description = description
        self.interval = interval


class DeviceCodeExpired(LoginError):
    """The device code expired before anybody approved it."""


class LoginDeclined(LoginError):
    """The user declined the request (device page or browser)."""


class SessionExpired(LoginError):
    """No usable tokens: never signed in, logged out, or the refresh token is spent or expired."""


# -- endpoints ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class IdpEndpoints:
    client_id: str
    token_endpoint: str
    authorization_endpoint: str
    issuer: Optional[str] = None
    device_authorization_endpoint: Optional[str] = None
    revocation_endpoint: Optional[str] = None
    scope: str = DEFAULT_SCOPE
    #: sent beside ``scope`` wherever the client asks for tokens (e.g. Auth0's ``audience``)
    authorization_params: Mapping[str, str] = field(default_factory=dict)


_KEYCLOAK_TOKEN_SUFFIX = "/protocol/openid-connect/token"


def issuer_from_config(config: ConfigDto) -> Optional[str]:
    """The IdP's issuer as Keycloak shapes it: ``<keycloakUrl>/realms/<realm>``, or from the token endpoint.

    Any other provider's issuer is published as ``keycloakUrl`` with no realm.
    """
    if config.get("keycloakUrl") and config.get("keycloakRealm"):
        return f"{config['keycloakUrl'].rstrip('/')}/realms/{config['keycloakRealm']}"
    token_endpoint = config.get("keycloakTokenEndpoint", "")
    if token_endpoint.endswith(_KEYCLOAK_TOKEN_SUFFIX):
        return token_endpoint[: -len(_KEYCLOAK_TOKEN_SUFFIX)]
    return config.get("keycloakUrl") or None


def discover_endpoints(config: ConfigDto, *, session: Optional[requests.Session] = None,
                       timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> IdpEndpoints:
    """The IdP endpoints from ``/api/config``, completed by the issuer's discovery document if it answers."""
    missing = [k for k in ("keycloakTokenEndpoint", "keycloakAuthEndpoint", "keycloakClientIdCryptomator")
               if not config.get(k)]
    if missing:
        raise LoginError(f"the server's /api/config names no identity provider (missing {', '.join(missing)})")
    scope = config.get("clientScope", DEFAULT_SCOPE)
    if not isinstance(scope, str) or not scope.strip():
        raise LoginError("the server's /api/config has a malformed clientScope (not a scope list)")
    params = config.get("authorizationParams", {})
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        raise LoginError("the server's /api/config has malformed authorizationParams (not names to strings)")
    issuer = issuer_from_config(config)
    discovery: dict[str, Any] = {}
    if issuer:
        try:
            response = (session or requests).get(f"{issuer}/.well-known/openid-configuration", timeout=timeout)
            if response.ok:
                body = response.json()
                discovery = body if isinstance(body, dict) else {}
        except (requests.RequestException, ValueError):
            discovery = {}  # optional: only the device grant and revocation need it
    return IdpEndpoints(
        client_id=config["keycloakClientIdCryptomator"],
        token_endpoint=config["keycloakTokenEndpoint"],
        authorization_endpoint=config["keycloakAuthEndpoint"],
        issuer=discovery.get("issuer") or issuer,
        device_authorization_endpoint=discovery.get("device_authorization_endpoint"),
        revocation_endpoint=discovery.get("revocation_endpoint"),
        scope=scope,
        authorization_params=params,
    )


# -- tokens ------------------------------------------------------------------------------------

@dataclass
class TokenSet:
    access_token: str
    expires_at: float
    refresh_token: Optional[str] = None
    refresh_expires_at: Optional[float] = None
    scope: str = ""

    @classmethod
    def from_response(cls, body: Mapping[str, Any], now: float) -> "TokenSet":
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            raise LoginError("the identity provider's token response has no access_token")
        if str(body.get("token_type", "Bearer")).lower() != "bearer":
            raise LoginError(f"unsupported token type {body.get('token_type')!r} (expected Bearer)")
        expires_in = _seconds(body.get("expires_in"), default=60)
        refresh_expires_in = body.get("refresh_expires_in")
        refresh = body.get("refresh_token")
        return cls(
            access_token=access,
            expires_at=now + expires_in,
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            refresh_expires_at=now + _seconds(refresh_expires_in, 0) if refresh_expires_in else None,
            scope=str(body.get("scope", "")),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TokenSet":
        try:
            return cls(access_token=str(data["access_token"]), expires_at=float(data["expires_at"]),
                       refresh_token=data.get("refresh_token"),
                       refresh_expires_at=data.get("refresh_expires_at"), scope=str(data.get("scope", "")))
        except (KeyError, TypeError, ValueError):
            raise SessionExpired("the stored login is damaged; run `katta login` again") from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def access_usable(self, now: float) -> bool:
        return now < self.expires_at - EXPIRY_MARGIN_SECONDS

    def refresh_usable(self, now: float) -> bool:
        return bool(self.refresh_token) and (self.refresh_expires_at is None or now < self.refresh_expires_at)

    def __repr__(self) -> str:
        return f"TokenSet(expires_at={self.expires_at}, refresh={'yes' if self.refresh_token else 'no'})"


def _seconds(value: Any, default: float) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return default
    return seconds if seconds >= 0 else default


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT access token, NOT verified: only to name the account locally.

    The server verifies every token; the client merely needs a user name for its key store.
    """
    segments = token.split(".")
    try:
        return json_segment(segments[1], "the token's claims")
    except (IndexError, InvalidFormat):
        return {}


def account_name(tokens: TokenSet) -> str:
    claims = unverified_claims(tokens.access_token)
    name = claims.get("preferred_username") or claims.get("sub")
    if not isinstance(name, str) or not name:
        raise LoginError("the access token names no user (no preferred_username or sub claim)")
    return name


# -- the grants --------------------------------------------------------------------------------

@dataclass(frozen=True)
class DeviceAuthorization:
    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: Optional[str]
    expires_in: float
    interval: float


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge), RFC 7636."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class OAuthClient:
    """The grants of one public client at one IdP. ``clock`` and ``sleep`` are injectable for tests."""

    def __init__(self, endpoints: IdpEndpoints, *, session: Optional[requests.Session] = None,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.endpoints = endpoints
        self.session = session or requests.Session()
        self.timeout = timeout
        self.clock = clock
        self.sleep = sleep

    # -- token endpoint

    def _post(self, url: str, form: Mapping[str, str]) -> dict[str, Any]:
        try:
            response = self.session.post(url, data={**form, "client_id": self.endpoints.client_id},
                                         headers={"Accept": "application/json"}, timeout=self.timeout,
                                         allow_redirects=False)
        except requests.RequestException:
            raise LoginError(f"cannot reach the identity provider at {url}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            if response.ok:
                raise LoginError(f"the identity provider's answer from {url} is not JSON")
            raise LoginError(f"the identity provider answered {response.status_code} {response.reason} at {url}")
        if not response.ok or "error" in body:
            interval = body.get("interval")
            raise OAuthError(str(body.get("error", f"http_{response.status_code}")),
                             str(body.get("error_description", "")),
                             interval=interval if isinstance(interval, int) else None)
        return body

    def _token(self, form: Mapping[str, str]) -> TokenSet:
        now = self.clock()
        return TokenSet.from_response(self._post(self.endpoints.token_endpoint, form), now)

    def _asking(self) -> dict[str, str]:
        """What every request for new tokens asks for; the client's own fields are set after, and win."""
        return {**self.endpoints.authorization_params, "scope": self.endpoints.scope}

    def password_grant(self, username: str, password: str) -> TokenSet:
        return self._token({**self._asking(), "grant_type": "password", "username": username, "password": password})

    def refresh(self, refresh_token: str) -> TokenSet:
        return self._token({**self._asking(), "grant_type": "refresh_token", "refresh_token": refresh_token})

    def revoke(self, refresh_token: str) -> bool:
        """RFC 7009; False when the IdP offers no revocation endpoint."""
        if not self.endpoints.revocation_endpoint:
            return False
        try:
            response = self.session.post(self.endpoints.revocation_endpoint, timeout=self.timeout, data={
                "token": refresh_token, "token_type_hint": "refresh_token", "client_id": self.endpoints.client_id})
        except requests.RequestException:
            raise LoginError("cannot reach the identity provider to revoke the session") from None
        if not response.ok:
            raise LoginError(f"the identity provider refused to revoke the session ({response.status_code})")
        return True

    # -- device authorization grant (RFC 8628)

    def start_device_authorization(self) -> DeviceAuthorization:
        url = self.endpoints.device_authorization_endpoint
        if not url:
            raise LoginError("the identity provider offers no device authorization endpoint; "
                             "use the browser login or --password")
        body = self._post(url, self._asking())
        try:
            return DeviceAuthorization(
                device_code=str(body["device_code"]), user_code=str(body["user_code"]),
                verification_uri=str(body.get("verification_uri") or body["verification_url"]),
                verification_uri_complete=body.get("verification_uri_complete"),
                expires_in=_seconds(body.get("expires_in"), 600), interval=_seconds(body.get("interval"), 5))
        except KeyError as exc:
            raise LoginError(f"the device authorization response has no {exc.args[0]}") from None

    def poll_device(self, authorization: DeviceAuthorization) -> TokenSet:
        """Poll until approved, honouring ``interval`` and ``slow_down`` (+5 s each time)."""
        interval = max(authorization.interval, 1.0)
        deadline = self.clock() + authorization.expires_in
        while True:
            self.sleep(interval)
            try:
                return self._token({"grant_type": DEVICE_GRANT, "device_code": authorization.device_code})
            except OAuthError as exc:
                if exc.error == "authorization_pending":
                    pass
                elif exc.error == "slow_down":
                    interval = max(interval + 5, float(exc.interval or 0))
                elif exc.error == "expired_token":
                    raise DeviceCodeExpired("the code expired before it was approved; run `katta login --device` again") from None
                elif exc.error == "access_denied":
                    raise LoginDeclined("the sign-in request was declined") from None
                else:
                    raise
            if self.clock() >= deadline:
                raise DeviceCodeExpired("the code expired before it was approved; run `katta login --device` again")

    # -- authorization code + PKCE on a loopback redirect (RFC 8252)

    def authorization_code_login(self, *, open_browser: Callable[[str], Any] = webbrowser.open,
                                 announce: Callable[[str], Any] = print, timeout: float = 300.0) -> TokenSet:
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(24)
        with LoopbackReceiver() as receiver:
            url = self.endpoints.authorization_endpoint + "?" + urlencode({
                **self._asking(), "response_type": "code", "client_id": self.endpoints.client_id,
                "redirect_uri": receiver.redirect_uri, "state": state,
                "code_challenge": challenge, "code_challenge_method": "S256"})
            announce(url)
            try:
                open_browser(url)
            except Exception:  # no browser is fine: the URL was printed
                pass
            params = receiver.wait(timeout)
        if not hmac.compare_digest(params.get("state", ""), state):
            raise LoginError("the sign-in answer carried the wrong state (not the request we sent); try again")
        if "error" in params:
            if params["error"] == "access_denied":
                raise LoginDeclined("the sign-in was cancelled in the browser")
            raise OAuthError(params["error"], params.get("error_description", ""))
        issuer = params.get("iss")
        if issuer and self.endpoints.issuer and issuer != self.endpoints.issuer:
            raise LoginError(f"the sign-in answer came from another issuer ({issuer})")  # RFC 9207 mix-up defence
        code = params.get("code")
        if not code:
            raise LoginError("the sign-in answer carried no authorization code")
        return self._token({"grant_type": "authorization_code", "code": code,
                            "redirect_uri": receiver.redirect_uri, "code_verifier": verifier})


class LoopbackReceiver:
    """A one-shot HTTP server on 127.0.0.1 (ephemeral port) that takes the IdP's redirect."""

    def __init__(self) -> None:
        self._result: Optional[dict[str, str]] = None
        self._done = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                parts = urlsplit(self.path)
                if parts.path != CALLBACK_PATH or receiver._done.is_set():
                    self._answer(404, "Not found.")
                    return
                query = parse_qs(parts.query, keep_blank_values=True)
                receiver._result = {k: v[0] for k, v in query.items() if len(v) == 1}
                receiver._done.set()
                self._answer(200, "Signed in to katta. You can close this window.")

            def _answer(self, status: int, text: str) -> None:
                body = f"<!doctype html><title>katta</title><p>{text}</p>".encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass  # the query carries the authorization code: never log it

        self._server = HTTPServer((LOOPBACK_HOST, 0), Handler)
        self.redirect_uri = f"http://{LOOPBACK_HOST}:{self._server.server_port}{CALLBACK_PATH}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="katta-login-callback",
                                        daemon=True)
        self._thread.start()

    def wait(self, timeout: float) -> dict[str, str]:
        if not self._done.wait(timeout):
            raise LoginError(f"no sign-in arrived within {timeout:.0f} s")
        assert self._result is not None
        return self._result

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> "LoopbackReceiver":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


# -- the stored login --------------------------------------------------------------------------

def store_login(keychain: Keychain, accounts: Accounts, server: str, tokens: TokenSet) -> str:
    """Keep ``tokens`` for the user they name and make that user current for ``server``."""
    user = account_name(tokens)
    keychain.save_tokens(server, user, tokens.to_dict())
    accounts.set_current_user(server, user)
    return user


class LoginSession:
    """The token provider for :class:`~katta_client.http.KattaApi`: the stored tokens of one user.

    Refreshes an access token that expires within :data:`EXPIRY_MARGIN_SECONDS` (and one the
    server refused) with the refresh token, and stores the rotated pair at once — a refresh token
    works only once.
    """

    def __init__(self, keychain: Keychain, server: str, user: str, oauth: Callable[[], OAuthClient], *,
                 clock: Callable[[], float] = time.time) -> None:
        self.keychain = keychain
        self.server = server
        self.user = user
        self._oauth_factory = oauth
        self._oauth: Optional[OAuthClient] = None
        self.clock = clock
        self._lock = threading.Lock()

    def _client(self) -> OAuthClient:
        if self._oauth is None:
            self._oauth = self._oauth_factory()
        return self._oauth

    def _stored(self) -> TokenSet:
        data = self.keychain.tokens(self.server, self.user)
        if data is None:
            raise SessionExpired(f"not signed in to {self.server} as {self.user}; run `katta login`")
        return TokenSet.from_dict(data)

    def access_token(self) -> str:
        with self._lock:
            tokens = self._stored()
            if tokens.access_usable(self.clock()):
                return tokens.access_token
            return self._refresh(tokens).access_token

    def token_rejected(self, token: str) -> bool:
        with self._lock:
            tokens = self._stored()
            if tokens.access_token != token:
                return True  # refreshed meanwhile (another thread or process)
            if not tokens.refresh_usable(self.clock()):
                return False
            self._refresh(tokens)
            return True

    def _refresh(self, tokens: TokenSet) -> TokenSet:
        if not tokens.refresh_usable(self.clock()):
            raise SessionExpired(f"the login at {self.server} has expired; run `katta login` again")
        assert tokens.refresh_token is not None
        try:
            fresh = self._client().refresh(tokens.refresh_token)
        except OAuthError as exc:
            if exc.error != "invalid_grant":
                raise
            current = self._stored()
            if current.refresh_token != tokens.refresh_token and current.access_usable(self.clock()):
                return current  # another process rotated the pair first
            raise SessionExpired(f"the login at {self.server} has expired; run `katta login` again") from None
        if fresh.refresh_token is None:  # the IdP did not rotate: keep using the old one
            fresh.refresh_token, fresh.refresh_expires_at = tokens.refresh_token, tokens.refresh_expires_at
        self.keychain.save_tokens(self.server, self.user, fresh.to_dict())
        return fresh

    def logout(self) -> bool:
        """Revoke the refresh token if the IdP allows (best effort) and forget the tokens. True if revoked."""
        with self._lock:
            data = self.keychain.tokens(self.server, self.user)
            revoked = False
            if data and data.get("refresh_token"):
                try:
                    revoked = self._client().revoke(str(data["refresh_token"]))
                except (LoginError, KattaApiError):
                    revoked = False  # an unreachable IdP or server: logging out still forgets the tokens
            self.keychain.delete_tokens(self.server, self.user)
            return revoked
