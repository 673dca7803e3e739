"""Our SDK opens what the real writers write: Cryptomator Hub 1.5's web client and Katta's Java client.

Each writer is rebuilt here with ``cryptography`` alone (not through our SDK or joserfc), following
its source step by step: the same header members, algorithms, key derivation and serialization.

* Hub's web client (``frontend/src/common/jwe.ts``): every ECDH JWE is ``ECDH-ES+A256KW`` with the
  ephemeral key as WebCrypto exports it (``ext``, ``key_ops``) and empty ``apu``/``apv``; a compact
  JWE's protected header is ``{enc, kid, alg, epk, apu, apv}`` (``{enc, kid, alg, p2c, p2s}`` for
  PBES2); ``vault.uvf`` is the general JSON serialization with the protected header
  ``{origin, jku, enc}`` — no ``crit``, no ``uvf.spec.version``, no ``cty`` — and each recipient
  header keeping only what the protected header does not hold.
* Katta's Java client (Nimbus): compact ``ECDH-ES``; ``vault.uvf`` protected header
  ``{enc, cloud.katta.origin, jku, cty, crit: [uvf.spec.version], uvf.spec.version: 1}``.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from katta_client.crypto import (
    DecryptionFailed,
    InvalidFormat,
    UnsafeParameter,
    UserKeys,
    VaultKeys,
    VaultMetadata,
    decrypt_vault_metadata_with_recovery_key,
)
from katta_client.crypto.ec import encode_private_key

ORIGIN = "https://hub.example/api/vaults/3f0c7c0a-7b8b-4b6e-9c8b-2d6f0f6c1a11/uvf/vault.uvf"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def compact_json(value: Any) -> bytes:
    """``JSON.stringify`` / Nimbus output: no whitespace, members in insertion order."""
    return json.dumps(value, separators=(",", ":")).encode()


def webcrypto_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    """``crypto.subtle.exportKey('jwk', …)`` of an ephemeral ECDH public key (browsers sort members)."""
    numbers = public_key.public_numbers()
    return {"crv": "P-384", "ext": True, "key_ops": [], "kty": "EC",
            "x": b64u(numbers.x.to_bytes(48, "big")), "y": b64u(numbers.y.to_bytes(48, "big"))}


def nimbus_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    numbers = public_key.public_numbers()
    return {"kty": "EC", "crv": "P-384",
            "x": b64u(numbers.x.to_bytes(48, "big")), "y": b64u(numbers.y.to_bytes(48, "big"))}


def concat_kdf(z: bytes, algorithm_id: str, key_len: int, apu: bytes = b"", apv: bytes = b"") -> bytes:
    """RFC 7518 §4.6.2 as jwe.ts ``ECDH_ES.deriveRawKey`` builds OtherInfo."""
    def prefixed(data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + data
    other_info = prefixed(algorithm_id.encode()) + prefixed(apu) + prefixed(apv) + (key_len * 8).to_bytes(4, "big")
    return ConcatKDFHash(hashes.SHA256(), key_len, other_info).derive(z)


def seal(protected_b64: str, cek: bytes, payload: dict[str, Any]) -> dict[str, str]:
    """AES-256-GCM of the JSON payload, AAD = the encoded protected header, 16-byte tag."""
    iv = os.urandom(12)
    sealed = AESGCM(cek).encrypt(iv, compact_json(payload), protected_b64.encode("ascii"))
    return {"iv": b64u(iv), "ciphertext": b64u(sealed[:-16]), "tag": b64u(sealed[-16:])}


def ecdh_kw_recipient(recipient: ec.EllipticCurvePublicKey, cek: bytes, jwk_style=webcrypto_jwk,
                      with_apu_apv: bool = True) -> tuple[dict[str, Any], bytes]:
    """(header members, encrypted CEK) for ``ECDH-ES+A256KW``."""
    ephemeral = ec.generate_private_key(ec.SECP384R1())
    kek = concat_kdf(ephemeral.exchange(ec.ECDH(), recipient), "ECDH-ES+A256KW", 32)
    header: dict[str, Any] = {"alg": "ECDH-ES+A256KW", "epk": jwk_style(ephemeral.public_key())}
    if with_apu_apv:
        header.update(apu="", apv="")
    return header, aes_key_wrap(kek, cek)


def hub_compact_ecdh(payload: dict[str, Any], recipient: ec.EllipticCurvePublicKey, kid: str) -> str:
    """jwe.ts ``JWE.build(payload).encrypt(Recipient.ecdhEs(kid, key)).compactSerialization()``."""
    cek = os.urandom(32)
    members, encrypted_key = ecdh_kw_recipient(recipient, cek)
    header = {"enc": "A256GCM", "kid": kid, "alg": members["alg"], "epk": members["epk"], "apu": "", "apv": ""}
    protected = b64u(compact_json(header))
    body = seal(protected, cek, payload)
    return ".".join([protected, b64u(encrypted_key), body["iv"], body["ciphertext"], body["tag"]])


def hub_compact_pbes2(payload: dict[str, Any], password: str, kid: str, p2c: int) -> str:
    """jwe.ts ``Recipient.pbes2``: PBKDF2-SHA512 over ``alg || 0x00 || salt``, A256KW."""
    cek, salt = os.urandom(32), os.urandom(16)
    kek = PBKDF2HMAC(hashes.SHA512(), 32, b"PBES2-HS512+A256KW\x00" + salt, p2c).derive(password.encode())
    header = {"enc": "A256GCM", "kid": kid, "alg": "PBES2-HS512+A256KW", "p2c": p2c, "p2s": b64u(salt)}
    protected = b64u(compact_json(header))
    body = seal(protected, cek, payload)
    return ".".join([protected, b64u(aes_key_wrap(kek, cek)), body["iv"], body["ciphertext"], body["tag"]])


def nimbus_compact_ecdh_es(payload: dict[str, Any], recipient: ec.EllipticCurvePublicKey, kid: str) -> str:
    """Katta's Java client (``JWE.ecdhEsEncrypt``): direct key agreement, no encrypted key."""
    ephemeral = ec.generate_private_key(ec.SECP384R1())
    header = {"epk": nimbus_jwk(ephemeral.public_key()), "kid": kid, "enc": "A256GCM", "alg": "ECDH-ES"}
    cek = concat_kdf(ephemeral.exchange(ec.ECDH(), recipient), "A256GCM", 32)
    protected = b64u(compact_json(header))
    body = seal(protected, cek, payload)
    return ".".join([protected, "", body["iv"], body["ciphertext"], body["tag"]])


