"""KattaApi's plumbing with a recording transport: URLs, queries, bodies, timeouts, auth retry,
and the error hierarchy built from problem JSON."""
from __future__ import annotations

import json

import pytest
import requests
from requests.adapters import BaseAdapter

from katta_client.http import (
    NO_RETRY,
    BadRequest,
    DeviceNotFound,
    Forbidden,
    KattaApi,
    KattaApiError,
    KattaConnectionError,
    NotFound,
    NoVaultAccess,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    UserKeysRequired,
    VaultArchived,
    VaultNotFound,
)

BASE = "https://katta.test"
VAULT = "6f1c0d8e-1b2a-4c3d-9e8f-0a1b2c3d4e5f"


class Recorder(BaseAdapter):
    """Answers from a queue of (status, body, headers) and records every request."""

    def __init__(self, *answers):
        super().__init__()
        self.answers = list(answers)
        self.sent: list[tuple[requests.PreparedRequest, dict]] = []

    def send(self, request, **kwargs):
        self.sent.append((request, kwargs))
        status, body, headers = (self.answers.pop(0) + ({},))[:3] if self.answers else (200, {}, {})
        response = requests.Response()
        response.status_code = status
        response.reason = requests.status_codes._codes.get(status, ("",))[0].replace("_", " ").title()
        if isinstance(body, (dict, list)):
            response._content = json.dumps(body).encode()
            response.headers["Content-Type"] = "application/problem+json" if status >= 400 else "application/json"
        else:
            response._content = body.encode()
            response.headers["Content-Type"] = "text/plain"
        response.headers.update(headers)
        response.request = request
        response.url = request.url
        return response

    def close(self):
        pass


class Tokens:
    def __init__(self, *tokens, refreshable=True):
        self.tokens = list(tokens)
        self.rejected = []
        self.refreshable = refreshable

    def access_token(self):
        return self.tokens[0]

    def token_rejected(self, token):
        self.rejected.append(token)
        if self.refreshable and len(self.tokens) > 1:
            self.tokens.pop(0)
            return True
        return False


def api_with(*answers, tokens=None, retry=NO_RETRY):
    """The plumbing without retries unless asked (tests/test_client_retry.py tests them)."""
    adapter = Recorder(*answers)
    session = requests.Session()
    session.mount("https://", adapter)
    return KattaApi(BASE + "/", tokens or Tokens("t1"), session=session, timeout=(1.5, 7.0), retry=retry), adapter


def problem(status, title, detail="", **extra):
    return {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}


def test_every_request_has_the_timeout_and_the_bearer():
    api, sent = api_with((200, {"id": "u"}), (200, []), (200, {}))
    api.get_me()
    api.accessible_vaults("OWNER")
    api.config()
    for request, kwargs in sent.sent:
        assert kwargs["timeout"] == (1.5, 7.0)
    assert sent.sent[0][0].headers["Authorization"] == "Bearer t1"
    assert sent.sent[1][0].url == f"{BASE}/api/vaults/accessible?role=OWNER"
    assert "Authorization" not in sent.sent[2][0].headers  # /api/config needs no login


def test_paths_escape_ids_and_arrays_repeat_the_key():
    api, sent = api_with((200, []), (200, {}))
    api.some_vaults(["a", "b"])
    api.get_device("../users/me")
    assert sent.sent[0][0].url == f"{BASE}/api/vaults/some?ids=a&ids=b"
    assert sent.sent[1][0].path_url == "/api/devices/..%2Fusers%2Fme"
    with pytest.raises(ValueError):
        api.get_vault("")


def test_bodies_and_content_types():
    api, sent = api_with((201, ""), (200, {"archived": True}), (204, ""), (200, ""), (201, ""))
    assert api.put_vault(VAULT, {"id": VAULT, "name": "v"}) is True
    assert api.set_archived(VAULT, True) == {"archived": True}
    api.put_members(VAULT, {"u1": "OWNER"})
    api.add_user(VAULT, "u2", "MEMBER")
    api.put_device("D1", {"name": "n", "publicKey": "p", "userPrivateKey": "j"})
    (create, _), (archive, _), (members, _), (add, _), (device, _) = sent.sent
    assert create.method == "PUT" and json.loads(create.body) == {"id": VAULT, "name": "v"}
    assert create.headers["Content-Type"] == "application/json"
    assert archive.body == b"true" and archive.headers["Content-Type"] == "text/plain"
    assert json.loads(members.body) == {"u1": "OWNER"}
    assert add.url == f"{BASE}/api/vaults/{VAULT}/users/u2?role=MEMBER"
    assert device.url == f"{BASE}/api/devices/D1"


