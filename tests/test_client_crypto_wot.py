"""Web-of-trust signatures (ES384 JWS over a user's public keys)."""

from __future__ import annotations

import base64
import json

import pytest

from katta_client.crypto import (
    InvalidFormat,
    SignatureInvalid,
    SignedKeys,
    UserKeys,
    compute_trust_level,
    fingerprint,
    sign_user_keys,
    verify_chain,
    verify_signature,
)


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def keys_of(user: UserKeys) -> SignedKeys:
    return SignedKeys(user.encoded_ecdh_public_key, user.encoded_ecdsa_public_key)


@pytest.fixture(scope="module")
def alice():
    return UserKeys.create()


@pytest.fixture(scope="module")
def bob():
    return UserKeys.create()


@pytest.fixture(scope="module")
def carol():
    return UserKeys.create()


def test_signature_format(alice, bob):
    signature = sign_user_keys(alice, "alice", "bob", keys_of(bob), iat=1_700_000_000)
    header_b64, payload_b64, sig_b64 = signature.split(".")
    header = json.loads(unb64u(header_b64))
    assert header == {"alg": "ES384", "typ": "JWT", "b64": True, "iss": "alice", "sub": "bob", "iat": 1_700_000_000}
    assert json.loads(unb64u(payload_b64)) == {"ecdhPublicKey": bob.encoded_ecdh_public_key,
                                               "ecdsaPublicKey": bob.encoded_ecdsa_public_key}
    assert len(unb64u(sig_b64)) == 96  # raw r || s for P-384
    verified_header, signed = verify_signature(signature, alice.encoded_ecdsa_public_key)
    assert signed == keys_of(bob) and verified_header["sub"] == "bob"


def test_chain_of_two(alice, bob, carol):
    chain = [sign_user_keys(alice, "alice", "bob", keys_of(bob)),
             sign_user_keys(bob, "bob", "carol", keys_of(carol))]
    assert verify_chain(chain, alice.encoded_ecdsa_public_key, "alice", "carol", keys_of(carol)) == 2
    trust = {"trustedUserId": "carol", "signatureChain": chain}
    assert compute_trust_level("alice", alice.encoded_ecdsa_public_key, "carol", carol.encoded_ecdh_public_key,
                               carol.encoded_ecdsa_public_key, trust) == 2
    assert compute_trust_level("alice", alice.encoded_ecdsa_public_key, "alice", None, None, None) == 0


def test_chain_refusals(alice, bob, carol):
    good = sign_user_keys(alice, "alice", "bob", keys_of(bob))
    with pytest.raises(SignatureInvalid):  # wrong signer key
        verify_chain([good], bob.encoded_ecdsa_public_key, "alice", "bob", keys_of(bob))
    with pytest.raises(SignatureInvalid):  # unexpected issuer
        verify_chain([good], alice.encoded_ecdsa_public_key, "mallory", "bob", keys_of(bob))
    with pytest.raises(SignatureInvalid):  # replayed for another subject
        verify_chain([good], alice.encoded_ecdsa_public_key, "alice", "carol", keys_of(bob))
    with pytest.raises(SignatureInvalid):  # keys changed since signing
        verify_chain([good], alice.encoded_ecdsa_public_key, "alice", "bob", keys_of(carol))
    with pytest.raises(SignatureInvalid):
        verify_chain([], alice.encoded_ecdsa_public_key, "alice", "bob", keys_of(bob))
    # chain link signed by someone other than the previous subject
    forged = [good, sign_user_keys(carol, "bob", "carol", keys_of(carol))]
    with pytest.raises(SignatureInvalid):
        verify_chain(forged, alice.encoded_ecdsa_public_key, "alice", "carol", keys_of(carol))
    assert compute_trust_level("alice", alice.encoded_ecdsa_public_key, "carol", carol.encoded_ecdh_public_key,
                               carol.encoded_ecdsa_public_key, {"trustedUserId": "carol", "signatureChain": forged}) == -1


def test_tampered_or_foreign_signatures(alice, bob):
    signature = sign_user_keys(alice, "alice", "bob", keys_of(bob))
    header, payload, sig = signature.split(".")
    raw = bytearray(unb64u(sig))
    raw[10] ^= 1
    with pytest.raises(SignatureInvalid):
        verify_signature(".".join([header, payload, base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()]),
                         alice.encoded_ecdsa_public_key)
    hs256 = base64.urlsafe_b64encode(b'{"alg":"HS256"}').rstrip(b"=").decode()
    with pytest.raises((InvalidFormat, SignatureInvalid)):
        verify_signature(".".join([hs256, payload, sig]), alice.encoded_ecdsa_public_key)
    none = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    with pytest.raises((InvalidFormat, SignatureInvalid)):
        verify_signature(".".join([none, payload, ""]), alice.encoded_ecdsa_public_key)
    for garbage in ["", "a.b", "a.b.c", 5, None]:
        with pytest.raises((InvalidFormat, SignatureInvalid)):
            verify_signature(garbage, alice.encoded_ecdsa_public_key)


def test_fingerprint(alice, bob):
    value = fingerprint(alice.encoded_ecdh_public_key, alice.encoded_ecdsa_public_key)
    assert len(value) == 64 and value == value.upper()
    assert value != fingerprint(bob.encoded_ecdh_public_key, bob.encoded_ecdsa_public_key)
