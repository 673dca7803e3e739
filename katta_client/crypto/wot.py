"""Web of trust: ES384 signatures over other users' public keys (Katta / Cryptomator Hub).

A signature is a compact JWS, ``alg`` ES384 with the signer's ECDSA key, protected header
``{"alg":"ES384","typ":"JWT","b64":true,"iss":<signer id>,"sub":<signed user id>,"iat":<s>}``
and payload ``{"ecdhPublicKey":…,"ecdsaPublicKey":…}`` (the signed user's base64 SPKI keys).
``PUT /api/users/trusted/{userId}`` stores it; ``TrustedUserDto.signatureChain`` returns chains
whose first element is signed by the caller and whose last element signs the trusted user.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jws as _jws
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import ECKey
from joserfc.registry import HeaderParameter

from ._encoding import json_object, json_segment
from .ec import PublicKeyLike, jwk_thumbprint_bytes, load_private_key, load_public_key
from .errors import InvalidFormat, KattaCryptoError, SignatureInvalid

__all__ = [
    "SignedKeys",
    "sign_user_keys",
    "verify_signature",
    "sign_es384",
    "verify_es384",
    "verify_chain",
    "compute_trust_level",
    "fingerprint",
    "MAX_CHAIN_LENGTH",
]

ALG = "ES384"
MAX_CHAIN_LENGTH = 16
_MAX_JWS_LENGTH = 8192

_REGISTRY = _jws.JWSRegistry(
    header_registry={
        "iss": HeaderParameter("Issuer (signer user id)", "str"),
        "sub": HeaderParameter("Subject (signed user id)", "str"),
        "iat": HeaderParameter("Issued at", "int"),
    },
    algorithms=[ALG],
    strict_check_header=True,
)


@dataclass(frozen=True)
class SignedKeys:
    """The public keys a signature vouches for (base64 SPKI, compared as strings like Katta)."""

    ecdh_public_key: str
    ecdsa_public_key: str

    def to_json(self) -> dict[str, str]:
        return {"ecdhPublicKey": self.ecdh_public_key, "ecdsaPublicKey": self.ecdsa_public_key}

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> "SignedKeys":
        ecdh, ecdsa = payload.get("ecdhPublicKey"), payload.get("ecdsaPublicKey")
        if not isinstance(ecdh, str) or not isinstance(ecdsa, str):
            raise InvalidFormat("signed payload lacks ecdhPublicKey/ecdsaPublicKey")
        return cls(ecdh, ecdsa)


def _signer_key(signer: Any) -> ec.EllipticCurvePrivateKey:
    key = getattr(signer, "ecdsa_private_key", signer)  # UserKeys or a private key
    return load_private_key(key, "signer ECDSA private key")


def sign_user_keys(signer: Any, signer_id: str, user_id: str, signed_keys: SignedKeys,
                   iat: Optional[int] = None) -> str:
    """Sign another user's public keys with ``signer`` (a :class:`UserKeys` or ECDSA private key)."""
    if not isinstance(signer_id, str) or not isinstance(user_id, str) or not signer_id or not user_id:
        raise InvalidFormat("signer and user ids must be non-empty strings")
    # Both keys must at least be P-384 SPKI before we vouch for them.
    load_public_key(signed_keys.ecdh_public_key, "signed ECDH public key")
    load_public_key(signed_keys.ecdsa_public_key, "signed ECDSA public key")
    header = {"iss": signer_id, "sub": user_id, "iat": int(time.time()) if iat is None else int(iat)}
    return sign_es384(signer, header, signed_keys.to_json())


