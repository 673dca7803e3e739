"""JOSE details: key generation per algorithm for the POP keys, and the one reader of JOSE JSON.

Every JOSE header and claim set the server reads goes through ``decode_segment``
before joserfc sees it: joserfc, like ``json.loads``, lets the last of two equal
member names win, so ``{"alg":"none","alg":"ES256"}`` would be checked as one
thing and be another to a different parser.
"""
from __future__ import annotations

import base64
import json
import re
from typing import Any

SIGNING_ALGORITHMS = {"ES256": ("EC", "P-256"), "ES384": ("EC", "P-384"), "ES512": ("EC", "P-521"),
                      "RS256": ("RSA", 3072)}
ENCRYPTION_ALGORITHMS = {"ECDH-ES+A256KW": ("EC", "P-256"), "RSA-OAEP-256": ("RSA", 3072)}
CONTENT_ENCRYPTIONS = frozenset({"A256GCM", "A128GCM"})
# Headers a caller of sign_jwt may not set: they choose the key or point verifiers elsewhere.
RESERVED_JWS_HEADERS = frozenset({"alg", "kid", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "crit", "b64"})
MAX_HEADER_CHARS = 4096
# RFC 7515 §2: base64url without padding; the padding some writers add is tolerated, nothing else.
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


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
    return decode_segment(parts[0], "the protected header")


def decode_segment(segment: str, name: str) -> dict[str, Any]:
    """The JSON object (see ``json_object``) a base64url segment encodes; ValueError naming ``name``."""
    if not _BASE64URL.fullmatch(segment):
        raise ValueError(f"{name} is not base64url")
    unpadded = segment.rstrip("=")
    return json_object(base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4)), name)


def json_object(raw: bytes, name: str) -> dict[str, Any]:
    """``raw`` (UTF-8, as JOSE's JSON is: RFC 7515 §2) as a JSON object in which no object, at any depth,
    names a member twice; ValueError otherwise."""
    try:
        value = _DECODER.decode(raw.decode("utf-8"))
    except _DuplicateMember as duplicate:
        raise ValueError(f"{name} names the member {str(duplicate)[:64]!r} twice") from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValueError(f"{name} is not JSON") from None
    if not isinstance(value, dict):
        raise ValueError(f"{name} is not a JSON object")
    return value


class _DuplicateMember(Exception):
    pass


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        seen: set[str] = set()
        raise _DuplicateMember(next(name for name, _ in pairs if name in seen or seen.add(name)))
    return members


# One decoder for every call: json.loads given a hook builds a decoder (and its scanner) each time.
_DECODER = json.JSONDecoder(object_pairs_hook=_unique_members)
