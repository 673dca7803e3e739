"""User keys, device keys and the account key (Katta / Cryptomator Hub key hierarchy).

* User keys: a P-384 ECDH key pair (receives access tokens) and a P-384 ECDSA key pair (signs
  web-of-trust statements). Public keys travel as base64 (standard) SPKI DER.
* Account key: a random, human-typable secret shown to the user once (Katta and Hub use a random
  UUID). It protects ``UserDto.privateKeys`` as a PBES2 JWE and is never stored by this SDK.
* Device keys: one P-384 key pair per device; ``DeviceDto.userPrivateKey`` is the user's private
  keys as an ECDH-ES (Katta) or ECDH-ES+A256KW (Hub's web client) JWE to it. The device id is
  the uppercase hex SHA-256 of the SPKI DER.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, Optional, Union

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from . import jwe
from .access_token import AccessTokenPayload, decrypt_access_token
from ._encoding import b64_encode
from .ec import (
    PrivateKeyLike,
    PublicKeyLike,
    check_key_pair,
    encode_private_key,
    encode_public_key,
    generate_private_key,
    load_private_key,
    load_public_key,
    private_key_to_pkcs8,
    public_key_to_spki,
)
from .errors import InvalidFormat, InvalidKey

__all__ = [
    "KID_SETUP_CODE",
    "KID_DEVICE_KEY",
    "KID_USER_KEY",
    "generate_account_key",
    "UserKeys",
    "DeviceKeys",
    "device_id_for_public_key",
]

#: ``kid`` of ``UserDto.privateKeys`` (PBES2 with the account key).
KID_SETUP_CODE = "org.cryptomator.hub.setupCode"
#: ``kid`` of ``DeviceDto.userPrivateKey`` (ECDH-ES to the device key), as Katta's client writes it.
KID_DEVICE_KEY = "org.cryptomator.hub.deviceKey"
#: ``kid`` of JWEs to the user's ECDH key (access tokens, ``UserDto.setupCode``).
KID_USER_KEY = "org.cryptomator.hub.userkey"


def generate_account_key() -> str:
    """A new account key: a random UUID string, as Katta's client and Cryptomator Hub generate it.

    122 random bits, typable, shown to the user once. Callers must not store it.
    """
    return str(uuid.uuid4())


def device_id_for_public_key(public_key: PublicKeyLike) -> str:
    """Uppercase hex SHA-256 of the SPKI DER encoding (``DeviceDto.id``)."""
    key = load_public_key(public_key, "device public key")
    return hashlib.sha256(public_key_to_spki(key)).hexdigest().upper()


class UserKeys:
    """A user's ECDH and ECDSA P-384 key pairs."""

    __slots__ = ("_ecdh", "_ecdsa", "ecdsa_key_generated")

    def __init__(self, ecdh_private_key: ec.EllipticCurvePrivateKey,
                 ecdsa_private_key: ec.EllipticCurvePrivateKey, *, ecdsa_key_generated: bool = False) -> None:
        self._ecdh = load_private_key(ecdh_private_key, "ECDH private key")
        self._ecdsa = load_private_key(ecdsa_private_key, "ECDSA private key")
        #: True when the stored keys predate the ECDSA key (Hub < 1.4) and a new ECDSA key pair
        #: was generated on load; the caller must upload the new ``encoded_ecdsa_public_key``.
        self.ecdsa_key_generated = ecdsa_key_generated

    def __repr__(self) -> str:
        return "UserKeys(<private keys hidden>)"

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def create(cls) -> "UserKeys":
        return cls(generate_private_key(), generate_private_key())

    @classmethod
    def from_pkcs8(cls, ecdh_private_pkcs8_b64: PrivateKeyLike, ecdsa_private_pkcs8_b64: PrivateKeyLike) -> "UserKeys":
        """Load both private keys from base64 PKCS#8 (or DER bytes, or key objects)."""
        return cls(load_private_key(ecdh_private_pkcs8_b64, "ECDH private key"),
                   load_private_key(ecdsa_private_pkcs8_b64, "ECDSA private key"))

    # -- keys --------------------------------------------------------------------------------

    @property
    def ecdh_private_key(self) -> ec.EllipticCurvePrivateKey:
        return self._ecdh

    @property
    def ecdsa_private_key(self) -> ec.EllipticCurvePrivateKey:
        return self._ecdsa

    @property
    def ecdh_public_key(self) -> ec.EllipticCurvePublicKey:
        return self._ecdh.public_key()

    @property
    def ecdsa_public_key(self) -> ec.EllipticCurvePublicKey:
        return self._ecdsa.public_key()

    @property
    def encoded_ecdh_public_key(self) -> str:
        """base64 (standard) SPKI DER, for ``UserDto.ecdhPublicKey``."""
        return encode_public_key(self.ecdh_public_key)

    @property
    def encoded_ecdsa_public_key(self) -> str:
        """base64 (standard) SPKI DER, for ``UserDto.ecdsaPublicKey``."""
        return encode_public_key(self.ecdsa_public_key)

    def _payload(self) -> dict[str, str]:
        ecdh = encode_private_key(self._ecdh)
        return {
            "key": ecdh,  # redundant, for readers older than Hub 1.4 (Katta writes it too)
            "ecdhPrivateKey": ecdh,
            "ecdsaPrivateKey": encode_private_key(self._ecdsa),
        }

    @classmethod
    def _from_payload(cls, payload: dict[str, Any], ecdh_public_key: PublicKeyLike,
                      ecdsa_public_key: Optional[PublicKeyLike]) -> "UserKeys":
        ecdh_b64 = payload.get("ecdhPrivateKey")
        legacy = payload.get("key")
        if ecdh_b64 is None:
            ecdh_b64 = legacy
        elif legacy is not None and legacy != ecdh_b64:
            raise InvalidFormat("user key payload has conflicting key and ecdhPrivateKey")
        if ecdh_b64 is None:
            raise InvalidFormat("user key payload has no ECDH private key")
        ecdh = load_private_key(ecdh_b64, "ECDH private key")
        check_key_pair(ecdh, load_public_key(ecdh_public_key, "ECDH public key"), "ECDH private key")
        ecdsa_b64 = payload.get("ecdsaPrivateKey")
        if ecdsa_b64 is None:
            if ecdsa_public_key is not None:
                raise InvalidFormat("user key payload has no ECDSA private key")
            # Keys stored before Hub 1.4 have no ECDSA key: generate one, as Hub does.
            return cls(ecdh, generate_private_key(), ecdsa_key_generated=True)
        ecdsa = load_private_key(ecdsa_b64, "ECDSA private key")
        if ecdsa_public_key is None:
            raise InvalidKey("the ECDSA public key is required to check the recovered ECDSA key")
        check_key_pair(ecdsa, load_public_key(ecdsa_public_key, "ECDSA public key"), "ECDSA private key")
        return cls(ecdh, ecdsa)

    # -- account key (UserDto.privateKeys) ---------------------------------------------------

    def encrypt_with_account_key(self, account_key: str, *, iterations: int = jwe.PBES2_ITERATIONS) -> str:
        """``UserDto.privateKeys``: compact JWE PBES2-HS512+A256KW (p2c 1,000,000) / A256GCM.

        ``iterations`` exists for tests; production callers keep Katta's 1,000,000.
        """
        return jwe.encrypt_pbes2(self._payload(), account_key, kid=KID_SETUP_CODE, iterations=iterations)

    @classmethod
    def recover_with_account_key(cls, jwe_token: str, account_key: str, ecdh_public_key: PublicKeyLike,
                                 ecdsa_public_key: Optional[PublicKeyLike]) -> "UserKeys":
        """Decrypt ``UserDto.privateKeys`` and check both keys against the user's public keys.

        Raises :class:`DecryptionFailed` for a wrong account key, :class:`KeyMismatch` when the
        recovered keys do not belong to the given public keys.
        """
        payload = jwe.decrypt_pbes2(jwe_token, account_key.strip() if isinstance(account_key, str) else account_key)
        return cls._from_payload(payload, ecdh_public_key, ecdsa_public_key)

    # -- devices (DeviceDto.userPrivateKey) --------------------------------------------------

    def encrypt_for_device(self, device_public_key: Union[PublicKeyLike, "DeviceKeys"]) -> str:
        """``DeviceDto.userPrivateKey``: compact JWE ECDH-ES / A256GCM to the device's P-384 key."""
        if isinstance(device_public_key, DeviceKeys):
            device_public_key = device_public_key.public_key
        public_key = load_public_key(device_public_key, "device public key")
        return jwe.encrypt_ecdh_es(self._payload(), public_key, kid=KID_DEVICE_KEY)

    @classmethod
    def decrypt_on_device(cls, jwe_token: str, device_private_key: Union[PrivateKeyLike, "DeviceKeys"],
                          ecdh_public_key: PublicKeyLike, ecdsa_public_key: Optional[PublicKeyLike]) -> "UserKeys":
        """Decrypt ``DeviceDto.userPrivateKey`` (ECDH-ES or, as Hub writes it, ECDH-ES+A256KW).

        ``ecdsa_public_key`` may be ``None`` only for users whose keys predate the ECDSA key;
        a new ECDSA key pair is then generated (see :attr:`ecdsa_key_generated`).
        """
        if isinstance(device_private_key, DeviceKeys):
            device_private_key = device_private_key.private_key
        private_key = load_private_key(device_private_key, "device private key")
        payload = jwe.decrypt_ecdh_es(jwe_token, private_key, jwe.ECDH_ALGS, "device JWE")
        return cls._from_payload(payload, ecdh_public_key, ecdsa_public_key)

    # -- vault access tokens -----------------------------------------------------------------

    def decrypt_access_token(self, jwe_token: str) -> AccessTokenPayload:
        """Decrypt a vault access token (ECDH-ES or ECDH-ES+A256KW) addressed to this user."""
        return decrypt_access_token(jwe_token, self._ecdh)

    # -- UserDto.setupCode --------------------------------------------------------------------

    def encrypt_setup_code(self, account_key: str) -> str:
        """``UserDto.setupCode``: the account key as an ECDH-ES JWE to the user's own ECDH key.

        Lets the user see the account key again from a signed-in device (Hub's profile page).
        """
        return jwe.encrypt_ecdh_es({"setupCode": account_key}, self.ecdh_public_key, kid=KID_USER_KEY)

    def decrypt_setup_code(self, jwe_token: str) -> str:
        """The account key from ``UserDto.setupCode`` (ECDH-ES, or ECDH-ES+A256KW as Hub writes it)."""
        payload = jwe.decrypt_ecdh_es(jwe_token, self._ecdh, jwe.ECDH_ALGS, "setupCode JWE")
        code = payload.get("setupCode")
        if not isinstance(code, str):
            raise InvalidFormat("setupCode JWE has no setupCode")
        return code


