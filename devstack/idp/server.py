"""HTTP front of the dev IdP: Keycloak-shaped paths on a ``ThreadingHTTPServer``.

One log line per request on the ``devstack.idp`` logger: client address, method, path (never the
query string), status, duration and a few safe notes (grant type, client id, user name, error
code). Tokens, codes and passwords are never logged.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import socket
import threading
import time
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Callable, Mapping
from urllib.parse import parse_qs, unquote, urlencode, urlsplit, urlunsplit

from . import pages
from .provider import DEVICE_CODE_GRANT, RESPONSE_MODES, InvalidToken, OAuthError

if TYPE_CHECKING:
    from .provider import DevIdP

logger = logging.getLogger("devstack.idp")

MAX_BODY = 64 * 1024
#: The browser's SSO session (Keycloak's KEYCLOAK_SESSION): HttpOnly, SameSite=Lax, the realm's path.
SESSION_COOKIE = "KATTA_IDP_SESSION"

_JSON_PATHS = (
    "/.well-known/openid-configuration",
    "/protocol/openid-connect/certs",
    "/protocol/openid-connect/token",
    "/protocol/openid-connect/userinfo",
    "/protocol/openid-connect/auth/device",
    "/protocol/openid-connect/revoke",
)
_HTML_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class _HTTPProblem(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class _DuplicateParameter(Exception):
    pass


def _single_values(multi: Mapping[str, list[str]]) -> dict[str, str]:
    """RFC 6749 §3.1/§3.2: parameters must not be repeated."""
    out: dict[str, str] = {}
    for name, values in multi.items():
        if len(values) > 1:
            raise _DuplicateParameter(name)
        out[name] = values[0]
    return out


def _with_answer(uri: str, response_mode: str, params: Mapping[str, str]) -> str:
    """``uri`` with ``params`` added to its query or, for ``fragment``, as its fragment."""
    parts = urlsplit(uri)
    extra = urlencode({k: v for k, v in params.items() if v})
    if response_mode == "fragment":
        return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, extra))
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


class IdPRequestHandler(BaseHTTPRequestHandler):
    server: "_IdPServer"
    server_version = "katta-dev-idp/1.0"
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds an idle keep-alive connection may hold its thread
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls

    # ---------------------------------------------------------------- plumbing

    @property
    def idp(self) -> "DevIdP":
        return self.server.idp

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_OPTIONS(self) -> None:  # noqa: N802
        self._dispatch("OPTIONS")

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status = code
        super().send_response(code, message)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass  # _dispatch logs one line per request itself

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class signature
        # Only reached for requests http.server rejects before _dispatch (malformed request line,
        # oversized headers, unsupported method). Their text may echo the request line: not logged.
        logger.info("%s rejected malformed or unsupported request", self.client_address[0])

    def _dispatch(self, method: str) -> None:
        started = time.perf_counter()
        self._status = 0
        self._notes: dict[str, str] = {}
        path = urlsplit(self.path).path
        try:
            self._route(method, path)
        except Exception:  # noqa: BLE001 - a dev server answers 500 and keeps running
            logger.exception("internal error handling %s %s", method, path)
            self.close_connection = True
            if not self._status:
                self._send_json(500, {"error": "server_error", "error_description": "Internal error"})
        finally:
            notes = "".join(f" {k}={v}" for k, v in self._notes.items())
            logger.info(
                '%s "%s %s" %s %.1fms%s', self.client_address[0], method, path, self._status or "-",
                (time.perf_counter() - started) * 1000, notes,
            )

    def _send(self, status: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _cors_headers(self) -> dict[str, str]:
        """Credentialed CORS for an allowed origin only: echoed, never ``*`` (browsers refuse it)."""
        headers = {"Vary": "Origin"}
        origin = self.headers.get("Origin")
        if origin and origin in self.idp.allowed_origins:
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Allow-Credentials"] = "true"
        return headers

    def _send_json(self, status: int, obj: Any, headers: Mapping[str, str] | None = None) -> None:
        all_headers = {"Cache-Control": "no-store", "Pragma": "no-cache", **self._cors_headers()}
        all_headers.update(headers or {})
        body = json.dumps(obj, separators=(",", ":")).encode()
        self._send(status, body, "application/json", all_headers)

    def _send_oauth_error(self, err: OAuthError, headers: Mapping[str, str] | None = None) -> None:
        self._notes["error"] = err.error
        self._send_json(err.status, err.as_dict(), headers)

    def _send_html(self, status: int, html: str, headers: Mapping[str, str] | None = None) -> None:
        self._send(status, html.encode(), "text/html; charset=utf-8", {**_HTML_HEADERS, **(headers or {})})

    def _redirect(self, location: str, headers: Mapping[str, str] | None = None) -> None:
        self._send(302, b"", "text/plain", {"Location": location, "Cache-Control": "no-store", **(headers or {})})

    def _session_secret(self) -> str | None:
        try:
            morsel = SimpleCookie(self.headers.get("Cookie", "")).get(SESSION_COOKIE)
        except CookieError:
            return None
        return morsel.value if morsel else None

    def _session_cookie(self, secret: str) -> dict[str, str]:
        """The Set-Cookie header for ``secret`` (an empty one removes the cookie)."""
        expiry = "" if secret else "; Max-Age=0"
        return {"Set-Cookie": f"{SESSION_COOKIE}={secret}; Path={self.idp.issuer_path}/; HttpOnly; SameSite=Lax{expiry}"}

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise _HTTPProblem(411, "Chunked request bodies are not supported; send Content-Length")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise _HTTPProblem(400, "Invalid Content-Length") from None
        if length < 0:
            self.close_connection = True
            raise _HTTPProblem(400, "Invalid Content-Length")
        if length > MAX_BODY:
            self.close_connection = True
            raise _HTTPProblem(413, "Request body too large")
        return self.rfile.read(length) if length else b""

    def _read_form(self) -> dict[str, str]:
        body = self._read_body()
        if body and self.headers.get_content_type() != "application/x-www-form-urlencoded":
            raise OAuthError("invalid_request", "Content-Type must be application/x-www-form-urlencoded")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise OAuthError("invalid_request", "Request body is not UTF-8") from None
        try:
            return _single_values(parse_qs(text, keep_blank_values=True))
        except _DuplicateParameter as dup:
            raise OAuthError("invalid_request", f"Duplicate parameter: {dup}") from None

    def _query(self) -> dict[str, str]:
        try:
            return _single_values(parse_qs(urlsplit(self.path).query, keep_blank_values=True))
        except _DuplicateParameter as dup:
            raise OAuthError("invalid_request", f"Duplicate parameter: {dup}") from None

    def _client_id(self, form: Mapping[str, str]) -> str | None:
        """``client_id`` from the form, or from HTTP Basic (public client: empty secret)."""
        client_id = form.get("client_id")
        auth = self.headers.get("Authorization", "")
        if auth[:6].lower() == "basic ":
            self._basic_auth = True
            try:
                decoded = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise OAuthError("invalid_client", "Malformed HTTP Basic credentials", 401) from None
            basic_id = unquote(decoded.partition(":")[0])
            if client_id and client_id != basic_id:
                raise OAuthError("invalid_request", "client_id in the body and the Authorization header differ")
            client_id = basic_id
        if client_id:
            self._notes["client"] = client_id
        return client_id

    # ---------------------------------------------------------------- routing

    def _route(self, method: str, path: str) -> None:
        prefix = self.idp.issuer_path
        relative = path[len(prefix):] if path.startswith(prefix + "/") else None
        routes: dict[str, dict[str, Callable[[], None]]] = {
            "/.well-known/openid-configuration": {"GET": self._discovery},
            "/protocol/openid-connect/certs": {"GET": self._certs},
            "/protocol/openid-connect/token": {"POST": self._token},
            "/protocol/openid-connect/userinfo": {"GET": self._userinfo, "POST": self._userinfo},
            "/protocol/openid-connect/auth": {"GET": self._auth_get, "POST": self._auth_post},
            "/protocol/openid-connect/auth/device": {"POST": self._device_authorization},
            "/protocol/openid-connect/revoke": {"POST": self._revoke},
            "/protocol/openid-connect/logout": {"GET": self._logout, "POST": self._logout},
            "/device": {"GET": self._device_get, "POST": self._device_post},
        }
        handlers = routes.get(relative or "")
        if method == "POST" and (handlers is None or "POST" not in handlers):
            self._discard_body()
        if handlers is None:
            self._send_json(404, {"error": "not_found", "error_description": "Unknown endpoint"})
            return
        if method == "OPTIONS" and relative in _JSON_PATHS:
            headers = self._cors_headers()
            if "Access-Control-Allow-Origin" in headers:
                headers.update({
                    "Access-Control-Allow-Methods": ", ".join([*handlers, "OPTIONS"]),
                    "Access-Control-Allow-Headers": "Authorization, Content-Type",
                    "Access-Control-Max-Age": "600",
                })
            self._send(204, b"", "text/plain", headers)
            return
        handler = handlers.get(method)
        if handler is None:
            self._send_json(405, {"error": "invalid_request", "error_description": "Method not allowed"},
                            {"Allow": ", ".join(handlers)})
            return
        try:
            handler()
        except _HTTPProblem as problem:
            self._send_json(problem.status, {"error": "invalid_request", "error_description": problem.message})

    def _discard_body(self) -> None:
        try:
            self._read_body()
        except _HTTPProblem:
            pass

    # ---------------------------------------------------------------- JSON endpoints

    def _discovery(self) -> None:
        self._send_json(200, self.idp.discovery(), {"Cache-Control": "no-cache"})

    def _certs(self) -> None:
        self._send_json(200, self.idp.jwks(), {"Cache-Control": "no-cache"})

    def _token(self) -> None:
        self._basic_auth = False
        try:
            form = self._read_form()
            client_id = self._client_id(form)
            grant_type = form.get("grant_type")
            self._notes["grant"] = {DEVICE_CODE_GRANT: "device_code"}.get(grant_type or "", grant_type or "-")
            idp = self.idp
            idp.check_client(client_id)
            assert client_id is not None
            if not grant_type:
                raise OAuthError("invalid_request", "Missing form parameter: grant_type")
            if grant_type == "password":
                if form.get("username"):
                    self._notes["user"] = form["username"]
                result = idp.password_grant(client_id, form.get("username"), form.get("password"), form.get("scope"))
            elif grant_type == "refresh_token":
                result = idp.refresh_grant(client_id, form.get("refresh_token"), form.get("scope"))
            elif grant_type == "authorization_code":
                result = idp.authorization_code_grant(
                    client_id, form.get("code"), form.get("redirect_uri"), form.get("code_verifier"))
            elif grant_type == DEVICE_CODE_GRANT:
                result = idp.device_code_grant(client_id, form.get("device_code"))
            else:
                raise OAuthError("unsupported_grant_type", f"Unsupported grant_type {grant_type[:64]!r}")
        except OAuthError as err:
            headers = {"WWW-Authenticate": 'Basic realm="katta"'} if err.status == 401 and self._basic_auth else None
            self._send_oauth_error(err, headers)
            return
        self._send_json(200, result)

    def _device_authorization(self) -> None:
        self._basic_auth = False
        try:
            form = self._read_form()
            result = self.idp.device_authorization(self._client_id(form) or "", form.get("scope"))
        except OAuthError as err:
            self._send_oauth_error(err)
            return
        self._send_json(200, result)

    def _revoke(self) -> None:
        self._basic_auth = False
        try:
            form = self._read_form()
            self.idp.revoke(self._client_id(form) or "", form.get("token"))
        except OAuthError as err:
            self._send_oauth_error(err)
            return
        self._send_json(200, {})

    def _userinfo(self) -> None:
        if self.command == "POST":
            self._read_body()
        realm = f'Bearer realm="{self.idp.realm}"'
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            self._notes["error"] = "missing_token"
            self._send_json(401, {"error": "invalid_request", "error_description": "Missing bearer token"},
                            {"WWW-Authenticate": realm})
            return
        try:
            info = self.idp.userinfo(token)
        except InvalidToken as exc:
            self._notes["error"] = "invalid_token"
            self._send_json(401, {"error": "invalid_token", "error_description": str(exc)},
                            {"WWW-Authenticate": f'{realm}, error="invalid_token", error_description="{exc}"'})
            return
        self._notes["user"] = str(info.get("preferred_username", "-"))
        self._send_json(200, info)

    # ---------------------------------------------------------------- authorization code + PKCE

    @property
    def _auth_action(self) -> str:
        return f"{self.idp.issuer_path}/protocol/openid-connect/auth"

    def _auth_get(self) -> None:
        try:
            params = self._query()
        except OAuthError as err:
            self._notes["error"] = err.error
            self._send_html(400, pages.message_page("Sign-in request refused", err.description))
            return
        self._authorize(params, None)

    def _auth_post(self) -> None:
        try:
            form = self._read_form()
        except OAuthError as err:
            self._notes["error"] = err.error
            self._send_html(400, pages.message_page("Sign-in request refused", err.description))
            return
        # A POST without credentials fields is an authorization request sent by POST (OIDC allows it).
        action = form.get("action") or ("login" if "username" in form else None)
        self._authorize(form, action)

    def _authorize(self, params: dict[str, str], action: str | None) -> None:
        idp = self.idp
        if params.get("client_id"):
            self._notes["client"] = params["client_id"]
        try:
            idp.validate_authorization_request(params)
        except OAuthError as err:
            # Never redirect to an unverified redirect_uri (RFC 6749 §4.1.2.1): tell the user instead.
            self._notes["error"] = err.error
            self._send_html(400, pages.message_page("Sign-in request refused", err.description))
            return
        # An unknown response_mode is itself the error, answered the way OAuth answers codes.
        mode = params.get("response_mode") if params.get("response_mode") in RESPONSE_MODES else "query"

        def answer(values: Mapping[str, str], headers: Mapping[str, str] | None = None) -> None:
            back = {"state": params.get("state", ""), "iss": idp.issuer}
            self._redirect(_with_answer(params["redirect_uri"], mode, {**values, **back}), headers)

        error = idp.authorization_request_error(params)
        if error is None and action == "cancel":
            error = OAuthError("access_denied", "The user cancelled the sign-in")
        if error is None and action != "login":
            prompts = params.get("prompt", "").split()
            sso = None if "login" in prompts else idp.sso_session(self._session_secret())
            if sso is not None:
                self._notes["user"] = sso.username
                answer({"code": idp.create_authorization_code(params, sso)})
                return
            if "none" in prompts:
                error = OAuthError("login_required", "The user is not signed in")
        if error is not None:
            self._notes["error"] = error.error
            answer({"error": error.error, "error_description": error.description})
            return
        if action != "login":
            self._send_html(200, pages.login_page(self._auth_action, params))
            return
        username = params.get("username", "")
        self._notes["user"] = username or "-"
        try:
            user = idp.authenticate(username, params.get("password", ""))
        except OAuthError as err:
            self._notes["error"] = err.error
            message = "Account disabled." if err.description == "Account disabled" else "Invalid username or password."
            self._send_html(200, pages.login_page(self._auth_action, params, error=message, username=username))
            return
        secret, sso = idp.start_sso_session(user.username)
        answer({"code": idp.create_authorization_code(params, sso)}, self._session_cookie(secret))

    def _logout(self) -> None:
        """RP-initiated logout: a refused request ends nothing and redirects nowhere."""
        try:
            params = self._query() if self.command == "GET" else self._read_form()
            redirect_uri = self.idp.end_session(params, self._session_secret())
        except OAuthError as err:
            self._notes["error"] = err.error
            self._send_html(400, pages.message_page("Sign-out request refused", err.description))
            return
        gone = self._session_cookie("")
        if redirect_uri:
            self._redirect(_with_answer(redirect_uri, "query", {"state": params.get("state", "")}), gone)
        else:
            self._send_html(200, pages.message_page("Signed out", "You are signed out. You can close this window."),
                            gone)

    # ---------------------------------------------------------------- device verification page

    @property
    def _device_action(self) -> str:
        return f"{self.idp.issuer_path}/device"

    def _device_get(self) -> None:
        try:
            user_code = self._query().get("user_code", "")
        except OAuthError:
            user_code = ""
        error = None
        if user_code:
            try:
                self.idp.device_grant_info(user_code)
            except (KeyError, ValueError):
                error = "This code is unknown, expired or already used."
        self._send_html(200, pages.device_page(self._device_action, user_code=user_code, error=error))

    def _device_post(self) -> None:
        try:
            form = self._read_form()
        except OAuthError as err:
            self._notes["error"] = err.error
            self._send_html(400, pages.device_page(self._device_action, error=err.description))
            return
        user_code = form.get("user_code", "").strip()
        username = form.get("username", "")
        action = form.get("action")
        self._notes["user"] = username or "-"

        def again(status: int, message: str) -> None:
            self._send_html(status, pages.device_page(
                self._device_action, user_code=user_code, username=username, error=message))

        if action not in ("approve", "deny"):
            self._notes["error"] = "invalid_request"
            again(400, "Choose Approve or Decline.")
            return
        try:
            self.idp.device_grant_info(user_code)
        except (KeyError, ValueError):
            self._notes["error"] = "invalid_code"
            again(400, "This code is unknown, expired or already used.")
            return
        try:
            user = self.idp.authenticate(username, form.get("password", ""))
        except OAuthError as err:
            self._notes["error"] = err.error
            again(200, "Account disabled." if err.description == "Account disabled" else "Invalid username or password.")
            return
        self._notes["action"] = action
        try:
            if action == "approve":
                self.idp.approve_device(user_code, user.username)
            else:
                self.idp.decline_device(user_code)
        except (KeyError, ValueError):  # raced with expiry or another approval
            self._notes["error"] = "invalid_code"
            again(400, "This code is unknown, expired or already used.")
            return
        if action == "approve":
            self._send_html(200, pages.message_page(
                "Device approved", "The device is signed in. You can close this window."))
        else:
            self._send_html(200, pages.message_page(
                "Device declined", "The device was not signed in. You can close this window."))


class _IdPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], idp: "DevIdP"):
        self.idp = idp
        super().__init__(address, IdPRequestHandler)


class _IdPServer6(_IdPServer):
    address_family = socket.AF_INET6


class ServerHandle:
    """A running dev IdP server; ``stop()`` (or leaving a ``with`` block) shuts it down."""

    def __init__(self, idp: "DevIdP", server: _IdPServer, thread: threading.Thread, host: str, port: int):
        self.idp = idp
        self.server = server
        self.thread = thread
        self.host = host
        self.port = port
        self._stopped = False

    @property
    def url(self) -> str:
        """Base URL of the server, e.g. ``http://127.0.0.1:54321``."""
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def issuer(self) -> str:
        return self.idp.issuer

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> "ServerHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<ServerHandle {self.url} issuer={self.issuer}>"


def serve(idp: "DevIdP", host: str = "127.0.0.1", port: int = 8180) -> ServerHandle:
    """Bind ``host:port`` (0 = any free port), serve in a daemon thread, return the handle."""
    cls = _IdPServer6 if ":" in host else _IdPServer
    server = cls((host, port), idp)
    actual_port = server.server_address[1]
    idp._set_served_address(host, actual_port)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05},
        name=f"dev-idp-{actual_port}", daemon=True,
    )
    thread.start()
    return ServerHandle(idp, server, thread, host, actual_port)
