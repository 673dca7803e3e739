"""Property tests: parsers turn any garbage into a KattaCryptoError, never another exception."""

from __future__ import annotations

import base64
import json
import os

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from katta_client.crypto import (
    HEADER_LEN,
    KattaCryptoError,
    UserKeys,
    UvfVault,
    VaultKeys,
    VaultMetadata,
    decrypt_bytes,
    decrypt_vault_metadata_with_member_key,
    encrypt_bytes,
    parse_general_header,
    verify_signature,
)
from katta_client.crypto import jwe, uvf_content, uvf_names

pytestmark = pytest.mark.slow  # a live stack, a subprocess or a long run: not in the fast lane

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

METADATA = VaultMetadata({7: os.urandom(32)}, 7, 7, os.urandom(32))
RECIPIENT = ec.generate_private_key(ec.SECP384R1())
USER = UserKeys.create()
VAULT_KEYS = VaultKeys.create()
VALID_DOCUMENT = json.loads(VAULT_KEYS.encrypt_metadata(VaultMetadata.create()))


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
header_keys = st.sampled_from(["alg", "enc", "zip", "crit", "p2c", "p2s", "epk", "kid", "apu", "apv", "jku",
                               "uvf.spec.version", "cty", "x"])
headers = st.dictionaries(header_keys, json_values | st.sampled_from(
    ["ECDH-ES", "ECDH-ES+A256KW", "PBES2-HS512+A256KW", "A256KW", "A256GCM", "DEF", 1_000_000, 2**31]), max_size=8)


def segment(data: bytes) -> str:
    return b64u(data)


compact_tokens = st.one_of(
    st.text(max_size=300),
    st.builds(lambda parts: ".".join(parts), st.lists(st.text(alphabet="AZaz09-_=.+/", max_size=40), max_size=7)),
    st.builds(lambda h, ek, iv, ct, tag: ".".join([segment(json.dumps(h).encode()), segment(ek), segment(iv),
                                                   segment(ct), segment(tag)]),
              headers, st.binary(max_size=60), st.binary(min_size=12, max_size=12) | st.binary(max_size=20),
              st.binary(max_size=80), st.binary(min_size=16, max_size=16) | st.binary(min_size=32, max_size=32)),
)


@SETTINGS
@given(compact_tokens)
def test_compact_jwe_parsers_raise_only_katta_errors(token):
    for call in (lambda: jwe.parse_compact_header(token),
                 lambda: jwe.decrypt_ecdh_es(token, RECIPIENT, ("ECDH-ES", "ECDH-ES+A256KW")),
                 lambda: jwe.decrypt_a256kw(token, bytes(32)),
                 lambda: USER.decrypt_access_token(token)):
        try:
            call()
        except KattaCryptoError:
            pass


@SETTINGS
@given(compact_tokens)
def test_pbes2_parser_never_derives_above_cap(token):
    # Any p2c that survives the checks is ≤ the cap; garbage never escapes as another type.
    try:
        header = jwe.parse_compact_header(token)
    except KattaCryptoError:
        return
    p2c = header.get("p2c")
    if isinstance(p2c, int) and not isinstance(p2c, bool) and p2c > 10_000:
        return  # do not spend CPU in a property test; the cap itself is tested in the safety tests
    try:
        jwe.decrypt_pbes2(token, "pw")
    except KattaCryptoError:
        pass


def _mutated_documents():
    members = st.sampled_from(["protected", "recipients", "iv", "ciphertext", "tag", "unprotected", "aad", "x"])
    return st.one_of(
        st.dictionaries(members, json_values, max_size=7),
        st.builds(lambda key, value: {**VALID_DOCUMENT, key: value}, members, json_values),
        st.builds(lambda header: {**VALID_DOCUMENT, "recipients": [
            {"header": header, "encrypted_key": VALID_DOCUMENT["recipients"][0]["encrypted_key"]}]}, headers),
        st.builds(lambda h: {**VALID_DOCUMENT, "protected": segment(json.dumps(h).encode())}, headers),
        st.text(max_size=200),
        st.binary(max_size=200),
    )


@SETTINGS
@given(_mutated_documents())
def test_vault_uvf_parser_raises_only_katta_errors(document):
    try:
        decrypt_vault_metadata_with_member_key(document, VAULT_KEYS.member_key)
    except KattaCryptoError:
        pass


@SETTINGS
@given(st.binary(max_size=200))
def test_uvf_general_header_parser(data):
    try:
        seed_id = parse_general_header(data)
    except KattaCryptoError:
        return
    assert data[:4] == b"uvf\x01" and seed_id == int.from_bytes(data[4:8], "big")


@SETTINGS
@given(st.binary(max_size=HEADER_LEN + 200), st.booleans())
def test_uvf_file_decryption_raises_only_katta_errors(data, with_valid_magic):
    if with_valid_magic:
        data = b"uvf\x01" + (7).to_bytes(4, "big") + data
    try:
        decrypt_bytes(METADATA, data)
    except KattaCryptoError:
        pass
    else:
        pytest.fail("random bytes must never authenticate")


@SETTINGS
@given(st.integers(min_value=0, max_value=len(encrypt_bytes(METADATA, b"x" * 100)) - 1), st.integers(1, 255))
def test_any_single_byte_change_is_detected(position, delta):
    data = bytearray(encrypt_bytes(METADATA, b"x" * 100))
    data[position] = (data[position] + delta) % 256
    with pytest.raises(KattaCryptoError):
        decrypt_bytes(METADATA, bytes(data))


@SETTINGS
@given(st.text(max_size=60), st.binary(min_size=1, max_size=40))
def test_name_round_trip_or_clear_error(name, dir_id):
    try:
        encrypted = uvf_names.encrypt_name(METADATA, name, dir_id)
    except KattaCryptoError:
        return
    assert uvf_names.decrypt_name(METADATA, encrypted, dir_id) == uvf_names.normalize_name(name)


@SETTINGS
@given(st.text(max_size=80))
def test_name_decryption_raises_only_katta_errors(text):
    try:
        uvf_names.decrypt_name(METADATA, text, b"dir")
    except KattaCryptoError:
        pass


@SETTINGS
@given(st.binary(max_size=3 * uvf_content.CLEARTEXT_CHUNK_LEN // 2))
def test_file_round_trip(plaintext):
    assert decrypt_bytes(METADATA, encrypt_bytes(METADATA, plaintext)) == plaintext


@SETTINGS
@given(st.text(max_size=200) | compact_tokens)
def test_signature_parser_raises_only_katta_errors(token):
    try:
        verify_signature(token, USER.encoded_ecdsa_public_key)
    except KattaCryptoError:
        pass


@SETTINGS
@given(json_values)
def test_vault_metadata_parser_raises_only_katta_errors(payload):
    try:
        UvfVault(payload if isinstance(payload, dict) else {"seeds": payload})
    except KattaCryptoError:
        pass
