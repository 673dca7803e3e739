"""Vault keys, uvf/jwks.json, vault.uvf and access tokens."""

from __future__ import annotations

import base64
import json

import pytest

from katta_client.crypto import (
    DecryptionFailed,
    InvalidFormat,
    InvalidKey,
    KeyMismatch,
    UserKeys,
    VaultKeys,
    VaultMetadata,
    decrypt_access_token,
    decrypt_vault_metadata_with_member_key,
    decrypt_vault_metadata_with_recovery_key,
    encrypt_access_token,
    jwk_thumbprint,
    recovery_public_key_from_jwks,
    vault_uvf_origin,
)
from katta_client.crypto import jwe


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture(scope="module")
def keys() -> VaultKeys:
    return VaultKeys.create()


@pytest.fixture(scope="module")
def metadata() -> VaultMetadata:
    return VaultMetadata.create(automatic_access_grant={"enabled": True, "maxWotDepth": 2},
                                storage={"provider": "aws-sts", "defaultPath": "katta-123", "region": "eu-west-1"})


def test_member_key_and_recovery_key(keys):
    assert len(keys.member_key) == 32
    assert keys.is_owner
    assert keys.recovery_key_id == "org.cryptomator.hub.recoverykey." + jwk_thumbprint(keys.recovery_public_key)


def test_jwks_holds_only_the_public_recovery_key(keys):
    jwks = json.loads(keys.jwks_json())
    (jwk,) = jwks["keys"]
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "alg"}
    assert jwk["crv"] == "P-384" and jwk["kid"] == keys.recovery_key_id
    assert recovery_public_key_from_jwks(jwks).public_numbers() == keys.recovery_public_key.public_numbers()


def test_jwks_kid_must_match_thumbprint(keys):
    jwks = keys.jwks()
    jwks["keys"][0]["kid"] = "org.cryptomator.hub.recoverykey.AAAA"
    with pytest.raises(InvalidFormat):
        recovery_public_key_from_jwks(jwks)
    with pytest.raises(InvalidFormat):
        recovery_public_key_from_jwks("not json")


def test_thumbprint_matches_rfc7638_example_shape(keys):
    # joserfc computes RFC 7638 thumbprints independently: both must agree.
    from joserfc.jwk import ECKey
    assert ECKey.import_key(keys.recovery_public_key).thumbprint() == jwk_thumbprint(keys.recovery_public_key)


def test_vault_uvf_structure(keys, metadata):
    origin = vault_uvf_origin("https://katta.example/api", "3f0c7c0a-7b8b-4b6e-9c8b-2d6f0f6c1a11")
    document = json.loads(keys.encrypt_metadata(metadata, origin=origin))
    assert set(document) == {"protected", "recipients", "iv", "ciphertext", "tag"}
    protected = json.loads(unb64u(document["protected"]))
    assert protected == {
        "cty": "json", "crit": ["uvf.spec.version"], "uvf.spec.version": 1,
        "cloud.katta.origin": origin, "jku": "jwks.json", "enc": "A256GCM",
    }
    member, recovery = document["recipients"]
    assert member["header"] == {"kid": "org.cryptomator.hub.memberkey", "alg": "A256KW"}
    assert recovery["header"]["kid"] == keys.recovery_key_id
    assert recovery["header"]["alg"] == "ECDH-ES+A256KW"
    assert recovery["header"]["epk"]["crv"] == "P-384"


def test_vault_uvf_round_trip_with_each_key(keys, metadata):
    document = keys.encrypt_metadata(metadata)
    for decrypted in (keys.decrypt_metadata(document),
                      decrypt_vault_metadata_with_member_key(document, keys.member_key),
                      decrypt_vault_metadata_with_recovery_key(document, keys.recovery_private_key)):
        assert decrypted.to_payload() == metadata.to_payload()
        assert decrypted.storage == metadata.storage


def test_vault_uvf_payload_members(metadata):
    payload = metadata.to_payload()
    assert list(payload)[:7] == ["fileFormat", "nameFormat", "seeds", "initialSeed", "latestSeed", "kdf", "kdfSalt"]
    assert payload["fileFormat"] == "AES-256-GCM-32k" and payload["nameFormat"] == "AES-SIV-512-B64URL"
    assert payload["kdf"] == "HKDF-SHA512"
    (seed_id, seed), = payload["seeds"].items()
    assert len(unb64u(seed_id)) == 4 and len(unb64u(seed)) == 32 and len(unb64u(payload["kdfSalt"])) == 32
    assert "=" not in seed_id + seed + payload["kdfSalt"]
    assert payload["org.cryptomator.automaticAccessGrant"] == {"enabled": True, "maxWotDepth": 2}
    assert payload["cloud.katta.storage"]["provider"] == "aws-sts"


def test_vault_uvf_wrong_keys_refused(keys, metadata):
    document = keys.encrypt_metadata(metadata)
    other = VaultKeys.create()
    with pytest.raises(DecryptionFailed):
        other.decrypt_metadata(document)
    with pytest.raises(DecryptionFailed):
        decrypt_vault_metadata_with_recovery_key(document, other.recovery_private_key)


