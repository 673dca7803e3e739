"""Every identity rule of architecture §3, each tested for the caller who passes and the one who does not."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from joserfc.jwk import ECKey

from chalicelib import deps
from chalicelib.auth.accounts import AccountService
from chalicelib.auth.bearer import BearerVerifier
from chalicelib.auth.jwks import JwksCache
from chalicelib.errors import Unauthorized
from chalicelib.settings import Settings, TrustedIssuer
from tests.conftest import bearer
from tests.support.tokens import AUDIENCE, ISSUER, TokenIssuer


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict, claims: dict, signature: bytes = b"") -> str:
    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(signature)])


def assert_invalid_token(response) -> None:
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert json.loads(response.body)["status"] == 401


# --- through the API -----------------------------------------------------------------------------

def test_valid_token_reaches_users_me(client, issuer):
    response = client.http.get("/api/users/me", headers=bearer(issuer.token("alice")))
    assert response.status_code == 200
    body = json.loads(response.body)
    assert body["name"] == "Alice"
    assert body["id"] == str(uuid.uuid5(uuid.NAMESPACE_OID, "alice"))
    assert "ecdhPublicKey" not in body and "privateKeys" not in body


def test_missing_token_is_a_challenge_without_error_code(client, issuer):
    response = client.http.get("/api/users/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="katta"'


@pytest.mark.parametrize("header", ["Basic YWxpY2U6YWxpY2U=", "Bearer", "Bearer a.b"])
def test_malformed_authorization_header(client, issuer, header):
    assert_invalid_token(client.http.get("/api/users/me", headers={"Authorization": header}))


def test_wrong_signature(client, issuer):
    forger = ECKey.generate_key("P-256", parameters={"kid": issuer.key.kid})
    assert_invalid_token(client.http.get("/api/users/me", headers=bearer(issuer.token(key=forger))))


def test_tampered_payload(client, issuer):
    header, _payload, signature = issuer.token("alice").split(".")
    claims = issuer.claims("alice", realm_access={"roles": ["admin"]})
    forged = ".".join([header, b64(json.dumps(claims).encode()), signature])
    assert_invalid_token(client.http.get("/api/users/me", headers=bearer(forged)))


@pytest.mark.parametrize("member", ["jwk", "jku", "x5u", "x5c"])
def test_keys_named_in_the_header_are_ignored(client, issuer, member):
    attacker = ECKey.generate_key("P-256", parameters={"kid": "attacker"})
    values = {"jwk": attacker.as_dict(private=False), "jku": "https://evil.test/jwks",
              "x5u": "https://evil.test/cert", "x5c": ["MIIB"]}
    token = issuer.token(key=attacker, header={member: values[member]})
    assert_invalid_token(client.http.get("/api/users/me", headers=bearer(token)))
    assert all("evil" not in url for url in issuer.fetches)


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_refused(client, issuer, alg):
    token = unsigned({"alg": alg, "typ": "JWT"}, issuer.claims("alice"))
    assert_invalid_token(client.http.get("/api/users/me", headers=bearer(token)))


def test_hs256_signed_with_the_issuers_public_key_is_refused(client, issuer):
    public_pem = issuer.key.get_op_key("verify").public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "typ": "JWT", "kid": issuer.key.kid}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(issuer.claims('alice')).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert_invalid_token(client.http.get("/api/users/me", headers=bearer(f"{signing_input}.{b64(signature)}")))


@pytest.mark.parametrize("iss", [ISSUER + "/", ISSUER.upper(), "https://other.test/realms/katta", None])
def test_issuer_must_match_exactly(client, issuer, iss):
    assert_invalid_token(client.http.get("/api/users/me", headers=bearer(issuer.token(iss=iss))))


@pytest.mark.parametrize("aud", [["account"], "account", "katta-other", None])
def test_audience_must_contain_ours(client, issuer, aud):
    assert_invalid_token(client.http.get("/api/users/me", headers=bearer(issuer.token(aud=aud))))


def test_audience_may_be_a_single_string(client, issuer):
    assert client.http.get("/api/users/me", headers=bearer(issuer.token(aud=AUDIENCE))).status_code == 200


def test_expiry_is_required(client, issuer):
    token = issuer.token(exp=None)
    assert_invalid_token(client.http.get("/api/users/me", headers=bearer(token)))


def test_expired_token(client, issuer):
    token = issuer.token(exp=int(time.time()) - 3600)
    assert_invalid_token(client.http.get("/api/users/me", headers=bearer(token)))


@pytest.mark.parametrize("typ", ["Refresh", "ID", "Offline"])
def test_only_access_tokens_open_the_api(client, issuer, typ):
    assert_invalid_token(client.http.get("/api/users/me", headers=bearer(issuer.token(typ=typ))))


def test_rs256_when_allowed(client, issuer):
    token = issuer.token(key=issuer.rsa)
    assert client.http.get("/api/users/me", headers=bearer(token)).status_code == 200


# --- the verifier on a fixed clock: leeway boundaries --------------------------------------------

NOW = 1_800_000_000


def verifier_at(test_issuer: TokenIssuer, now: float = NOW, **issuer_options) -> BearerVerifier:
    settings = Settings(trusted_issuers=[TrustedIssuer(
        issuer=ISSUER, audience=AUDIENCE, jwks_uri="https://idp.test/jwks", **issuer_options)])
    return BearerVerifier(settings, JwksCache(settings, fetch=test_issuer.fetch), clock=lambda: now)


@pytest.fixture
def test_issuer():
    return TokenIssuer()


@pytest.mark.parametrize(("exp", "accepted"), [(NOW - 60, True), (NOW - 61, False), (NOW + 1, True)])
def test_exp_leeway_boundary(test_issuer, exp, accepted):
    token = test_issuer.token(exp=exp, iat=NOW - 300)
    check_boundary(verifier_at(test_issuer), token, accepted)


@pytest.mark.parametrize(("nbf", "accepted"), [(NOW + 60, True), (NOW + 61, False)])
def test_nbf_leeway_boundary(test_issuer, nbf, accepted):
    token = test_issuer.token(nbf=nbf, iat=NOW, exp=NOW + 600)
    check_boundary(verifier_at(test_issuer), token, accepted)


@pytest.mark.parametrize(("iat", "accepted"), [(NOW + 60, True), (NOW + 61, False)])
def test_iat_leeway_boundary(test_issuer, iat, accepted):
    token = test_issuer.token(iat=iat, exp=NOW + 600)
    check_boundary(verifier_at(test_issuer), token, accepted)


def check_boundary(verifier: BearerVerifier, token: str, accepted: bool) -> None:
    if accepted:
        assert verifier.verify(token).claims["sub"]
    else:
        with pytest.raises(Unauthorized):
            verifier.verify(token)


def test_algorithm_allow_list_is_per_issuer(test_issuer):
    verifier = verifier_at(test_issuer, algorithms=["ES256"])
    token = test_issuer.token(key=test_issuer.rsa, iat=NOW, exp=NOW + 60)
    with pytest.raises(Unauthorized, match="algorithm"):
        verifier.verify(token)


def test_unknown_kids_cause_at_most_one_refetch_per_cooldown(test_issuer):
    verifier = verifier_at(test_issuer)
    verifier.verify(test_issuer.token(iat=NOW, exp=NOW + 60))
    assert len(test_issuer.fetches) == 1
    for _ in range(50):
        forger = ECKey.generate_key("P-256", parameters={"kid": uuid.uuid4().hex})
        with pytest.raises(Unauthorized):
            verifier.verify(test_issuer.token(key=forger, iat=NOW, exp=NOW + 60))
    assert len(test_issuer.fetches) <= 2


def test_rotated_key_is_found_after_the_cooldown(test_issuer):
    moments = [NOW]
    settings = Settings(jwks_refetch_cooldown_seconds=60, trusted_issuers=[TrustedIssuer(
        issuer=ISSUER, audience=AUDIENCE, jwks_uri="https://idp.test/jwks")])
    cache = JwksCache(settings, fetch=test_issuer.fetch, clock=lambda: moments[0])
    verifier = BearerVerifier(settings, cache, clock=lambda: NOW)
    verifier.verify(test_issuer.token(iat=NOW, exp=NOW + 60))
    test_issuer.key = ECKey.generate_key("P-256", parameters={"kid": "rotated"})
    moments[0] = NOW + 10  # within the cooldown: no refetch, token refused
    with pytest.raises(Unauthorized):
        verifier.verify(test_issuer.token(iat=NOW, exp=NOW + 60))
    moments[0] = NOW + 61
    assert verifier.verify(test_issuer.token(iat=NOW, exp=NOW + 60))
    assert len(test_issuer.fetches) == 2


def test_discovery_names_the_jwks(test_issuer):
    documents = {ISSUER + "/.well-known/openid-configuration": {"issuer": ISSUER, "jwks_uri": "https://idp.test/k"},
                 "https://idp.test/k": test_issuer.jwks()}
    fetched = []
    settings = Settings(trusted_issuers=[TrustedIssuer(issuer=ISSUER, audience=AUDIENCE)])
    cache = JwksCache(settings, fetch=lambda url: fetched.append(url) or documents[url])
    verifier = BearerVerifier(settings, cache, clock=lambda: NOW)
    assert verifier.verify(test_issuer.token(iat=NOW, exp=NOW + 60))
    assert fetched == [ISSUER + "/.well-known/openid-configuration", "https://idp.test/k"]


def test_opaque_token_userinfo_is_cached_until_expiry(test_issuer):
    calls = []
    moments = [NOW]
    settings = Settings(opaque_token_cache_seconds=120, trusted_issuers=[TrustedIssuer(
        issuer=ISSUER, audience=AUDIENCE, jwks_uri="https://idp.test/jwks",
        userinfo_endpoint=ISSUER + "/protocol/openid-connect/userinfo")])

    def userinfo(url, token):
        calls.append(url)
        return {"sub": "opaque-user", "exp": NOW + 60} if token == "good-opaque" else None

    verifier = BearerVerifier(settings, JwksCache(settings, fetch=test_issuer.fetch),
                              fetch_userinfo=userinfo, clock=lambda: moments[0])
    assert verifier.verify("good-opaque").claims["sub"] == "opaque-user"
    assert verifier.verify("good-opaque").claims["sub"] == "opaque-user"
    assert len(calls) == 1
    moments[0] = NOW + 61
    verifier.verify("good-opaque")
    assert len(calls) == 2
    with pytest.raises(Unauthorized):
        verifier.verify("bad-opaque")


def test_opaque_token_without_userinfo_is_refused(test_issuer):
    with pytest.raises(Unauthorized, match="not a JWT"):
        verifier_at(test_issuer).verify("opaque")


# --- accounts ---------------------------------------------------------------------------------------

def resolve(token_claims: dict, **settings_options):
    settings = Settings(trusted_issuers=[TrustedIssuer(
        issuer=ISSUER, audience=AUDIENCE, jwks_uri="https://idp.test/jwks",
        **settings_options.pop("issuer_options", {}))], **settings_options)
    from chalicelib.auth.bearer import VerifiedToken
    return AccountService(settings, deps.users(), deps.groups()).resolve(VerifiedToken(settings.trusted_issuers[0], token_claims))


def test_autoprovisioning_creates_the_account_once(aws, test_issuer):
    claims = test_issuer.claims("erin")
    first = resolve(claims)
    second = resolve(claims)
    assert first.user_id == second.user_id
    assert deps.users().get(first.user_id)["name"] == "Erin"


def test_autoprovisioning_off_refuses_unknown_accounts(aws, test_issuer):
    with pytest.raises(Unauthorized, match="no account"):
        resolve(test_issuer.claims("erin"), autoprovision=False)


def test_autoprovisioning_may_require_a_role(aws, test_issuer):
    with pytest.raises(Unauthorized, match="role 'katta-user'"):
        resolve(test_issuer.claims("erin"), autoprovision_required_role="katta-user")
    allowed = test_issuer.claims("frank", realm_access={"roles": ["katta-user"]})
    assert resolve(allowed, autoprovision_required_role="katta-user").user_id


def test_disabled_account_is_forbidden_until_enabled_again(client, issuer):
    token = issuer.token("erin")
    assert client.http.get("/api/users/me", headers=bearer(token)).status_code == 200
    user_id = str(uuid.uuid5(uuid.NAMESPACE_OID, "erin"))
    admin = bearer(issuer.token("root", realm_access={"roles": ["user", "admin"]}))
    plain = {"Content-Type": "text/plain"}
    assert client.http.put(f"/api/users/{user_id}/enabled", body="false", headers={**admin, **plain}).status_code == 204
    response = client.http.get("/api/users/me", headers=bearer(token))
    assert response.status_code == 403
    assert json.loads(response.body)["detail"] == "this account is disabled"
    assert client.http.put(f"/api/users/{user_id}/enabled", body="true", headers={**admin, **plain}).status_code == 204
    assert client.http.get("/api/users/me", headers=bearer(token)).status_code == 200


def test_only_admins_enable_accounts_and_nobody_disables_themselves(client, issuer):
    plain = {"Content-Type": "text/plain"}
    erin = str(uuid.uuid5(uuid.NAMESPACE_OID, "erin"))
    assert client.http.get("/api/users/me", headers=bearer(issuer.token("erin"))).status_code == 200
    user = bearer(issuer.token("frank"))
    assert client.http.put(f"/api/users/{erin}/enabled", body="false", headers={**user, **plain}).status_code == 403
    admin_token = issuer.token("root", realm_access={"roles": ["user", "admin"]})
    root = str(uuid.uuid5(uuid.NAMESPACE_OID, "root"))
    response = client.http.put(f"/api/users/{root}/enabled", body="false", headers={**bearer(admin_token), **plain})
    assert response.status_code == 409
    unknown = client.http.put("/api/users/nobody/enabled", body="false", headers={**bearer(admin_token), **plain})
    assert unknown.status_code == 404


def test_roles_and_groups_from_configured_claim_paths(aws, test_issuer):
    claims = test_issuer.claims("erin", resource_access={"katta": {"roles": ["admin"]}},
                                memberOf=["/engineering", "/ops"])
    principal = resolve(claims, issuer_options={"roles_claim": "resource_access.katta.roles",
                                                "groups_claim": "memberOf"})
    assert principal.roles == {"admin"}
    assert principal.groups == {"/engineering", "/ops"}
    default = resolve(test_issuer.claims("erin2"))
    assert default.roles == {"user", "create-vaults"}


def test_a_subject_from_another_issuer_cannot_take_over_an_account(aws, test_issuer):
    resolve(test_issuer.claims("erin"))
    settings = Settings(trusted_issuers=[TrustedIssuer(issuer="https://other.test", audience=AUDIENCE,
                                                       jwks_uri="https://other.test/jwks")])
    from chalicelib.auth.bearer import VerifiedToken
    with pytest.raises(Unauthorized, match="another identity"):
        AccountService(settings, deps.users(), deps.groups()).resolve(
            VerifiedToken(settings.trusted_issuers[0], test_issuer.claims("erin", iss="https://other.test")))


# --- the JWKS cache under concurrent requests (found by the load test) ----------------------------

def test_a_request_racing_the_first_jwks_fetch_gets_the_keys():
    document = {"keys": [ECKey.generate_key("P-256", {"kid": "k1"}).as_dict(private=False)]}
    fetching, release = threading.Event(), threading.Event()

    def slow_fetch(url):
        fetching.set()
        release.wait(10)
        return document

    cache = JwksCache(Settings(), fetch=slow_fetch)
    locate = lambda: "https://idp.test/certs"  # noqa: E731
    answers = []
    first = threading.Thread(target=cache.key_set, args=("idp", locate, "k1"))
    second = threading.Thread(target=lambda: answers.append(cache.key_set("idp", locate, "k1")))
    first.start()
    try:
        assert fetching.wait(10)
        second.start()
        second.join(0.5)
        assert second.is_alive(), "the second request did not wait for the fetch in flight"
    finally:
        release.set()
        first.join()
    second.join()
    assert [answer.keys[0].kid for answer in answers] == ["k1"]


def test_a_request_never_queues_behind_a_refresh_when_keys_are_cached():
    document = {"keys": [ECKey.generate_key("P-256", {"kid": "k1"}).as_dict(private=False)]}
    now, fetching, release, fetched = [0.0], threading.Event(), threading.Event(), threading.Event()

    def fetch(url):
        if now[0] > 0:  # the refresh: the IdP hangs
            fetching.set()
            release.wait(10)
            fetched.set()
        return document

    cache = JwksCache(Settings(), fetch=fetch, clock=lambda: now[0])
    locate = lambda: "https://idp.test/certs"  # noqa: E731
    cache.key_set("idp", locate, "k1")
    now[0] = Settings().jwks_cache_seconds + 1  # stale: the next request refreshes
    refresh = threading.Thread(target=cache.key_set, args=("idp", locate, "k1"))
    refresh.start()
    try:
        assert fetching.wait(10)
        assert cache.key_set("idp", locate, "k1").keys[0].kid == "k1"
        assert not fetched.is_set(), "the request waited for the refresh instead of using the cached keys"
    finally:
        release.set()
        refresh.join()
