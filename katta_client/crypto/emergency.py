"""Emergency access: a vault's recovery key split among a council, and put back together in a recovery.

Formats (Cryptomator Hub's web client, ``frontend/src/common/emergencyaccess.ts``):

* key share: compact JWE ``ECDH-ES`` / ``A256GCM`` to a council member's ECDH key, payload
  ``{"keyShare": base64(share)}``; a share is a :mod:`.shamir` share of the secret.
* the secret: the vault's recovery private key as PKCS#8 DER (the key a UVF vault's owners hold).
* process key: a fresh P-384 ECDH key pair per recovery process; the public key is sent as JWK JSON
  text (``processPublicKey``), the private key as a JWE of ``{"privateKey": JWK}`` to each member.
* recovered share: the member's key share payload, re-encrypted to the process public key.
* signed process info (``signedProcessInfo``, with each approval): an ES384 JWT by the approving member's
  ECDSA key, header ``{"alg":"ES384","typ":"JWT","b64":true}``, claims ``iss`` (the member's id), ``sub``
  (the process id), ``iat``, and the process's ``type`` and ``details`` as they are: what the member agreed
  to, so a server cannot swap the change a threshold approved. Ours add ``processPublicKey``, the text the
  process names (Hub's web client ignores extra claims and writes none): the key the member sealed their
  share to, so a server cannot swap in a key pair of its own for later approvers to seal theirs to.

What :func:`combine_recovered_key` gives back is checked against the vault's published recovery public
key: Shamir's scheme cannot tell a tampered or missing share from a good one, this check can.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterable, Mapping, Optional

from cryptography.hazmat.primitives.asymmetric import ec

from . import jwe, shamir
from ._encoding import b64_decode, b64_encode, b64url_decode, b64url_encode
from .ec import (
    PublicKeyLike,
    check_key_pair,
    generate_private_key,
    load_private_key,
    load_public_key,
    private_key_to_pkcs8,
    public_key_from_jwk,
    public_key_to_jwk,
)
from .errors import InvalidFormat, InvalidKey, KeyMismatch, SignatureInvalid
from .wot import sign_es384, verify_es384

__all__ = [
    "split_recovery_key",
    "new_process_key",
    "recover_share",
    "combine_recovered_key",
    "sign_process_info",
    "verify_process_info",
]

_ACCEPTED = (jwe.ALG_ECDH_ES, jwe.ALG_ECDH_ES_A256KW)
_COORD_LEN = 48
# A process's details may be 16 KiB of JSON (the server's limit): its signature carries them, base64url.
_MAX_PROCESS_INFO_LENGTH = 32 * 1024


def _share_payload(token: str, private_key: ec.EllipticCurvePrivateKey, what: str) -> dict[str, str]:
    payload = jwe.decrypt_ecdh_es(token, private_key, _ACCEPTED, what)
    if not isinstance(payload.get("keyShare"), str):
        raise InvalidFormat(f"{what} holds no keyShare")
    return {"keyShare": payload["keyShare"]}


def split_recovery_key(recovery_private_key: ec.EllipticCurvePrivateKey, threshold: int,
                       council: Mapping[str, PublicKeyLike]) -> dict[str, str]:
    """One key share per council member (member id → JWE to their ECDH key); ``threshold`` of them
    recover the key."""
    secret = private_key_to_pkcs8(recovery_private_key)
    members = list(council)
    shares = shamir.split(secret, len(members), threshold)
    return {member: jwe.encrypt_ecdh_es({"keyShare": b64_encode(share)},
                                        load_public_key(council[member], f"ECDH key of {member}"))
            for member, share in zip(members, shares)}


def _private_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    d = key.private_numbers().private_value.to_bytes(_COORD_LEN, "big")
    return {**public_key_to_jwk(key.public_key()), "d": b64url_encode(d)}


def _private_key_from_jwk(jwk: object) -> ec.EllipticCurvePrivateKey:
    if not isinstance(jwk, dict):
        raise InvalidFormat("the process private key is not a JWK")
    public_key = public_key_from_jwk({k: v for k, v in jwk.items() if k != "d"}, "process key")
    try:
        key = ec.derive_private_key(int.from_bytes(b64url_decode(jwk.get("d"), "process key d"), "big"),
                                    ec.SECP384R1())
    except ValueError:
        raise InvalidKey("the process private key is not a P-384 key") from None
    check_key_pair(key, public_key, "process private key")
    return key


def new_process_key(council: Mapping[str, PublicKeyLike]) -> tuple[str, dict[str, str]]:
    """A recovery process's key pair: the public key as JWK text, the private key encrypted to each
    council member (member id → JWE)."""
    key = generate_private_key()
    private = {"privateKey": _private_jwk(key)}
    encrypted = {member: jwe.encrypt_ecdh_es(private, load_public_key(public_key, f"ECDH key of {member}"))
                 for member, public_key in council.items()}
    return json.dumps(public_key_to_jwk(key.public_key()), separators=(",", ":")), encrypted


def recover_share(key_share: str, user_private_key: ec.EllipticCurvePrivateKey, process_public_key: str) -> str:
    """A council member's approval: their key share, opened with their key, sealed to the process key."""
    try:
        jwk = json.loads(process_public_key)
    except ValueError:
        raise InvalidFormat("processPublicKey is not JWK JSON") from None
    payload = _share_payload(key_share, user_private_key, "your key share")
    return jwe.encrypt_ecdh_es(payload, public_key_from_jwk(jwk, "processPublicKey"))