def test_vault_uvf_tampering_refused(keys, metadata):
    document = json.loads(keys.encrypt_metadata(metadata))
    ciphertext = bytearray(unb64u(document["ciphertext"]))
    ciphertext[5] ^= 1
    tampered = {**document, "ciphertext": base64.urlsafe_b64encode(bytes(ciphertext)).rstrip(b"=").decode()}
    with pytest.raises(DecryptionFailed):
        keys.decrypt_metadata(tampered)
    swapped = {**document, "recipients": [document["recipients"][1], document["recipients"][0]]}
    assert keys.decrypt_metadata(swapped).to_payload() == metadata.to_payload()  # order is irrelevant
    no_member = {**document, "recipients": [document["recipients"][1]]}
    with pytest.raises(DecryptionFailed):
        keys.decrypt_metadata(no_member)


def test_vault_metadata_validation(metadata):
    payload = metadata.to_payload()
    for key, bad in [("fileFormat", "AES-256-GCM-64k"), ("nameFormat", "PLAIN"), ("kdf", "1STEP-HMAC-SHA512"),
                     ("initialSeed", "AAAAAA"), ("latestSeed", "AAA"), ("seeds", {}), ("kdfSalt", 5)]:
        with pytest.raises(InvalidFormat):
            VaultMetadata.from_payload({**payload, key: bad})
    with pytest.raises(InvalidFormat):
        VaultKeys.create().encrypt_metadata({**payload, "kdf": "nope"})


def test_padded_seed_encodings_accepted(metadata):
    # Katta's Java client writes padded base64url; the web client does not. Both must load.
    payload = metadata.to_payload()
    (seed_id, seed), = payload["seeds"].items()
    padded = {**payload, "seeds": {seed_id + "==": seed + "="}, "initialSeed": seed_id + "==",
              "latestSeed": seed_id + "==", "kdfSalt": payload["kdfSalt"] + "="}
    assert VaultMetadata.from_payload(padded).seeds == metadata.seeds


def test_access_tokens_member_and_owner(keys):
    member, owner = UserKeys.create(), UserKeys.create()
    member_token = keys.encrypt_for_user(member.encoded_ecdh_public_key)
    header = jwe.parse_compact_header(member_token)
    assert (header["alg"], header["enc"], header["kid"]) == ("ECDH-ES", "A256GCM", "org.cryptomator.hub.userkey")
    member_payload = member.decrypt_access_token(member_token)
    assert member_payload.member_key == keys.member_key and member_payload.recovery_key is None
    assert set(jwe.decrypt_ecdh_es(member_token, member.ecdh_private_key)) == {"key"}

    owner_payload = owner.decrypt_access_token(keys.encrypt_for_user(owner.encoded_ecdh_public_key, owner=True))
    assert owner_payload.recovery_key is not None
    assert owner_payload.recovery_key.private_numbers() == keys.recovery_private_key.private_numbers()
    rebuilt = VaultKeys.from_access_token(owner_payload, keys.jwks_json())
    assert rebuilt.is_owner and rebuilt.member_key == keys.member_key
    assert not VaultKeys.from_access_token(member_payload, keys.jwks()).is_owner


def test_access_token_with_ecdh_es_a256kw(keys):
    user = UserKeys.create()
    token = keys.encrypt_for_user(user.encoded_ecdh_public_key, alg="ECDH-ES+A256KW")
    assert jwe.parse_compact_header(token)["alg"] == "ECDH-ES+A256KW"
    assert user.decrypt_access_token(token).member_key == keys.member_key


def test_access_token_for_someone_else_refused(keys):
    token = keys.encrypt_for_user(UserKeys.create().encoded_ecdh_public_key)
    with pytest.raises(DecryptionFailed):
        UserKeys.create().decrypt_access_token(token)


def test_access_token_payload_checks():
    user = UserKeys.create()
    bad = jwe.encrypt_ecdh_es({"key": base64.b64encode(bytes(16)).decode()}, user.ecdh_public_key)
    with pytest.raises(InvalidFormat):
        user.decrypt_access_token(bad)
    with pytest.raises(InvalidFormat):
        encrypt_access_token(user.encoded_ecdh_public_key, bytes(31))
    token = encrypt_access_token(user.encoded_ecdh_public_key, bytes(32))
    assert decrypt_access_token(token, user.ecdh_private_key).member_key == bytes(32)


def test_owner_token_without_recovery_private_key_refused(keys):
    member_view = VaultKeys(keys.member_key, keys.recovery_public_key)
    with pytest.raises(InvalidKey):
        member_view.encrypt_for_user(UserKeys.create().encoded_ecdh_public_key, owner=True)


def test_recovery_private_key_must_match(keys):
    with pytest.raises(KeyMismatch):
        VaultKeys(keys.member_key, keys.recovery_public_key, VaultKeys.create().recovery_private_key)


def test_reprs_hide_keys(keys, metadata):
    assert base64.b64encode(keys.member_key).decode() not in repr(keys)
    assert "hidden" in repr(metadata)
