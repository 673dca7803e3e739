"""The resource-server helper's own checks of a release, and the example backend's key handling."""
from __future__ import annotations

import json
import os
import stat
import time

import pytest
from joserfc import jwe
from joserfc.jwk import ECKey

from chalicelib import deps
from examples import secret_backend
from katta_client.resource_server import InvalidRelease, ResourceServerKeys
from tests.support.kms import kms_key  # noqa: F401 — fixture
from tests.test_secret_fixtures import BASE_URL, world  # noqa: F401 — fixture


def _sealed(key, plaintext: bytes = bytes(32), **header) -> str:
    protected = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": key.kid, **header}
    return jwe.encrypt_compact(protected, plaintext, key, algorithms=["ECDH-ES+A256KW", "A256GCM", "DEF"])


def _release(backend, sealed: str, **claims) -> str:
    """A release token signed by the real POP key, with whatever we put in it."""
    now = int(time.time())
    body = {"iss": BASE_URL, "sub": "alice", "aud": backend.client_id, "iat": now, "exp": now + 60,
            "jti": "t", "secret": {backend.client_id: sealed}}
    body.update(claims)
    return deps.pop_keys().sign_jwt({k: v for k, v in body.items() if v is not None}, {"typ": "secret+jwt"})


def test_a_well_formed_release_opens(world):
    backend = world.register()
    assert backend.open_release(_release(backend, _sealed(backend.keys.encryption, b"k" * 32))).secret == b"k" * 32


@pytest.mark.parametrize("case, build, reason", [
    ("encrypted to another key", lambda b: _sealed(ECKey.generate_key("P-256", auto_kid=True)), "another key"),
    ("another key under our kid", lambda b: _sealed(ECKey.generate_key(
        "P-256", parameters={"kid": b.keys.encryption.kid})), "does not decrypt"),
    ("compressed", lambda b: _sealed(b.keys.encryption, zip="DEF"), "without zip"),
    ("not 256 bits", lambda b: _sealed(b.keys.encryption, bytes(16)), "not 32 bytes"),
    ("not a JWE", lambda b: "garbage", "not a compact JWE"),
])
def test_a_bad_secret_jwe_is_refused(world, case, build, reason):
    backend = world.register()
    with pytest.raises(InvalidRelease, match=reason):
        backend.open_release(_release(backend, build(backend)))


@pytest.mark.parametrize("claims, reason", [
    ({"iss": "https://elsewhere.test"}, "not issued by"),
    ({"aud": "another-backend"}, "not addressed"),
    ({"exp": int(time.time()) - 120}, "expired"),
    ({"secret": None}, "no secret for"),
])
def test_a_release_with_wrong_claims_is_refused(world, claims, reason):
    backend = world.register()
    with pytest.raises(InvalidRelease, match=reason):
        backend.open_release(_release(backend, _sealed(backend.keys.encryption), **claims))


def test_a_jwks_url_without_an_encryption_key_gets_no_release(world):
    backend = world.register("sign-only", jwks_uri="https://sign-only.test/jwks")
    world.fetched["https://sign-only.test/jwks"] = {"keys": [backend.keys.signing.as_dict(private=False)]}
    response = world.exchange(world.form(backend, world.user_token()))
    assert response.status_code == 401
    assert "no usable encryption key" in json.loads(response.body)["error_description"]


def test_the_example_creates_its_keys_private_and_prints_only_public_ones(tmp_path, capsys):
    path = tmp_path / "keys.json"
    assert secret_backend.main(["jwks", "--keys", str(path)]) == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    printed = json.loads(capsys.readouterr().out)
    assert {k["use"] for k in printed["keys"]} == {"sig", "enc"} and all("d" not in k for k in printed["keys"])
    again = secret_backend.load_or_create_keys(path)
    assert again.public_jwks() == printed == ResourceServerKeys.from_private_jwks(json.loads(path.read_text())).public_jwks()


def test_the_example_notes_open_only_with_their_users_secret():
    from cryptography.exceptions import InvalidTag

    alice, bob = os.urandom(32), os.urandom(32)
    blob = secret_backend.encrypt_note(alice, b"note")
    assert secret_backend.decrypt_note(alice, blob) == b"note"
    assert secret_backend.storage_id(alice) != secret_backend.storage_id(bob)
    with pytest.raises(InvalidTag):
        secret_backend.decrypt_note(bob, blob)
    with pytest.raises(InvalidTag):
        secret_backend.decrypt_note(alice, blob[:-1] + bytes([blob[-1] ^ 1]))
