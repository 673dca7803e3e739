"""The attack catalog (architecture §3, §14; docs/attack-catalog.md): one test per attack and surface.

Every token-accepting surface gets every attack that applies to it, and must answer with its
exact refusal — never a success, never a 5xx:

* API bearer tokens: 401 with ``WWW-Authenticate: Bearer … error="invalid_token"``;
* ``POST /oauth2/token`` subject tokens: 400 ``invalid_grant``;
* ``POST /secret-server/token-exchange``: subject tokens 400 ``invalid_grant``, client
  assertions 401 ``invalid_client`` with a ``private_key_jwt`` challenge;
* the resource-server helper's verification of our release tokens: ``InvalidRelease``;
* JWE request bodies to a POP key: 400 problem JSON; oversized bodies 413;
* the client's JWE parsing: ``UnsafeParameter``, ``InvalidKey`` or ``InvalidFormat``.

Each surface also has a control test: its genuine token is accepted, so that every refusal
here is a refusal of the attack and not of a broken recipe. The app runs once per module
(moto, one table, one registered IdP and backend): every attack is refused and changes nothing.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlencode

import hypothesis
import pytest
from hypothesis import strategies as st
from joserfc import jwe
from joserfc.jwk import ECKey

from katta_client import crypto
from katta_client.crypto import InvalidFormat, InvalidKey, UnsafeParameter
from katta_client.crypto import jwe as client_jwe
from katta_client.resource_server import InvalidRelease, ResourceServer, ResourceServerKeys
from tests.support import attacks
from tests.support.attacks import JWS_ATTACKS, P256, P384, Recipe, forged_jwe, invalid_epks, with_protected
from tests.support.katta_keys import DeviceKeys, UserKeys, new_vault_id, vault_dto
from tests.support.tokens import TokenIssuer

BASE_URL = "https://katta.test"
EXCHANGE_AUDIENCE = "https://reports.katta.test"
SECRET_AUDIENCE = "secret-server"
SECRET_TOKEN_ENDPOINT = BASE_URL + "/secret-server/token-exchange"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
JOSE = "application/jose"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


# -- the app, once per module ---------------------------------------------------------------------

@dataclass
class Env:
    client: Any
    issuer: TokenIssuer
    idp: Any
    backend_id: str
    backend_keys: ResourceServerKeys
    alice_keys: UserKeys
    vault_id: str

    def call(self, method: str, path: str, *, token: str | None = None, body: Any = None,
             content_type: str = JSON, headers: dict[str, str] | None = None):
        sent = {"Content-Type": content_type, **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        return self.client.http.request(method, path, headers=sent, body=body or b"")

    def alice(self, **claims: Any) -> str:
        return self.issuer.token("alice", **claims)

    def assertion(self, **claims: Any) -> str:
        return attacks.sign({"alg": "ES256", "kid": self.backend_keys.signing.kid},
                            {**assertion_claims(self.backend_id), **claims}, self.backend_keys.signing)

    def subject(self) -> str:
        return self.idp.mint("alice", aud=SECRET_AUDIENCE)

    def ours(self, claims: dict[str, Any]) -> str:
        """A token signed by our own POP key (as s3-token and the exchanges sign theirs)."""
        from chalicelib import deps
        return deps.pop_keys().sign_jwt({**claims, "exp": int(time.time()) + 120})


def assertion_claims(client_id: str) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": client_id, "sub": client_id, "aud": SECRET_TOKEN_ENDPOINT, "iat": now, "exp": now + 60,
            "jti": uuid.uuid4().hex}


@pytest.fixture(scope="module")
def env():
    from moto import mock_aws

    from chalicelib import deps

    with mock_aws():
        with pytest.MonkeyPatch.context() as patch:
            yield from _app(patch)
        deps.reset()  # after the patches are undone: reset() clears the real accessors


def _app(patch: pytest.MonkeyPatch):
    import boto3
    from tests.support.app_client import app_client

    from chalicelib import deps
    from chalicelib.auth.jwks import JwksCache
    from chalicelib.settings import get_settings
    from chalicelib.db.schema import create_table
    from devstack.idp import DevIdP
    from tests.support.kms import create_management_key

    patch.setenv("KATTA_TOKEN_EXCHANGE_AUDIENCES", json.dumps([EXCHANGE_AUDIENCE]))
    deps.reset()
    create_table(boto3.client("dynamodb"), os.environ["KATTA_TABLE_NAME"])
    create_management_key()
    issuer = TokenIssuer().trust(patch)
    # Registered key sets are inline here: the secret server must never fetch anything.
    offline = JwksCache(get_settings(), fetch=_no_fetch)
    patch.setattr(deps, "secret_server_jwks", lambda: offline)
    assert get_settings().token_exchange_audiences == [EXCHANGE_AUDIENCE]
    import app
    with app_client(app.app) as client:
        yield _populate(client, issuer, DevIdP())


def _no_fetch(url: str) -> Any:
    raise OSError(f"the secret server tried to fetch {url}")


def _populate(client, issuer: TokenIssuer, idp) -> Env:
    admin = {"Authorization": "Bearer " + issuer.token("root", realm_access={"roles": ["user", "admin"]}),
             "Content-Type": JSON}
    response = client.http.put("/secret-server/admin/idps", headers=admin, body=json.dumps(
        {"issuer": idp.issuer, "audience": SECRET_AUDIENCE, "jwks": idp.jwks(), "algorithms": ["ES256"]}))
    assert response.status_code == 201, response.body
    backend_id, keys = "notes-backend", ResourceServerKeys.generate()
    response = client.http.put(f"/secret-server/admin/resource-servers/{backend_id}", headers=admin,
                               body=json.dumps({"jwks": keys.public_jwks()}))
    assert response.status_code in (200, 201), response.body
    world = Env(client, issuer, idp, backend_id, keys, UserKeys.generate(), new_vault_id())
    alice = {"Authorization": "Bearer " + world.alice(), "Content-Type": JSON}
    assert client.http.put("/api/users/me", headers=alice, body=json.dumps(world.alice_keys.user_dto())).status_code == 201
    assert client.http.put(f"/api/vaults/{world.vault_id}", headers=alice,
                           body=json.dumps(vault_dto(world.vault_id))).status_code == 201
    return world


# -- JWS surfaces -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    status: int | None
    headers: dict[str, str]
    body: Any
    error: Exception | None = None


def _outcome(response) -> Outcome:
    try:
        body = json.loads(response.body) if response.body else None
    except ValueError:
        body = response.body
    return Outcome(response.status_code, dict(response.headers), body)


def _release_token(env: Env, claims: dict[str, Any], key: Any, header: dict[str, Any] | None = None) -> str:
    return attacks.sign({"alg": "ES256", "kid": key.kid, "typ": "secret+jwt", **(header or {})}, claims, key)


class Surface:
    """One place that accepts a JWS: how its genuine token is made, sent and refused."""

    name: str
    # attack -> (status, error) where this surface refuses it differently from its default.
    overrides: dict[str, tuple[int, str]] = {}
    skips: frozenset[str] = frozenset()

    def recipe(self, env: Env) -> Recipe: ...

    def send(self, env: Env, token: str) -> Outcome: ...

    def assert_accepted(self, outcome: Outcome) -> None: ...

    def assert_refused(self, outcome: Outcome, attack: str) -> None: ...


def _idp_claims(env: Env) -> dict[str, Any]:
    return env.issuer.claims("alice")


class ApiSurface(Surface):
    def __init__(self, name: str, method: str, request: Callable[[Env], tuple[str, Any]], success: int) -> None:
        self.name, self.method, self.request, self.success = name, method, request, success

    def recipe(self, env: Env) -> Recipe:
        return Recipe(key=env.issuer.key, claims=lambda: _idp_claims(env),
                      foreign=lambda: env.ours({**_idp_claims(env), "iss": BASE_URL}),
                      retype=lambda r: r.token(claims={"typ": "ID"}))

    def send(self, env: Env, token: str) -> Outcome:
        path, body = self.request(env)
        return _outcome(env.call(self.method, path, token=token, body=body))

    def assert_accepted(self, outcome: Outcome) -> None:
        assert outcome.status == self.success, outcome.body

    def assert_refused(self, outcome: Outcome, attack: str) -> None:
        assert outcome.status == 401, (outcome.status, outcome.body)
        assert outcome.headers["Content-Type"].startswith("application/problem+json")
        challenge = outcome.headers["WWW-Authenticate"]
        assert challenge.startswith('Bearer realm="katta"') and 'error="invalid_token"' in challenge, challenge


def _oauth_refusal(outcome: Outcome, status: int, error: str) -> None:
    assert (outcome.status, (outcome.body or {}).get("error")) == (status, error), outcome.body
    assert outcome.headers["Content-Type"].startswith("application/json")
    assert outcome.headers["Cache-Control"] == "no-store"
    assert set(outcome.body) == {"error", "error_description"}


class ExchangeSubjectSurface(Surface):
    name = "oauth2-token-subject-token"

    def recipe(self, env: Env) -> Recipe:
        return ApiSurface.recipe(self, env)  # the same trusted IdP's access tokens

    def send(self, env: Env, token: str) -> Outcome:
        form = {"grant_type": TOKEN_EXCHANGE, "subject_token": token, "subject_token_type": ACCESS_TOKEN_TYPE,
                "audience": EXCHANGE_AUDIENCE}
        return _outcome(env.call("POST", "/oauth2/token", body=urlencode(form), content_type=FORM))

    def assert_accepted(self, outcome: Outcome) -> None:
        assert outcome.status == 200 and outcome.body["issued_token_type"] == ACCESS_TOKEN_TYPE, outcome.body

    def assert_refused(self, outcome: Outcome, attack: str) -> None:
        _oauth_refusal(outcome, *self.overrides.get(attack, (400, "invalid_grant")))


def _secret_form(env: Env, subject: str, assertion: str) -> dict[str, str]:
    return {"grant_type": TOKEN_EXCHANGE, "subject_token": subject, "subject_token_type": JWT_TOKEN_TYPE,
            "audience": env.backend_id, "client_assertion_type": JWT_BEARER, "client_assertion": assertion}


def _secret_exchange(env: Env, form: dict[str, str]) -> Outcome:
    return _outcome(env.call("POST", "/secret-server/token-exchange", body=urlencode(form), content_type=FORM))


class SecretSubjectSurface(Surface):
    name = "secret-exchange-subject-token"
    # The form caps every parameter at 8192 characters before any token is read.
    overrides = {"oversized-token": (400, "invalid_request")}

    def recipe(self, env: Env) -> Recipe:
        def claims() -> dict[str, Any]:
            return attacks.segment_json(env.subject(), 1)
        return Recipe(key=env.idp.signing_key, claims=claims, header={"typ": "JWT"},
                      foreign=lambda: env.ours({**claims(), "iss": BASE_URL}),
                      retype=lambda r: r.token(claims={"typ": "ID"}))

    def send(self, env: Env, token: str) -> Outcome:
        return _secret_exchange(env, _secret_form(env, token, env.assertion()))

    def assert_accepted(self, outcome: Outcome) -> None:
        assert outcome.status == 200 and outcome.body["issued_token_type"] == JWT_TOKEN_TYPE, outcome.body

    def assert_refused(self, outcome: Outcome, attack: str) -> None:
        _oauth_refusal(outcome, *self.overrides.get(attack, (400, "invalid_grant")))


class SecretAssertionSurface(SecretSubjectSurface):
    name = "secret-exchange-client-assertion"
    overrides = {"oversized-token": (400, "invalid_request")}
    # An assertion has no token type to confuse.
    skips = frozenset({"wrong-token-type", "typ-claim-a-list"})

    def recipe(self, env: Env) -> Recipe:
        # Ours: a token of this service (iss = sub = our issuer) presented as the client's proof.
        return Recipe(key=env.backend_keys.signing, claims=lambda: assertion_claims(env.backend_id),
                      foreign=lambda: env.ours({**assertion_claims(env.backend_id), "iss": BASE_URL, "sub": BASE_URL}))

    def send(self, env: Env, token: str) -> Outcome:
        return _secret_exchange(env, _secret_form(env, env.subject(), token))

    def assert_refused(self, outcome: Outcome, attack: str) -> None:
        status, error = self.overrides.get(attack, (401, "invalid_client"))
        _oauth_refusal(outcome, status, error)
        if status == 401:
            assert outcome.headers["WWW-Authenticate"].startswith('private_key_jwt realm="katta-secret-server"')


class StaticJwks:
    """The resource server's view of our ``/.well-known/jwks.json``; it never posts."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def post_form(self, url: str, form: dict[str, str]) -> tuple[int, Any]:
        raise AssertionError("the helper must not call the token endpoint while verifying")

    def get_json(self, url: str) -> Any:
        assert url == BASE_URL + "/.well-known/jwks.json", url
        return self.document


