"""The secure channel over the rendezvous session (MSC4388's HPKE channel, adapted).

RFC 9180 base mode with DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and
ChaCha20-Poly1305. Device G (showing the QR code) publishes its ephemeral X25519
key; device S (scanning) sets up an HPKE sender context to it and sends
INITIATE. G opens it with the matching recipient context and answers OK through
a *response context* derived from the same HPKE context the way RFC 9458 §4.4
encapsulates responses (and as matrix-org/vodozemac does): G picks a random
32-byte response nonce, both sides export a secret from the HPKE context and
expand an AEAD key and base nonce from it. From then on S -> G messages use the
HPKE context and G -> S messages the response context, each with its own
sequence counter (nonce = base_nonce XOR seq), so a replayed, reordered or
dropped message fails authentication. The AAD of every message binds the base
URL, the rendezvous id and the sequence token the write replaces, so a message
is valid at exactly one place in exactly one session.

HPKE does not authenticate S. The two-digit check code, exported from the HPKE
context and typed by the user on the other device, is what tells G that the
device it talks to is the one in the user's hand (and not a shoulder-surfer who
scanned the same QR code). Byte layouts: docs/device-linking.md.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hmac
import os
import re

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from pyhpke import AEADId, CipherSuite, KDFId, KEMId, KEMKey, KEMKeyPair
from pyhpke.exceptions import PyHPKEError

from .errors import ChannelError, ChannelTampered, CheckCodeMismatch, MessageTooLarge, ProtocolViolation
from .rendezvous import MAX_PAYLOAD_BYTES

SUITE = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.CHACHA20_POLY1305)

INFO = b"KATTA_LINK"
INITIATE_PLAINTEXT = b"KATTA_LINK_INITIATE"
OK_PLAINTEXT = b"KATTA_LINK_OK"
RESPONSE_EXPORT_LABEL = b"KATTA_LINK_RESPONSE"
CHECK_CODE_LABEL = b"KATTA_LINK_CHECKCODE"

PUBLIC_KEY_LENGTH = 32
RESPONSE_NONCE_LENGTH = 32
TAG_LENGTH = 16
# Unpadded base64 turns 3 bytes into 4 characters: 4096 characters hold 3072 bytes.
MAX_CIPHERTEXT = MAX_PAYLOAD_BYTES // 4 * 3
MAX_PLAINTEXT = MAX_CIPHERTEXT - TAG_LENGTH

_BASE64 = re.compile(r"[A-Za-z0-9+/]*")


def b64encode(raw: bytes) -> str:
    """Standard base64 without padding (as MSC4388 encodes its messages)."""
    return base64.b64encode(raw).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    """Strict inverse of ``b64encode``: one spelling per byte string, anything else refused."""
    if not isinstance(text, str) or not _BASE64.fullmatch(text) or len(text) % 4 == 1:
        raise ChannelTampered("message is not unpadded base64")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ChannelTampered("message is not unpadded base64") from None
    if b64encode(raw) != text:
        raise ChannelTampered("message is not canonical base64")
    return raw


def _u16_prefixed(value: str) -> bytes:
    raw = value.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise ChannelError("AAD component longer than 65535 bytes")
    return len(raw).to_bytes(2, "big") + raw


def channel_aad(base_url: str, rendezvous_id: str, sequence_token: str) -> bytes:
    """AAD of a message written over ``sequence_token`` in rendezvous ``rendezvous_id``."""
    return b"".join(_u16_prefixed(v) for v in (base_url, rendezvous_id, sequence_token))


def _check_code_from(context, generator_key: bytes, scanner_key: bytes) -> int:
    label = CHECK_CODE_LABEL + b"|" + b64encode(generator_key).encode() + b"|" + b64encode(scanner_key).encode()
    exported = context.export(label, 2)
    return 10 + int.from_bytes(exported, "big") % 90


def _response_key_and_nonce(context, enc: bytes, response_nonce: bytes) -> tuple[bytes, bytes]:
    secret = context.export(RESPONSE_EXPORT_LABEL, SUITE.aead.key_size)
    prk = SUITE.kdf.extract(enc + response_nonce, secret)
    return SUITE.kdf.expand(prk, b"key", SUITE.aead.key_size), SUITE.kdf.expand(prk, b"nonce", SUITE.aead.nonce_size)


class _ResponseDirection:
    """G -> S messages: an AEAD key and base nonce with an RFC 9180 sequence counter."""

    def __init__(self, key: bytes, base_nonce: bytes) -> None:
        self._key = SUITE.aead.import_key(key)
        self._base_nonce = base_nonce
        self._seq = 0

    def _nonce(self) -> bytes:
        seq = self._seq.to_bytes(len(self._base_nonce), "big")
        return bytes(a ^ b for a, b in zip(self._base_nonce, seq))

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        ciphertext = self._key.seal(plaintext, self._nonce(), aad)
        self._seq += 1
        return ciphertext

    def open(self, ciphertext: bytes, aad: bytes) -> bytes:
        plaintext = self._key.open(ciphertext, self._nonce(), aad)
        self._seq += 1
        return plaintext


class Role(enum.Enum):
    GENERATOR = "generator"  # showed the QR code; HPKE recipient; device G
    SCANNER = "scanner"  # scanned the QR code; HPKE sender; device S


class SecureChannel:
    """An established channel. Any failure closes it for good: no retry can fork it."""

    def __init__(self, role: Role, outbound, inbound, check_code: int) -> None:
        self.role = role
        self._outbound = outbound
        self._inbound = inbound
        self._check_code = check_code
        self._closed = False

    @property
    def check_code(self) -> str:
        """The two-digit code (10-99) both devices derive; show it on the scanning device."""
        return f"{self._check_code:02d}"

    def verify_check_code(self, typed: str | int) -> None:
        """Compare what the user typed with our code in constant time."""
        candidate = str(typed).strip().encode("utf-8", "replace")
        if not hmac.compare_digest(candidate, self.check_code.encode("ascii")):
            raise CheckCodeMismatch("the check code does not match the one on the other device")

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True

    def _ensure_open(self) -> None:
        if self._closed:
            raise ChannelError("the secure channel was closed after an earlier failure")

    def seal(self, plaintext: bytes, aad: bytes) -> str:
        self._ensure_open()
        if len(plaintext) > MAX_PLAINTEXT:
            raise MessageTooLarge(
                f"message is {len(plaintext)} bytes, at most {MAX_PLAINTEXT} fit one rendezvous payload"
            )
        return b64encode(self._outbound.seal(plaintext, aad))

    def open(self, data: str, aad: bytes) -> bytes:
        self._ensure_open()
        try:
            ciphertext = b64decode(data)
            if len(ciphertext) < TAG_LENGTH:
                raise ChannelTampered("message is shorter than an authentication tag")
            return self._inbound.open(ciphertext, aad)
        except ChannelTampered:
            self._closed = True
            raise
        except Exception:
            self._closed = True
            raise ChannelTampered(
                "message failed authentication (tampered, replayed, reordered or from another sender)"
            ) from None


class ChannelResponder:
    """Device G: owns the ephemeral key in the QR code and answers one INITIATE."""

    def __init__(self, private_key: X25519PrivateKey | None = None) -> None:
        self._private_key = private_key or X25519PrivateKey.generate()
        self._kem_key = KEMKey.from_pyca_cryptography_key(self._private_key)
        self.public_key = KEMKey.from_pyca_cryptography_key(self._private_key.public_key()).to_public_bytes()
        self._used = False

    def accept(
        self,
        initiate: str,
        initiate_aad: bytes,
        ok_aad: bytes,
        *,
        response_nonce: bytes | None = None,
    ) -> tuple[SecureChannel, str]:
        """Open INITIATE, answer OK. Returns the channel and the OK message to write."""
        if self._used:
            raise ChannelError("this QR key has already answered an INITIATE")
        self._used = True
        raw = b64decode(initiate)
        if len(raw) < PUBLIC_KEY_LENGTH + TAG_LENGTH:
            raise ChannelTampered("INITIATE message is too short")
        enc, ciphertext = raw[:PUBLIC_KEY_LENGTH], raw[PUBLIC_KEY_LENGTH:]
        try:
            context = SUITE.create_recipient_context(enc, self._kem_key, info=INFO)
            plaintext = context.open(ciphertext, initiate_aad)
        except (PyHPKEError, ValueError):
            raise ChannelTampered("INITIATE message failed authentication") from None
        if plaintext != INITIATE_PLAINTEXT:
            raise ProtocolViolation("INITIATE message carries the wrong confirmation string")
        response_nonce = response_nonce if response_nonce is not None else os.urandom(RESPONSE_NONCE_LENGTH)
        if len(response_nonce) != RESPONSE_NONCE_LENGTH:
            raise ChannelError("response nonce must be 32 bytes")
        response = _ResponseDirection(*_response_key_and_nonce(context, enc, response_nonce))
        ok = b64encode(response_nonce + response.seal(OK_PLAINTEXT, ok_aad))
        check_code = _check_code_from(context, self.public_key, enc)
        return SecureChannel(Role.GENERATOR, response, context, check_code), ok


class ChannelInitiator:
    """Device S: has scanned G's key; sends INITIATE and waits for OK."""

    def __init__(self, context, enc: bytes, their_public_key: bytes) -> None:
        self._context = context
        self._enc = enc
        self._their_public_key = their_public_key
        self._used = False

    @classmethod
    def start(
        cls,
        their_public_key: bytes,
        aad: bytes,
        *,
        ephemeral_key: X25519PrivateKey | None = None,
    ) -> tuple["ChannelInitiator", str]:
        """Set up the HPKE sender context to G's key; returns the INITIATE message to write."""
        if len(their_public_key) != PUBLIC_KEY_LENGTH:
            raise ChannelError("the other device's public key must be 32 bytes")
        eks = None
        if ephemeral_key is not None:  # fixed keys only for test vectors
            eks = KEMKeyPair(KEMKey.from_pyca_cryptography_key(ephemeral_key),
                             KEMKey.from_pyca_cryptography_key(ephemeral_key.public_key()))
        try:
            pkr = SUITE.kem.deserialize_public_key(their_public_key)
            enc, context = SUITE.create_sender_context(pkr, info=INFO, eks=eks)
            ciphertext = context.seal(INITIATE_PLAINTEXT, aad)
        except (PyHPKEError, ValueError):
            # e.g. a low-order point in a forged QR code: X25519 yields the all-zero secret.
            raise ChannelError("cannot set up a channel to the key in the QR code") from None
        return cls(context, enc, their_public_key), b64encode(enc + ciphertext)

    def finish(self, ok: str, aad: bytes) -> SecureChannel:
        """Open G's OK message; the channel is established (the check code still has to match)."""
        if self._used:
            raise ChannelError("this INITIATE has already been answered")
        self._used = True
        raw = b64decode(ok)
        if len(raw) < RESPONSE_NONCE_LENGTH + TAG_LENGTH:
            raise ChannelTampered("OK message is too short")
        response_nonce, ciphertext = raw[:RESPONSE_NONCE_LENGTH], raw[RESPONSE_NONCE_LENGTH:]
        response = _ResponseDirection(*_response_key_and_nonce(self._context, self._enc, response_nonce))
        try:
            plaintext = response.open(ciphertext, aad)
        except Exception:
            raise ChannelTampered("OK message failed authentication") from None
        if plaintext != OK_PLAINTEXT:
            raise ProtocolViolation("OK message carries the wrong confirmation string")
        check_code = _check_code_from(self._context, self._their_public_key, self._enc)
        return SecureChannel(Role.SCANNER, self._context, response, check_code)
