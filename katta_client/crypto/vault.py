"""Vault keys and the UVF vault metadata file ``vault.uvf`` (Katta / Cryptomator Hub UVF).

* member key: 32 random bytes, the A256KW key every member receives in an access token;
* recovery key: a P-384 key pair; the public part is published in ``uvf/jwks.json`` with
  ``kid`` ``org.cryptomator.hub.recoverykey.<RFC 7638 thumbprint>``, the private part only
  travels inside owners' access tokens;
* ``vault.uvf``: JWE JSON general serialization of the vault metadata payload with two
  recipients, the member key (``A256KW``) and the recovery key (``ECDH-ES+A256KW``), protected
  header ``{"cty":"json","crit":["uvf.spec.version"],"uvf.spec.version":1,
  "cloud.katta.origin":…,"jku":"jwks.json","enc":"A256GCM"}``.

Readers accept ``vault.uvf`` as each real writer writes it: Katta's clients as above; Hub's web
client with the protected header ``{"origin":…,"jku":"jwks.json","enc":"A256GCM"}`` (no ``crit``,
no ``uvf.spec.version``, no ``cty``). That is safe: the protected header is authenticated by
AES-GCM, a member named in ``crit`` that we do not understand is still refused, other unknown
members are ignored (RFC 7516 §4), and a ``uvf.spec.version`` other than 1 is refused.
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping, Optional, Union

from cryptography.hazmat.primitives.asymmetric import ec

from . import jwe
from .access_token import MEMBER_KEY_LEN, AccessTokenPayload, encrypt_access_token
from .ec import (
    PrivateKeyLike,
    PublicKeyLike,
    check_key_pair,
    generate_private_key,
    jwk_thumbprint,
    load_private_key,
    load_public_key,
    public_key_from_jwk,
    public_key_to_jwk,
)
from .errors import InvalidFormat, InvalidKey
from .uvf_metadata import VaultMetadata

__all__ = [
    "KID_MEMBER_KEY",
    "RECOVERY_KID_PREFIX",
    "UVF_SPEC_VERSION",
    "VaultKeys",
    "recovery_key_id",
    "recovery_public_key_from_jwks",
    "encrypt_vault_metadata",
    "decrypt_vault_metadata_with_member_key",
    "decrypt_vault_metadata_with_recovery_key",
    "vault_uvf_origin",
]

KID_MEMBER_KEY = "org.cryptomator.hub.memberkey"
RECOVERY_KID_PREFIX = "org.cryptomator.hub.recoverykey."
UVF_SPEC_VERSION = 1

VaultDocument = Union[str, bytes, Mapping[str, Any]]


def recovery_key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    return RECOVERY_KID_PREFIX + jwk_thumbprint(public_key)


def vault_uvf_origin(api_base_url: str, vault_id: str) -> str:
    """``cloud.katta.origin``: ``<api base>/vaults/<id>/uvf/vault.uvf`` (as Katta's web client builds it)."""
    return f"{api_base_url}/vaults/{vault_id}/uvf/vault.uvf"


def recovery_public_key_from_jwks(jwks: Union[str, bytes, Mapping[str, Any]]) -> ec.EllipticCurvePublicKey:
    """The recovery public key from ``uvf/jwks.json``; its ``kid`` must match its thumbprint."""
    if isinstance(jwks, (str, bytes)):
        try:
            jwks = json.loads(jwks)
        except (ValueError, UnicodeDecodeError):
            raise InvalidFormat("jwks.json is not JSON") from None
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        raise InvalidFormat("jwks.json has no keys")
    for jwk in keys:
        if not isinstance(jwk, Mapping):
            continue
        kid = jwk.get("kid")
        if isinstance(kid, str) and kid.startswith(RECOVERY_KID_PREFIX):
            public_key = public_key_from_jwk({k: jwk.get(k) for k in ("kty", "crv", "x", "y") if k in jwk}, "recovery key")
            if kid == recovery_key_id(public_key):
                return public_key
    raise InvalidFormat("jwks.json holds no recovery key whose kid matches its thumbprint")


def encrypt_vault_metadata(metadata: Union[VaultMetadata, Mapping[str, Any]], member_key: bytes,
                           recovery_public_key: PublicKeyLike, origin: Optional[str] = None) -> str:
    """``vault.uvf`` contents (JSON text) for the metadata, member key and recovery public key."""
    payload = metadata.to_payload() if isinstance(metadata, VaultMetadata) else dict(metadata)
    VaultMetadata.from_payload(payload)  # validate before sealing
    if not isinstance(member_key, (bytes, bytearray)) or len(member_key) != MEMBER_KEY_LEN:
        raise InvalidKey("member key must be 32 bytes")
    public_key = load_public_key(recovery_public_key, "recovery public key")
    protected: dict[str, Any] = {
        "cty": "json",
        "crit": ["uvf.spec.version"],
        "uvf.spec.version": UVF_SPEC_VERSION,
    }
    if origin is not None:
        protected["cloud.katta.origin"] = origin
    protected["jku"] = "jwks.json"
    protected["enc"] = jwe.ENC
    document = jwe.encrypt_general_json(protected, payload, [
        ({"kid": KID_MEMBER_KEY, "alg": jwe.ALG_A256KW}, bytes(member_key)),
        ({"kid": recovery_key_id(public_key), "alg": jwe.ALG_ECDH_ES_A256KW}, public_key),
    ])
    return json.dumps(document, separators=(",", ":"))


def _check_uvf_header(protected: Mapping[str, Any]) -> None:
    # Hub's web client writes no uvf.spec.version: its files are version 1 too.
    version = protected.get("uvf.spec.version", UVF_SPEC_VERSION)
    if isinstance(version, bool) or version != UVF_SPEC_VERSION:
        raise InvalidFormat("unsupported uvf.spec.version")


def decrypt_vault_metadata_with_member_key(document: VaultDocument, member_key: bytes) -> VaultMetadata:
    """Decrypt ``vault.uvf`` with the member key (from the caller's access token)."""
    protected, payload = jwe.decrypt_general_json(document, member_key, jwe.ALG_A256KW, kid=KID_MEMBER_KEY,
                                                  understood_crit=jwe.UVF_CRITICAL_PARAMS, what="vault.uvf",
                                                  check_protected=_check_uvf_header)
    return VaultMetadata.from_payload(payload)


def decrypt_vault_metadata_with_recovery_key(document: VaultDocument,
                                             recovery_private_key: PrivateKeyLike) -> VaultMetadata:
    """Decrypt ``vault.uvf`` with the recovery private key."""
    private_key = load_private_key(recovery_private_key, "recovery private key")
    protected, payload = jwe.decrypt_general_json(document, private_key, jwe.ALG_ECDH_ES_A256KW,
                                                  kid=recovery_key_id(private_key.public_key()),
                                                  understood_crit=jwe.UVF_CRITICAL_PARAMS, what="vault.uvf",
                                                  check_protected=_check_uvf_header)
    return VaultMetadata.from_payload(payload)


class VaultKeys:
    """A UVF vault's member key and recovery key pair (private part only for owners)."""

    __slots__ = ("_member_key", "_recovery_public", "_recovery_private")

    def __init__(self, member_key: bytes, recovery_public_key: PublicKeyLike,
                 recovery_private_key: Optional[PrivateKeyLike] = None) -> None:
        if not isinstance(member_key, (bytes, bytearray)) or len(member_key) != MEMBER_KEY_LEN:
            raise InvalidKey("member key must be 32 bytes")
        self._member_key = bytes(member_key)
        self._recovery_public = load_public_key(recovery_public_key, "recovery public key")
        self._recovery_private = None
        if recovery_private_key is not None:
            private_key = load_private_key(recovery_private_key, "recovery private key")
            check_key_pair(private_key, self._recovery_public, "recovery private key")
            self._recovery_private = private_key

    def __repr__(self) -> str:
        return f"VaultKeys(recovery_kid={self.recovery_key_id!r}, owner={self.is_owner})"

    @classmethod
    def create(cls) -> "VaultKeys":
        recovery = generate_private_key()
        return cls(os.urandom(MEMBER_KEY_LEN), recovery.public_key(), recovery)

    @classmethod
    def from_access_token(cls, payload: AccessTokenPayload,
                          jwks: Union[str, bytes, Mapping[str, Any], PublicKeyLike]) -> "VaultKeys":
        """Keys of a vault as a member (or owner) sees them: access token + ``uvf/jwks.json``."""
        if isinstance(jwks, ec.EllipticCurvePublicKey):
            public_key = jwks
        else:
            public_key = recovery_public_key_from_jwks(jwks)  # type: ignore[arg-type]
        return cls(payload.member_key, public_key, payload.recovery_key)

    @property
    def member_key(self) -> bytes:
        return self._member_key

    @property
    def recovery_public_key(self) -> ec.EllipticCurvePublicKey:
        return self._recovery_public

    @property
    def recovery_private_key(self) -> Optional[ec.EllipticCurvePrivateKey]:
        return self._recovery_private

    @property
    def is_owner(self) -> bool:
        return self._recovery_private is not None

    @property
    def recovery_key_id(self) -> str:
        return recovery_key_id(self._recovery_public)

    def jwks(self) -> dict[str, Any]:
        """``uvf/jwks.json`` content: the public recovery key only."""
        jwk: dict[str, Any] = public_key_to_jwk(self._recovery_public)
        jwk["kid"] = self.recovery_key_id
        jwk["alg"] = jwe.ALG_ECDH_ES_A256KW
        return {"keys": [jwk]}

    def jwks_json(self) -> str:
        return json.dumps(self.jwks(), separators=(",", ":"))

    def encrypt_metadata(self, metadata: Union[VaultMetadata, Mapping[str, Any]], origin: Optional[str] = None) -> str:
        """``vault.uvf`` contents."""
        return encrypt_vault_metadata(metadata, self._member_key, self._recovery_public, origin)

    def decrypt_metadata(self, document: VaultDocument) -> VaultMetadata:
        """Decrypt ``vault.uvf`` with the member key."""
        return decrypt_vault_metadata_with_member_key(document, self._member_key)

    def access_token_payload(self, owner: bool = False) -> AccessTokenPayload:
        if owner and self._recovery_private is None:
            raise InvalidKey("owner access tokens need the recovery private key")
        return AccessTokenPayload(self._member_key, self._recovery_private if owner else None)

    def encrypt_for_user(self, user_ecdh_public_key: PublicKeyLike, owner: bool = False,
                         alg: str = jwe.ALG_ECDH_ES) -> str:
        """Access token for a member; ``owner=True`` adds the recovery private key."""
        payload = self.access_token_payload(owner)
        return encrypt_access_token(user_ecdh_public_key, payload.member_key, payload.recovery_key, alg)
