"""The secret server's token exchange, in process: the use case end to end, and every refusal."""
from __future__ import annotations

import base64
import json
import time

import pytest
from joserfc import jwe, jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from devstack.idp import DevIdP, user_id
from examples.secret_backend import NotesBackend
from katta_client.resource_server import InvalidRelease, ResourceServerKeys, SecretServerError
from tests.support.kms import kms_key  # noqa: F401 — fixture
from tests.test_secret_fixtures import BASE_URL, assertion, world  # noqa: F401 — fixture


def _segment(token: str, index: int) -> dict:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _refusal(response) -> dict:
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Cache-Control"] == "no-store"
    body = json.loads(response.body)
    assert set(body) == {"error", "error_description"}, body
    return body


# -- the use case ---------------------------------------------------------------------------------

def test_a_backend_encrypts_and_decrypts_a_users_data_with_the_released_secret(world, tmp_path):
    backend = NotesBackend(world.register("notes"), tmp_path)
    backend.put_note(world.user_token("alice"), b"alice's diary")
    backend.put_note(world.user_token("bob"), b"bob's list")
    # A later request, with a fresh login of the same user, opens the data again.
    assert backend.get_note(world.user_token("alice")) == b"alice's diary"
    assert backend.get_note(world.user_token("bob")) == b"bob's list"
    assert backend.get_note(world.user_token("carol")) is None
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"diary" not in stored and b"list" not in stored


def test_the_release_is_a_signed_jwt_carrying_a_jwe_to_the_backends_key(world):
    backend = world.register()
    response = world.exchange(world.form(backend, world.user_token("alice")))
    assert response.status_code == 200, response.body
    assert response.headers["Cache-Control"] == "no-store"
    body = json.loads(response.body)
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:jwt"
    assert body["token_type"] == "N_A" and body["expires_in"] == 60
    token = body["access_token"]
    header, claims = _segment(token, 0), _segment(token, 1)
    jwks = json.loads(world.client.http.get("/.well-known/jwks.json").body)
    assert header["typ"] == "secret+jwt" and header["kid"] in {k["kid"] for k in jwks["keys"] if k["use"] == "sig"}
    assert claims["iss"] == BASE_URL and claims["aud"] == backend.client_id
    assert claims["sub"] == user_id("alice")
    assert 0 < claims["exp"] - claims["iat"] <= 60 and claims["jti"]
    assert set(claims["secret"]) == {backend.client_id}
    sealed = claims["secret"][backend.client_id]
    jwe_header = _segment(sealed, 0)
    assert jwe_header["alg"] == "ECDH-ES+A256KW" and jwe_header["enc"] == "A256GCM"
    assert jwe_header["kid"] == backend.keys.encryption.kid
    released = backend.open_release(token)
    assert len(released.secret) == 32 and released.subject == claims["sub"]


def test_every_backend_gets_the_users_one_secret_but_only_under_its_own_key(world):
    first, second = world.register(), world.register(keys=_rsa_backend_keys())
    alice = world.user_token("alice")
    from_first = first.release(alice)
    token = second.exchange(world.user_token("alice"))["access_token"]
    assert _segment(_segment(token, 1)["secret"][second.client_id], 0)["alg"] == "RSA-OAEP-256"
    assert second.open_release(token).secret == from_first.secret
    with pytest.raises(InvalidRelease, match="not addressed to this resource server"):
        first.open_release(token)
    # Even with the audience check out of the way, the first backend's key does not open it.
    sealed = _segment(token, 1)["secret"][second.client_id]
    with pytest.raises(Exception):
        jwe.decrypt_compact(sealed, first.keys.encryption, algorithms=["RSA-OAEP-256", "A256GCM"])


def _rsa_backend_keys() -> ResourceServerKeys:
    signing = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
    encryption = RSAKey.generate_key(2048, parameters={"use": "enc", "alg": "RSA-OAEP-256"}, auto_kid=True)
    return ResourceServerKeys(signing, encryption)


