"""``POST /oauth2/token``: RFC 8693 token exchange, every refusal with its RFC 6749 error code."""
from __future__ import annotations

import base64
import json
import time
from urllib.parse import urlencode

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey

from chalicelib.settings import SettingsError, get_settings
from tests.support.katta_api import body
from tests.support.storage_world import world  # noqa: F401 — fixture

REPORTS = "https://reports.katta.test"
BILLING = "billing"
GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
SCOPE = "openid reports:read reports:write"


@pytest.fixture
def ex(world, monkeypatch):
    monkeypatch.setenv("KATTA_TOKEN_EXCHANGE_AUDIENCES", json.dumps([REPORTS, BILLING]))
    get_settings.cache_clear()
    # Read now: chalice's test client puts its stage's environment in place during each request.
    assert get_settings().token_exchange_audiences == [REPORTS, BILLING]
    yield world
    get_settings.cache_clear()


def idp_token(world, username: str = "alice", **claims) -> str:
    return world.issuer.token(username, scope=SCOPE, **claims)


def exchange(world, *pairs: tuple[str, str], content_type: str = "application/x-www-form-urlencoded", raw=None):
    return world.client.http.post("/oauth2/token", headers={"Content-Type": content_type},
                                  body=raw if raw is not None else urlencode(pairs))


def request(world, subject: str | None = None, **overrides) -> list[tuple[str, str]]:
    fields = {"grant_type": GRANT, "subject_token": subject or idp_token(world),
              "subject_token_type": ACCESS_TOKEN, "audience": REPORTS, **overrides}
    return [(k, v) for k, v in fields.items() if v is not None]


def refused(response, error: str, status: int = 400) -> str:
    assert response.status_code == status, response.body
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Cache-Control"] == "no-store"
    answer = json.loads(response.body)
    assert answer["error"] == error, answer
    return answer["error_description"]


# --- success ----------------------------------------------------------------------------------

def test_exchange_issues_a_narrower_token_of_ours(ex):
    subject = idp_token(ex)
    response = exchange(ex, *request(ex, subject, scope="reports:read"))
    assert response.status_code == 200, response.body
    assert response.headers["Cache-Control"] == "no-store"
    answer = json.loads(response.body)
    assert answer["issued_token_type"] == ACCESS_TOKEN
    assert answer["token_type"] == "Bearer"
    assert answer["scope"] == "reports:read"
    token = ex.verify(answer["access_token"])
    assert token.header["typ"] == "at+jwt"
    claims = token.claims
    assert claims["iss"] == "https://katta.test"
    assert claims["sub"] == ex.alice.id
    assert claims["aud"] == REPORTS
    assert claims["scope"] == "reports:read"
    assert claims["client_id"] == "katta-cli"
    assert claims["jti"]
    subject_exp = json.loads(base64.urlsafe_b64decode(subject.split(".")[1] + "=="))["exp"]
    assert claims["exp"] <= subject_exp
    assert answer["expires_in"] == claims["exp"] - claims["iat"]


def test_without_a_scope_the_subject_tokens_scope_is_kept(ex):
    answer = body(exchange(ex, *request(ex)))
    assert answer["scope"] == " ".join(sorted(SCOPE.split()))


def test_resource_names_the_target_too_and_jwt_type_can_be_requested(ex):
    pairs = request(ex, audience=None, requested_token_type=JWT_TYPE) + [("resource", REPORTS), ("audience", BILLING)]
    answer = body(exchange(ex, *pairs))
    assert answer["issued_token_type"] == JWT_TYPE
    assert ex.verify(answer["access_token"]).claims["aud"] == [BILLING, REPORTS]


def test_the_new_token_never_outlives_the_subject_token(ex):
    soon = int(time.time()) + 90
    answer = body(exchange(ex, *request(ex, idp_token(ex, exp=soon))))
    assert ex.verify(answer["access_token"]).claims["exp"] == soon


