"""Refusals of the JOSE layer: p2c cap, zip, epk curve checks, crit, alg allow-list, tags."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from katta_client.crypto import (
    DecryptionFailed,
    InvalidFormat,
    InvalidKey,
    KattaCryptoError,
    UnsafeParameter,
    UserKeys,
    VaultKeys,
    VaultMetadata,
)
from katta_client.crypto import jwe


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def with_header(token: str, **changes) -> str:
    """Replace members of a compact JWE's protected header (``None`` deletes)."""
    parts = token.split(".")
    header = json.loads(unb64u(parts[0]))
    for key, value in changes.items():
        if value is None:
            header.pop(key, None)
        else:
            header[key] = value
    parts[0] = b64u(json.dumps(header).encode())
    return ".".join(parts)


@pytest.fixture(scope="module")
def pbes2_token() -> str:
    return jwe.encrypt_pbes2({"k": "v"}, "password", iterations=1_000)


@pytest.fixture(scope="module")
def recipient() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


@pytest.fixture(scope="module")
def ecdh_token(recipient) -> str:
    return jwe.encrypt_ecdh_es({"k": "v"}, recipient.public_key())


@pytest.fixture
def no_derivation(monkeypatch):
    """Fail the test if PBKDF2 is ever started."""
    def boom(*args, **kwargs):
        raise AssertionError("PBES2 key derivation must not run")
    monkeypatch.setattr(jwe._ALG_MODELS[jwe.ALG_PBES2], "compute_derived_key", boom)


def test_no_derivation_guard_bites(pbes2_token, no_derivation):
    # Sanity check of the guard used below: a valid token with the right password now fails.
    with pytest.raises(KattaCryptoError):
        jwe.decrypt_pbes2(pbes2_token, "password")


def test_pbes2_round_trip(pbes2_token):
    assert jwe.decrypt_pbes2(pbes2_token, "password") == {"k": "v"}
    with pytest.raises(DecryptionFailed):
        jwe.decrypt_pbes2(pbes2_token, "Password")


@pytest.mark.parametrize("p2c", [2**31, jwe.PBES2_MAX_ITERATIONS + 1, 10**18])
def test_huge_p2c_refused_fast_without_derivation(pbes2_token, no_derivation, p2c):
    # "fast" = refused before any PBKDF2 work: no_derivation fails the test if derivation starts.
    with pytest.raises(UnsafeParameter):
        jwe.decrypt_pbes2(with_header(pbes2_token, p2c=p2c), "password")


@pytest.mark.parametrize("p2c", [0, 999, -1])
def test_tiny_p2c_refused(pbes2_token, no_derivation, p2c):
    with pytest.raises(UnsafeParameter):
        jwe.decrypt_pbes2(with_header(pbes2_token, p2c=p2c), "password")


@pytest.mark.parametrize("p2c", [True, "1000000", 1e6, None])
def test_non_integer_p2c_refused(pbes2_token, no_derivation, p2c):
    with pytest.raises(InvalidFormat):
        jwe.decrypt_pbes2(with_header(pbes2_token, p2c=p2c) if p2c is not None else with_header(pbes2_token, p2c=None),
                          "password")


def test_p2c_cap_on_encrypt():
    with pytest.raises(UnsafeParameter):
        jwe.encrypt_pbes2({}, "pw", iterations=2**31)


def test_p2c_between_katta_and_cap_accepted(monkeypatch):
    # 1,000,000 (Katta) ≤ p2c ≤ 10,000,000 is accepted: check the policy without deriving.
    assert jwe._check_p2c(1_000_000) == 1_000_000
    assert jwe._check_p2c(jwe.PBES2_MAX_ITERATIONS) == jwe.PBES2_MAX_ITERATIONS


def test_zip_refused(pbes2_token, ecdh_token, recipient, no_derivation):
    with pytest.raises(UnsafeParameter, match="zip"):
        jwe.decrypt_pbes2(with_header(pbes2_token, zip="DEF"), "password")
    with pytest.raises(UnsafeParameter, match="zip"):
        jwe.decrypt_ecdh_es(with_header(ecdh_token, zip="DEF"), recipient)


