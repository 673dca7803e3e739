"""JOSE details of the POP keys: key generation per algorithm and strict JWE header checks."""
from __future__ import annotations

import base64
import json
from typing import Any

SIGNING_ALGORITHMS = {"ES256": ("EC", "P-256"), "ES384": ("EC", "P-384"), "ES512": ("EC", "P-521"),
                      "RS256": ("RSA", 3072)}
ENCRYPTION_ALGORITHMS = {"ECDH-ES+A256KW": ("EC", "P-256"), "RSA-OAEP-256": ("RSA", 3072)}
CONTENT_ENCRYPTIONS = frozenset({"A256GCM", "A128GCM"})
# Headers a caller of sign_jwt may not set: they choose the key or point verifiers elsewhere.
RESERVED_JWS_HEADERS = frozenset({"alg", "kid", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "crit", "b64"})
MAX_HEADER_CHARS = 4096


def generate_key(use: str, alg: str):
    """A fresh private JWK for ``alg``; its ``kid`` is the RFC 7638 thumbprint."""
    from joserfc.jwk import ECKey, RSAKey

    table = SIGNING_ALGORITHMS if use == "sig" else ENCRYPTION_ALGORITHMS
    kty, size = table[alg]
    parameters = {"use": use, "alg": alg}
    if kty == "EC":
        return ECKey.generate_key(size, parameters=parameters, auto_kid=True)
    return RSAKey.generate_key(size, parameters=parameters, auto_kid=True)


def import_key(private_jwk: dict[str, Any]):
    from joserfc.jwk import JWKRegistry

    return JWKRegistry.import_key(private_jwk)


def public_jwk(key) -> dict[str, Any]:
    jwk = key.as_dict(private=False)
    return {k: v for k, v in jwk.items() if k not in _PRIVATE_MEMBERS}


_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def jwe_protected_header(compact: str) -> dict[str, Any]:
    """The protected header of a compact JWE; ValueError unless it is a well-formed one."""
    parts = compact.split(".")
    if len(parts) != 5:
        raise ValueError("a compact JWE has five parts")
    if len(parts[0]) > MAX_HEADER_CHARS:
        raise ValueError("the protected header is too large")
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the protected header is not base64url JSON") from None
    if not isinstance(header, dict):
        raise ValueError("the protected header is not a JSON object")
    return header