# Our POP signing key as the helper sees it (the helper is tested without the app).
SERVER_KEY = ECKey.generate_key("P-256", parameters={"use": "sig", "alg": "ES256"}, auto_kid=True)


class ReleaseSurface(Surface):
    """``katta_client.resource_server``: a backend verifying a release token of ours."""

    name = "resource-server-release-token"
    # The helper reads release tokens from our answers only (capped at MAX_RESPONSE_BYTES); their
    # type is the header's (typ secret+jwt), a typ claim means nothing to it.
    skips = frozenset({"oversized-token", "typ-claim-a-list"})

    def __init__(self) -> None:
        self.keys = ResourceServerKeys.generate()

    def helper(self) -> ResourceServer:
        return ResourceServer("notes-backend", BASE_URL, self.keys,
                              transport=StaticJwks({"keys": [SERVER_KEY.as_dict(private=False)]}))

    def sealed_secret(self) -> str:
        enc = self.keys.encryption
        return jwe.encrypt_compact({"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": enc.kid}, os.urandom(32), enc,
                                   algorithms=["ECDH-ES+A256KW", "A256GCM"])

    def claims(self, secret: str | None = None) -> dict[str, Any]:
        now = int(time.time())
        return {"iss": BASE_URL, "sub": "alice", "aud": "notes-backend", "iat": now, "exp": now + 60,
                "jti": uuid.uuid4().hex, "secret": {"notes-backend": secret or self.sealed_secret()}}

    def recipe(self, env: Env) -> Recipe:
        from devstack.idp import DevIdP
        idp = DevIdP()
        return Recipe(key=SERVER_KEY, claims=self.claims, header={"typ": "secret+jwt"}, leeway=30,
                      # An IdP's token dressed as a release: every claim right, the key not ours.
                      foreign=lambda: idp.sign(self.claims(), {"typ": "secret+jwt"}),
                      # Another token of ours (an exchanged access token) addressed to the backend.
                      retype=lambda r: r.token(header={"typ": "at+jwt"}))

    def send(self, env: Env, token: str) -> Outcome:
        try:
            return Outcome(None, {}, self.helper().open_release(token))
        except Exception as error:  # noqa: BLE001 — the type is what the test checks
            return Outcome(None, {}, None, error)

    def assert_accepted(self, outcome: Outcome) -> None:
        assert outcome.error is None and len(outcome.body.secret) == 32, outcome.error

    def assert_refused(self, outcome: Outcome, attack: str) -> None:
        assert isinstance(outcome.error, InvalidRelease), repr(outcome.error)