def test_zip_refused_in_vault_uvf():
    keys, metadata = VaultKeys.create(), VaultMetadata.create()
    document = json.loads(keys.encrypt_metadata(metadata))
    document["recipients"][0]["header"]["zip"] = "DEF"
    with pytest.raises(UnsafeParameter, match="zip"):
        keys.decrypt_metadata(document)


def _off_curve(jwk: dict) -> dict:
    y = bytearray(unb64u(jwk["y"]))
    y[-1] ^= 1
    return {**jwk, "y": b64u(bytes(y))}


def test_off_curve_epk_refused(ecdh_token, recipient):
    header = json.loads(unb64u(ecdh_token.split(".")[0]))
    with pytest.raises(InvalidKey, match="not a valid point on P-384"):
        jwe.decrypt_ecdh_es(with_header(ecdh_token, epk=_off_curve(header["epk"])), recipient)


def test_wrong_curve_epk_refused(ecdh_token, recipient):
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    epk = {"kty": "EC", "crv": "P-256", "x": b64u(p256.x.to_bytes(32, "big")), "y": b64u(p256.y.to_bytes(32, "big"))}
    with pytest.raises(InvalidKey, match="P-384"):
        jwe.decrypt_ecdh_es(with_header(ecdh_token, epk=epk), recipient)
    # a P-256 point dressed up as P-384
    with pytest.raises(InvalidKey):
        jwe.decrypt_ecdh_es(with_header(ecdh_token, epk={**epk, "crv": "P-384"}), recipient)


@pytest.mark.parametrize("epk", [None, "abc", {"kty": "OKP", "crv": "X25519", "x": "AAAA"}, [1, 2]])
def test_malformed_epk_refused(ecdh_token, recipient, epk):
    with pytest.raises((InvalidKey, InvalidFormat)):
        jwe.decrypt_ecdh_es(with_header(ecdh_token, epk=epk), recipient)


def test_epk_with_private_part_refused(ecdh_token, recipient):
    header = json.loads(unb64u(ecdh_token.split(".")[0]))
    with pytest.raises(InvalidKey):
        jwe.decrypt_ecdh_es(with_header(ecdh_token, epk={**header["epk"], "d": b64u(bytes(48))}), recipient)


def test_off_curve_epk_refused_in_vault_uvf():
    keys, metadata = VaultKeys.create(), VaultMetadata.create()
    document = json.loads(keys.encrypt_metadata(metadata))
    recovery = document["recipients"][1]["header"]
    recovery["epk"] = _off_curve(recovery["epk"])
    with pytest.raises(InvalidKey):
        from katta_client.crypto import decrypt_vault_metadata_with_recovery_key
        decrypt_vault_metadata_with_recovery_key(document, keys.recovery_private_key)


def test_webcrypto_epk_extras_accepted(ecdh_token, recipient):
    header = json.loads(unb64u(ecdh_token.split(".")[0]))
    token = with_header(ecdh_token, epk={"key_ops": [], "ext": True, **header["epk"]})
    # the header changed, so the tag fails, but the epk itself passed the checks
    with pytest.raises(DecryptionFailed):
        jwe.decrypt_ecdh_es(token, recipient)


def test_alg_allow_list(pbes2_token, ecdh_token, recipient):
    with pytest.raises(UnsafeParameter):
        jwe.decrypt_ecdh_es(pbes2_token, recipient)
    with pytest.raises(UnsafeParameter):
        jwe.decrypt_pbes2(ecdh_token, "password")
    with pytest.raises(UnsafeParameter):
        jwe.decrypt_ecdh_es(with_header(ecdh_token, alg="dir"), recipient)
    with pytest.raises(UnsafeParameter):
        jwe.decrypt_ecdh_es(with_header(ecdh_token, enc="A128CBC-HS256"), recipient)
    token = jwe.encrypt_ecdh_es({"k": 1}, recipient.public_key(), alg="ECDH-ES+A256KW")
    with pytest.raises(UnsafeParameter):  # device JWEs are ECDH-ES only
        jwe.decrypt_ecdh_es(token, recipient)
    assert jwe.decrypt_ecdh_es(token, recipient, ("ECDH-ES", "ECDH-ES+A256KW")) == {"k": 1}


def test_unknown_crit_refused(ecdh_token, recipient):
    with pytest.raises(UnsafeParameter, match="critical"):
        jwe.decrypt_ecdh_es(with_header(ecdh_token, crit=["exp"], exp=1), recipient)
    with pytest.raises(InvalidFormat):
        jwe.decrypt_ecdh_es(with_header(ecdh_token, crit=[]), recipient)