def test_access_token_is_the_plain_jwe():
    api, _ = api_with((200, "a.b.c.d.e\n"))
    assert api.access_token(VAULT) == "a.b.c.d.e"


@pytest.mark.parametrize("status, error", [
    (403, NoVaultAccess), (404, VaultNotFound), (410, VaultArchived), (449, UserKeysRequired)])
def test_access_token_refusals_are_distinct(status, error):
    api, _ = api_with((status, problem(status, "Refused", "the reason")))
    with pytest.raises(error) as raised:
        api.access_token(VAULT)
    assert raised.value.status == status and raised.value.detail == "the reason"
    others = {NoVaultAccess, VaultNotFound, VaultArchived, UserKeysRequired} - {error}
    assert not isinstance(raised.value, tuple(others))


def test_access_token_even_if_archived():
    api, sent = api_with((200, "jwe"))
    api.access_token(VAULT, even_if_archived=True)
    assert sent.sent[0][0].url.endswith("/access-token?evenIfArchived=true")


def test_problem_json_becomes_one_readable_line():
    body = problem(400, "Bad Request", "invalid DeviceDto",
                   errors=[{"field": "publicKey", "reason": "must be base64"}], requestId="r-1")
    api, _ = api_with((400, body))
    with pytest.raises(BadRequest) as raised:
        api.put_device("D1", {"name": "n"})
    error = raised.value
    assert str(error) == "400 Bad Request: invalid DeviceDto (publicKey: must be base64)"
    assert [(e.field, e.reason) for e in error.errors] == [("publicKey", "must be base64")]
    assert error.request_id == "r-1"


def test_server_errors_name_the_request_id_and_retry_after():
    api, _ = api_with((500, problem(500, "Internal Server Error", requestId="req-9")),
                      (503, problem(503, "Service Unavailable", "DynamoDB is throttling"), {"Retry-After": "3"}))
    with pytest.raises(ServerError, match=r"\[request id req-9\]"):
        api.get_me()
    with pytest.raises(ServiceUnavailable) as raised:
        api.get_me()
    assert raised.value.retry_after == "3" and "throttling" in str(raised.value)


def test_answers_without_problem_json():
    api, _ = api_with((403, {"message": "Missing Authentication Token"}), (502, "<html>" + "x" * 5000, {"Content-Type": "text/html"}),
                      (418, "short text"))
    with pytest.raises(Forbidden, match="403 Forbidden: Missing Authentication Token"):
        api.get_me()
    with pytest.raises(ServerError) as raised:
        api.get_me()
    assert "<html>" not in str(raised.value) and len(str(raised.value)) < 100
    with pytest.raises(KattaApiError, match="418 .*short text"):
        api.get_me()


def test_device_404_is_device_not_found():
    api, _ = api_with((404, problem(404, "Not Found", "you have no device with this id")))
    with pytest.raises(DeviceNotFound) as raised:
        api.get_device("D1")
    assert isinstance(raised.value, NotFound)


def test_a_refused_token_is_refreshed_once():
    tokens = Tokens("old", "new")
    api, sent = api_with((401, problem(401, "Unauthorized")), (200, {"id": "u"}), tokens=tokens)
    assert api.get_me() == {"id": "u"}
    assert tokens.rejected == ["old"]
    assert [r.headers["Authorization"] for r, _ in sent.sent] == ["Bearer old", "Bearer new"]


def test_a_refused_token_without_refresh_is_unauthorized():
    tokens = Tokens("old", refreshable=False)
    api, sent = api_with((401, problem(401, "Unauthorized", "token expired")), tokens=tokens)
    with pytest.raises(Unauthorized, match="token expired"):
        api.get_me()
    assert len(sent.sent) == 1


def test_a_second_401_is_not_retried_again():
    tokens = Tokens("a", "b", "c")
    api, sent = api_with((401, problem(401, "Unauthorized")), (401, problem(401, "Unauthorized")), tokens=tokens)
    with pytest.raises(Unauthorized):
        api.get_me()
    assert len(sent.sent) == 2


def test_unreachable_server_is_a_connection_error():
    api = KattaApi("http://127.0.0.1:9", timeout=(0.5, 0.5), retry=NO_RETRY)  # discard port: nothing listens
    with pytest.raises(KattaConnectionError, match="cannot reach http://127.0.0.1:9"):
        api.config()


def test_non_json_success_is_reported():
    api, _ = api_with((200, "not json"))
    with pytest.raises(KattaApiError, match="not JSON"):
        api.get_me()


def test_long_poll_gets_a_longer_read_timeout():
    api, sent = api_with((200, []))
    api.vaults_requiring_access_grant(wait_seconds=20)
    request, kwargs = sent.sent[0]
    assert request.url.endswith("?wait=20") and kwargs["timeout"] == (1.5, 30.0)
