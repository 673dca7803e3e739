"""RFC 6749 §5 responses for the secret server's token endpoint — not problem JSON.

Every answer, success or error, carries ``Cache-Control: no-store``: it holds
a token or says why a credential was refused. ``invalid_client`` is a 401 with
a ``WWW-Authenticate`` challenge naming the one client authentication we
accept (``private_key_jwt``); the other errors are 400s. Failures that are not
a refusal keep their meaning: an unavailable dependency is a 503
``temporarily_unavailable`` with ``Retry-After``, a bug a 500 ``server_error``
carrying only a request id.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from chalice import Blueprint, Response

from chalicelib import web

log = logging.getLogger("katta")

# The exact media type of RFC 6749's examples; the app's middleware lets it through
# (Chalice's own errors are plain "application/json" and still become problem JSON).
OAUTH_JSON = "application/json;charset=UTF-8"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

INVALID_REQUEST = "invalid_request"
INVALID_CLIENT = "invalid_client"
INVALID_GRANT = "invalid_grant"
INVALID_TARGET = "invalid_target"
UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"


class OAuthError(Exception):
    """A refusal of the token endpoint; ``description`` is shown to the client."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description

    @property
    def status(self) -> int:
        return 401 if self.error == INVALID_CLIENT else 400

    def headers(self) -> dict[str, str]:
        if self.error != INVALID_CLIENT:
            return {}
        return {"WWW-Authenticate": f'private_key_jwt realm="katta-secret-server", error="{self.error}", '
                                    f'error_description="{_quote(self.description)}"'}


def oauth_response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=json.dumps(body, separators=(",", ":")), status_code=status,
                    headers={"Content-Type": OAUTH_JSON, **NO_STORE, **(headers or {})})


def error_response(exc: Exception, request) -> Response:
    if isinstance(exc, OAuthError):
        return oauth_response({"error": exc.error, "error_description": exc.description}, exc.status, exc.headers())
    api_error = web.to_api_error(exc)
    request_id = web.request_id_of(request)
    if api_error is not None and api_error.status == 503:
        log.warning("dependency failure: %s", type(exc).__name__, extra={"request_id": request_id})
        return oauth_response({"error": "temporarily_unavailable", "error_description": api_error.detail},
                              503, {k: v for k, v in api_error.headers.items() if k == "Retry-After"})
    if api_error is not None and api_error.status == 413:
        return oauth_response({"error": INVALID_REQUEST, "error_description": api_error.detail}, 413)
    if api_error is not None and api_error.status == 409:
        # A lost race with a concurrent request: nothing was written, and a retry succeeds.
        return oauth_response({"error": "temporarily_unavailable", "error_description": api_error.detail},
                              503, {"Retry-After": "1"})
    if api_error is not None and 400 <= api_error.status < 500:
        return oauth_response({"error": INVALID_REQUEST, "error_description": api_error.detail}, 400)
    log.error("unhandled exception", exc_info=exc, extra={"request_id": request_id})
    return oauth_response({"error": "server_error", "error_description":
                           f"an unexpected error occurred; quote the request id {request_id} when reporting it"}, 500)


def oauth_route(bp: Blueprint, path: str, methods: tuple[str, ...] = ("POST",), **options: Any):
    """Like ``web.route``, but every failure becomes an RFC 6749 error body."""
    return web.route(bp, path, methods, on_error=error_response, errors_style="oauth", **options)


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', "'")
