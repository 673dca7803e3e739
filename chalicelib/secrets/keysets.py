"""Which keys of a registered JWKS may be used, and for what.

Registered key sets are public and asymmetric only. A resource server's set
holds ``sig`` keys (its client assertions are verified with them) and ``enc``
keys (its secrets are encrypted to them); a key is used only for the ``use``
it declares, and only with an algorithm that fits its type and curve.
"""
from __future__ import annotations

import json
from typing import Any

from chalicelib.settings import ASYMMETRIC_ALGORITHMS

MAX_KEYS = 20
MAX_KID_LENGTH = 256
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# What we encrypt a secret with (content encryption is always A256GCM).
KEY_WRAPPING = {"EC": "ECDH-ES+A256KW", "RSA": "RSA-OAEP-256"}
ENCRYPTION_ALGORITHMS = frozenset(KEY_WRAPPING.values())
CONTENT_ENCRYPTION = "A256GCM"
_EC_SIGNING = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
_MIN_RSA_BITS = 2048


class UnusableKeySet(ValueError):
    """The document is not a key set we accept; the message says why."""


def import_public(document: Any, *, require_kids: bool = False):
    """A joserfc KeySet of ``document``; UnusableKeySet if it is not public, asymmetric keys."""
    from joserfc.jwk import KeySet

    if not isinstance(document, dict) or not isinstance(document.get("keys"), list) or not document["keys"]:
        raise UnusableKeySet('a JWKS is an object with a non-empty "keys" array')
    if len(document["keys"]) > MAX_KEYS:
        raise UnusableKeySet(f"a JWKS may hold at most {MAX_KEYS} keys")
    for index, jwk in enumerate(document["keys"]):
        where = f"keys[{index}]"
        if not isinstance(jwk, dict):
            raise UnusableKeySet(f"{where} is not an object")
        if jwk.get("kty") not in ("EC", "RSA", "OKP"):
            raise UnusableKeySet(f"{where}: only public EC, RSA and OKP keys are accepted")
        if PRIVATE_MEMBERS & set(jwk):
            raise UnusableKeySet(f"{where} contains private key material; register public keys only")
        kid = jwk.get("kid")
        if (kid is not None or require_kids) and (not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_LENGTH):
            raise UnusableKeySet(f"{where}: kid must be a string of 1 to {MAX_KID_LENGTH} characters")
        if "alg" in jwk and jwk["alg"] not in ASYMMETRIC_ALGORITHMS | ENCRYPTION_ALGORITHMS:
            raise UnusableKeySet(f"{where}: alg {str(jwk['alg'])[:32]!r} is not an asymmetric algorithm we use")
    try:
        return KeySet.import_key_set(document)
    except Exception:  # noqa: BLE001 — joserfc raises many kinds for malformed keys
        raise UnusableKeySet("the JWKS holds a key that cannot be imported (malformed or off its curve)") from None


def check_resource_server_keys(keys) -> None:
    """UnusableKeySet unless the set has a signing and an encryption key we can use."""
    if not any(_signing_algorithms(k) for k in keys.keys):
        raise UnusableKeySet('the JWKS needs a signing key ("use": "sig", EC, RSA or Ed25519)')
    if encryption_key(keys) is None:
        raise UnusableKeySet('the JWKS needs an encryption key ("use": "enc", EC P-256/P-384/P-521 for '
                             'ECDH-ES+A256KW or RSA of at least 2048 bits for RSA-OAEP-256)')


def signing_key(keys, kid: str | None, alg: str):
    """The ``sig`` key named ``kid`` (or the only one if there is no kid) that may verify ``alg``."""
    candidates = [k for k in keys.keys if alg in _signing_algorithms(k)]
    if kid is None:
        return candidates[0] if len(candidates) == 1 else None
    return next((k for k in candidates if k.kid == kid), None)


def encryption_key(keys) -> tuple[Any, str] | None:
    """(key, key-wrapping alg) of the first usable ``enc`` key: the owner lists its preferred key first."""
    for key in keys.keys:
        alg = _wrapping_algorithm(key)
        if alg is not None:
            return key, alg
    return None


def _signing_algorithms(key) -> frozenset[str]:
    if key.get("use") != "sig":
        return frozenset()
    kty = key.key_type
    if kty == "EC":
        algorithms = {_EC_SIGNING.get(key.get("crv"))} - {None}
    elif kty == "RSA":
        algorithms = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"} if _rsa_bits(key) >= _MIN_RSA_BITS else set()
    elif kty == "OKP":
        algorithms = {"EdDSA"} if key.get("crv") == "Ed25519" else set()
    else:
        algorithms = set()
    declared = key.get("alg")
    return frozenset(algorithms & {declared} if declared else algorithms)


def _wrapping_algorithm(key) -> str | None:
    if key.get("use") != "enc" or not key.kid:
        return None
    alg = KEY_WRAPPING.get(key.key_type)
    if alg is None or key.get("alg") not in (None, alg):
        return None
    if key.key_type == "EC" and key.get("crv") not in _EC_SIGNING:
        return None
    if key.key_type == "RSA" and _rsa_bits(key) < _MIN_RSA_BITS:
        return None
    return alg


def _rsa_bits(key) -> int:
    return key.raw_value.key_size if hasattr(key.raw_value, "key_size") else 0


def parse_inline(text: str, *, require_kids: bool = False):
    """A stored inline JWKS (JSON text) as a KeySet."""
    return import_public(json.loads(text), require_kids=require_kids)
