"""JSON messages inside the linking channel: schemas and refusals."""
from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from hypothesis import given, settings
from hypothesis import strategies as st

from katta_client.linking import (
    DeviceOffer,
    LoginDeclined,
    LoginFailure,
    LoginProtocol,
    LoginProtocolAccepted,
    LoginProtocols,
    LoginSuccess,
    ProtocolViolation,
    decode_message,
    encode_message,
)


def spki_b64(key) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


P384 = spki_b64(ec.generate_private_key(ec.SECP384R1()).public_key())


@pytest.mark.parametrize("message", [
    LoginProtocols(("device_authorization_grant",), "https://katta.example.com"),
    LoginProtocol("device_authorization_grant", "ABCDEFGH", "https://idp.example/link",
                  "https://idp.example/link?code=123456"),
    LoginProtocol("device_authorization_grant", "ABCDEFGH", "https://idp.example/link"),
    LoginProtocolAccepted(), LoginSuccess(), LoginDeclined(),
    LoginFailure("authorization_expired"), LoginFailure("device_already_exists"),
    LoginFailure("device_not_found"), LoginFailure("unexpected_message_received"),
    LoginFailure("unsupported_protocol"), LoginFailure("user_cancelled"),
    LoginFailure("katta.registration_failed"),
    DeviceOffer("device-1", P384, "Laptop (work)"),
    DeviceOffer("d.2_x-y", P384, "Telefon Jürgen", "MOBILE"),
])
def test_round_trip(message):
    encoded = encode_message(message)
    assert json.loads(encoded)["type"] == message.TYPE
    assert decode_message(encoded) == message


def test_wire_names_follow_msc4108():
    protocol = json.loads(encode_message(LoginProtocol("device_authorization_grant", "D", "https://u")))
    assert protocol == {"type": "m.login.protocol", "protocol": "device_authorization_grant",
                        "device_authorization_grant": {"verification_uri": "https://u"}, "device_id": "D"}
    offer = json.loads(encode_message(DeviceOffer("dev", P384, "n")))
    assert offer == {"type": "device_offer", "device_id": "dev", "device_public_key": P384,
                     "device_name": "n", "device_type": "DESKTOP"}


def test_unknown_fields_are_ignored_and_device_type_defaults():
    raw = json.dumps({"type": "device_offer", "device_id": "d", "device_public_key": P384,
                      "device_name": "n", "future": 1}).encode()
    assert decode_message(raw) == DeviceOffer("d", P384, "n", "DESKTOP")


@pytest.mark.parametrize("obj", [
    {"type": "device_offer", "device_id": "d", "device_public_key": spki_b64(
        ec.generate_private_key(ec.SECP256R1()).public_key()), "device_name": "n"},
    {"type": "device_offer", "device_id": "d", "device_public_key": spki_b64(
        x25519.X25519PrivateKey.generate().public_key()), "device_name": "n"},
    {"type": "device_offer", "device_id": "d", "device_public_key": "not base64!", "device_name": "n"},
    {"type": "device_offer", "device_id": "d", "device_public_key": base64.b64encode(b"junk").decode(),
     "device_name": "n"},
    {"type": "device_offer", "device_id": "d/..", "device_public_key": P384, "device_name": "n"},
    {"type": "device_offer", "device_id": "", "device_public_key": P384, "device_name": "n"},
    {"type": "device_offer", "device_id": "d", "device_public_key": P384, "device_name": "<script>"},
    {"type": "device_offer", "device_id": "d", "device_public_key": P384, "device_name": ""},
    {"type": "device_offer", "device_id": "d", "device_public_key": P384, "device_name": "x" * 256},
    {"type": "device_offer", "device_id": "d", "device_public_key": P384, "device_name": "n",
     "device_type": "TOASTER"},
    {"type": "device_offer", "device_id": 5, "device_public_key": P384, "device_name": "n"},
    {"type": "device_offer", "device_public_key": P384, "device_name": "n"},
    {"type": "m.login.failure", "reason": "because"},
    {"type": "m.login.failure"},
    {"type": "m.login.protocol", "protocol": "password", "device_id": "D",
     "device_authorization_grant": {"verification_uri": "https://u"}},
    {"type": "m.login.protocol", "protocol": "device_authorization_grant", "device_id": "D"},
    {"type": "m.login.protocols", "protocols": "device_authorization_grant", "base_url": "https://x"},
    {"type": "m.login.protocols", "protocols": [1], "base_url": "https://x"},
    {"type": "m.login.secrets"},
    {"type": 7},
    {},
])
def test_invalid_messages_are_protocol_violations(obj):
    with pytest.raises(ProtocolViolation):
        decode_message(json.dumps(obj).encode())


@pytest.mark.parametrize("raw", [b"", b"[]", b"\"m.login.success\"", b"{", b"\xff\xfe", b"null"])
def test_non_object_payloads_are_refused(raw):
    with pytest.raises(ProtocolViolation):
        decode_message(raw)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["type", "reason", "device_id", "device_name", "device_public_key",
                         "protocols", "base_url", "protocol", "x"]), children, max_size=5),
    max_leaves=10).map(lambda v: json.dumps(v).encode()))
def test_garbage_raises_only_protocol_violation(raw):
    try:
        decode_message(raw)
    except ProtocolViolation:
        pass
