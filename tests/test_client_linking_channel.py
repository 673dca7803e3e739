"""The HPKE secure channel: handshake, check code, AAD binding, sequence numbers, refusals."""
from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from katta_client.linking import (
    MAX_PAYLOAD_BYTES,
    MAX_PLAINTEXT,
    ChannelError,
    ChannelInitiator,
    ChannelResponder,
    ChannelTampered,
    CheckCodeMismatch,
    MessageTooLarge,
    ProtocolViolation,
    channel_aad,
)
from katta_client.linking.channel import INFO, SUITE, b64decode, b64encode

BASE = "https://katta.example.com"
RID = "e8da6355-550b-4a32-a193-1619d9830668"


def aad(token: str, base: str = BASE, rid: str = RID) -> bytes:
    return channel_aad(base, rid, token)


def handshake():
    g = ChannelResponder()
    s, initiate = ChannelInitiator.start(g.public_key, aad("t0"))
    g_channel, ok = g.accept(initiate, aad("t0"), aad("t1"))
    s_channel = s.finish(ok, aad("t1"))
    return g_channel, s_channel, initiate, ok


def test_handshake_establishes_one_channel_with_one_check_code():
    g, s, _, _ = handshake()
    assert g.check_code == s.check_code
    assert 10 <= int(s.check_code) <= 99 and len(s.check_code) == 2
    assert g.open(s.seal(b"to G", aad("t2")), aad("t2")) == b"to G"
    assert s.open(g.seal(b"to S", aad("t3")), aad("t3")) == b"to S"


def test_many_messages_in_both_directions_keep_their_own_counters():
    g, s, _, _ = handshake()
    for i in range(5):
        assert g.open(s.seal(b"a%d" % i, aad(f"s{i}")), aad(f"s{i}")) == b"a%d" % i
        assert g.open(s.seal(b"b%d" % i, aad(f"t{i}")), aad(f"t{i}")) == b"b%d" % i
        assert s.open(g.seal(b"c%d" % i, aad(f"u{i}")), aad(f"u{i}")) == b"c%d" % i


def test_check_codes_are_spread_over_10_to_99():
    codes = {handshake()[0].check_code for _ in range(120)}
    assert all(10 <= int(c) <= 99 for c in codes)
    assert len(codes) > 40


def test_check_code_comparison_accepts_only_the_code():
    g, s, _, _ = handshake()
    g.verify_check_code(s.check_code)
    g.verify_check_code(f" {s.check_code}\n")
    g.verify_check_code(int(s.check_code))
    wrong = f"{(int(s.check_code) - 10 + 1) % 90 + 10:02d}"
    for typed in (wrong, "", "1", s.check_code + "0", "ab", "٣٤"):
        with pytest.raises(CheckCodeMismatch):
            g.verify_check_code(typed)


def test_the_documented_test_vector():
    g_key = X25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
    s_key = X25519PrivateKey.from_private_bytes(bytes(range(33, 65)))
    g = ChannelResponder(g_key)
    assert g.public_key.hex() == "07a37cbc142093c8b755dc1b10e86cb426374ad16aa853ed0bdfc0b2b86d1c7c"
    assert aad("t0").hex() == (
        "0019" + BASE.encode().hex() + "0024" + RID.encode().hex() + "0002" + b"t0".hex())
    s, initiate = ChannelInitiator.start(g.public_key, aad("t0"), ephemeral_key=s_key)
    assert initiate == ("WGmv9FBUlzLLqu1eXfmzCm2jHLDldCutWtShp2jxpnsABjoRZAW7QEQZ8qnzs5iJztu6HROOR27n"
                        "HCSc+HxzeAIjOg")
    g_channel, ok = g.accept(initiate, aad("t0"), aad("t1"), response_nonce=bytes(range(65, 97)))
    assert ok == "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpbXF1eX2CV6HyUZBlZiozIk0kWISEERdgYctytCgpk5I3lBg"
    s_channel = s.finish(ok, aad("t1"))
    assert g_channel.check_code == s_channel.check_code == "72"
    success = b'{"type":"m.login.success"}'
    assert s_channel.seal(success, aad("t2")) == "B7Y/ookbG5f8MgwvsK3EvtdJF9xyE800oMRD5g3KAi02bssqaMqwKlBb"
    assert g_channel.seal(success, aad("t3")) == "OanK4ZiUWR3RZSHOL6yN6vAGlGiFafnfkHIoiP3TVY12+Hxru+4TT1bM"