def _new_vault(env: Env) -> tuple[str, Any]:
    vault_id = new_vault_id()
    return f"/api/vaults/{vault_id}", vault_dto(vault_id)


class RendezvousSurface(ApiSurface):
    """``POST /api/rendezvous`` with a bearer: each genuine token is a new user, so the per-user limit never bites."""

    def __init__(self) -> None:
        super().__init__("rendezvous-create", "POST", lambda e: ("/api/rendezvous", {"data": "hello"}), 201)

    def recipe(self, env: Env) -> Recipe:
        recipe = super().recipe(env)
        recipe.claims = lambda: env.issuer.claims(f"linker-{uuid.uuid4().hex[:12]}")
        return recipe


API_SURFACES = [
    ApiSurface("api-get-users-me", "GET", lambda e: ("/api/users/me", None), 200),
    ApiSurface("api-get-vaults-accessible", "GET", lambda e: ("/api/vaults/accessible", None), 200),
    ApiSurface("api-put-users-me", "PUT", lambda e: ("/api/users/me", e.alice_keys.user_dto()), 201),
    ApiSurface("api-put-vault", "PUT", _new_vault, 201),
    RendezvousSurface(),
]
JWS_SURFACES: list[Surface] = [*API_SURFACES, ExchangeSubjectSurface(), SecretSubjectSurface(),
                               SecretAssertionSurface(), ReleaseSurface()]


def _cases() -> list[Any]:
    return [pytest.param(surface, attack, id=f"{surface.name}-{attack}")
            for surface in JWS_SURFACES for attack in JWS_ATTACKS if attack not in surface.skips]


@pytest.mark.parametrize("surface", [pytest.param(s, id=s.name) for s in JWS_SURFACES])
def test_control_a_genuine_token_is_accepted(env, surface):
    surface.assert_accepted(surface.send(env, surface.recipe(env).token()))


@pytest.mark.parametrize("surface, attack", _cases())
def test_forged_token_is_refused(env, surface, attack):
    outcome = surface.send(env, JWS_ATTACKS[attack](surface.recipe(env)))
    assert outcome.status is None or outcome.status < 500, outcome.body
    surface.assert_refused(outcome, attack)


def test_no_key_is_ever_fetched_from_a_token_header(env):
    """jku/x5u name the attacker's URL: the only URL the API ever fetches is the issuer's configured JWKS."""
    api = API_SURFACES[0]
    for attack in ("jku-header", "x5u-header", "jwk-header", "x5c-header"):
        assert api.send(env, JWS_ATTACKS[attack](api.recipe(env))).status == 401
    assert set(env.issuer.fetches) == {env.issuer.issuer + "/protocol/openid-connect/certs"}