class DeviceKeys:
    """This device's P-384 key pair."""

    __slots__ = ("_private",)

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        self._private = load_private_key(private_key, "device private key")

    def __repr__(self) -> str:
        return f"DeviceKeys(device_id={self.device_id!r})"

    @classmethod
    def create(cls) -> "DeviceKeys":
        return cls(generate_private_key())

    @classmethod
    def from_pkcs8(cls, pkcs8: PrivateKeyLike) -> "DeviceKeys":
        """Load from PKCS#8 DER bytes or base64 PKCS#8."""
        return cls(load_private_key(pkcs8, "device private key"))

    @classmethod
    def from_pem(cls, pem: bytes, password: Optional[bytes] = None) -> "DeviceKeys":
        """Load from a PEM PKCS#8 file (optionally encrypted with ``password``)."""
        try:
            key = serialization.load_pem_private_key(pem, password=password)
        except (ValueError, TypeError):
            raise InvalidKey("device key file is not a readable PEM private key") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise InvalidKey("device key file does not hold an EC private key")
        return cls(key)

    def to_pkcs8(self) -> bytes:
        """PKCS#8 DER bytes (keep them in a key store; never send them anywhere)."""
        return private_key_to_pkcs8(self._private)

    def to_pkcs8_b64(self) -> str:
        return b64_encode(self.to_pkcs8())

    def to_pem(self, password: Optional[bytes] = None) -> bytes:
        """PKCS#8 PEM, encrypted with ``password`` when given."""
        algorithm: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return self._private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, algorithm)

    @property
    def private_key(self) -> ec.EllipticCurvePrivateKey:
        return self._private

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._private.public_key()

    @property
    def encoded_public_key(self) -> str:
        """base64 (standard) SPKI DER, for ``DeviceDto.publicKey``."""
        return encode_public_key(self.public_key)

    @property
    def device_id(self) -> str:
        """Uppercase hex SHA-256 of the SPKI DER public key (``DeviceDto.id``)."""
        return device_id_for_public_key(self.public_key)
