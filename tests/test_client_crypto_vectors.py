"""Every vector of tests/reference/katta-vectors.json (Katta client library test suite)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from katta_client.crypto import (
    DecryptionFailed,
    UserKeys,
    VaultKeys,
    VaultMetadata,
    decrypt_vault_metadata_with_member_key,
    decrypt_vault_metadata_with_recovery_key,
    load_private_key,
    load_public_key,
    encode_public_key,
    recovery_key_id,
)
from katta_client.crypto import jwe
from katta_client.crypto.ec import encode_private_key, public_key_from_jwk


def _find_vectors() -> Path:
    override = os.environ.get("KATTA_VECTORS")
    return Path(override) if override else Path(__file__).resolve().parent / "reference" / "katta-vectors.json"


VECTORS = json.loads(_find_vectors().read_text())


def b64u(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _tag_len(compact: str) -> int:
    return len(b64u(compact.split(".")[4]))


def test_all_vectors_are_covered():
    assert set(VECTORS) - {"about"} == {
        "pbes2_account_key", "a256kw", "ecdh_es_to_device", "vault_uvf",
        "p384_key_encodings", "ecdh_es_a256kw_access_token",
    }


def test_pbes2_account_key_vector():
    # The one 1,000,000-iteration derivation of the suite.
    v = VECTORS["pbes2_account_key"]
    assert jwe.parse_compact_header(v["jwe"])["p2c"] == 1_000_000
    assert jwe.decrypt_pbes2(v["jwe"], v["password"]) == v["payload"]


def test_a256kw_vector():
    v = VECTORS["a256kw"]
    assert jwe.decrypt_a256kw(v["jwe"], b64u(v["jwk"]["k"])) == v["payload"]


def test_a256kw_vector_wrong_key_refused():
    v = VECTORS["a256kw"]
    with pytest.raises(DecryptionFailed):
        jwe.decrypt_a256kw(v["jwe"], bytes(32))


def test_ecdh_es_to_device_vector_payload():
    v = VECTORS["ecdh_es_to_device"]
    device_key = load_private_key(v["device_private_key_pkcs8_b64"])
    assert encode_public_key(device_key.public_key()) == v["device_public_key_spki_b64"]
    payload = jwe.decrypt_ecdh_es(v["jwe"], device_key)
    assert payload["key"] == v["payload_key"]


def test_ecdh_es_to_device_vector_with_user_keys():
    # The payload is the legacy (pre-ECDSA) shape {"key": ecdh PKCS#8}; its public key is the
    # user key of the access-token vector.
    v = VECTORS["ecdh_es_to_device"]
    user_public = VECTORS["ecdh_es_a256kw_access_token"]["user_public_key_spki_b64"]
    keys = UserKeys.decrypt_on_device(v["jwe"], v["device_private_key_pkcs8_b64"], user_public, None)
    assert keys.encoded_ecdh_public_key == user_public
    assert encode_private_key(keys.ecdh_private_key) != ""  # loaded
    assert keys.ecdsa_key_generated is True


def test_ecdh_es_to_device_vector_wrong_device_key_refused():
    v = VECTORS["ecdh_es_to_device"]
    other = load_private_key(VECTORS["p384_key_encodings"]["private_key_pkcs8_b64_short"])
    with pytest.raises(DecryptionFailed):
        jwe.decrypt_ecdh_es(v["jwe"], other)


def test_access_token_vector_has_32_byte_tag_and_decrypts():
    v = VECTORS["ecdh_es_a256kw_access_token"]
    assert _tag_len(v["jwe"]) == 32  # the documented quirk
    assert jwe.parse_compact_header(v["jwe"])["alg"] == "ECDH-ES+A256KW"
    user_key = load_private_key(v["user_private_key_pkcs8_b64"])
    assert encode_public_key(user_key.public_key()) == v["user_public_key_spki_b64"]
    payload = UserKeys(user_key, load_private_key(VECTORS["p384_key_encodings"]["private_key_pkcs8_b64_short"])) \
        .decrypt_access_token(v["jwe"])
    assert payload.member_key == base64.b64decode(v["payload"]["key"])
    assert payload.recovery_key is None


def test_access_token_vector_tampered_tag_half_refused():
    # The quirk is narrow: the first half of the 32-byte member is ciphertext and is authenticated.
    v = VECTORS["ecdh_es_a256kw_access_token"]
    parts = v["jwe"].split(".")
    tag = bytearray(b64u(parts[4]))
    tag[0] ^= 1
    parts[4] = base64.urlsafe_b64encode(bytes(tag)).rstrip(b"=").decode()
    with pytest.raises(DecryptionFailed):
        jwe.decrypt_ecdh_es(".".join(parts), load_private_key(v["user_private_key_pkcs8_b64"]),
                            ("ECDH-ES", "ECDH-ES+A256KW"))


def _vault_keys():
    v = VECTORS["vault_uvf"]
    member = next(k for k in v["jwks"]["keys"] if k["kty"] == "oct")
    recovery = next(k for k in v["jwks"]["keys"] if k["kty"] == "EC")
    public = public_key_from_jwk({k: recovery[k] for k in ("kty", "crv", "x", "y")})
    from cryptography.hazmat.primitives.asymmetric import ec
    private = ec.derive_private_key(int.from_bytes(b64u(recovery["d"]), "big"), ec.SECP384R1())
    assert encode_public_key(private.public_key()) == encode_public_key(public)
    return b64u(member["k"]), private, recovery["kid"]


def test_vault_uvf_vector_with_member_key():
    v = VECTORS["vault_uvf"]
    assert len(b64u(v["jwe_json"]["tag"])) == 32  # the documented quirk
    member_key, _, _ = _vault_keys()
    metadata = decrypt_vault_metadata_with_member_key(v["jwe_json"], member_key)
    assert metadata.to_payload() == v["payload_expected"]
    # also from the JSON text, as stored in S3 / returned by GET uvf/vault.uvf
    assert decrypt_vault_metadata_with_member_key(json.dumps(v["jwe_json"]), member_key).to_payload() \
        == v["payload_expected"]


def test_vault_uvf_vector_with_recovery_key():
    v = VECTORS["vault_uvf"]
    _, recovery_private, kid = _vault_keys()
    assert recovery_key_id(recovery_private.public_key()) == kid
    metadata = decrypt_vault_metadata_with_recovery_key(v["jwe_json"], recovery_private)
    assert metadata.to_payload() == v["payload_expected"]


def test_vault_uvf_vector_payload_structure():
    v = VECTORS["vault_uvf"]
    metadata = VaultMetadata.from_payload(v["payload_expected"])
    assert metadata.initial_seed_id == metadata.latest_seed_id == int.from_bytes(b64u("WOpxyg"), "big")
    assert metadata.automatic_access_grant == {"enabled": True, "trustThreshold": 1}
    assert metadata.to_payload() == v["payload_expected"]


def test_vault_uvf_vector_wrong_member_key_refused():
    with pytest.raises(DecryptionFailed):
        decrypt_vault_metadata_with_member_key(VECTORS["vault_uvf"]["jwe_json"], bytes(32))


def test_vault_uvf_vector_jwks_roundtrip():
    member_key, recovery_private, kid = _vault_keys()
    keys = VaultKeys(member_key, recovery_private.public_key(), recovery_private)
    assert keys.recovery_key_id == kid
    assert keys.jwks()["keys"][0]["kid"] == kid
    assert "d" not in keys.jwks()["keys"][0]


def test_p384_key_encodings_vector():
    v = VECTORS["p384_key_encodings"]
    short = load_private_key(v["private_key_pkcs8_b64_short"])
    long = load_private_key(v["private_key_pkcs8_b64_long"])
    assert short.private_numbers() == long.private_numbers()
    assert encode_public_key(short.public_key()) == v["public_key_spki_b64"]
    assert encode_public_key(long.public_key()) == v["public_key_spki_b64"]
    assert encode_public_key(load_public_key(v["public_key_spki_b64"])) == v["public_key_spki_b64"]
    # both shapes feed UserKeys.from_pkcs8
    keys = UserKeys.from_pkcs8(v["private_key_pkcs8_b64_short"], v["private_key_pkcs8_b64_long"])
    assert keys.encoded_ecdh_public_key == keys.encoded_ecdsa_public_key == v["public_key_spki_b64"]
