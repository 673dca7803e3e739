"""The answers of both OAuth endpoints: RFC 6749 JSON, never problem JSON.

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
from chalicelib.oauth import INVALID_REQUEST, NO_STORE, OAUTH_JSON, OAuthError

log = logging.getLogger("katta")


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
