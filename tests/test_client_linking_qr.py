"""QR payload of device linking: layout, strict parsing, text form, terminal rendering."""
from __future__ import annotations

import base64
import io
import struct

import pytest
import segno
from hypothesis import given, settings
from hypothesis import strategies as st

from katta_client.linking import QrIntent, QrPayload, QrPayloadError

KEY = bytes.fromhex("d886686ab2197b780e300a9d4a2147480700d7929f39ab31b9e514370248ed6b")
RID = "e8da6355-550b-4a32-a193-1619d9830668"
URL = "https://katta.example.com"


def payload(intent=QrIntent.EXISTING_DEVICE, key=KEY, rid=RID, url=URL) -> QrPayload:
    return QrPayload(intent, key, rid, url)


def test_binary_layout_matches_the_documented_bytes():
    raw = payload().to_bytes()
    expected = (b"KATTA_LINK" + b"\x01\x01" + KEY
                + b"\x00\x24" + RID.encode() + b"\x00\x19" + URL.encode())
    assert raw == expected
    assert QrPayload.from_bytes(raw) == payload()


@pytest.mark.parametrize("intent", list(QrIntent))
def test_round_trip_binary_and_text(intent):
    p = payload(intent)
    assert QrPayload.from_bytes(p.to_bytes()) == p
    text = p.to_text()
    assert "=" not in text and "+" not in text and "/" not in text
    assert QrPayload.from_text(text) == p
    assert QrPayload.from_text(f"  {text}\n") == p  # pasted with whitespace around it


def test_unicode_id_and_url_are_length_prefixed_in_bytes_not_characters():
    p = payload(rid="räum-1", url="https://kätta.example/hub")
    raw = p.to_bytes()
    assert raw[44:46] == struct.pack(">H", len("räum-1".encode()))
    assert QrPayload.from_bytes(raw) == p


def _replace(raw: bytes, offset: int, new: bytes) -> bytes:
    return raw[:offset] + new + raw[offset + len(new):]


@pytest.mark.parametrize("mutate, message", [
    (lambda raw: b"MATRIX" + raw[6:], "magic"),
    (lambda raw: _replace(raw, 10, b"\x02"), "version 2"),
    (lambda raw: _replace(raw, 10, b"\x00"), "version 0"),
    (lambda raw: _replace(raw, 11, b"\x02"), "intent 2"),
    (lambda raw: _replace(raw, 11, b"\xff"), "intent 255"),
    (lambda raw: raw[:30], "truncated in the public key"),
    (lambda raw: raw[:45], "truncated in the length of the rendezvous id"),
    (lambda raw: raw[:50], "truncated in the rendezvous id"),
    (lambda raw: raw + b"\x00", "trailing"),
    (lambda raw: _replace(raw, 44, b"\x00\x00"), "rendezvous id"),
    (lambda raw: _replace(raw, 44, b"\xff\xff"), "truncated"),
    (lambda raw: _replace(raw, 46, b"\xff"), "UTF-8"),
    (lambda raw: b"", "truncated in the magic"),
])
def test_malformed_binary_payloads_are_refused_with_a_clear_error(mutate, message):
    with pytest.raises(QrPayloadError) as err:
        QrPayload.from_bytes(mutate(payload().to_bytes()))
    assert str(err.value)


@pytest.mark.parametrize("url", [
    "ftp://katta.example.com", "katta.example.com", "https://", "https://host/?q=1",
    "https://host/#frag", "https://ho st", "https://host\n", "",
])
def test_bad_base_urls_are_refused(url):
    with pytest.raises(QrPayloadError):
        payload(url=url)
    raw = (b"KATTA_LINK\x01\x01" + KEY + struct.pack(">H", len(RID)) + RID.encode()
           + struct.pack(">H", len(url.encode())) + url.encode())
    with pytest.raises(QrPayloadError):
        QrPayload.from_bytes(raw)


@pytest.mark.parametrize("kwargs", [
    {"key": KEY[:31]}, {"key": KEY + b"\x00"}, {"rid": ""}, {"rid": "a b"}, {"rid": "x" * 256},
    {"intent": 7},
])
def test_constructor_refuses_invalid_fields(kwargs):
    with pytest.raises(QrPayloadError):
        payload(**kwargs)


@pytest.mark.parametrize("text", [
    "", "   ", "S0FU VEFf", "S0FUVEFfTElOSw==", "S0FUVEFf+ElOSw", "A", "!!!!",
    # canonical text with the unused low bits of the last character set
    payload().to_text()[:-1] + chr(ord(payload().to_text()[-1]) + 1),
])
def test_malformed_text_forms_are_refused(text):
    with pytest.raises(QrPayloadError):
        QrPayload.from_text(text)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_bytes_raise_only_qr_payload_error(raw):
    try:
        parsed = QrPayload.from_bytes(raw)
    except QrPayloadError:
        return
    assert parsed.to_bytes() == raw  # anything accepted is canonical


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_garbage_text_raises_only_qr_payload_error(text):
    try:
        QrPayload.from_text(text)
    except QrPayloadError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 1), st.binary(min_size=32, max_size=32),
       st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1, max_size=64),
       st.integers(0, 200))
def test_any_valid_prefix_mutation_is_refused_or_round_trips(intent, key, rid, cut):
    raw = QrPayload(QrIntent(intent), key, rid, URL).to_bytes()
    assert QrPayload.from_bytes(raw).rendezvous_id == rid
    if cut < len(raw):
        with pytest.raises(QrPayloadError):
            QrPayload.from_bytes(raw[:cut])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=160))
def test_garbage_after_a_valid_header_is_refused_or_canonical(tail):
    raw = b"KATTA_LINK\x01\x00" + KEY + tail
    try:
        parsed = QrPayload.from_bytes(raw)
    except QrPayloadError:
        return
    assert parsed.to_bytes() == raw


def test_text_form_is_base64url_of_the_binary_form():
    p = payload()
    assert base64.urlsafe_b64decode(p.to_text() + "=" * (-len(p.to_text()) % 4)) == p.to_bytes()


def test_qr_code_holds_the_binary_payload_and_renders_compactly():
    p = payload()
    code = p.qr_code()
    assert code.error in ("L", "M", "Q", "H")  # segno may boost 'L' for free
    assert code.mode == "byte"
    reference = segno.make(p.to_bytes(), error="l", mode="byte")
    assert code.matrix == reference.matrix
    out = io.StringIO()
    p.render_terminal(out)
    lines = out.getvalue().splitlines()
    assert len(lines) >= code.symbol_size()[1] // 2  # compact: two modules per text row
    assert any("▀" in line or "▄" in line for line in lines)