# -- JWE request bodies to a POP enc key (PUT /api/storage/{vaultId}, Content-Type: application/jose) --

def _pop_enc_jwk() -> dict[str, Any]:
    from chalicelib import deps
    keys = deps.pop_keys()
    kid = keys.active("enc").kid
    return next(k for k in keys.jwks()["keys"] if k["kid"] == kid)


def _to_pop(jwk: dict[str, Any], plaintext: bytes) -> str:
    key = ECKey.import_key(jwk)
    return jwe.encrypt_compact({"alg": jwk["alg"], "enc": "A256GCM", "kid": jwk["kid"]}, plaintext, key,
                               algorithms=[jwk["alg"], "A256GCM"])


def _pop_header(jwk: dict[str, Any], **members: Any) -> dict[str, Any]:
    valid_epk = attacks.valid_small_point_jwk(P256)
    return {"alg": jwk["alg"], "enc": "A256GCM", "kid": jwk["kid"], "epk": valid_epk, **members}


def _flattened(compact: str) -> str:
    protected, encrypted_key, iv, ciphertext, tag = compact.split(".")
    return json.dumps({"protected": protected, "encrypted_key": encrypted_key, "iv": iv,
                       "ciphertext": ciphertext, "tag": tag})


def _jws_instead(_: Any = None) -> str:
    return attacks.sign({"alg": "ES256", "kid": attacks.ATTACKER_KEY.kid}, {"vaultId": "x"}, attacks.ATTACKER_KEY)


POP_BODY_ATTACKS: dict[str, Callable[[dict[str, Any]], str]] = {
    "zip": lambda k: with_protected(_to_pop(k, b"{}"), zip="DEF"),
    "enc-not-a-string": lambda k: forged_jwe({"alg": k["alg"], "enc": ["A256GCM"], "kid": k["kid"]}),
    "pbes2-p2c-2^31": lambda k: forged_jwe(attacks.pbes2_header(kid=k["kid"])),
    **{name: (lambda k, epk=epk: forged_jwe(_pop_header(k, epk=epk))) for name, epk in invalid_epks(P256).items()},
    "alg-none": lambda k: forged_jwe({"alg": "none", "enc": "A256GCM", "kid": k["kid"]}, encrypted_key=False),
    "alg-dir": lambda k: forged_jwe({"alg": "dir", "enc": "A256GCM", "kid": k["kid"]}, encrypted_key=False),
    "kid-path-traversal": lambda k: forged_jwe(_pop_header(k, kid=attacks.KID_TRAVERSAL)),
    "kid-huge": lambda k: forged_jwe(_pop_header(k, kid="k" * 4096)),
    "json-serialized": lambda k: _flattened(_to_pop(k, b"{}")),
    "jws-instead-of-jwe": _jws_instead,
}


def _put_storage(env: Env, body: str | bytes, content_type: str = JOSE) -> Outcome:
    return _outcome(env.call("PUT", f"/api/storage/{env.vault_id}", token=env.alice(), body=body,
                             content_type=content_type))


def test_control_a_genuine_jwe_body_is_decrypted_then_validated(env):
    outcome = _put_storage(env, _to_pop(_pop_enc_jwk(), b"{}"))
    # Refused by the body model, which only a decrypted body reaches.
    assert outcome.status == 400 and "vaultId" in {e["field"] for e in outcome.body["errors"]}, outcome.body


@pytest.mark.parametrize("attack", POP_BODY_ATTACKS)
def test_hostile_jwe_body_is_refused(env, attack):
    outcome = _put_storage(env, POP_BODY_ATTACKS[attack](_pop_enc_jwk()))
    assert outcome.status == 400, outcome.body
    assert outcome.headers["Content-Type"].startswith("application/problem+json")
    assert "vaultId" not in json.dumps(outcome.body.get("errors", [])), "refused only after decryption"


# -- JWE-shaped strings the API stores opaque: format checks only -------------------------------------

MALFORMED_JWE_STRINGS: dict[str, str] = {
    "json-serialized": json.dumps({"protected": "e30", "encrypted_key": "", "iv": "AAAA", "ciphertext": "AAAA",
                                   "tag": "AAAA"}),
    "three-segments": "eyJhbGciOiJub25lIn0.e30.",
    "six-segments": "e30.AAAA.AAAA.AAAA.AAAA.AAAA",
    "empty-header": ".AAAA.AAAA.AAAA.AAAA",
    "not-ascii": "e30.AAAA.AAAÄ.AAAA.AAAA",
    "oversized": "e30." + "A" * 16 * 1024 + ".AAAA.AAAA.AAAA",
}


def _user_keys_with(env: Env, value: str) -> tuple[str, str, Any]:
    return "PUT", "/api/users/me", {**env.alice_keys.user_dto(), "privateKeys": value}


def _device_with(env: Env, value: str) -> tuple[str, str, Any]:
    device = DeviceKeys.generate()
    return "PUT", f"/api/devices/{device.id}", {**device.dto(), "userPrivateKey": value}


def _access_token_with(env: Env, value: str) -> tuple[str, str, Any]:
    from tests.support.katta_api import user_id_of
    return "POST", f"/api/vaults/{env.vault_id}/access-tokens", {user_id_of("alice"): value}


OPAQUE_JWE_FIELDS = {"users-me-privateKeys": _user_keys_with, "device-userPrivateKey": _device_with,
                     "vault-access-token": _access_token_with}


@pytest.mark.parametrize("field", OPAQUE_JWE_FIELDS)
def test_control_a_well_formed_jwe_string_is_stored(env, field):
    method, path, body = OPAQUE_JWE_FIELDS[field](env, env.alice_keys.access_token(b"k" * 32))
    assert env.call(method, path, token=env.alice(), body=body).status_code in (200, 201)


@pytest.mark.parametrize("field, shape", [pytest.param(f, s, id=f"{f}-{s}")
                                          for f in OPAQUE_JWE_FIELDS for s in MALFORMED_JWE_STRINGS])
