"""P-384 key helpers: generation, PKCS#8 / SPKI encodings, JWK points, key-pair checks."""

from __future__ import annotations

import hashlib
import hmac
from typing import Union

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ._encoding import b64_decode, b64_encode, b64url_decode, b64url_encode
from .errors import InvalidFormat, InvalidKey, KeyMismatch

__all__ = [
    "CURVE_NAME",
    "PublicKeyLike",
    "PrivateKeyLike",
    "generate_private_key",
    "load_private_key",
    "load_public_key",
    "private_key_to_pkcs8",
    "encode_private_key",
    "public_key_to_spki",
    "encode_public_key",
    "public_key_from_jwk",
    "public_key_to_jwk",
    "jwk_thumbprint",
    "jwk_thumbprint_bytes",
    "check_key_pair",
]

CURVE_NAME = "P-384"
_COORD_LEN = 48  # bytes per P-384 coordinate

PublicKeyLike = Union[str, bytes, ec.EllipticCurvePublicKey]
PrivateKeyLike = Union[str, bytes, ec.EllipticCurvePrivateKey]


def _require_p384(key: object, what: str) -> None:
    curve = getattr(key, "curve", None)
    if not isinstance(curve, ec.SECP384R1):
        raise InvalidKey(f"{what} is not a P-384 key")


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def load_private_key(value: PrivateKeyLike, what: str = "private key") -> ec.EllipticCurvePrivateKey:
    """Load a P-384 private key from a key object, PKCS#8 DER bytes or base64 PKCS#8.

    Both PKCS#8 shapes seen in the wild load: with and without the optional curve parameters
    and embedded public key.
    """
    if isinstance(value, ec.EllipticCurvePrivateKey):
        key = value
    else:
        der = b64_decode(value, what) if isinstance(value, str) else value
        if not isinstance(der, bytes):
            raise InvalidKey(f"{what} must be PKCS#8 DER bytes or base64 text")
        try:
            key = serialization.load_der_private_key(der, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise InvalidKey(f"{what} is not a PKCS#8 EC private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InvalidKey(f"{what} is not an EC private key")
    _require_p384(key, what)
    return key


def load_public_key(value: PublicKeyLike, what: str = "public key") -> ec.EllipticCurvePublicKey:
    """Load a P-384 public key from a key object, SPKI DER bytes or base64 (standard) SPKI."""
    if isinstance(value, ec.EllipticCurvePublicKey):
        key = value
    else:
        der = b64_decode(value, what) if isinstance(value, str) else value
        if not isinstance(der, bytes):
            raise InvalidKey(f"{what} must be SPKI DER bytes or base64 text")
        try:
            key = serialization.load_der_public_key(der)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise InvalidKey(f"{what} is not an SPKI EC public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise InvalidKey(f"{what} is not an EC public key")
    _require_p384(key, what)
    return key


def private_key_to_pkcs8(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def encode_private_key(key: ec.EllipticCurvePrivateKey) -> str:
    """base64 (standard) PKCS#8 DER, as in Katta's JWE payloads."""
    return b64_encode(private_key_to_pkcs8(key))


def public_key_to_spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def encode_public_key(key: ec.EllipticCurvePublicKey) -> str:
    """base64 (standard) SPKI DER, as in ``UserDto.ecdhPublicKey`` / ``DeviceDto.publicKey``."""
    return b64_encode(public_key_to_spki(key))


def public_key_from_jwk(jwk: object, what: str = "epk") -> ec.EllipticCurvePublicKey:
    """Strictly import a public P-384 JWK (e.g. a JWE ``epk``).

    Refuses: non-objects, another ``kty``/``crv``, private members, coordinates of the wrong size
    and points that are not on P-384 (invalid-curve attacks).
    """
    if not isinstance(jwk, dict):
        raise InvalidFormat(f"{what} is not a JSON object")
    if jwk.get("kty") != "EC":
        raise InvalidKey(f"{what} is not an EC key")
    if jwk.get("crv") != CURVE_NAME:
        raise InvalidKey(f"{what} is not on the expected curve P-384")
    if "d" in jwk:
        raise InvalidKey(f"{what} must not contain a private key")
    x = b64url_decode(jwk.get("x"), f"{what}.x")
    y = b64url_decode(jwk.get("y"), f"{what}.y")
    if len(x) != _COORD_LEN or len(y) != _COORD_LEN:
        raise InvalidKey(f"{what} coordinates have the wrong length for P-384")
    x_int, y_int = int.from_bytes(x, "big"), int.from_bytes(y, "big")
    try:
        key = ec.EllipticCurvePublicNumbers(x_int, y_int, ec.SECP384R1()).public_key()
    except ValueError:
        raise InvalidKey(f"{what} is not a valid point on P-384") from None
    # OpenSSL reduces coordinates mod p: x + p would pass as x. SEC 1 §2.3.4 wants both below p.
    numbers = key.public_numbers()
    if (numbers.x, numbers.y) != (x_int, y_int):
        raise InvalidKey(f"{what} coordinates are not below the field prime of P-384")
    return key


def public_key_to_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """Public JWK members in RFC 7638 order (crv, kty, x, y)."""
    _require_p384(key, "public key")
    numbers = key.public_numbers()
    return {
        "crv": CURVE_NAME,
        "kty": "EC",
        "x": b64url_encode(numbers.x.to_bytes(_COORD_LEN, "big")),
        "y": b64url_encode(numbers.y.to_bytes(_COORD_LEN, "big")),
    }


def jwk_thumbprint_bytes(key: ec.EllipticCurvePublicKey) -> bytes:
    """RFC 7638 SHA-256 thumbprint (raw bytes)."""
    jwk = public_key_to_jwk(key)
    canonical = '{"crv":"%s","kty":"EC","x":"%s","y":"%s"}' % (jwk["crv"], jwk["x"], jwk["y"])
    return hashlib.sha256(canonical.encode("ascii")).digest()


def jwk_thumbprint(key: ec.EllipticCurvePublicKey) -> str:
    """RFC 7638 SHA-256 thumbprint, base64url without padding."""
    return b64url_encode(jwk_thumbprint_bytes(key))


def check_key_pair(private_key: ec.EllipticCurvePrivateKey, public_key: ec.EllipticCurvePublicKey, what: str) -> None:
    """Raise :class:`KeyMismatch` unless ``private_key`` belongs to ``public_key``."""
    expected = public_key_to_spki(public_key)
    actual = public_key_to_spki(private_key.public_key())
    if not hmac.compare_digest(expected, actual):
        raise KeyMismatch(f"{what} does not match its public key")
