"""The rendezvous API: parse, authenticate the creator, call the service, serialize.

Only creation looks at a bearer token: the new device may not be signed in
yet, and knowing the unguessable id is what lets it read, write and end the
session (MSC4108). Every answer, errors included, is ``no-store`` and carries
no ETag: the sequence token in the body is the only version a client uses.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from chalice import Response
from chalice.app import Request
from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from chalicelib import deps, errors
from chalicelib.apidoc import Operation
from chalicelib.rendezvous.blueprint import bp
from chalicelib.web import authenticate_optional, error_response, json_response, parse_body, route

NO_STORE = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# A browser navigating to a rendezvous URL (a link, a typed address, a frame) is
# never a linking client; refusing it keeps the payload out of pages and history.
_NAVIGATION_MODES = frozenset({"navigate", "nested-navigate"})
_DOCUMENT_DESTINATIONS = frozenset({"document", "iframe", "frame"})


def _utf8(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


class CreateBody(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    data: StrictStr

    _text = field_validator("data")(_utf8)


class WriteBody(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    sequence_token: StrictStr = Field(min_length=1, max_length=256)
    data: StrictStr

    _text = field_validator("data")(_utf8)


class RendezvousCreated(BaseModel):
    model_config = ConfigDict(defer_build=True)

    id: str
    sequence_token: str
    expires_in_ms: int


class RendezvousSnapshot(BaseModel):
    model_config = ConfigDict(defer_build=True)

    data: str
    sequence_token: str
    expires_in_ms: int


class RendezvousWritten(BaseModel):
    model_config = ConfigDict(defer_build=True)

    sequence_token: str
    expires_in_ms: int


_TAGS = ("rendezvous",)


def _rendezvous_answer(fn: Callable[..., Response]) -> Callable[..., Response]:
    """Refuses navigations and adds the no-store headers to every answer, errors included."""
    @functools.wraps(fn)
    def answer(**kwargs: Any) -> Response:
        request = bp.current_request
        try:
            _refuse_navigation(request)
            response = fn(**kwargs)
        except Exception as exc:  # noqa: BLE001 — the error boundary, with our headers on top
            response = error_response(exc, request)
        response.headers.update(NO_STORE)
        return response
    return answer


# A bearer token (role 'user') makes the creator known (its own session limit); without one the address is rate limited.
@route(bp, "/api/rendezvous", methods=("POST",), doc=Operation(
    "Opens a rendezvous session", "optional_bearer", {201: RendezvousCreated}, body=CreateBody, error_statuses=(429,),
    tags=_TAGS))
@_rendezvous_answer
def create_session() -> Response:
    from chalicelib.rendezvous.service import Creator  # with the service, on first use: not at cold start

    request = bp.current_request
    body = parse_body(request, CreateBody)
    # A known creator gets its own session limit, so it must be a Katta user like on every other route.
    principal = authenticate_optional(request, "user")
    creator = Creator(user_id=principal.user_id if principal else None, source_ip=_source_ip(request))
    created = deps.rendezvous().create(creator, body.data)
    return json_response({"id": created.id, "sequence_token": created.sequence_token,
                          "expires_in_ms": created.expires_in_ms}, status=201)


@route(bp, "/api/rendezvous/{session_id}", methods=("GET",), doc=Operation(
    "Reads a session (knowing its id is the credential)", "public", {200: RendezvousSnapshot}, tags=_TAGS))
@_rendezvous_answer
def read_session(session_id: str) -> Response:
    snapshot = deps.rendezvous().read(session_id)
    return json_response({"data": snapshot.data, "sequence_token": snapshot.sequence_token,
                          "expires_in_ms": snapshot.expires_in_ms})


@route(bp, "/api/rendezvous/{session_id}", methods=("PUT",), doc=Operation(
    "Replaces the payload if sequence_token is the current one (409 otherwise)", "public", {200: RendezvousWritten},
    body=WriteBody, tags=_TAGS))
@_rendezvous_answer
def write_session(session_id: str) -> Response:
    body = parse_body(bp.current_request, WriteBody)
    written = deps.rendezvous().write(session_id, body.sequence_token, body.data)
    return json_response({"sequence_token": written.sequence_token, "expires_in_ms": written.expires_in_ms})


@route(bp, "/api/rendezvous/{session_id}", methods=("DELETE",), doc=Operation(
    "Ends a session", "public", {204: None}, tags=_TAGS))
@_rendezvous_answer
def end_session(session_id: str) -> Response:
    deps.rendezvous().end(session_id)
    return Response(body="", status_code=204, headers={})


def _refuse_navigation(request: Request) -> None:
    headers = request.headers
    if (headers.get("sec-fetch-mode", "").lower() in _NAVIGATION_MODES
            or headers.get("sec-fetch-dest", "").lower() in _DOCUMENT_DESTINATIONS):
        raise errors.Forbidden("rendezvous sessions are not for browser navigation")


def _source_ip(request: Request) -> str | None:
    # API Gateway's view of the TCP peer; X-Forwarded-For is the client's to forge.
    return ((request.context or {}).get("identity") or {}).get("sourceIp")
