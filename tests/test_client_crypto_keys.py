"""UserKeys, DeviceKeys and the account key."""

from __future__ import annotations

import hashlib
import re
import uuid

import pytest

from katta_client.crypto import (
    DecryptionFailed,
    DeviceKeys,
    InvalidFormat,
    InvalidKey,
    KeyMismatch,
    UserKeys,
    device_id_for_public_key,
    generate_account_key,
)
from katta_client.crypto import jwe
from katta_client.crypto._encoding import b64_decode

FAST = 1_000  # PBES2 iterations for round trips; the 1,000,000 path runs once (vector + header test)


@pytest.fixture(scope="module")
def user() -> UserKeys:
    return UserKeys.create()


@pytest.fixture(scope="module")
def device() -> DeviceKeys:
    return DeviceKeys.create()


def test_account_key_is_a_random_uuid():
    first, second = generate_account_key(), generate_account_key()
    assert first != second
    assert uuid.UUID(first).version == 4
    assert re.fullmatch(r"[0-9a-f-]{36}", first)


def test_public_keys_are_standard_base64_spki(user):
    for encoded in (user.encoded_ecdh_public_key, user.encoded_ecdsa_public_key):
        der = b64_decode(encoded)
        assert der[:2] == b"\x30\x76"  # SEQUENCE of a P-384 SPKI
        assert "-" not in encoded and "_" not in encoded
    assert user.encoded_ecdh_public_key != user.encoded_ecdsa_public_key


def test_account_key_jwe_header_matches_katta(user):
    token = user.encrypt_with_account_key(generate_account_key())  # default p2c: 1,000,000
    header = jwe.parse_compact_header(token)
    assert header["alg"] == "PBES2-HS512+A256KW"
    assert header["enc"] == "A256GCM"
    assert header["p2c"] == 1_000_000
    assert header["kid"] == "org.cryptomator.hub.setupCode"
    assert len(jwe.b64url_decode(header["p2s"])) == 16


def test_account_key_round_trip(user):
    account_key = generate_account_key()
    token = user.encrypt_with_account_key(account_key, iterations=FAST)
    payload = jwe.decrypt_pbes2(token, account_key)
    assert set(payload) == {"key", "ecdhPrivateKey", "ecdsaPrivateKey"}
    recovered = UserKeys.recover_with_account_key(token, account_key, user.encoded_ecdh_public_key,
                                                  user.encoded_ecdsa_public_key)
    assert recovered.encoded_ecdh_public_key == user.encoded_ecdh_public_key
    assert recovered.encoded_ecdsa_public_key == user.encoded_ecdsa_public_key
    assert recovered.ecdsa_key_generated is False
    # a pasted account key with surrounding whitespace still works (Hub trims it too)
    UserKeys.recover_with_account_key(token, f"  {account_key}\n", user.encoded_ecdh_public_key,
                                      user.encoded_ecdsa_public_key)


def test_wrong_account_key_refused(user):
    token = user.encrypt_with_account_key(generate_account_key(), iterations=FAST)
    with pytest.raises(DecryptionFailed):
        UserKeys.recover_with_account_key(token, generate_account_key(), user.encoded_ecdh_public_key,
                                          user.encoded_ecdsa_public_key)


def test_recovered_keys_must_match_public_keys(user):
    account_key = generate_account_key()
    token = user.encrypt_with_account_key(account_key, iterations=FAST)
    other = UserKeys.create()
    with pytest.raises(KeyMismatch):
        UserKeys.recover_with_account_key(token, account_key, other.encoded_ecdh_public_key,
                                          user.encoded_ecdsa_public_key)
    with pytest.raises(KeyMismatch):
        UserKeys.recover_with_account_key(token, account_key, user.encoded_ecdh_public_key,
                                          other.encoded_ecdsa_public_key)


def test_device_round_trip(user, device):
    token = user.encrypt_for_device(device.encoded_public_key)
    header = jwe.parse_compact_header(token)
    assert (header["alg"], header["enc"], header["epk"]["crv"]) == ("ECDH-ES", "A256GCM", "P-384")
    keys = UserKeys.decrypt_on_device(token, device, user.encoded_ecdh_public_key, user.encoded_ecdsa_public_key)
    assert keys.encoded_ecdsa_public_key == user.encoded_ecdsa_public_key


def test_device_jwe_for_another_device_refused(user, device):
    token = user.encrypt_for_device(device)
    with pytest.raises(DecryptionFailed):
        UserKeys.decrypt_on_device(token, DeviceKeys.create(), user.encoded_ecdh_public_key,
                                   user.encoded_ecdsa_public_key)


def test_device_jwe_checks_public_keys(user, device):
    token = user.encrypt_for_device(device)
    with pytest.raises(KeyMismatch):
        UserKeys.decrypt_on_device(token, device, UserKeys.create().encoded_ecdh_public_key,
                                   user.encoded_ecdsa_public_key)


def test_payload_without_ecdsa_key_but_with_ecdsa_public_key_refused(user, device):
    token = jwe.encrypt_ecdh_es({"key": user._payload()["key"]}, device.public_key)
    with pytest.raises(InvalidFormat):
        UserKeys.decrypt_on_device(token, device, user.encoded_ecdh_public_key, user.encoded_ecdsa_public_key)


def test_conflicting_legacy_key_refused(user, device):
    payload = user._payload()
    payload["key"] = UserKeys.create()._payload()["key"]
    token = jwe.encrypt_ecdh_es(payload, device.public_key)
    with pytest.raises(InvalidFormat):
        UserKeys.decrypt_on_device(token, device, user.encoded_ecdh_public_key, user.encoded_ecdsa_public_key)


def test_setup_code_round_trip(user):
    account_key = generate_account_key()
    token = user.encrypt_setup_code(account_key)
    assert jwe.parse_compact_header(token)["kid"] == "org.cryptomator.hub.userkey"
    assert user.decrypt_setup_code(token) == account_key
    with pytest.raises(DecryptionFailed):
        UserKeys.create().decrypt_setup_code(token)


def test_device_id_and_pkcs8_round_trip(device):
    spki = b64_decode(device.encoded_public_key)
    assert device.device_id == hashlib.sha256(spki).hexdigest().upper()
    assert re.fullmatch(r"[0-9A-F]{64}", device.device_id)
    assert device_id_for_public_key(device.encoded_public_key) == device.device_id
    assert DeviceKeys.from_pkcs8(device.to_pkcs8()).device_id == device.device_id
    assert DeviceKeys.from_pkcs8(device.to_pkcs8_b64()).device_id == device.device_id
    assert DeviceKeys.from_pem(device.to_pem(b"pw"), b"pw").device_id == device.device_id
    assert DeviceKeys.from_pem(device.to_pem()).device_id == device.device_id


def test_keys_refuse_other_curves():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    p256 = ec.generate_private_key(ec.SECP256R1())
    der = p256.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    with pytest.raises(InvalidKey):
        DeviceKeys.from_pkcs8(der)
    with pytest.raises(InvalidKey):
        device_id_for_public_key(p256.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(InvalidKey):
        UserKeys.from_pkcs8("bm90IGEga2V5", "bm90IGEga2V5")
    with pytest.raises(InvalidKey):
        DeviceKeys.from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")


def test_reprs_hide_key_material(user, device):
    assert "PRIVATE" not in repr(user) and "hidden" in repr(user)
    assert device.device_id in repr(device)
    assert device.to_pkcs8_b64() not in repr(device)