def test_malformed_jwe_string_is_a_400(env, field, shape):
    method, path, body = OPAQUE_JWE_FIELDS[field](env, MALFORMED_JWE_STRINGS[shape])
    outcome = _outcome(env.call(method, path, token=env.alice(), body=body))
    assert outcome.status == 400, outcome.body
    assert outcome.headers["Content-Type"].startswith("application/problem+json") and outcome.body["errors"]


# -- oversized request bodies (KATTA_MAX_BODY_BYTES) ---------------------------------------------------

def _oversized() -> str:
    from chalicelib.settings import get_settings
    return "A" * (get_settings().max_body_bytes + 1024)


def _problem_413(outcome: Outcome) -> None:
    assert outcome.status == 413, outcome.body
    assert outcome.headers["Content-Type"].startswith("application/problem+json")


OVERSIZED_BODIES: dict[str, tuple[Callable[[Env], Outcome], Callable[[Outcome], None]]] = {
    "api-put-users-me": (lambda e: _outcome(e.call("PUT", "/api/users/me", token=e.alice(),
                                                    body=json.dumps({"language": _oversized()}))), _problem_413),
    "api-put-vault": (lambda e: _outcome(e.call("PUT", f"/api/vaults/{new_vault_id()}", token=e.alice(),
                                                 body=json.dumps({**vault_dto("x"), "description": _oversized()}))),
                      _problem_413),
    "storage-json-body": (lambda e: _put_storage(e, json.dumps({"vaultId": _oversized()}), JSON), _problem_413),
    "storage-jose-body": (lambda e: _put_storage(e, _oversized()), _problem_413),
    "oauth2-token": (lambda e: _outcome(e.call("POST", "/oauth2/token", content_type=FORM, body=urlencode(
        {"grant_type": TOKEN_EXCHANGE, "subject_token": _oversized()}))),
        lambda o: _oauth_refusal(o, 400, "invalid_request")),
    "secret-exchange": (lambda e: _secret_exchange(e, {**_secret_form(e, e.subject(), e.assertion()),
                                                       "padding": _oversized()}),
                        lambda o: _oauth_refusal(o, 400, "invalid_request")),
}


@pytest.mark.parametrize("surface", OVERSIZED_BODIES)
def test_oversized_body_is_refused(env, surface):
    send, refused = OVERSIZED_BODIES[surface]
    refused(send(env))


# -- the client's JWE parsing (katta_client.crypto) ----------------------------------------------------

ACCOUNT_KEY = "5c0f8ee4-0f6d-4c5e-9d0a-3f1e2b7c9a10"


@dataclass
class ClientSurface:
    """One public decrypting function of the client, with a genuine input for it."""

    genuine: Callable[[], str]
    open: Callable[[str], Any]
    ecdh: bool
    json: bool = False


@pytest.fixture(scope="module")
def client_keys():
    user, vault, device = crypto.UserKeys.create(), crypto.VaultKeys.create(), crypto.DeviceKeys.create()
    # The account-key JWE at the lowest p2c the reader accepts: the catalog stays fast.
    private_keys = user.encrypt_with_account_key(ACCOUNT_KEY, iterations=client_jwe.PBES2_MIN_ITERATIONS)
    return {
        "access-token": ClientSurface(lambda: vault.encrypt_for_user(user.encoded_ecdh_public_key),
                                      user.decrypt_access_token, ecdh=True),
        "device-user-private-key": ClientSurface(
            lambda: user.encrypt_for_device(device),
            lambda t: crypto.UserKeys.decrypt_on_device(t, device, user.ecdh_public_key, user.ecdsa_public_key),
            ecdh=True),
        "account-key-private-keys": ClientSurface(
            lambda: private_keys,
            lambda t: crypto.UserKeys.recover_with_account_key(t, ACCOUNT_KEY, user.ecdh_public_key,
                                                               user.ecdsa_public_key),
            ecdh=False),
        "vault-uvf-member-key": ClientSurface(lambda: vault.encrypt_metadata(crypto.VaultMetadata.create()),
                                              vault.decrypt_metadata, ecdh=False, json=True),
        "vault-uvf-recovery-key": ClientSurface(
            lambda: vault.encrypt_metadata(crypto.VaultMetadata.create()),
            lambda d: crypto.decrypt_vault_metadata_with_recovery_key(d, vault.recovery_private_key),
            ecdh=True, json=True),
    }


def _recipient_index(document: dict[str, Any], alg: str) -> int:
    return next(i for i, r in enumerate(document["recipients"]) if r["header"]["alg"] == alg)


def _uvf_with(document: str, *, protected: dict[str, Any] | None = None, unprotected: dict[str, Any] | None = None,
              recipient: dict[str, Any] | None = None, alg: str = "ECDH-ES+A256KW") -> str:
    doc = json.loads(document)
    if protected is not None:
        doc["protected"] = attacks.b64u_json({**attacks.segment_json(doc["protected"], 0), **protected})
    if unprotected is not None:
        doc["unprotected"] = unprotected
    if recipient is not None:
        index = _recipient_index(doc, alg)
        doc["recipients"][index]["header"] = {**doc["recipients"][index]["header"], **recipient}
    return json.dumps(doc)


def _compact_cases() -> dict[str, tuple[Callable[[ClientSurface], str], type[Exception], bool]]:
    """attack -> (build from a surface, the exact exception, ECDH surfaces only)."""
    cases: dict[str, tuple[Callable[[ClientSurface], str], type[Exception], bool]] = {
        "zip": (lambda s: with_protected(s.genuine(), zip="DEF"), UnsafeParameter, False),
        "pbes2-p2c-2^31": (lambda s: forged_jwe(attacks.pbes2_header()), UnsafeParameter, False),
        "alg-none": (lambda s: forged_jwe({"alg": "none", "enc": "A256GCM"}, encrypted_key=False),
                     UnsafeParameter, False),
        "alg-dir": (lambda s: forged_jwe({"alg": "dir", "enc": "A256GCM"}, encrypted_key=False),
                    UnsafeParameter, False),
        "json-serialized": (lambda s: _flattened(s.genuine()), InvalidFormat, False),
        "jws-instead-of-jwe": (_jws_instead_of(), InvalidFormat, False),
        "oversized": (lambda s: with_protected(s.genuine(), pad="A" * client_jwe.MAX_JWE_LENGTH), InvalidFormat,
                      False),
    }
    for name, epk in invalid_epks(P384).items():
        cases[name] = (lambda s, epk=epk: with_protected(s.genuine(), epk=epk), InvalidKey, True)
    return cases


