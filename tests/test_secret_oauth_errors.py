"""The OAuth endpoints' error boundary: RFC 6749 bodies, and never a 500 for a client-side or race error."""
import json

from chalicelib import errors
from chalicelib.oauth.http import error_response


def answer(exc):
    response = error_response(exc, None)
    return response.status_code, json.loads(response.body), response.headers


def test_a_lost_race_is_retryable():
    status, body, headers = answer(errors.Conflict("the resource server changed meanwhile"))
    assert (status, body["error"], headers["Retry-After"]) == (503, "temporarily_unavailable", "1")


def test_other_client_errors_are_invalid_request():
    status, body, _ = answer(errors.InvalidField([{"field": "audience", "reason": "missing"}]))
    assert (status, body["error"]) == (400, "invalid_request")
    assert body["error_description"] == "audience: missing"


def test_a_bug_is_still_a_500_without_details():
    status, body, _ = answer(RuntimeError("internal detail"))
    assert (status, body["error"]) == (500, "server_error")
    assert "internal detail" not in body["error_description"]
