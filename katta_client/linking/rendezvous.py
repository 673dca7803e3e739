"""The insecure rendezvous transport: a single compare-and-swap mailbox on the server.

``POST /api/rendezvous`` creates a session holding one string (``data``); ``GET``
reads it with its ``sequence_token``; ``PUT`` replaces it only if the caller names
the current ``sequence_token`` (409 otherwise) and returns a new token; an
identical retry of the last write succeeds and returns the token it produced;
``DELETE`` ends the session. Payloads are at most 4096 bytes (413); an expired
session answers 404. Nothing here is secret: the secure channel on top of it
provides confidentiality and integrity.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Protocol
from urllib.parse import quote

import requests

from .errors import (
    RendezvousConflict,
    RendezvousError,
    RendezvousNotFound,
    RendezvousPayloadTooLarge,
)

MAX_PAYLOAD_BYTES = 4096
DEFAULT_TTL_SECONDS = 180.0


@dataclass(frozen=True)
class RendezvousCreated:
    id: str
    sequence_token: str
    expires_in_ms: int


@dataclass(frozen=True)
class RendezvousState:
    data: str
    sequence_token: str
    expires_in_ms: int


class RendezvousTransport(Protocol):
    """What the linking flow needs from a rendezvous server."""

    def create(self, data: str = "") -> RendezvousCreated: ...

    def get(self, rendezvous_id: str) -> RendezvousState: ...

    def put(self, rendezvous_id: str, sequence_token: str, data: str) -> str:
        """Compare-and-swap write; returns the new ``sequence_token``."""
        ...

    def delete(self, rendezvous_id: str) -> None: ...


def _check_size(data: str) -> None:
    size = len(data.encode("utf-8"))
    if size > MAX_PAYLOAD_BYTES:
        raise RendezvousPayloadTooLarge(
            f"rendezvous payload is {size} bytes, the limit is {MAX_PAYLOAD_BYTES}", status=413
        )


@dataclass
class _Session:
    data: str
    token: str
    expires_at: float
    # The write that produced ``token``: lets an identical retry succeed idempotently.
    previous_token: str | None = None


class InMemoryRendezvous:
    """A rendezvous server in a dict, with the server's rules, for tests and demos.

    ``clock`` is injectable (seconds, monotonic) so tests can expire sessions
    without waiting.
    """

    def __init__(
        self,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._sessions: dict[str, _Session] = {}
        # Two devices may poll from two threads in tests; the server serialises requests.
        self._lock = threading.RLock()

    def _live(self, rendezvous_id: str) -> _Session:
        session = self._sessions.get(rendezvous_id)
        if session is None:
            raise RendezvousNotFound("rendezvous session not found", status=404)
        if self._clock() >= session.expires_at:
            del self._sessions[rendezvous_id]
            raise RendezvousNotFound("rendezvous session expired", status=404)
        return session

    def _expires_in_ms(self, session: _Session) -> int:
        return max(0, int((session.expires_at - self._clock()) * 1000))

    def create(self, data: str = "") -> RendezvousCreated:
        with self._lock:
            _check_size(data)
            rendezvous_id = str(uuid.uuid4())
            session = _Session(data=data, token=secrets.token_urlsafe(16),
                               expires_at=self._clock() + self._ttl)
            self._sessions[rendezvous_id] = session
            return RendezvousCreated(rendezvous_id, session.token, self._expires_in_ms(session))

    def get(self, rendezvous_id: str) -> RendezvousState:
        with self._lock:
            session = self._live(rendezvous_id)
            return RendezvousState(session.data, session.token, self._expires_in_ms(session))

    def put(self, rendezvous_id: str, sequence_token: str, data: str) -> str:
        with self._lock:
            _check_size(data)
            session = self._live(rendezvous_id)
            if sequence_token == session.token:
                session.previous_token = sequence_token
                session.data = data
                session.token = secrets.token_urlsafe(16)
                return session.token
            if sequence_token == session.previous_token and data == session.data:
                return session.token
            raise RendezvousConflict("sequence_token is not the current one", status=409)

    def delete(self, rendezvous_id: str) -> None:
        with self._lock:
            self._live(rendezvous_id)
            del self._sessions[rendezvous_id]


class HttpRendezvous:
    """The rendezvous API of a Katta server over HTTP (``requests``).

    ``base_url`` is the server's base URL (the one in the QR payload); the API
    lives under ``/api/rendezvous``. ``bearer_token`` is sent when given (creating
    a session needs it; reading and writing do not). A PUT whose response was lost
    to a network error is retried once with the same body: the server treats an
    identical retry of the last write as success, so the channel cannot fork.
    """

    def __init__(
        self,
        base_url: str,
        bearer_token: str | None = None,
        *,
        session: Any | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._base = base_url.rstrip("/") + "/api/rendezvous"
        self._session = session if session is not None else requests.Session()
        self._timeout = timeout
        self._headers = {"Accept": "application/json"}
        if bearer_token:
            self._headers["Authorization"] = f"Bearer {bearer_token}"

    def _url(self, rendezvous_id: str) -> str:
        return f"{self._base}/{quote(rendezvous_id, safe='')}"

    def _request(self, method: str, url: str, body: dict | None = None) -> dict:
        try:
            response = self._session.request(
                method, url, json=body, headers=self._headers, timeout=self._timeout
            )
        except requests.RequestException as err:
            raise RendezvousError(f"rendezvous {method} failed: {type(err).__name__}") from err
        status = response.status_code
        if status == 404:
            raise RendezvousNotFound("rendezvous session not found or expired", status=404)
        if status == 409:
            raise RendezvousConflict("sequence_token is not the current one", status=409)
        if status == 413:
            raise RendezvousPayloadTooLarge("rendezvous payload too large", status=413)
        if not 200 <= status < 300:
            raise RendezvousError(f"rendezvous {method} answered HTTP {status}", status=status)
        if status == 204 or not response.content:
            return {}
        try:
            payload = response.json()
        except (ValueError, RecursionError) as err:  # RecursionError: a hostile, deeply nested answer
            raise RendezvousError(f"rendezvous {method} answered a body that is not JSON") from err
        if not isinstance(payload, dict):
            raise RendezvousError(f"rendezvous {method} answered JSON that is not an object")
        return payload

    @staticmethod
    def _field(payload: dict, name: str, kind: type) -> Any:
        value = payload.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise RendezvousError(f"rendezvous response lacks a valid '{name}'")
        return value

    def create(self, data: str = "") -> RendezvousCreated:
        _check_size(data)
        payload = self._request("POST", self._base, {"data": data})
        return RendezvousCreated(
            self._field(payload, "id", str),
            self._field(payload, "sequence_token", str),
            self._field(payload, "expires_in_ms", int),
        )

    def get(self, rendezvous_id: str) -> RendezvousState:
        payload = self._request("GET", self._url(rendezvous_id))
        return RendezvousState(
            self._field(payload, "data", str),
            self._field(payload, "sequence_token", str),
            self._field(payload, "expires_in_ms", int),
        )

    def put(self, rendezvous_id: str, sequence_token: str, data: str) -> str:
        _check_size(data)
        body = {"sequence_token": sequence_token, "data": data}
        try:
            payload = self._request("PUT", self._url(rendezvous_id), body)
        except RendezvousError as err:
            if err.status is not None:
                raise
            payload = self._request("PUT", self._url(rendezvous_id), body)
        return self._field(payload, "sequence_token", str)

    def delete(self, rendezvous_id: str) -> None:
        self._request("DELETE", self._url(rendezvous_id))