def _jws_instead_of() -> Callable[[ClientSurface], str]:
    return lambda s: _jws_instead()


def _json_cases() -> dict[str, tuple[Callable[[ClientSurface], str], type[Exception], bool]]:
    cases: dict[str, tuple[Callable[[ClientSurface], str], type[Exception], bool]] = {
        "zip": (lambda s: _uvf_with(s.genuine(), protected={"zip": "DEF"}), UnsafeParameter, False),
        "zip-unprotected": (lambda s: _uvf_with(s.genuine(), unprotected={"zip": "DEF"}), UnsafeParameter, False),
        "zip-per-recipient": (lambda s: _uvf_with(s.genuine(), recipient={"zip": "DEF"}, alg="A256KW"),
                              UnsafeParameter, False),
        "compact-instead-of-json": (lambda s: forged_jwe({"alg": "A256KW", "enc": "A256GCM"}), InvalidFormat, False),
        "oversized": (lambda s: _uvf_with(s.genuine(), unprotected={"pad": "A" * client_jwe.MAX_JWE_LENGTH}),
                      InvalidFormat, False),
    }
    for name, epk in invalid_epks(P384).items():
        cases[name] = (lambda s, epk=epk: _uvf_with(s.genuine(), recipient={"epk": epk}), InvalidKey, True)
    return cases


COMPACT_CLIENT = ("access-token", "device-user-private-key", "account-key-private-keys")
JSON_CLIENT = ("vault-uvf-member-key", "vault-uvf-recovery-key")
ECDH_CLIENT = frozenset({"access-token", "device-user-private-key", "vault-uvf-recovery-key"})


def _client_cases() -> list[Any]:
    params = []
    for names, cases in ((COMPACT_CLIENT, _compact_cases()), (JSON_CLIENT, _json_cases())):
        for surface in names:
            for attack, (_build, _error, ecdh_only) in cases.items():
                if not ecdh_only or surface in ECDH_CLIENT:
                    params.append(pytest.param(surface, attack, id=f"{surface}-{attack}"))
    return params


@pytest.mark.parametrize("surface", [*COMPACT_CLIENT, *JSON_CLIENT])
def test_control_the_client_opens_a_genuine_jwe(client_keys, surface):
    assert client_keys[surface].open(client_keys[surface].genuine()) is not None


@pytest.mark.parametrize("surface, attack", _client_cases())
def test_client_refuses_hostile_jwe_with_its_distinct_error(client_keys, surface, attack):
    cases = _json_cases() if surface in JSON_CLIENT else _compact_cases()
    build, expected, _ecdh_only = cases[attack]
    with pytest.raises(crypto.KattaCryptoError) as refused:
        client_keys[surface].open(build(client_keys[surface]))
    assert type(refused.value) is expected, repr(refused.value)


# -- the resource-server helper's secret JWE ----------------------------------------------------------

def _release_secret_attacks(keys: ResourceServerKeys) -> dict[str, str]:
    enc = keys.encryption
    genuine = jwe.encrypt_compact({"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": enc.kid}, os.urandom(32), enc,
                                  algorithms=["ECDH-ES+A256KW", "A256GCM"])
    base = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": enc.kid, "epk": attacks.valid_small_point_jwk(P256)}
    return {
        "zip": with_protected(genuine, zip="DEF"),
        "pbes2-p2c-2^31": forged_jwe(attacks.pbes2_header(kid=enc.kid)),
        "alg-none": forged_jwe({"alg": "none", "enc": "A256GCM", "kid": enc.kid}, encrypted_key=False),
        **{name: forged_jwe({**base, "epk": epk}) for name, epk in invalid_epks(P256).items()},
        "json-serialized": _flattened(genuine),
    }


RELEASE = ReleaseSurface()


@pytest.mark.parametrize("attack", list(_release_secret_attacks(RELEASE.keys)))
def test_resource_server_refuses_a_hostile_secret_jwe(attack):
    sealed = _release_secret_attacks(RELEASE.keys)[attack]
    token = attacks.sign({"alg": "ES256", "kid": SERVER_KEY.kid, "typ": "secret+jwt"}, RELEASE.claims(sealed),
                         SERVER_KEY)
    with pytest.raises(InvalidRelease):
        RELEASE.helper().open_release(token)


# -- issue 16: claims of every JSON type, one bearer syntax, disabled accounts, role-less tokens ---

def _bounded_numeric_date(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and 0 <= value < 2 ** 53)  # NaN fails both comparisons


# What every surface must refuse whatever else the token says: a registered claim of the wrong type or out of range.
WRONG_TYPE = {
    "exp": lambda v: not _bounded_numeric_date(v),
    "nbf": lambda v: not _bounded_numeric_date(v),
    "iat": lambda v: not _bounded_numeric_date(v),
    "iss": lambda v: not isinstance(v, str),
    "sub": lambda v: not isinstance(v, str),
    "aud": lambda v: not isinstance(v, (str, list)),
}
CLAIMS = (*WRONG_TYPE, "typ", "jti", "azp", "scope", "realm_access", "groups", "name", "email",
          "preferred_username", "client_id", "secret")
JSON_SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
                | st.sampled_from([10 ** 400, -10 ** 400, 2 ** 53, 2 ** 64, 1e300, -0.0]))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)


def _never_a_failure(surface: Surface, outcome: Outcome) -> None:
    assert outcome.status is None or outcome.status < 500, (outcome.status, outcome.body)
    assert outcome.error is None or isinstance(outcome.error, InvalidRelease), repr(outcome.error)


