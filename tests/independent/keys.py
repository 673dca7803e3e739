"""Key material as Cryptomator Hub's web client writes it, through jwcrypto and ``cryptography``.

* User keys: P-384 ECDH and ECDSA pairs, public keys as base64 SPKI DER. ``privateKeys`` is the
  PBES2-HS512+A256KW JWE of ``{ecdhPrivateKey, ecdsaPrivateKey}`` (base64 PKCS#8) under the account
  key (``kid`` ``org.cryptomator.hub.setupCode``); ``setupCode`` is the account key in a JWE to the
  user's own ECDH key.
* Every ECDH JWE Hub's web client writes is ``ECDH-ES+A256KW``; Katta's Java client writes
  ``ECDH-ES``; both are offered where a test wants either.
* A vault: a 32-byte member key and a P-384 recovery key; ``vault.uvf`` is a general JSON JWE with
  the protected header ``{origin, jku, enc}`` (no ``crit``) and the recipients ``memberkey``
  (A256KW) and ``recoverykey.<thumbprint>`` (ECDH-ES+A256KW); ``uvfKeySet`` is the public recovery
  key as a JWKS.
* A web-of-trust signature: a compact ES384 JWS, header ``{alg, typ, b64, iss, sub, iat}``, payload
  the signed user's public keys.
* An emergency approval's ``signedProcessInfo``: a compact ES384 JWT by the approver's ECDSA key, header
  ``{alg, typ, b64}``, claims ``{iss: approver id, sub: process id, iat, type, details}``; Hub's web client
  checks every approval's before it approves or completes (:func:`hub_accepts_approvals`).
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterator

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto import jwa, jwe, jwk, jws
from jwcrypto.common import JWSEHeaderParameter

HUB_ECDH = "ECDH-ES+A256KW"
JAVA_ECDH = "ECDH-ES"
USER_KEY_KID = "org.cryptomator.hub.userkey"
DEVICE_KEY_KID = "org.cryptomator.hub.deviceKey"
SETUP_CODE_KID = "org.cryptomator.hub.setupCode"
MEMBER_KEY_KID = "org.cryptomator.hub.memberkey"
RECOVERY_KEY_KID_PREFIX = "org.cryptomator.hub.recoverykey."
# PBES2 iterations: Hub's count costs about a second per use; the server stores the JWE opaque, so
# tests use a small count unless they are about the count.
HUB_PBES2_ITERATIONS = 1_000_000
TEST_PBES2_ITERATIONS = 1_000


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def spki(public_key: ec.EllipticCurvePublicKey) -> str:
    return b64(public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


def pkcs8(private_key: ec.EllipticCurvePrivateKey) -> str:
    return b64(private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))


def public_key_of(spki_b64: str) -> ec.EllipticCurvePublicKey:
    key = serialization.load_der_public_key(base64.b64decode(spki_b64))
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp384r1"
    return key


def private_key_of(pkcs8_b64: str) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_der_private_key(base64.b64decode(pkcs8_b64), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def p384() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def stringify(value: Any) -> str:
    """JavaScript's ``JSON.stringify``: no spaces (headers are authenticated as their exact bytes)."""
    return json.dumps(value, separators=(",", ":"))


def compact_jwe(payload: dict[str, Any], recipient: jwk.JWK, header: dict[str, Any]) -> str:
    token = jwe.JWE(stringify(payload).encode(), stringify({"enc": "A256GCM", **header}))
    token.add_recipient(recipient)
    return token.serialize(compact=True)


def ecdh_jwe(payload: dict[str, Any], recipient: ec.EllipticCurvePublicKey, kid: str, alg: str = HUB_ECDH) -> str:
    return compact_jwe(payload, jwk.JWK.from_pyca(recipient), {"alg": alg, "kid": kid})


# Katta's writers mark the UVF version critical; a reader that knows it may open such a document.
UVF_SPEC_VERSION = {"uvf.spec.version": JWSEHeaderParameter("UVF spec version", True, True, None)}


def open_jwe(token: str, key: jwk.JWK, allowed: tuple[str, ...], understood: dict | None = None) -> dict[str, Any]:
    opened = jwe.JWE(algs=[*allowed, "A256GCM"], header_registry=understood)
    opened.deserialize(token, key=key)
    return json.loads(opened.payload)