def vault_uvf(protected_header: dict[str, Any], payload: dict[str, Any], keys: VaultKeys,
              jwk_style=webcrypto_jwk, with_apu_apv: bool = True) -> str:
    """General JSON serialization with the member key (A256KW) and recovery key recipients."""
    cek = os.urandom(32)
    ecdh_members, ecdh_key = ecdh_kw_recipient(keys.recovery_public_key, cek, jwk_style, with_apu_apv)
    recipients = [
        {"header": {"kid": "org.cryptomator.hub.memberkey", "alg": "A256KW"},
         "encrypted_key": b64u(aes_key_wrap(keys.member_key, cek))},
        {"header": {"kid": keys.recovery_key_id, **ecdh_members}, "encrypted_key": b64u(ecdh_key)},
    ]
    protected = b64u(compact_json(protected_header))
    body = seal(protected, cek, payload)
    return json.dumps({"protected": protected, "recipients": recipients, **body})


HUB_HEADER = {"origin": ORIGIN, "jku": "jwks.json", "enc": "A256GCM"}
KATTA_JAVA_HEADER = {"enc": "A256GCM", "cloud.katta.origin": ORIGIN, "jku": "jwks.json", "cty": "json",
                     "crit": ["uvf.spec.version"], "uvf.spec.version": 1}


def hub_payload(metadata: VaultMetadata) -> dict[str, Any]:
    """universalVaultFormat.ts ``VaultMetadata.payload()``: no ``cloud.katta.storage``."""
    payload = metadata.to_payload()
    payload.pop("cloud.katta.storage", None)
    return payload


@pytest.fixture(scope="module")
def keys() -> VaultKeys:
    return VaultKeys.create()


@pytest.fixture(scope="module")
def metadata() -> VaultMetadata:
    return VaultMetadata.create(automatic_access_grant={"enabled": True, "maxWotDepth": 2})


@pytest.fixture(scope="module")
def user() -> UserKeys:
    return UserKeys.create()


# -- vault.uvf --------------------------------------------------------------------------------