@pytest.mark.slow
@pytest.mark.parametrize("surface", [pytest.param(s, id=s.name) for s in JWS_SURFACES])
def test_a_claim_of_any_json_value_is_never_a_failure(env, surface):
    @hypothesis.settings(max_examples=30, deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow],
                         database=None)
    @hypothesis.given(claim=st.sampled_from(CLAIMS), value=JSON_VALUES)
    def check(claim, value):
        outcome = surface.send(env, surface.recipe(env).token(claims={claim: value}))
        _never_a_failure(surface, outcome)
        if claim in WRONG_TYPE and WRONG_TYPE[claim](value):
            surface.assert_refused(outcome, "wrong-claim-type")
    check()


@pytest.mark.slow
@pytest.mark.parametrize("surface", [pytest.param(s, id=s.name) for s in JWS_SURFACES])
def test_a_header_member_of_any_json_value_is_never_a_failure(env, surface):
    @hypothesis.settings(max_examples=20, deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow],
                         database=None)
    @hypothesis.given(member=st.sampled_from(("alg", "kid", "typ", "crit", "cty", "b64", "zip")), value=JSON_VALUES)
    def check(member, value):
        recipe = surface.recipe(env)
        header = {**recipe.base_header(), member: value}
        # Signed under the genuine alg whatever the header says: the verifier must refuse, not fail.
        token = attacks.sign_text(json.dumps(header), json.dumps(recipe.claims()), recipe.key, recipe.base_header()["alg"])
        _never_a_failure(surface, surface.send(env, token))
    check()


# RFC 6750 §2.1: credentials = "Bearer" SP b64token. The token as each surface receives it: after
# "Bearer " in a header, as the whole value of a form parameter. Only the exact token passes anywhere.
TOKEN_SPELLINGS = {
    "exact": ("{t}", True),
    "leading-space": (" {t}", False),
    "trailing-space": ("{t} ", False),
    "spaces-around": ("  {t}  ", False),
    "leading-tab": ("\t{t}", False),
    "trailing-tab": ("{t}\t", False),
    "two-tokens": ("{t} {t}", False),
    "comma-list": ("{t},{t}", False),
    "quoted": ('"{t}"', False),
}
# Header spellings of the scheme itself (the scheme is case-insensitive, RFC 9110 §11.1).
HEADER_SPELLINGS = {
    "lower-case-scheme": ("bearer {t}", True),
    "upper-case-scheme": ("BEARER {t}", True),
    "no-separator": ("Bearer{t}", False),
    "scheme-only": ("Bearer", False),
    "scheme-and-space": ("Bearer ", False),
    "space-before-scheme": (" Bearer {t}", False),
    "tab-separator": ("Bearer\t{t}", False),
    "other-scheme": ("Basic {t}", False),
}
HEADER_SURFACES = [API_SURFACES[0], API_SURFACES[-1]]
FORM_SURFACES: list[Surface] = [ExchangeSubjectSurface(), SecretSubjectSurface(), SecretAssertionSurface()]


def _send_header(env: Env, surface: ApiSurface, header: str) -> Outcome:
    path, body = surface.request(env)
    return _outcome(env.call(surface.method, path, body=body, headers={"Authorization": header}))


def _spelling_cases() -> list[Any]:
    """(surface, how a spelled token is sent, spelling, accepted): headers get "Bearer " + the token."""
    header_spellings = {**{k: ("Bearer " + v, ok) for k, (v, ok) in TOKEN_SPELLINGS.items()}, **HEADER_SPELLINGS}
    cases = [pytest.param(s, lambda e, h, s=s: _send_header(e, s, h), *header_spellings[k], id=f"{s.name}-{k}")
             for s in HEADER_SURFACES for k in header_spellings]
    return cases + [pytest.param(s, s.send, *TOKEN_SPELLINGS[k], id=f"{s.name}-{k}")
                    for s in FORM_SURFACES for k in TOKEN_SPELLINGS]


@pytest.mark.parametrize("surface, send, spelling, accepted", _spelling_cases())
def test_every_surface_reads_the_token_alike(env, surface, send, spelling, accepted):
    outcome = send(env, spelling.format(t=surface.recipe(env).token()))
    if accepted:
        surface.assert_accepted(outcome)
    else:
        surface.assert_refused(outcome, "bearer-syntax")


def _admin(env: Env) -> dict[str, str]:
    return {"Authorization": "Bearer " + env.issuer.token("root", realm_access={"roles": ["user", "admin"]})}


def _set_enabled(env: Env, user_id: str, enabled: bool) -> None:
    response = env.call("PUT", f"/api/users/{user_id}/enabled", body=json.dumps(enabled), content_type="text/plain",
                        headers=_admin(env))
    assert response.status_code == 204, response.body


@pytest.fixture(scope="module")
def hub_idp_at_the_secret_server(env):
    """The hub's trusted issuer registered with the secret server too: its users have hub accounts."""
    response = env.call("PUT", "/secret-server/admin/idps", headers=_admin(env), body={
        "issuer": env.issuer.issuer, "audience": SECRET_AUDIENCE, "jwks": env.issuer.jwks(), "algorithms": ["ES256"]})
    assert response.status_code in (200, 201), response.body
    return env.issuer


def _every_surface(env: Env, username: str) -> dict[str, Outcome]:
    token = env.issuer.token(username)
    secret_subject = env.issuer.token(username, aud=SECRET_AUDIENCE)
    return {
        "api": _outcome(env.call("GET", "/api/users/me", token=token)),
        "rendezvous": _outcome(env.call("POST", "/api/rendezvous", token=token, body={"data": "x"})),
        "oauth2-token": ExchangeSubjectSurface().send(env, token),
        "secret-server": _secret_exchange(env, _secret_form(env, secret_subject, env.assertion())),
    }


