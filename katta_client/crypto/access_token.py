"""Vault access tokens: the member key (and, for owners, the recovery key) as a JWE to a user.

Format (Katta / Cryptomator Hub UVF): compact JWE to the member's ECDH public key, ``enc``
``A256GCM``, ``alg`` ``ECDH-ES`` or ``ECDH-ES+A256KW`` (both accepted on read; Katta's web client
writes the latter, its Java client the former), ``kid`` ``org.cryptomator.hub.userkey``, payload
``{"key": base64(32-byte member key), "recoveryKey"?: base64(PKCS#8 P-384)}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from cryptography.hazmat.primitives.asymmetric import ec

from . import jwe
from ._encoding import b64_decode, b64_encode
from .ec import PublicKeyLike, encode_private_key, load_private_key, load_public_key
from .errors import InvalidFormat

__all__ = [
    "KID_USER_KEY",
    "MEMBER_KEY_LEN",
    "AccessTokenPayload",
    "encrypt_access_token",
    "decrypt_access_token",
]

KID_USER_KEY = "org.cryptomator.hub.userkey"
MEMBER_KEY_LEN = 32


@dataclass(frozen=True)
class AccessTokenPayload:
    """Decrypted access token. ``recovery_key`` is only present in vault owners' tokens."""

    member_key: bytes = field(repr=False)
    recovery_key: Optional[ec.EllipticCurvePrivateKey] = field(default=None, repr=False)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.member_key, bytes) or len(self.member_key) != MEMBER_KEY_LEN:
            raise InvalidFormat("member key must be 32 bytes")

    def __repr__(self) -> str:
        return f"AccessTokenPayload(member_key=<hidden>, recovery_key={'<hidden>' if self.recovery_key else None})"

    def to_json(self) -> dict[str, Any]:
        payload: dict[str, Any] = dict(self.extra)
        payload["key"] = b64_encode(self.member_key)
        if self.recovery_key is not None:
            payload["recoveryKey"] = encode_private_key(self.recovery_key)
        return payload

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> "AccessTokenPayload":
        key = b64_decode(payload.get("key"), "access token key")
        if len(key) != MEMBER_KEY_LEN:
            raise InvalidFormat("access token key must be 32 bytes")
        recovery = payload.get("recoveryKey")
        recovery_key = None
        if recovery is not None:
            recovery_key = load_private_key(recovery, "access token recoveryKey")
        extra = {k: v for k, v in payload.items() if k not in ("key", "recoveryKey")}
        return cls(key, recovery_key, extra)


def encrypt_access_token(user_ecdh_public_key: PublicKeyLike, member_key: bytes,
                         recovery_key: Optional[ec.EllipticCurvePrivateKey] = None,
                         alg: str = jwe.ALG_ECDH_ES) -> str:
    """Access token JWE for one member; pass ``recovery_key`` only for vault owners."""
    payload = AccessTokenPayload(bytes(member_key), recovery_key)
    public_key = load_public_key(user_ecdh_public_key, "user ECDH public key")
    return jwe.encrypt_ecdh_es(payload.to_json(), public_key, kid=KID_USER_KEY, alg=alg)


def decrypt_access_token(token: object, user_ecdh_private_key: ec.EllipticCurvePrivateKey) -> AccessTokenPayload:
    payload = jwe.decrypt_ecdh_es(token, user_ecdh_private_key, jwe.ECDH_ALGS, "access token")
    return AccessTokenPayload.from_json(payload)
