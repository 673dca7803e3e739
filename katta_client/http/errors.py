"""Errors of the Katta HTTP API, built from the server's RFC 9457 problem JSON.

Every failure the client can meet on the wire is a :class:`KattaApiError` whose ``str()`` is one
human-readable line (status, title, detail, failing fields) — fit for a CLI, never a traceback.
Subclasses follow the status code; the access-token call maps its documented statuses to the
specific subclasses below, because the desktop flow reacts differently to each of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import requests


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


class KattaApiError(Exception):
    """A request to the Katta API failed. ``status`` is None when no HTTP answer arrived."""

    def __init__(self, message: str, *, status: Optional[int] = None, title: str = "", detail: str = "",
                 errors: tuple[FieldError, ...] = (), request_id: Optional[str] = None,
                 retry_after: Optional[str] = None) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
        self.request_id = request_id
        self.retry_after = retry_after


class KattaConnectionError(KattaApiError):
    """The server could not be reached, or did not answer in time."""


class BadRequest(KattaApiError):
    """400: the server refused the input; ``errors`` names the fields."""


class Unauthorized(KattaApiError):
    """401: no valid login (missing, expired or refused token)."""


class Forbidden(KattaApiError):
    """403: signed in, but not allowed."""


class NotFound(KattaApiError):
    """404."""


class Conflict(KattaApiError):
    """409: exists already, or changed meanwhile."""


class Gone(KattaApiError):
    """410."""


class PayloadTooLarge(KattaApiError):
    """413."""


class ServerError(KattaApiError):
    """5xx: the server failed; ``request_id`` helps its operator find the log line."""


class ServiceUnavailable(ServerError):
    """503: throttled or a dependency is down; ``retry_after`` says when to try again."""


# -- the access-token call's documented answers (GET /api/vaults/{id}/access-token) ------------

class NoVaultAccess(Forbidden):
    """403: the caller holds no access token for this vault (an owner must grant access)."""


class VaultNotFound(NotFound):
    """404: no such vault."""


class VaultArchived(Gone):
    """410: the vault is archived."""


class UserKeysRequired(KattaApiError):
    """449: the caller has not set up user keys yet (``katta init``)."""


class DeviceNotFound(NotFound):
    """404 on GET /api/devices/{id}: this device is not registered for the caller."""


_BY_STATUS: dict[int, type[KattaApiError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 410: Gone,
    413: PayloadTooLarge, 449: UserKeysRequired, 503: ServiceUnavailable,
}

_MAX_DETAIL = 300  # a misbehaving proxy may answer with a whole HTML page


def error_from_response(response: requests.Response,
                        overrides: Optional[dict[int, type[KattaApiError]]] = None) -> KattaApiError:
    """The exception for a non-2xx answer, from its problem JSON when there is one."""
    status = response.status_code
    problem = _problem(response)
    title = _text(problem.get("title")) or response.reason or "HTTP error"
    detail = _text(problem.get("detail")) or _text(problem.get("message"))
    if not problem and not detail:
        detail = _plain_text(response)
    errors = tuple(FieldError(_text(e.get("field")), _text(e.get("reason")))
                   for e in problem.get("errors") or () if isinstance(e, dict))
    request_id = _text(problem.get("requestId")) or None
    cls = (overrides or {}).get(status) or _BY_STATUS.get(status) or (
        ServerError if status >= 500 else KattaApiError)
    message = f"{status} {title}"
    if detail and detail != title:
        message += f": {detail}"
    if errors:
        message += " (" + "; ".join(map(str, errors)) + ")"
    if request_id and status >= 500:
        message += f" [request id {request_id}]"
    return cls(message, status=status, title=title, detail=detail, errors=errors, request_id=request_id,
               retry_after=response.headers.get("Retry-After"))


def _problem(response: requests.Response) -> dict[str, Any]:
    content_type = response.headers.get("Content-Type", "")
    if "json" not in content_type:
        return {}
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return {}
    return body if isinstance(body, dict) else {}


def _plain_text(response: requests.Response) -> str:
    if "html" in response.headers.get("Content-Type", ""):
        return ""
    text = " ".join(response.text.split())
    return text[:_MAX_DETAIL] + ("…" if len(text) > _MAX_DETAIL else "")


def _text(value: Any) -> str:
    if value is None:
        return ""
    text = " ".join(str(value).split())
    return text[:_MAX_DETAIL] + ("…" if len(text) > _MAX_DETAIL else "")