def test_initiate_is_plain_rfc9180_base_mode():
    """Another HPKE implementation can open INITIATE with the suite, info and AAD alone."""
    g_key = X25519PrivateKey.generate()
    g = ChannelResponder(g_key)
    _, initiate = ChannelInitiator.start(g.public_key, aad("t0"))
    raw = b64decode(initiate)
    from pyhpke import KEMKey
    ctx = SUITE.create_recipient_context(raw[:32], KEMKey.from_pyca_cryptography_key(g_key), info=INFO)
    assert ctx.open(raw[32:], aad("t0")) == b"KATTA_LINK_INITIATE"


@pytest.mark.parametrize("wrong", [aad("t1"), aad("t0", base="https://evil.example"),
                                   aad("t0", rid="other"), b""])
def test_initiate_is_bound_to_base_url_rendezvous_and_token(wrong):
    g = ChannelResponder()
    _, initiate = ChannelInitiator.start(g.public_key, aad("t0"))
    with pytest.raises(ChannelTampered):
        g.accept(initiate, wrong, aad("t1"))


@pytest.mark.parametrize("wrong", [aad("t0"), aad("t1", base="https://evil.example"), aad("t1", rid="x")])
def test_ok_is_bound_to_base_url_rendezvous_and_token(wrong):
    g = ChannelResponder()
    s, initiate = ChannelInitiator.start(g.public_key, aad("t0"))
    _, ok = g.accept(initiate, aad("t0"), aad("t1"))
    with pytest.raises(ChannelTampered):
        s.finish(ok, wrong)


def test_messages_are_bound_to_their_sequence_token():
    g, s, _, _ = handshake()
    with pytest.raises(ChannelTampered):
        g.open(s.seal(b"x", aad("t2")), aad("t3"))


def test_ok_for_another_initiate_is_refused_and_no_check_code_appears():
    """A shoulder-surfer's INITIATE got answered: the real scanner never establishes a channel."""
    g = ChannelResponder()
    real, _ = ChannelInitiator.start(g.public_key, aad("t0"))
    _, surfer_initiate = ChannelInitiator.start(g.public_key, aad("t0"))
    _, ok = g.accept(surfer_initiate, aad("t0"), aad("t1"))
    with pytest.raises(ChannelTampered):
        real.finish(ok, aad("t1"))


def test_the_qr_key_answers_only_one_initiate():
    g = ChannelResponder()
    _, first = ChannelInitiator.start(g.public_key, aad("t0"))
    _, second = ChannelInitiator.start(g.public_key, aad("t0"))
    g.accept(first, aad("t0"), aad("t1"))
    with pytest.raises(ChannelError):
        g.accept(second, aad("t0"), aad("t1"))


def test_initiate_for_another_key_is_refused():
    _, initiate = ChannelInitiator.start(ChannelResponder().public_key, aad("t0"))
    with pytest.raises(ChannelTampered):
        ChannelResponder().accept(initiate, aad("t0"), aad("t1"))


def test_wrong_confirmation_strings_are_protocol_violations():
    g_key = X25519PrivateKey.generate()
    g = ChannelResponder(g_key)
    pkr = SUITE.kem.deserialize_public_key(g.public_key)
    enc, ctx = SUITE.create_sender_context(pkr, info=INFO)
    forged = b64encode(enc + ctx.seal(b"KATTA_LINK_OK", aad("t0")))
    with pytest.raises(ProtocolViolation):
        g.accept(forged, aad("t0"), aad("t1"))


@pytest.mark.parametrize("key", [bytes(32), b"\x01" + bytes(31), bytes(31)])
def test_low_order_or_malformed_qr_keys_are_refused(key):
    with pytest.raises(ChannelError):
        ChannelInitiator.start(key, aad("t0"))