def sign_es384(signer: Any, header: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    """A compact ES384 JWS as Hub writes its signatures: header ``{"alg":"ES384","typ":"JWT","b64":true}``
    plus ``header``, the payload compact JSON; ``signer`` a :class:`UserKeys` or ECDSA private key."""
    protected = {"alg": ALG, "typ": "JWT", "b64": True, **header}
    data = json.dumps(dict(payload), separators=(",", ":")).encode()
    return _jws.serialize_compact(protected, data, ECKey.import_key(_signer_key(signer)), registry=_REGISTRY)


def verify_es384(signature: object, signer_public_key: PublicKeyLike,
                 max_length: int = _MAX_JWS_LENGTH) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify a compact ES384 JWS over a JSON object; returns (protected header, payload)."""
    if not isinstance(signature, str) or len(signature) > max_length or signature.count(".") != 2:
        raise InvalidFormat("signature is not a compact JWS")
    public_key = ECKey.import_key(load_public_key(signer_public_key, "signer public key"))
    # joserfc reads the header last-wins: it may only see one that names each member once.
    json_segment(signature.split(".")[0], "signature header")
    try:
        obj = _jws.deserialize_compact(signature, public_key, registry=_REGISTRY)
    except BadSignatureError:
        raise SignatureInvalid("signature does not verify") from None
    except JoseError as err:
        raise InvalidFormat(f"signature is malformed ({err.error})") from None
    except (ValueError, TypeError, UnicodeDecodeError):
        raise InvalidFormat("signature is malformed") from None
    header = dict(obj.headers())
    if header.get("alg") != ALG or header.get("b64", True) is not True:
        raise SignatureInvalid("signature must be ES384 over a base64url payload")
    return header, json_object(obj.payload, "signed payload")


def verify_signature(signature: object, signer_public_key: PublicKeyLike) -> tuple[dict[str, Any], SignedKeys]:
    """Verify one web-of-trust signature; returns (protected header, signed keys)."""
    header, payload = verify_es384(signature, signer_public_key)
    return header, SignedKeys.from_json(payload)


def verify_chain(signature_chain: Sequence[str], signer_public_key: PublicKeyLike, expected_issuer: str,
                 trusted_user_id: str, alleged_keys: SignedKeys) -> int:
    """Verify a chain where each signature signs the keys of the next signer.

    The first signature must verify with ``signer_public_key`` and be issued by
    ``expected_issuer``; each next one must be issued by the previous ``sub``; the last must
    have ``sub == trusted_user_id`` and sign exactly ``alleged_keys``. Returns the chain length.
    """
    if not isinstance(signature_chain, (list, tuple)) or not signature_chain:
        raise SignatureInvalid("empty signature chain")
    if len(signature_chain) > MAX_CHAIN_LENGTH:
        raise SignatureInvalid("signature chain is too long")
    key: PublicKeyLike = signer_public_key
    issuer = expected_issuer
    for index, signature in enumerate(signature_chain):
        header, signed = verify_signature(signature, key)
        if header.get("iss") != issuer:
            raise SignatureInvalid("signature issued by an unexpected issuer")
        subject = header.get("sub")
        if not isinstance(subject, str):
            raise SignatureInvalid("signature lacks a subject")
        if index == len(signature_chain) - 1:
            if subject != trusted_user_id:
                raise SignatureInvalid("signature issued for a different subject")
            if signed != alleged_keys:
                raise SignatureInvalid("signed keys do not match the user's current keys")
        else:
            key, issuer = signed.ecdsa_public_key, subject
    return len(signature_chain)


def compute_trust_level(my_id: str, my_ecdsa_public_key: PublicKeyLike, user_id: str,
                        user_ecdh_public_key: Optional[str], user_ecdsa_public_key: Optional[str],
                        trust: Optional[Mapping[str, Any]]) -> int:
    """0 for myself, the verified chain length for a trusted user, -1 when unverified.

    ``trust`` is a ``TrustedUserDto`` (``{"trustedUserId", "signatureChain"}``) or ``None``.
    """
    if user_id == my_id:
        return 0
    if not trust or trust.get("trustedUserId") != user_id or not user_ecdh_public_key or not user_ecdsa_public_key:
        return -1
    try:
        return verify_chain(list(trust.get("signatureChain") or []), my_ecdsa_public_key, my_id, user_id,
                            SignedKeys(user_ecdh_public_key, user_ecdsa_public_key))
    except KattaCryptoError:
        return -1


def fingerprint(ecdh_public_key: PublicKeyLike, ecdsa_public_key: PublicKeyLike) -> str:
    """Hub's user fingerprint: uppercase hex SHA-256 of both keys' RFC 7638 thumbprints."""
    digest = hashlib.sha256(
        jwk_thumbprint_bytes(load_public_key(ecdh_public_key, "ECDH public key"))
        + jwk_thumbprint_bytes(load_public_key(ecdsa_public_key, "ECDSA public key"))
    ).hexdigest()
    return digest.upper()