def combine_recovered_key(recovered_shares: Iterable[str], process_private_key: str,
                          user_private_key: ec.EllipticCurvePrivateKey,
                          recovery_public_key: PublicKeyLike) -> ec.EllipticCurvePrivateKey:
    """The vault's recovery private key from the approved shares; :class:`KeyMismatch` (or
    :class:`InvalidKey`) when the shares do not give the vault's key (too few, or tampered with)."""
    payload = jwe.decrypt_ecdh_es(process_private_key, user_private_key, _ACCEPTED, "process private key")
    process_key = _private_key_from_jwk(payload.get("privateKey"))
    shares = [b64_decode(_share_payload(s, process_key, "recovered key share")["keyShare"], "keyShare")
              for s in recovered_shares]
    secret = shamir.combine(shares)
    try:
        key = load_private_key(secret, "recovered recovery key")
    except InvalidKey:
        raise KeyMismatch("the key shares do not combine into a recovery key (too few, or tampered with)") from None
    check_key_pair(key, load_public_key(recovery_public_key, "recovery public key"), "recovered recovery key")
    return key


def _process_info(process: Mapping[str, Any]) -> dict[str, Any]:
    """What an approval signs of a process: its type and, if it has any, its details as they are."""
    return {k: process[k] for k in ("type", "details") if k in process}


def sign_process_info(signer: Any, signer_id: str, process: Mapping[str, Any], iat: Optional[int] = None) -> str:
    """The ``signedProcessInfo`` of ``signer_id``'s approval (``signer``: their :class:`UserKeys` or ECDSA key)."""
    claims = {"iss": signer_id, "sub": process["id"], "iat": int(time.time()) if iat is None else int(iat),
              **_process_info(process), "processPublicKey": process["processPublicKey"]}
    return sign_es384(signer, {}, claims)


def verify_process_info(signature: object, signer_public_key: PublicKeyLike, signer_id: str,
                        process: Mapping[str, Any]) -> None:
    """:class:`SignatureInvalid` unless ``signature`` is ``signer_id``'s over this process's type and details
    and, if it names one (ours do, Hub's do not), this process's public key."""
    _, claims = verify_es384(signature, signer_public_key, _MAX_PROCESS_INFO_LENGTH)
    if claims.get("iss") != signer_id or claims.get("sub") != process.get("id"):
        raise SignatureInvalid(f"the approval of {signer_id} was signed by someone else or for another process")
    if {k: claims[k] for k in ("type", "details") if k in claims} != _process_info(process):
        raise SignatureInvalid(f"{signer_id} approved another change than this process names")
    if "processPublicKey" in claims and claims["processPublicKey"] != process.get("processPublicKey"):
        raise SignatureInvalid(f"the process key was replaced since {signer_id} approved")
