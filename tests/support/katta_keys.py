"""Real client-side material for Katta API tests: P-384 keys, SPKI, compact JWEs.

Deliberately independent of katta_client: the server tests must not depend on
the client under construction.
"""
from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwe
from joserfc.jwk import ECKey


def spki_b64(public_key: ec.EllipticCurvePublicKey) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def jwe_to(public_key: ec.EllipticCurvePublicKey, payload: dict, alg: str = "ECDH-ES") -> str:
    recipient = ECKey.import_key(public_key)
    return jwe.encrypt_compact({"alg": alg, "enc": "A256GCM"}, json.dumps(payload).encode(), recipient)


@dataclass
class UserKeys:
    ecdh: ec.EllipticCurvePrivateKey
    ecdsa: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> "UserKeys":
        return cls(ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(ec.SECP384R1()))

    @property
    def ecdh_public(self) -> str:
        return spki_b64(self.ecdh.public_key())

    @property
    def ecdsa_public(self) -> str:
        return spki_b64(self.ecdsa.public_key())

    def user_dto(self) -> dict:
        # privateKeys stands in for the PBES2 JWE: the server only checks its shape.
        return {"ecdhPublicKey": self.ecdh_public, "ecdsaPublicKey": self.ecdsa_public,
                "privateKeys": jwe_to(self.ecdh.public_key(), {"ecdhPrivateKey": "x", "ecdsaPrivateKey": "y"}),
                "setupCode": jwe_to(self.ecdh.public_key(), {"setupCode": "123"})}

    def access_token(self, vault_key: bytes) -> str:
        return jwe_to(self.ecdh.public_key(), {"key": base64.b64encode(vault_key).decode()})


@dataclass
class DeviceKeys:
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> "DeviceKeys":
        return cls(ec.generate_private_key(ec.SECP384R1()))

    @property
    def public(self) -> str:
        return spki_b64(self.key.public_key())

    @property
    def id(self) -> str:
        return hashlib.sha256(base64.b64decode(self.public)).hexdigest().upper()

    def dto(self, name: str = "Laptop", user_keys: UserKeys | None = None) -> dict:
        return {"id": self.id, "name": name, "type": "DESKTOP", "publicKey": self.public,
                "userPrivateKey": jwe_to(self.key.public_key(), {"ecdhPrivateKey": "x", "ecdsaPrivateKey": "y"})}


def new_vault_id() -> str:
    return str(uuid.uuid4())


def vault_dto(vault_id: str, name: str = "Team Vault", description: str = "shared files") -> dict:
    return {"id": vault_id, "name": name, "description": description,
            "uvfMetadataFile": json.dumps({"protected": "e30", "recipients": [], "ciphertext": "x"}),
            "uvfKeySet": json.dumps({"keys": []})}