def test_a_disabled_account_gets_nothing_from_any_surface(env, hub_idp_at_the_secret_server):
    username = f"dora-{uuid.uuid4().hex[:8]}"
    before = _every_surface(env, username)
    assert [o.status for o in before.values()] == [200, 201, 200, 200], {k: o.body for k, o in before.items()}
    user_id = before["api"].body["id"]

    _set_enabled(env, user_id, False)
    after = _every_surface(env, username)
    assert after["api"].status == 403 and after["rendezvous"].status == 403, after
    _oauth_refusal(after["oauth2-token"], 400, "invalid_grant")
    _oauth_refusal(after["secret-server"], 400, "invalid_grant")
    assert "disabled" in after["secret-server"].body["error_description"]

    _set_enabled(env, user_id, True)
    assert [o.status for o in _every_surface(env, username).values()] == [200, 201, 200, 200]


def test_the_secret_server_asks_the_hub_only_about_issuers_it_trusts(env, hub_idp_at_the_secret_server):
    """The DevIdP is registered with the secret server, not trusted by the hub: its users have no hub account,
    so a disabled hub account that happens to carry the same subject does not concern them."""
    subject = attacks.segment_json(env.subject(), 1)["sub"]
    namesake = _outcome(env.call("GET", "/api/users/me", token=env.issuer.token("namesake", sub=subject)))
    assert namesake.status == 200, namesake.body
    _set_enabled(env, namesake.body["id"], False)
    try:
        assert _secret_exchange(env, _secret_form(env, env.subject(), env.assertion())).status == 200
    finally:
        _set_enabled(env, namesake.body["id"], True)


def test_a_token_that_drops_its_email_is_no_failure(env):
    """Found by the property test: the stored e-mail was SET to a value the update did not define (a 500)."""
    username = f"erin-{uuid.uuid4().hex[:8]}"
    assert env.call("GET", "/api/users/me", token=env.issuer.token(username)).status_code == 200
    response = env.call("GET", "/api/users/me", token=env.issuer.token(username, email=["not", "a", "string"]))
    assert response.status_code == 200, response.body
    assert "email" not in json.loads(response.body) or json.loads(response.body)["email"] is None


def test_a_token_without_the_user_role_gets_no_account(env):
    from chalicelib import deps
    username = f"nobody-{uuid.uuid4().hex[:8]}"
    token = env.issuer.token(username, realm_access={"roles": []})
    user_id = env.issuer.claims(username)["sub"]
    for method, path, body in (("GET", "/api/users/me", None), ("POST", "/api/rendezvous", {"data": "x"})):
        outcome = _outcome(env.call(method, path, token=token, body=body))
        assert outcome.status == 403, (path, outcome.body)
        assert 'error="insufficient_scope"' in outcome.headers["WWW-Authenticate"]
    assert deps.users().get(user_id) is None


def test_the_client_reads_no_jose_json_that_names_a_member_twice():
    """The web-of-trust signature (its header names whom it vouches for), the JWE readers and the
    local reading of an access token all refuse a duplicate name; the release token is a JWS surface above."""
    signer, vouched = crypto.UserKeys.create(), crypto.UserKeys.create()
    header = {"alg": "ES384", "typ": "JWT", "b64": True, "iss": "alice", "sub": "bob", "iat": int(time.time())}
    keys = {"ecdhPublicKey": vouched.encoded_ecdh_public_key, "ecdsaPublicKey": vouched.encoded_ecdsa_public_key}
    signing_key = ECKey.import_key(signer.ecdsa_private_key)
    genuine = attacks.sign_text(json.dumps(header), json.dumps(keys), signing_key, "ES384")
    assert crypto.verify_signature(genuine, signer.encoded_ecdsa_public_key)[0]["sub"] == "bob"
    for forged in (attacks.sign_text(attacks.with_decoy(header, "sub", "mallory"), json.dumps(keys), signing_key, "ES384"),
                   attacks.sign_text(json.dumps(header), attacks.with_decoy(keys, "ecdsaPublicKey", "x"), signing_key,
                                     "ES384")):
        with pytest.raises(InvalidFormat):
            crypto.verify_signature(forged, signer.encoded_ecdsa_public_key)

    nested = '{"iss":"a","realm_access":{"roles":["admin"],"roles":["user"]}}'
    from katta_client.auth import unverified_claims
    assert unverified_claims(f"{attacks.b64u_json({'alg': 'ES256'})}.{attacks.b64u(nested.encode())}.sig") == {}
    with pytest.raises(InvalidFormat):
        crypto.json_object(nested, "claims")


def test_the_server_reads_no_jose_json_that_names_a_member_twice():
    """Nested objects too; and a JWE body to a POP key (its header parsed before joserfc's)."""
    from chalicelib.crypto import jose
    with pytest.raises(ValueError, match="names the member 'roles' twice"):
        jose.json_object(b'{"realm_access":{"roles":["admin"],"roles":["user"]}}', "the claims")
    header = attacks.with_decoy({"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": "k"}, "enc", "A128CBC-HS256")
    with pytest.raises(ValueError, match="twice"):
        jose.jwe_protected_header(".".join([attacks.b64u(header.encode()), "", "aXY", "Y3Q", "dGFn"]))
    assert jose.decode_segment(attacks.b64u_json({"a": {"b": 1}, "c": [{"b": 2}, {"b": 3}]}), "x")["c"][1] == {"b": 3}


def test_the_server_reads_jose_json_as_utf8_only():
    """RFC 7515 §2: a header is BASE64URL(UTF8(JSON)). UTF-16 or a byte-order mark (both of which
    json.loads would guess its way through) is not JOSE JSON; the refusal names the part."""
    from chalicelib.crypto import jose
    for raw in ('{"alg":"ES256"}'.encode("utf-16"), b'\xef\xbb\xbf{"alg":"ES256"}', b'{"alg":"\xff"}'):
        with pytest.raises(ValueError, match="the header is not JSON"):
            jose.decode_segment(attacks.b64u(raw), "the header")
    assert jose.decode_segment(attacks.b64u('{"name":"Zoë"}'.encode()), "the header") == {"name": "Zoë"}