@pytest.mark.parametrize("writer", ["hub-web", "katta-java"])
def test_vault_uvf_of_each_writer_opens_with_member_and_recovery_key(keys, metadata, writer):
    if writer == "hub-web":
        expected = hub_payload(metadata)
        document = vault_uvf(HUB_HEADER, expected, keys)
    else:
        expected = metadata.to_payload()
        document = vault_uvf(KATTA_JAVA_HEADER, expected, keys, nimbus_jwk, with_apu_apv=False)
    assert keys.decrypt_metadata(document).to_payload() == expected
    assert decrypt_vault_metadata_with_recovery_key(document, keys.recovery_private_key).to_payload() == expected


def test_vault_uvf_unknown_non_critical_member_is_ignored(keys, metadata):
    # RFC 7516 §4: header parameters not understood are ignored unless listed in crit.
    document = vault_uvf({**HUB_HEADER, "x.future": {"a": 1}}, hub_payload(metadata), keys)
    assert keys.decrypt_metadata(document).seeds == metadata.seeds


def test_vault_uvf_crit_is_enforced_when_present(keys, metadata):
    unknown = vault_uvf({**HUB_HEADER, "crit": ["x.future"], "x.future": 1}, hub_payload(metadata), keys)
    with pytest.raises(UnsafeParameter, match="critical"):
        keys.decrypt_metadata(unknown)
    with pytest.raises(UnsafeParameter, match="critical"):
        decrypt_vault_metadata_with_recovery_key(unknown, keys.recovery_private_key)
    absent = vault_uvf({**HUB_HEADER, "crit": ["uvf.spec.version"]}, hub_payload(metadata), keys)
    with pytest.raises(InvalidFormat, match="missing"):
        keys.decrypt_metadata(absent)


@pytest.mark.parametrize("version", [2, 0, "1", True])
def test_vault_uvf_spec_version_other_than_1_is_refused(keys, metadata, version):
    for header in ({**HUB_HEADER, "uvf.spec.version": version},
                   {**KATTA_JAVA_HEADER, "uvf.spec.version": version}):
        with pytest.raises(InvalidFormat, match="uvf.spec.version"):
            keys.decrypt_metadata(vault_uvf(header, hub_payload(metadata), keys))


def test_vault_uvf_tampered_protected_header_is_refused(keys, metadata):
    document = json.loads(vault_uvf(HUB_HEADER, hub_payload(metadata), keys))
    forged = {**HUB_HEADER, "origin": "https://evil.example/api/vaults/x/uvf/vault.uvf"}
    document["protected"] = b64u(compact_json(forged))
    with pytest.raises(DecryptionFailed):
        keys.decrypt_metadata(document)
    with pytest.raises(DecryptionFailed):
        decrypt_vault_metadata_with_recovery_key(document, keys.recovery_private_key)


@pytest.mark.parametrize("alg", ["dir", "RSA-OAEP-256", "A128KW", "none"])
def test_vault_uvf_wrong_recipient_alg_is_refused(keys, metadata, alg):
    document = json.loads(vault_uvf(HUB_HEADER, hub_payload(metadata), keys))
    for recipient in document["recipients"]:
        recipient["header"]["alg"] = alg
    with pytest.raises(DecryptionFailed, match="no recipient"):
        keys.decrypt_metadata(document)
    with pytest.raises(DecryptionFailed, match="no recipient"):
        decrypt_vault_metadata_with_recovery_key(document, keys.recovery_private_key)


def test_vault_uvf_origin_must_be_a_string(keys, metadata):
    with pytest.raises(InvalidFormat):
        keys.decrypt_metadata(vault_uvf({**HUB_HEADER, "origin": 7}, hub_payload(metadata), keys))


# -- compact JWEs to user and device keys -----------------------------------------------------


def _user_key_payload(user: UserKeys) -> dict[str, str]:
    ecdh = encode_private_key(user.ecdh_private_key)
    return {"key": ecdh, "ecdhPrivateKey": ecdh, "ecdsaPrivateKey": encode_private_key(user.ecdsa_private_key)}


@pytest.mark.parametrize("writer", [hub_compact_ecdh, nimbus_compact_ecdh_es], ids=["hub-web", "katta-java"])
def test_setup_code_jwe_of_each_writer(user, writer):
    token = writer({"setupCode": "7c1f1b2e-6a1c-4c1e-9a55-3f4d5e6a7b8c"}, user.ecdh_public_key,
                   "org.cryptomator.hub.userkey")
    assert user.decrypt_setup_code(token) == "7c1f1b2e-6a1c-4c1e-9a55-3f4d5e6a7b8c"
    with pytest.raises(DecryptionFailed):
        UserKeys.create().decrypt_setup_code(token)