def test_releases_and_refusals_are_audited_without_the_secret(world):
    backend = world.register()
    released = backend.release(world.user_token("alice"))
    with pytest.raises(SecretServerError):
        backend.release(world.user_token("alice", aud="someone-else"))
    (release,) = world.audit_events("SECRET_RELEASE")
    assert release["clientId"] == backend.client_id and release["clientAuthenticated"] is True
    assert release["issuer"] == world.idp.issuer and release["subject"] == released.subject
    assert release["assertionKid"] == backend.keys.signing.kid
    assert release["encryptionKid"] == backend.keys.encryption.kid and release["signingKid"]
    assert release["secretVersion"] == 1 and release["secretCreated"] is True
    (refusal,) = world.audit_events("SECRET_REFUSAL")
    assert refusal["error"] == "invalid_grant" and refusal["clientId"] == backend.client_id
    assert "not meant for this service" in refusal["reason"]
    text = json.dumps([release, refusal], default=str)
    for form in (released.secret.hex(), base64.b64encode(released.secret).decode(),
                 base64.urlsafe_b64encode(released.secret).decode().rstrip("=")):
        assert form not in text


# -- refusals: the client -------------------------------------------------------------------------

def test_an_unregistered_client_is_refused_with_401_and_a_challenge(world):
    stranger = world.register("registered-then-gone")
    world.client.http.delete("/secret-server/admin/resource-servers/registered-then-gone", headers=world.admin)
    response = world.exchange(world.form(stranger, world.user_token()))
    assert response.status_code == 401
    assert _refusal(response)["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith('private_key_jwt realm="katta-secret-server"')
    (refusal,) = world.audit_events("SECRET_REFUSAL")
    assert refusal["clientId"] == "registered-then-gone" and refusal["clientAuthenticated"] is False


@pytest.mark.parametrize("case, build, reason", [
    ("wrong aud", lambda k, c: assertion(k, c, aud="https://katta.test/oauth2/token"), "aud must name"),
    ("expired", lambda k, c: assertion(k, c, iat=int(time.time()) - 900, exp=int(time.time()) - 300), "expired"),
    ("too long-lived", lambda k, c: assertion(k, c, exp=int(time.time()) + 3600), "at most 300 s ahead"),
    ("no exp", lambda k, c: assertion(k, c, exp=None), "exp is required"),
    ("no jti", lambda k, c: assertion(k, c, jti=None), "jti must be"),
    ("sub is not the client", lambda k, c: assertion(k, c, sub="someone"), "sub must equal iss"),
    ("unregistered key, registered kid", lambda k, c: assertion(
        k, c, key=ECKey.generate_key("P-256", parameters={"kid": k.signing.kid})), "signature is invalid"),
    ("unregistered key", lambda k, c: assertion(k, c, key=ECKey.generate_key("P-256", auto_kid=True)),
     "not signed by a registered signing key"),
    ("signed with the encryption key", lambda k, c: assertion(k, c, key=ECKey.import_key(
        {**k.encryption.as_dict(private=True), "use": "sig", "alg": "ES256"})),
     "not signed by a registered signing key"),
    ("HS256", lambda k, c: assertion(k, c, key=OctKey.generate_key(256, parameters={"kid": k.signing.kid}),
                                     alg="HS256"), "asymmetric"),
    ("alg none", lambda k, c: _unsigned({"alg": "none", "kid": k.signing.kid},
                                        json.loads(_payload(assertion(k, c)))), "asymmetric"),
    ("key in the header", lambda k, c: assertion(
        k, c, key=(rogue := ECKey.generate_key("P-256", auto_kid=True)),
        header={"jwk": rogue.as_dict(private=False)}), "not signed by a registered signing key"),
])
def test_a_bad_client_assertion_is_invalid_client(world, case, build, reason):
    backend = world.register()
    response = world.exchange(world.form(backend, world.user_token(), assertion=build(backend.keys, backend.client_id)))
    assert response.status_code == 401, case
    body = _refusal(response)
    assert body["error"] == "invalid_client" and reason in body["error_description"], body


def _payload(token: str) -> bytes:
    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _unsigned(header: dict, claims: dict) -> str:
    def encode(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
    return f"{encode(header)}.{encode(claims)}."


def test_an_assertion_opens_one_exchange_only(world):
    backend = world.register()
    once = assertion(backend.keys, backend.client_id)
    assert world.exchange(world.form(backend, world.user_token(), assertion=once)).status_code == 200
    replay = world.exchange(world.form(backend, world.user_token(), assertion=once))
    assert replay.status_code == 401
    assert "already used" in _refusal(replay)["error_description"]
    # An assertion spent on a refused exchange is spent too.
    refused_once = assertion(backend.keys, backend.client_id)
    first = world.exchange(world.form(backend, world.user_token(aud="other"), assertion=refused_once))
    assert _refusal(first)["error"] == "invalid_grant"
    second = world.exchange(world.form(backend, world.user_token(), assertion=refused_once))
    assert second.status_code == 401 and "already used" in _refusal(second)["error_description"]
    assert [e["error"] for e in world.audit_events("SECRET_REFUSAL")].count("invalid_client") == 2


def test_the_same_jti_from_another_client_is_its_own(world):
    one, two = world.register(), world.register()
    assert world.exchange(world.form(one, world.user_token(), assertion=assertion(
        one.keys, one.client_id, jti="shared"))).status_code == 200
    assert world.exchange(world.form(two, world.user_token(), assertion=assertion(
        two.keys, two.client_id, jti="shared"))).status_code == 200


# -- refusals: the user's token, the audience, the request -----------------------------------------

def _hs256_token(world) -> str:
    claims = json.loads(_payload(world.user_token()))
    return jwt.encode({"alg": "HS256", "kid": world.idp.jwks()["keys"][0]["kid"]}, claims,
                      OctKey.generate_key(256), algorithms=["HS256"])


@pytest.mark.parametrize("case, token, reason", [
    ("another audience", lambda w: w.user_token(aud="katta"), "not meant for this service"),
    ("unregistered IdP", lambda w: DevIdP(issuer="http://127.0.0.1:9/realms/other").mint(
        "alice", aud="secret-server"), "not a registered identity provider"),
    ("an IdP's look-alike", lambda w: DevIdP(issuer=w.idp.issuer).mint("alice", aud="secret-server"),
     "not signed by a key of its issuer"),
    ("expired", lambda w: w.user_token(lifetime=-120), "expired"),
    ("alg none", lambda w: _unsigned({"alg": "none"}, json.loads(_payload(w.user_token()))), "algorithm"),
    ("HS256", _hs256_token, "algorithm"),
    ("an ID token", lambda w: w.user_token(typ="ID"), "not an access token"),
    ("no subject", lambda w: w.user_token(sub=None), "no subject"),
    ("not a JWT", lambda w: "opaque-token", "not a compact JWS"),
])
def test_a_bad_subject_token_is_invalid_grant(world, case, token, reason):
    backend = world.register()
    response = world.exchange(world.form(backend, token(world)))
    assert response.status_code == 400, case
    body = _refusal(response)
    assert body["error"] == "invalid_grant" and reason in body["error_description"], body


def test_our_own_release_token_is_no_subject_token(world):
    backend = world.register()
    ours = backend.exchange(world.user_token())["access_token"]
    response = world.exchange(world.form(backend, ours))
    assert _refusal(response)["error"] == "invalid_grant"


def test_a_backend_cannot_ask_for_another_backends_release(world):
    mine, theirs = world.register(), world.register()
    response = world.exchange(world.form(mine, world.user_token(), audience=theirs.client_id))
    assert response.status_code == 400 and _refusal(response)["error"] == "invalid_target"


@pytest.mark.parametrize("change, error", [
    ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
    ({"grant_type": None}, "invalid_request"),
    ({"subject_token": None}, "invalid_request"),
    ({"subject_token_type": "urn:ietf:params:oauth:token-type:id_token"}, "invalid_request"),
    ({"requested_token_type": "urn:ietf:params:oauth:token-type:access_token"}, "invalid_request"),
    ({"audience": None}, "invalid_request"),
    ({"actor_token": "x", "actor_token_type": "urn:ietf:params:oauth:token-type:jwt"}, "invalid_request"),
    ({"resource": "https://elsewhere"}, "invalid_target"),
    ({"client_assertion": None}, "invalid_client"),
    ({"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"}, "invalid_client"),
    ({"client_secret": "hunter2"}, "invalid_client"),
    ({"client_id": "somebody-else"}, "invalid_client"),
])
def test_malformed_requests_are_refused_in_oauth_terms(world, change, error):
    backend = world.register()
    response = world.exchange(world.form(backend, world.user_token(), **change))
    assert _refusal(response)["error"] == error
    assert response.status_code == (401 if error == "invalid_client" else 400)


def test_repeated_parameters_and_other_media_types_are_invalid_requests(world):
    from urllib.parse import urlencode
    backend = world.register()
    form = world.form(backend, world.user_token())
    body = urlencode(form) + "&" + urlencode({"audience": backend.client_id})
    response = world.client.http.post("/secret-server/token-exchange",
                                      headers={"Content-Type": "application/x-www-form-urlencoded"}, body=body)
    assert "repeated" in _refusal(response)["error_description"]
    response = world.client.http.post("/secret-server/token-exchange", headers={"Content-Type": "application/json"},
                                      body=json.dumps(form))
    assert response.status_code == 400 and _refusal(response)["error"] == "invalid_request"


# -- keys that move -------------------------------------------------------------------------------

def test_a_backend_that_rotates_its_keys_is_picked_up_by_kid(world):
    url = "https://backend.test/jwks.json"
    backend = world.register("rotating", jwks_uri=url)
    before = backend.release(world.user_token("alice")).secret
    fetches = len(world.fetches)
    world.jwks_clock.advance(61)  # past the refetch cooldown that began with the first fetch
    rotated = ResourceServerKeys.generate()
    world.fetched[url] = rotated.public_jwks()  # the backend publishes its new keys
    backend.keys = rotated
    assert backend.release(world.user_token("alice")).secret == before
    assert len(world.fetches) == fetches + 1  # one refetch, for the unknown kid
    # A flood of unknown kids does not become a flood of fetches (cooldown).
    for _ in range(3):
        response = world.exchange(world.form(backend, world.user_token(), assertion=assertion(
            rotated, "rotating", key=ECKey.generate_key("P-256", auto_kid=True))))
        assert _refusal(response)["error"] == "invalid_client"
    assert len(world.fetches) <= fetches + 2


def test_an_unreachable_jwks_is_a_503_not_a_refusal(world):
    backend = world.register("unreachable", jwks_uri="https://nowhere.test/jwks.json")
    world.fetched.clear()
    response = world.exchange(world.form(backend, world.user_token()))
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert json.loads(response.body)["error"] == "temporarily_unavailable"


# -- the backend's checks of what it receives -------------------------------------------------------

def test_the_backend_refuses_a_tampered_or_foreign_release(world):
    backend = world.register()
    token = backend.exchange(world.user_token())["access_token"]
    header, payload, signature = token.split(".")
    claims = json.loads(_payload(token))
    claims["sub"] = "mallory"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    with pytest.raises(InvalidRelease, match="signature"):
        backend.open_release(f"{header}.{forged}.{signature}")
    foreign_key = ECKey.generate_key("P-256", auto_kid=True)
    with pytest.raises(InvalidRelease, match="no signing key"):
        backend.open_release(jwt.encode({"alg": "ES256", "kid": foreign_key.kid, "typ": "secret+jwt"},
                                        claims, foreign_key))
    with pytest.raises(InvalidRelease, match="typ"):
        backend.open_release(jwt.encode({"alg": "ES256", "kid": foreign_key.kid}, claims, foreign_key))
