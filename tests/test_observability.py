"""Metrics in the structured logs (CloudWatch EMF): what each request and each failure counts."""
from __future__ import annotations

import json
import logging

import pytest

from chalicelib import errors, logs
from tests.conftest import bearer


class Lines(logging.Handler):
    """The JSON lines a logger writes, parsed."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logs.JsonFormatter())
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def lines():
    handler = Lines()
    logger = logging.getLogger("katta")  # katta.access propagates to it
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)


def metrics_of(line: dict) -> dict[str, int]:
    """The metric values an EMF line declares, after checking it is one CloudWatch accepts."""
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Katta" and directive["Dimensions"] == [["Stage"]]
    assert line["Stage"] == "test" and isinstance(line["_aws"]["Timestamp"], int)
    names = [m["Name"] for m in directive["Metrics"]]
    assert all(isinstance(line[name], int) for name in names)
    return {name: line[name] for name in names}


def test_every_request_counts_itself_and_its_class_of_answer(client, lines):
    assert client.http.get("/health").status_code == 200
    (access,) = [line for line in lines if line["logger"] == "katta.access"]
    assert metrics_of(access) == {"Requests": 1, "ServerErrors": 0, "Unavailable": 0, "Throttled": 0,
                                  "SecretReleases": 0, "KeyRotations": 0}


def test_a_503_counts_as_unavailable_and_as_a_server_error(client, issuer, lines, monkeypatch):
    from chalicelib import deps

    class Outage:
        def resolve(self, token, role=None):
            raise errors.ServiceUnavailable()
    monkeypatch.setattr(deps, "accounts", lambda: Outage())
    assert client.http.get("/api/users/me", headers=bearer(issuer.token())).status_code == 503
    (access,) = [line for line in lines if line["logger"] == "katta.access"]
    assert (metrics_of(access)["Unavailable"], metrics_of(access)["ServerErrors"]) == (1, 1)


def test_a_failed_audit_write_is_counted_and_still_fails_its_request(lines):
    from chalicelib.audit import AuditLog, catalogue

    class Failing:
        def put(self, *args):
            raise errors.ServiceUnavailable()
    with pytest.raises(errors.ServiceUnavailable):
        AuditLog(Failing()).write(catalogue.TOKEN_EXCHANGE, issuedTo="alice", audience=["x"], jti="j",
                                  expiresAt=1, clientId="c")
    (line,) = [line for line in lines if line["message"] == "audit write failed"]
    assert metrics_of(line) == {"AuditWriteFailures": 1} and line["event_type"] == "TOKEN_EXCHANGE"
    assert "alice" not in json.dumps(line)  # the event's fields stay out of the log