def test_exchange_is_audited_without_the_token(ex):
    answer = body(exchange(ex, *request(ex)))
    events = ex.audit_events("TOKEN_EXCHANGE")
    assert [(e["issuedTo"], e["audience"]) for e in events] == [(ex.alice.id, [REPORTS])]
    assert answer["access_token"] not in json.dumps(events, default=str)


# --- request errors ---------------------------------------------------------------------------

def test_missing_grant_type_is_invalid_request(ex):
    refused(exchange(ex, *request(ex, grant_type=None)), "invalid_request")


@pytest.mark.parametrize("grant", ["authorization_code", "client_credentials", "password"])
def test_other_grants_are_unsupported(ex, grant):
    refused(exchange(ex, *request(ex, grant_type=grant)), "unsupported_grant_type")


@pytest.mark.parametrize("missing", ["subject_token", "subject_token_type"])
def test_missing_subject_parameters_are_invalid_request(ex, missing):
    assert missing in refused(exchange(ex, *request(ex, **{missing: None})), "invalid_request")


def test_unknown_subject_token_type_is_invalid_request(ex):
    refused(exchange(ex, *request(ex, subject_token_type="urn:ietf:params:oauth:token-type:saml2")),
            "invalid_request")


def test_unsupported_requested_token_type_is_invalid_request(ex):
    refused(exchange(ex, *request(ex, requested_token_type="urn:ietf:params:oauth:token-type:refresh_token")),
            "invalid_request")


def test_repeated_parameter_is_invalid_request(ex):
    refused(exchange(ex, *request(ex), ("grant_type", GRANT)), "invalid_request")


def test_delegation_is_invalid_request(ex):
    refused(exchange(ex, *request(ex, actor_token=idp_token(ex, "bob"), actor_token_type=ACCESS_TOKEN)),
            "invalid_request")


def test_json_body_is_invalid_request(ex):
    raw = json.dumps(dict(request(ex)))
    refused(exchange(ex, content_type="application/json", raw=raw), "invalid_request")


def test_malformed_form_is_invalid_request(ex):
    refused(exchange(ex, raw="grant_type"), "invalid_request")


# --- targets and scope ------------------------------------------------------------------------

def test_no_target_is_invalid_target(ex):
    refused(exchange(ex, *request(ex, audience=None)), "invalid_target")


@pytest.mark.parametrize("audience", ["https://evil.test", "katta", "sts.amazonaws.com", REPORTS + "/"])
def test_an_audience_not_configured_is_invalid_target(ex, audience):
    refused(exchange(ex, *request(ex, audience=audience)), "invalid_target")


def test_one_refused_target_among_allowed_ones_refuses_all(ex):
    refused(exchange(ex, *request(ex), ("audience", "https://evil.test")), "invalid_target")


@pytest.mark.parametrize("resource", ["reports", "https://reports.katta.test#frag", "/relative"])
def test_a_malformed_resource_is_invalid_target(ex, resource):
    refused(exchange(ex, *request(ex, audience=None), ("resource", resource)), "invalid_target")


def test_without_configured_audiences_every_target_is_refused(world):
    refused(exchange(world, *request(world)), "invalid_target")


@pytest.mark.parametrize("scope", ["admin", "reports:read admin", "openid reports:delete"])
def test_widening_the_scope_is_invalid_scope(ex, scope):
    refused(exchange(ex, *request(ex, scope=scope)), "invalid_scope")


def test_a_subject_token_without_scope_cannot_gain_one(ex):
    subject = ex.issuer.token("alice")  # no scope claim
    refused(exchange(ex, *request(ex, subject, scope="openid")), "invalid_scope")


def test_malformed_scope_is_invalid_scope(ex):
    refused(exchange(ex, *request(ex, scope='reports:read  "x"')), "invalid_scope")


# --- subject tokens we must not accept --------------------------------------------------------

def test_our_own_exchanged_token_is_refused_as_subject_token(ex):
    ours = body(exchange(ex, *request(ex)))["access_token"]
    assert "cannot be exchanged" in refused(exchange(ex, *request(ex, ours)), "invalid_grant")


