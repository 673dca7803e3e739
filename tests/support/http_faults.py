"""Request-level fault injection for the SDK: what a client meets between it and the server.

``installed`` wraps ``KattaApi._send`` (one attempt of one request). A fault hits the attempts of
one (method, path) step of a flow: ``UNAVAILABLE`` answers 503 with ``Retry-After`` and never
reaches the server, ``TIMEOUT`` fails before the request is sent, ``LOST_ANSWER`` sends it (the
server commits) and then loses the answer, as a read timeout after the commit does.
"""
from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from typing import Iterator, Optional

import requests

from katta_client.http import KattaApi, KattaConnectionError

UNAVAILABLE, TIMEOUT, LOST_ANSWER = "503", "timeout", "lost-answer"
FAULTS = (UNAVAILABLE, TIMEOUT, LOST_ANSWER)
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9A-F]{64}")


def step_of(method: str, path: str) -> str:
    """``PUT /api/vaults/{id}``: a request with its ids replaced, the same in every run of a flow."""
    return f"{method} {_ID.sub('{id}', path)}"


@dataclass
class HttpFaults:
    steps: list[str] = field(default_factory=list)  # every attempt, in order
    step: Optional[str] = None
    fault: str = ""
    attempts: Optional[int] = None  # how many attempts of the step fail; None = all
    fired: int = 0

    def fail(self, step: str, fault: str, attempts: Optional[int]) -> None:
        self.step, self.fault, self.attempts, self.fired = step, fault, attempts, 0

    def clear(self) -> None:
        self.step, self.steps = None, []

    def _attempt(self, send, api: KattaApi, method: str, path: str, *args) -> requests.Response:
        step = step_of(method, path)
        self.steps.append(step)
        if step != self.step or (self.attempts is not None and self.fired >= self.attempts):
            return send(api, method, path, *args)
        self.fired += 1
        if self.fault == LOST_ANSWER:
            send(api, method, path, *args)
        if self.fault in (LOST_ANSWER, TIMEOUT):
            raise KattaConnectionError(f"injected {self.fault} on {step}")
        response = requests.Response()
        response.status_code, response.reason = 503, "Service Unavailable"
        response._content = json.dumps({"title": "Service Unavailable", "status": 503}).encode()
        response.headers.update({"Content-Type": "application/problem+json", "Retry-After": "1"})
        return response


@contextlib.contextmanager
def installed(monkeypatch) -> Iterator[HttpFaults]:
    faults = HttpFaults()
    send = KattaApi._send
    monkeypatch.setattr(KattaApi, "_send", lambda api, method, path, *args: faults._attempt(
        send, api, method, path, *args))
    yield faults
