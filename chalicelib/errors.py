"""The error taxonomy and its mapping to HTTP (RFC 9457 problem details).

Services raise these; the web layer turns them into responses. Messages are
written for clients: they never carry secrets, stack traces or AWS error text.
"""
from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status = 500
    title = "Internal Server Error"

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers or {}
        self.extra = extra or {}

    def problem(self) -> dict[str, Any]:
        body = {"type": "about:blank", "title": self.title, "status": self.status, "detail": self.detail}
        body.update(self.extra)
        return body


class BadRequest(ApiError):
    status = 400
    title = "Bad Request"


class InvalidField(BadRequest):
    """A request field failed validation; ``errors`` lists field and reason."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        first = errors[0]
        super().__init__(f"{first['field']}: {first['reason']}", extra={"errors": errors})


class Unauthorized(ApiError):
    """RFC 6750 §3: a missing token carries no error code, a bad one ``invalid_token``."""

    status = 401
    title = "Unauthorized"

    def __init__(self, detail: str = "a valid bearer token is required", *, error: str | None = "invalid_token") -> None:
        challenge = 'Bearer realm="katta"'
        if error:
            challenge += f', error="{error}", error_description="{_quote(detail)}"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class Forbidden(ApiError):
    status = 403
    title = "Forbidden"


class InsufficientScope(Forbidden):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers["WWW-Authenticate"] = (
            f'Bearer realm="katta", error="insufficient_scope", error_description="{_quote(detail)}"'
        )


class NotFound(ApiError):
    status = 404
    title = "Not Found"


class MethodNotAllowed(ApiError):
    status = 405
    title = "Method Not Allowed"


class Conflict(ApiError):
    status = 409
    title = "Conflict"


class Gone(ApiError):
    status = 410
    title = "Gone"


class ActionRequired(ApiError):
    """Katta's 449 "Retry With": the caller must set up its account (user keys) first."""

    status = 449
    title = "Retry With"


class PayloadTooLarge(ApiError):
    status = 413
    title = "Content Too Large"


class UnsupportedMediaType(ApiError):
    status = 415
    title = "Unsupported Media Type"


class TooManyRequests(ApiError):
    status = 429
    title = "Too Many Requests"


class NotImplementedYet(ApiError):
    status = 501
    title = "Not Implemented"


class ServiceUnavailable(ApiError):
    """An AWS dependency throttled or failed; the client may retry."""

    status = 503
    title = "Service Unavailable"

    def __init__(self, detail: str = "a backing service is unavailable, retry later", retry_after: int = 1) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', "'")