def _reprotect(document: dict, **changes) -> dict:
    protected = json.loads(unb64u(document["protected"]))
    for key, value in changes.items():
        if value is None:
            protected.pop(key, None)
        else:
            protected[key] = value
    return {**document, "protected": b64u(json.dumps(protected, separators=(",", ":")).encode())}


def test_vault_uvf_crit_handling():
    keys, metadata = VaultKeys.create(), VaultMetadata.create()
    document = json.loads(keys.encrypt_metadata(metadata))
    assert json.loads(unb64u(document["protected"]))["crit"] == ["uvf.spec.version"]
    with pytest.raises(UnsafeParameter, match="critical"):
        keys.decrypt_metadata(_reprotect(document, crit=["uvf.spec.version", "x.unknown"], **{"x.unknown": 1}))
    with pytest.raises(InvalidFormat):  # listed as critical but absent
        keys.decrypt_metadata(_reprotect(document, **{"uvf.spec.version": None}))
    with pytest.raises(InvalidFormat):  # version we do not speak
        keys.decrypt_metadata(_reprotect(document, **{"uvf.spec.version": 2}))
    unprotected_crit = json.loads(json.dumps(document))
    unprotected_crit["recipients"][0]["header"]["crit"] = ["uvf.spec.version"]
    with pytest.raises(InvalidFormat):
        keys.decrypt_metadata(unprotected_crit)
    # a changed protected header no longer authenticates
    with pytest.raises(DecryptionFailed):
        keys.decrypt_metadata(_reprotect(document, cty="text"))


@pytest.mark.parametrize("tag_len", [0, 4, 12, 15, 17, 31, 33, 48])
def test_only_16_or_the_documented_32_byte_tags(ecdh_token, recipient, tag_len):
    parts = ecdh_token.split(".")
    parts[4] = b64u(bytes(tag_len))
    with pytest.raises(InvalidFormat):
        jwe.decrypt_ecdh_es(".".join(parts), recipient)


def test_iv_must_be_12_bytes(ecdh_token, recipient):
    parts = ecdh_token.split(".")
    parts[2] = b64u(bytes(16))
    with pytest.raises(InvalidFormat):
        jwe.decrypt_ecdh_es(".".join(parts), recipient)


def test_writers_emit_16_byte_tags(recipient):
    token = jwe.encrypt_ecdh_es({"a": 1}, recipient.public_key(), alg="ECDH-ES+A256KW")
    assert len(unb64u(token.split(".")[4])) == 16
    document = json.loads(VaultKeys.create().encrypt_metadata(VaultMetadata.create()))
    assert len(unb64u(document["tag"])) == 16


def test_flipped_ciphertext_byte_refused(ecdh_token, recipient):
    parts = ecdh_token.split(".")
    ciphertext = bytearray(unb64u(parts[3]))
    ciphertext[0] ^= 0x80
    parts[3] = b64u(bytes(ciphertext))
    with pytest.raises(DecryptionFailed):
        jwe.decrypt_ecdh_es(".".join(parts), recipient)


def test_duplicate_header_members_refused(ecdh_token, recipient):
    header = unb64u(ecdh_token.split(".")[0]).decode()
    duplicated = header[:-1] + ',"alg":"dir"}'
    token = ".".join([b64u(duplicated.encode()), *ecdh_token.split(".")[1:]])
    with pytest.raises(InvalidFormat):
        jwe.decrypt_ecdh_es(token, recipient)


def test_oversized_token_refused(recipient):
    with pytest.raises(InvalidFormat):
        jwe.decrypt_ecdh_es("a" * (jwe.MAX_JWE_LENGTH + 1), recipient)


def test_error_messages_carry_no_key_material(recipient):
    user = UserKeys.create()
    account_key = "correct-horse-battery-staple"
    token = user.encrypt_with_account_key(account_key, iterations=1_000)
    with pytest.raises(KattaCryptoError) as info:
        UserKeys.recover_with_account_key(token, "wrong-" + account_key, user.encoded_ecdh_public_key,
                                          user.encoded_ecdsa_public_key)
    message = str(info.value)
    assert account_key not in message and "wrong-" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