def open_ecdh_jwe(token: str, private_key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    return open_jwe(token, jwk.JWK.from_pyca(private_key), (HUB_ECDH, JAVA_ECDH))


def header_of(compact: str) -> dict[str, Any]:
    segment = compact.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


@contextlib.contextmanager
def _pbes2_up_to_hubs_count() -> Iterator[None]:
    """jwcrypto caps PBES2 at 16,384 iterations, process-wide; Hub and Katta write 1,000,000."""
    cap = jwa.default_max_pbkdf2_iterations
    jwa.default_max_pbkdf2_iterations = HUB_PBES2_ITERATIONS
    try:
        yield
    finally:
        jwa.default_max_pbkdf2_iterations = cap


@dataclass
class UserKeys:
    ecdh: ec.EllipticCurvePrivateKey = field(default_factory=p384)
    ecdsa: ec.EllipticCurvePrivateKey = field(default_factory=p384)
    account_key: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def ecdh_public(self) -> str:
        return spki(self.ecdh.public_key())

    @property
    def ecdsa_public(self) -> str:
        return spki(self.ecdsa.public_key())

    def private_payload(self) -> dict[str, str]:
        return {"ecdhPrivateKey": pkcs8(self.ecdh), "ecdsaPrivateKey": pkcs8(self.ecdsa)}

    def private_keys_jwe(self, iterations: int = TEST_PBES2_ITERATIONS) -> str:
        password = jwk.JWK.from_password(self.account_key)
        with _pbes2_up_to_hubs_count():
            return compact_jwe(self.private_payload(), password,
                               {"alg": "PBES2-HS512+A256KW", "kid": SETUP_CODE_KID, "p2c": iterations})

    def setup_code_jwe(self) -> str:
        return ecdh_jwe({"setupCode": self.account_key}, self.ecdh.public_key(), USER_KEY_KID)

    def for_device(self, device_public: ec.EllipticCurvePublicKey, alg: str = HUB_ECDH) -> str:
        return ecdh_jwe(self.private_payload(), device_public, DEVICE_KEY_KID, alg)

    def user_dto(self, iterations: int = TEST_PBES2_ITERATIONS) -> dict[str, str]:
        """The body of Hub's ``PUT /api/users/me`` after the user set up their keys."""
        return {"ecdhPublicKey": self.ecdh_public, "ecdsaPublicKey": self.ecdsa_public,
                "privateKeys": self.private_keys_jwe(iterations), "setupCode": self.setup_code_jwe()}

    @classmethod
    def recover(cls, private_keys: str, account_key: str) -> "UserKeys":
        """What a new browser does with the account key: opens ``privateKeys``."""
        opened = jwe.JWE(algs=["PBES2-HS512+A256KW", "A256GCM"])
        with _pbes2_up_to_hubs_count():
            opened.deserialize(private_keys, key=jwk.JWK.from_password(account_key))
        payload = json.loads(opened.payload)
        return cls(private_key_of(payload["ecdhPrivateKey"]), private_key_of(payload["ecdsaPrivateKey"]), account_key)

    def sign(self, signer_id: str, user_id: str, ecdh_public: str, ecdsa_public: str) -> str:
        """A web-of-trust signature of another user's public keys."""
        header = {"alg": "ES384", "typ": "JWT", "b64": True, "iss": signer_id, "sub": user_id, "iat": int(time.time())}
        return _es384(self.ecdsa, header, {"ecdhPublicKey": ecdh_public, "ecdsaPublicKey": ecdsa_public})


def _es384(key: ec.EllipticCurvePrivateKey, header: dict[str, Any], payload: dict[str, Any]) -> str:
    # Hub writes ``b64: true`` without ``crit``; jwcrypto's JWS refuses to write that (RFC 7797 wants
    # ``crit`` only for ``b64: false``), its core signer does not.
    signed = jws.JWSCore("ES384", jwk.JWK.from_pyca(key), stringify(header), stringify(payload).encode()).sign()
    return ".".join([signed["protected"], signed["payload"].decode(), signed["signature"]])


def signed_process_info(ecdsa: ec.EllipticCurvePrivateKey, member_id: str, process: dict[str, Any],
                        iat: int | None = None) -> str:
    """The signature Hub's web client adds with a member's approval: the process's type and details."""
    claims = {"iss": member_id, "sub": process["id"], "iat": int(time.time()) if iat is None else iat,
              **{k: process[k] for k in ("type", "details") if k in process}}
    return _es384(ecdsa, {"alg": "ES384", "typ": "JWT", "b64": True}, claims)


def hub_accepts_approvals(process: dict[str, Any], ecdsa_publics: dict[str, str]) -> bool:
    """Hub's web client's check before it approves or completes: each member who added a share signed, with
    their own ECDSA key, as themselves, for this process, its very type and details."""
    for member_id, share in process["recoveredKeyShares"].items():
        if not share.get("recoveredKeyShare"):
            continue
        if not share.get("signedProcessInfo") or member_id not in ecdsa_publics:
            return False
        checked = jws.JWS()
        checked.deserialize(share["signedProcessInfo"])
        try:
            checked.verify(jwk.JWK.from_pyca(public_key_of(ecdsa_publics[member_id])), alg="ES384")
        except jws.InvalidJWSSignature:
            return False
        claims = json.loads(checked.payload)
        if (claims.get("iss"), claims.get("sub"), claims.get("type")) != (member_id, process["id"], process["type"]):
            return False
        if claims.get("details") != process.get("details"):
            return False
    return True


def verify_signature(signature: str, signer_ecdsa_public: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(protected header, signed keys) of a web-of-trust signature; raises unless it verifies."""
    checked = jws.JWS()
    checked.deserialize(signature)
    checked.verify(jwk.JWK.from_pyca(public_key_of(signer_ecdsa_public)), alg="ES384")
    return header_of(signature), json.loads(checked.payload)


@dataclass
class Device:
    key: ec.EllipticCurvePrivateKey = field(default_factory=p384)

    @property
    def public(self) -> str:
        return spki(self.key.public_key())

    @property
    def id(self) -> str:
        """Katta's device id: uppercase hex SHA-256 of the SPKI DER."""
        return hashlib.sha256(base64.b64decode(self.public)).hexdigest().upper()

    def dto(self, user: UserKeys, name: str = "Firefox") -> dict[str, str]:
        """The body of Hub's ``PUT /api/devices/{id}`` for the browser it runs in."""
        return {"id": self.id, "name": name, "type": "BROWSER", "publicKey": self.public,
                "userPrivateKey": user.for_device(self.key.public_key()),
                "creationTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}

    def open_user_keys(self, user_private_key: str, account_key: str = "") -> UserKeys:
        payload = open_ecdh_jwe(user_private_key, self.key)
        return UserKeys(private_key_of(payload["ecdhPrivateKey"]), private_key_of(payload["ecdsaPrivateKey"]),
                        account_key)


@dataclass
class Vault:
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    member_key: bytes = field(default_factory=lambda: os.urandom(32))
    recovery: ec.EllipticCurvePrivateKey = field(default_factory=p384)
    seed_id: str = field(default_factory=lambda: b64u(os.urandom(4)))
    seed: bytes = field(default_factory=lambda: os.urandom(32))
    kdf_salt: bytes = field(default_factory=lambda: os.urandom(32))

    @property
    def recovery_jwk(self) -> jwk.JWK:
        return jwk.JWK.from_pyca(self.recovery.public_key())

    @property
    def recovery_kid(self) -> str:
        return RECOVERY_KEY_KID_PREFIX + self.recovery_jwk.thumbprint()

    def payload(self) -> dict[str, Any]:
        return {"fileFormat": "AES-256-GCM-32k", "nameFormat": "AES-SIV-512-B64URL",
                "seeds": {self.seed_id: b64u(self.seed)}, "initialSeed": self.seed_id, "latestSeed": self.seed_id,
                "kdf": "HKDF-SHA512", "kdfSalt": b64u(self.kdf_salt),
                "org.cryptomator.automaticAccessGrant": {"enabled": False, "maxWotDepth": -1}}

    def uvf_metadata_file(self, api_base: str) -> str:
        origin = f"{api_base}/api/vaults/{self.id}/uvf/vault.uvf"
        document = jwe.JWE(stringify(self.payload()).encode(),
                           protected=stringify({"origin": origin, "jku": "jwks.json", "enc": "A256GCM"}))
        document.add_recipient(jwk.JWK(kty="oct", k=b64u(self.member_key)),
                               header=stringify({"kid": MEMBER_KEY_KID, "alg": "A256KW"}))
        document.add_recipient(self.recovery_jwk, header=stringify({"kid": self.recovery_kid, "alg": HUB_ECDH}))
        return document.serialize()

    def uvf_key_set(self) -> str:
        public = self.recovery_jwk.export_public(as_dict=True)
        public.pop("kid", None)  # jwcrypto names the key by its bare thumbprint
        # RecoveryKey.serializePublicKey(): the kid first, then the JWK members.
        return json.dumps({"keys": [{"kid": self.recovery_kid, **public}]})

    def dto(self, api_base: str, name: str = "Team Vault", description: str = "", archived: bool = False) -> dict:
        """The body of Hub's ``createOrUpdateVault``."""
        return {"id": self.id, "name": name, "description": description, "archived": archived,
                "creationTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "uvfMetadataFile": self.uvf_metadata_file(api_base), "uvfKeySet": self.uvf_key_set()}

    def access_token(self, member_ecdh_public: str, owner: bool = False, alg: str = HUB_ECDH) -> str:
        """An access token for a member; an owner's also carries the recovery key."""
        payload = {"key": b64(self.member_key)}
        if owner:
            payload["recoveryKey"] = pkcs8(self.recovery)
        return ecdh_jwe(payload, public_key_of(member_ecdh_public), USER_KEY_KID, alg)


def open_vault_metadata(document: str, member_key: bytes) -> dict[str, Any]:
    """What a member does with ``vault.uvf`` and the key of their access token."""
    protected = header_of(json.loads(document)["protected"] + ".")
    assert protected.get("uvf.spec.version", 1) == 1, protected
    return open_jwe(document, jwk.JWK(kty="oct", k=b64u(member_key)), ("A256KW",), UVF_SPEC_VERSION)
