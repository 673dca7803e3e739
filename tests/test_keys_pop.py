"""POP keys: publication, signing, decryption of client JWEs and their refusals, caching."""
from __future__ import annotations

import base64
import json

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from chalicelib import deps
from chalicelib.crypto.errors import InvalidJwe
from chalicelib.crypto.pop import USES
from tests.support.clock import FakeClock
from tests.support.kms import calls, kms_key  # noqa: F401 — fixtures
from tests.support.pop import encrypt_to, instance

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def pop(kms_key, clock):
    return instance(clock)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def active_public(pop, use):
    kid = pop.active(use).kid
    return next(k for k in pop.jwks()["keys"] if k["kid"] == kid)


def test_jwks_endpoints_publish_public_keys_with_kid_use_alg(client, kms_key):
    for path in ("/.well-known/jwks.json", "/pop"):
        response = client.http.get(path)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=3600"
        document = json.loads(response.body)
        assert {k["use"] for k in document["keys"]} == {"sig", "enc"}
        for key in document["keys"]:
            assert {"kid", "use", "alg", "kty"} <= set(key)
            assert not PRIVATE_MEMBERS & set(key)
    pop_document = json.loads(client.http.get("/pop").body)
    assert set(pop_document["active"]) == {"sig", "enc"}
    assert {k["alg"] for k in pop_document["keys"]} == {"ES256", "ECDH-ES+A256KW"}


def test_signed_jwt_verifies_against_the_published_keys(pop, clock):
    token = pop.sign_jwt({"sub": "alice", "exp": int(clock()) + 300}, {"typ": "vault+jwt"})
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"typ": "vault+jwt", "alg": "ES256", "kid": pop.active("sig").kid}
    verified = jwt.decode(token, KeySet.import_key_set(pop.jwks()), algorithms=["ES256"])
    assert verified.claims["sub"] == "alice"


@pytest.mark.parametrize("overrides", [{"alg": "none"}, {"kid": "other"}, {"jku": "https://evil"}, {"jwk": {}}])
def test_callers_cannot_choose_the_key_or_algorithm(pop, clock, overrides):
    with pytest.raises(ValueError, match="chosen by the key service"):
        pop.sign_jwt({"exp": int(clock()) + 60}, overrides)


@pytest.mark.parametrize("claims", [{}, {"exp": "soon"}, {"exp": True}, {"exp": 1_800_000_000 + 3601}])
def test_tokens_outliving_the_max_token_lifetime_are_refused(pop, claims):
    with pytest.raises(ValueError, match="max_token_lifetime_seconds"):
        pop.sign_jwt(claims)


@pytest.mark.parametrize(("signing", "encryption"), [("ES384", "RSA-OAEP-256"), ("ES512", "ECDH-ES+A256KW"),
                                                     ("RS256", "ECDH-ES+A256KW")])
def test_every_allowed_algorithm_signs_and_decrypts(kms_key, clock, signing, encryption):
    pop = instance(clock, pop_signing_alg=signing, pop_encryption_alg=encryption)
    token = pop.sign_jwt({"sub": "x", "exp": int(clock()) + 60})
    assert jwt.decode(token, KeySet.import_key_set(pop.jwks()), algorithms=[signing]).claims["sub"] == "x"
    enc = active_public(pop, "enc")
    assert enc["alg"] == encryption
    header, plaintext = pop.decrypt(encrypt_to(enc, b'{"a":1}'))
    assert plaintext == b'{"a":1}' and header["kid"] == enc["kid"]


def test_a_client_jwe_to_the_active_enc_key_decrypts(pop):
    enc = active_public(pop, "enc")
    assert pop.decrypt(encrypt_to(enc, b"secret", cty="json"))[1] == b"secret"


def _swap_header(compact: str, **changes) -> str:
    parts = compact.split(".")
    header = json.loads(base64.urlsafe_b64decode(parts[0] + "=="))
    header.update(changes)
    return ".".join([b64(json.dumps(header).encode()), *parts[1:]])