def test_replayed_message_is_refused_and_closes_the_channel():
    g, s, _, _ = handshake()
    first = s.seal(b"once", aad("t2"))
    assert g.open(first, aad("t2")) == b"once"
    with pytest.raises(ChannelTampered):
        g.open(first, aad("t2"))
    with pytest.raises(ChannelError):  # closed: even a genuine next message is refused now
        g.open(s.seal(b"next", aad("t4")), aad("t4"))


def test_reordered_messages_are_refused_even_under_the_same_aad():
    g, s, _, _ = handshake()
    first = s.seal(b"first", aad("same"))
    second = s.seal(b"second", aad("same"))
    with pytest.raises(ChannelTampered):
        g.open(second, aad("same"))
    with pytest.raises(ChannelError):
        g.open(first, aad("same"))


def test_dropped_message_makes_the_next_one_fail():
    g, s, _, _ = handshake()
    s.seal(b"lost", aad("t2"))
    with pytest.raises(ChannelTampered):
        g.open(s.seal(b"after", aad("t2")), aad("t2"))


def test_a_message_cannot_be_reflected_back_to_its_sender():
    g, s, _, _ = handshake()
    with pytest.raises(ChannelTampered):
        s.open(s.seal(b"echo", aad("t2")), aad("t2"))


def test_largest_message_fits_one_rendezvous_payload():
    g, s, _, _ = handshake()
    data = s.seal(b"x" * MAX_PLAINTEXT, aad("t2"))
    assert len(data.encode()) <= MAX_PAYLOAD_BYTES
    assert g.open(data, aad("t2")) == b"x" * MAX_PLAINTEXT


def test_too_large_message_is_refused_without_spending_a_sequence_number():
    g, s, _, _ = handshake()
    with pytest.raises(MessageTooLarge):
        s.seal(b"x" * (MAX_PLAINTEXT + 1), aad("t2"))
    assert g.open(s.seal(b"fits", aad("t2")), aad("t2")) == b"fits"


@pytest.mark.parametrize("text", ["AAAA=", "AA==", "A", "AA AA", "AB", "Zm9v\n", "é"])
def test_strict_base64(text):
    with pytest.raises(ChannelTampered):
        b64decode(text)


def _flip_char_bit(text: str, index: int, bit: int) -> str:
    raw = bytearray(text.encode("ascii"))
    raw[index % len(raw)] ^= 1 << bit
    return raw.decode("latin-1")


def _flip_raw_bit(text: str, index: int, bit: int) -> str:
    raw = bytearray(b64decode(text))
    raw[index % len(raw)] ^= 1 << bit
    return b64encode(bytes(raw))


FLIPS = st.tuples(st.sampled_from([_flip_char_bit, _flip_raw_bit]), st.integers(0, 10_000), st.integers(0, 7))


@settings(max_examples=150, deadline=None)
@given(FLIPS)
def test_any_bit_flip_in_initiate_is_refused(flip):
    how, index, bit = flip
    g = ChannelResponder()
    _, initiate = ChannelInitiator.start(g.public_key, aad("t0"))
    with pytest.raises(ChannelError):
        g.accept(how(initiate, index, bit), aad("t0"), aad("t1"))


@settings(max_examples=150, deadline=None)
@given(FLIPS)
def test_any_bit_flip_in_ok_is_refused(flip):
    how, index, bit = flip
    g = ChannelResponder()
    s, initiate = ChannelInitiator.start(g.public_key, aad("t0"))
    _, ok = g.accept(initiate, aad("t0"), aad("t1"))
    with pytest.raises(ChannelError):
        s.finish(how(ok, index, bit), aad("t1"))


@settings(max_examples=150, deadline=None)
@given(FLIPS, st.booleans(), st.binary(max_size=300))
def test_any_bit_flip_in_a_channel_message_is_refused(flip, scanner_sends, plaintext):
    how, index, bit = flip
    g, s, _, _ = handshake()
    sender, receiver = (s, g) if scanner_sends else (g, s)
    data = sender.seal(plaintext, aad("t2"))
    with pytest.raises(ChannelError):
        receiver.open(how(data, index, bit), aad("t2"))


def test_base64_in_messages_is_standard_alphabet_without_padding():
    _, _, initiate, ok = handshake()
    for text in (initiate, ok):
        assert "=" not in text
        assert base64.b64decode(text + "=" * (-len(text) % 4)) == b64decode(text)