def test_our_own_s3_token_is_refused_as_subject_token(ex):
    vault_id = ex.vault()
    ours = body(ex.alice.call("POST", f"/api/storage/s3-token?vault={vault_id}"))["access_token"]
    refused(exchange(ex, *request(ex, ours)), "invalid_grant")


def test_our_own_token_is_refused_even_with_the_issuer_spelled_with_a_slash(ex):
    ours = body(exchange(ex, *request(ex)))["access_token"]
    header, payload, signature = ours.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["iss"] = "https://katta.test/"
    forged = ".".join([header, base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode(),
                       signature])
    refused(exchange(ex, *request(ex, forged)), "invalid_grant")


def test_hs256_subject_token_is_refused(ex):
    # The classic confusion: an HMAC keyed with something public, claiming a trusted issuer.
    key = OctKey.import_key(json.dumps(ex.issuer.key.as_dict(private=False)).encode())
    forged = jwt.encode({"alg": "HS256", "kid": ex.issuer.key.kid}, ex.issuer.claims("alice", scope=SCOPE), key,
                        algorithms=["HS256"])
    refused(exchange(ex, *request(ex, forged)), "invalid_grant")


def test_unsigned_subject_token_is_refused(ex):
    def segment(value) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    for alg in ("none", "None", "NONE"):
        unsigned = f"{segment({'alg': alg})}.{segment(ex.issuer.claims('alice', scope=SCOPE))}."
        refused(exchange(ex, *request(ex, unsigned)), "invalid_grant")


def test_subject_token_signed_by_a_foreign_key_is_refused(ex):
    impostor = ECKey.generate_key("P-256", parameters={"kid": ex.issuer.key.kid})
    refused(exchange(ex, *request(ex, ex.issuer.token("alice", key=impostor, scope=SCOPE))), "invalid_grant")


def test_expired_subject_token_is_refused(ex):
    past = int(time.time()) - 3600
    refused(exchange(ex, *request(ex, idp_token(ex, iat=past, exp=past + 300))), "invalid_grant")


def test_subject_token_of_an_untrusted_issuer_is_refused(ex):
    refused(exchange(ex, *request(ex, idp_token(ex, iss="https://elsewhere.test/realms/katta"))), "invalid_grant")


def test_subject_token_for_another_audience_is_refused(ex):
    refused(exchange(ex, *request(ex, idp_token(ex, aud="someone-else"))), "invalid_grant")


def test_tampered_subject_token_is_refused(ex):
    header, payload, signature = idp_token(ex).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "someone-else"
    tampered = ".".join([header, base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode(),
                         signature])
    refused(exchange(ex, *request(ex, tampered)), "invalid_grant")


def test_disabled_account_is_refused(ex):
    from chalicelib import deps
    deps.table().update(f"USER#{ex.bob.id}", "PROFILE", "SET disabled = :t", values={":t": True})
    refused(exchange(ex, *request(ex, idp_token(ex, "bob"))), "invalid_grant")


# --- settings ---------------------------------------------------------------------------------

def test_the_sts_audience_cannot_be_configured_for_exchange(monkeypatch):
    monkeypatch.setenv("KATTA_TOKEN_EXCHANGE_AUDIENCES", json.dumps(["sts.amazonaws.com"]))
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError, match="token_exchange_audiences"):
            get_settings()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_token_lifetimes_are_bounded_by_the_signing_limit(monkeypatch):
    monkeypatch.setenv("KATTA_MAX_TOKEN_LIFETIME_SECONDS", "120")
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError, match="s3_token_lifetime_seconds"):
            get_settings()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()



def test_an_opaque_subject_token_is_refused(ex):
    # Even where an issuer checks opaque tokens at userinfo: they carry no audience and no expiry.
    response = exchange(ex, *request(ex, subject="an-opaque-token"))
    assert "must be a JWT" in refused(response, "invalid_grant")