def test_client_jwes_are_refused_for_every_flaw(pop, clock):
    enc = active_public(pop, "enc")
    good = encrypt_to(enc, b"secret")
    parts = good.split(".")
    from joserfc.jwk import ECKey
    # Another key of the same shape, claiming our kid: the JWE was not for us.
    stranger = ECKey.generate_key("P-256", parameters={"kid": enc["kid"], "alg": enc["alg"]}).as_dict(private=False)
    tampered_tag = ".".join(parts[:4] + [b64(b"\x00" * 16)])
    tampered_body = ".".join(parts[:3] + [b64(b"x" * 12)] + parts[4:])
    off_curve = dict(json.loads(base64.urlsafe_b64decode(parts[0] + "=="))["epk"])
    off_curve["y"] = b64(b"\x01" * 32)
    cases = {
        "four parts": ".".join(parts[:4]),
        "header not JSON": ".".join([b64(b"nope")] + parts[1:]),
        "zip": _swap_header(good, zip="DEF"),
        "enc not allowed": _swap_header(good, enc="A128CBC-HS256"),
        "no kid": _swap_header(good, kid=None),
        "unknown kid": _swap_header(good, kid="unknown"),
        "alg not the key's": _swap_header(good, alg="RSA-OAEP-256"),
        "tampered tag": tampered_tag,
        "tampered ciphertext": tampered_body,
        "epk off the curve": _swap_header(good, epk=off_curve),
        "another key, our kid": encrypt_to(stranger, b"secret"),
    }
    for name, compact in cases.items():
        with pytest.raises(InvalidJwe) as refused:
            pop.decrypt(compact)
        assert refused.value.status == 400, name


def test_warm_signing_and_decryption_make_no_aws_call(pop, clock, calls):
    enc = active_public(pop, "enc")
    pop.sign_jwt({"exp": int(clock()) + 60})
    pop.decrypt(encrypt_to(enc, b"x"))
    calls.watch("kms").watch("dynamodb")
    for _ in range(3):
        pop.sign_jwt({"exp": int(clock()) + 60})
        pop.decrypt(encrypt_to(enc, b"x"))
        pop.jwks()
    assert calls.of("kms") == 0 and calls.of("dynamodb") == 0


def test_an_unknown_kid_reloads_the_ring_at_most_once_per_cooldown(kms_key, clock, calls):
    settings = {"pop_jwks_cache_seconds": 100, "key_ring_cache_seconds": 50,
                "key_ring_refresh_cooldown_seconds": 10, "pop_rotation_seconds": 1000}
    serving, rotating = instance(clock, **settings), instance(clock, **settings)
    serving.jwks()
    rotating.rotate("enc", force=True)  # a new, published (created) key this instance has not seen
    fresh = next(k for k in rotating.jwks()["keys"] if k["use"] == "enc" and k["kid"] not in
                 {p["kid"] for p in serving.jwks()["keys"]})
    calls.watch("dynamodb")
    assert serving.decrypt(encrypt_to(fresh, b"new key"))[1] == b"new key"
    queries = calls.calls["dynamodb.Query"]
    assert queries >= 1
    with pytest.raises(InvalidJwe, match="no published POP encryption key"):
        serving.decrypt(_swap_header(encrypt_to(fresh, b"x"), kid="still-unknown"))
    assert calls.calls["dynamodb.Query"] == queries  # within the cooldown: no reload
    clock.advance(10)
    with pytest.raises(InvalidJwe):
        serving.decrypt(_swap_header(encrypt_to(fresh, b"x"), kid="still-unknown"))
    assert calls.calls["dynamodb.Query"] == queries + 1


def test_private_keys_are_stored_sealed_only(pop):
    pop.jwks()
    for use in USES:
        for item in deps.table().query_all(f"POP#{use}", "KEY#"):
            public = json.loads(item["public_jwk"])
            assert not PRIVATE_MEMBERS & set(public)
            assert bytes(item["sealed"])[:3] == b"KR\x01" and item["sealed_identity"] == f"pop:{use}:{item['kid']}"


def test_a_pop_key_moved_to_another_kid_does_not_open(pop, clock):
    from chalicelib.crypto.errors import TamperedRecord
    pop.jwks()
    sig = deps.table().query_all("POP#sig", "KEY#")
    sealed = bytes(next(iter(sig))["sealed"])
    with pytest.raises(TamperedRecord):
        pop._rings.open("pop", sealed, "pop:sig:another-kid")