@pytest.mark.parametrize("writer", [hub_compact_ecdh, nimbus_compact_ecdh_es], ids=["hub-web", "katta-java"])
def test_device_jwe_of_each_writer(user, writer):
    device = ec.generate_private_key(ec.SECP384R1())
    token = writer(_user_key_payload(user), device.public_key(), "org.cryptomator.hub.deviceKey")
    opened = UserKeys.decrypt_on_device(token, device, user.encoded_ecdh_public_key, user.encoded_ecdsa_public_key)
    assert opened.encoded_ecdsa_public_key == user.encoded_ecdsa_public_key


@pytest.mark.parametrize("writer", [hub_compact_ecdh, nimbus_compact_ecdh_es], ids=["hub-web", "katta-java"])
def test_access_token_of_each_writer(user, keys, writer):
    payload = {"key": base64.b64encode(keys.member_key).decode(),
               "recoveryKey": encode_private_key(keys.recovery_private_key)}
    token = writer(payload, user.ecdh_public_key, "org.cryptomator.hub.userkey")
    opened = user.decrypt_access_token(token)
    assert opened.member_key == keys.member_key and opened.recovery_key is not None


def test_private_keys_pbes2_as_hub_writes_them(user):
    token = hub_compact_pbes2(_user_key_payload(user), "account-key", "org.cryptomator.hub.setupCode", 1000)
    recovered = UserKeys.recover_with_account_key(token, "account-key", user.encoded_ecdh_public_key,
                                                  user.encoded_ecdsa_public_key)
    assert recovered.encoded_ecdh_public_key == user.encoded_ecdh_public_key


def _with_header(token: str, **changes: Any) -> str:
    parts = token.split(".")
    header = json.loads(unb64u(parts[0]))
    header.update(changes)
    return ".".join([b64u(compact_json(header)), *parts[1:]])


@pytest.mark.parametrize("alg", ["dir", "none", "RSA-OAEP-256", "A256KW", "PBES2-HS512+A256KW"])
def test_user_and_device_jwes_refuse_other_algs(user, alg):
    device = ec.generate_private_key(ec.SECP384R1())
    setup = _with_header(hub_compact_ecdh({"setupCode": "x"}, user.ecdh_public_key, "k"), alg=alg)
    with pytest.raises(UnsafeParameter, match="not allowed"):
        user.decrypt_setup_code(setup)
    with pytest.raises(UnsafeParameter, match="not allowed"):
        user.decrypt_access_token(setup)
    device_token = _with_header(hub_compact_ecdh(_user_key_payload(user), device.public_key(), "k"), alg=alg)
    with pytest.raises(UnsafeParameter, match="not allowed"):
        UserKeys.decrypt_on_device(device_token, device, user.encoded_ecdh_public_key, user.encoded_ecdsa_public_key)


def test_compact_jwe_with_tampered_header_or_unknown_crit_is_refused(user):
    token = hub_compact_ecdh({"setupCode": "x"}, user.ecdh_public_key, "org.cryptomator.hub.userkey")
    with pytest.raises(DecryptionFailed):
        user.decrypt_setup_code(_with_header(token, kid="org.cryptomator.hub.other"))
    with pytest.raises(UnsafeParameter, match="critical"):
        user.decrypt_setup_code(_with_header(token, crit=["exp"], exp=1))


def test_unlock_path_of_a_hub_made_vault(user, keys, metadata):
    """What ``katta vault unlock`` does with Hub's access token, uvfKeySet and vault.uvf."""
    access_token = hub_compact_ecdh({"key": base64.b64encode(keys.member_key).decode()}, user.ecdh_public_key,
                                    "org.cryptomator.hub.userkey")
    public = nimbus_jwk(keys.recovery_public_key)
    # universalVaultFormat.ts RecoveryKey.serializePublicKey(): kid first, then the JWK members.
    uvf_key_set = json.dumps({"keys": [{"kid": keys.recovery_key_id, **public}]})
    document = vault_uvf(HUB_HEADER, hub_payload(metadata), keys)
    member = VaultKeys.from_access_token(user.decrypt_access_token(access_token), uvf_key_set)
    assert not member.is_owner
    assert member.decrypt_metadata(document).seeds == metadata.seeds
