"""The floor: the two hot requests done with nothing but the work they cannot avoid.

Each floor handler makes the same DynamoDB calls as the app (same keys, same items written, the same
conditions and ``ClientRequestToken``) and the same cryptography, on ``cryptography``'s primitives
and botocore's low-level client, with keys already imported and a subject token verified once per
token (as the app caches both) — no web framework, no JOSE library, no item decoding, no validation
models. ``figures.py`` measures it in the same run as the app, and the ratio app /
floor is the figure kept (architecture §13: ≤ 1.5); absolute milliseconds move with the machine.

Only the happy path is done: the floor checks signatures and the claims the app checks, and
refuses nothing gracefully — a bench-only reference, never a handler.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from typing import Any, Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

_CURVES = {"P-256": (ec.SECP256R1(), hashes.SHA256(), 32)}


def b64d(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_key(jwk: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    curve, _hash, _size = _CURVES[jwk["crv"]]
    return ec.EllipticCurvePublicNumbers(int.from_bytes(b64d(jwk["x"]), "big"), int.from_bytes(b64d(jwk["y"]), "big"),
                                         curve).public_key()


def key_of(jwks: dict[str, Any], kid: str | None = None, use: str | None = None) -> tuple[str, ec.EllipticCurvePublicKey]:
    jwk = next(k for k in jwks["keys"] if (kid is None or k.get("kid") == kid) and (use is None or k.get("use") == use))
    return jwk.get("kid"), public_key(jwk)


def verified_claims(token: str, key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    """An ES256 JWS's claims after its signature check (raises InvalidSignature otherwise)."""
    header, payload, signature = token.split(".")
    raw = b64d(signature)
    key.verify(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
               f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
    return json.loads(b64d(payload))


def check_claims(claims: dict[str, Any], *, issuer: str, audience: str, now: float) -> None:
    aud = claims["aud"]
    if claims["iss"] != issuer or audience not in (aud if isinstance(aud, list) else [aud]) or claims["exp"] < now:
        raise ValueError("refused")


def sign_es256(claims: dict[str, Any], header: dict[str, Any], key: ec.EllipticCurvePrivateKey) -> str:
    signing_input = f"{b64e(json.dumps(header).encode())}.{b64e(json.dumps(claims).encode())}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64e(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def jwe_ecdh_es_a256kw(plaintext: bytes, recipient: ec.EllipticCurvePublicKey, kid: str | None) -> str:
    """RFC 7518 §4.6 (ECDH-ES+A256KW) with A256GCM, as the app answers a secret release."""
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    numbers = ephemeral.public_key().public_numbers()
    epk = {"kty": "EC", "crv": "P-256", "x": b64e(numbers.x.to_bytes(32, "big")), "y": b64e(numbers.y.to_bytes(32, "big"))}
    header = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": kid, "epk": epk}
    alg = b"ECDH-ES+A256KW"
    other_info = len(alg).to_bytes(4, "big") + alg + bytes(4) + bytes(4) + (256).to_bytes(4, "big")
    kek = ConcatKDFHash(hashes.SHA256(), 32, other_info).derive(ephemeral.exchange(ec.ECDH(), recipient))
    cek, iv = os.urandom(32), os.urandom(12)
    protected = b64e(json.dumps(header).encode())
    sealed = AESGCM(cek).encrypt(iv, plaintext, protected.encode())
    return ".".join([protected, b64e(aes_key_wrap(kek, cek)), b64e(iv), b64e(sealed[:-16]), b64e(sealed[-16:])])


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _audit_item(log: str, event_type: str, details: dict[str, Any], now: float) -> dict[str, Any]:
    """The item ``db/audit.py`` writes: ``log`` is AUDIT (the hub's) or SVCAUDIT (the service's)."""
    event_id = int(now * 1000) * 1000 + int.from_bytes(os.urandom(2), "big") % 1000
    month, sk = time.strftime("%Y-%m", time.gmtime(now)), {"S": str(event_id * 1000).zfill(20)}
    return {"pk": {"S": f"{log}#{month}"}, "sk": sk, "gsi1pk": {"S": f"{log}TYPE#{event_type}#{month}"}, "gsi1sk": sk,
            "type": {"S": event_type},
            "timestamp": {"S": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(now))}, **details}


class AccessTokenFloor:
    """``GET /api/vaults/{id}/access-token``: bearer check, the user, ONE BatchGetItem, the audit PutItem."""

    def __init__(self, client: Any, table: str, issuer: str, audience: str, idp_jwks: dict[str, Any]) -> None:
        self.client, self.table, self.issuer, self.audience = client, table, issuer, audience
        self.keys = {kid: key for kid, key in (key_of(idp_jwks, k.get("kid")) for k in idp_jwks["keys"])}

    def __call__(self, bearer: str, vault_id: str) -> str:
        now = time.time()
        kid = json.loads(b64d(bearer.split(".")[0])).get("kid")
        claims = verified_claims(bearer, self.keys[kid])
        check_claims(claims, issuer=self.issuer, audience=self.audience, now=now)
        user_id = claims["sub"]
        user = self.client.get_item(TableName=self.table, Key=_key(f"USER#{user_id}", "PROFILE"), ConsistentRead=True)["Item"]
        vault = f"VAULT#{vault_id}"
        wanted = [_key(vault, "PROFILE"), _key(vault, f"TOKEN#{user_id}"), _key(vault, f"MEMBER#{user_id}")]
        found = self.client.batch_get_item(RequestItems={self.table: {"Keys": wanted}})["Responses"][self.table]
        by_sk = {item["sk"]["S"]: item for item in found}
        if "ecdhPublicKey" not in user or f"MEMBER#{user_id}" not in by_sk:
            raise ValueError("refused")
        self.client.put_item(TableName=self.table, Item=_audit_item("AUDIT", "VAULT_KEY_RETRIEVE", {
            "retrievedBy": {"S": user_id}, "vaultId": {"S": vault_id}, "result": {"S": "SUCCESS"},
            "ipAddress": {"S": "127.0.0.1"}}, now),
            ConditionExpression="attribute_not_exists(pk)", ReturnValuesOnConditionCheckFailure="ALL_OLD")
        return by_sk[f"TOKEN#{user_id}"]["token"]["S"]


class SecretReleaseFloor:
    """``POST /secret-server/token-exchange``: the client assertion's check, the subject token's (its
    signature once per token, its claims every time), ONE BatchGetItem (resource server, IdP, account,
    sealed secret), the secret opened with a cached data key, JWE to the resource server, the release
    token signed, ONE TransactWriteItems (jti, audit), the JSON answer."""

    def __init__(self, client: Any, table: str, token_endpoint: str, audience: str, idp_issuer: str,
                 idp_jwks: dict[str, Any], backend_jwks: dict[str, Any], data_key: bytes, sealed: bytes,
                 signing_key: ec.EllipticCurvePrivateKey, issuer: str, keys_of: Callable[..., list[tuple[str, str]]]) -> None:
        self.client, self.table, self.token_endpoint, self.audience = client, table, token_endpoint, audience
        self.idp_issuer, self.issuer, self.keys_of = idp_issuer, issuer, keys_of
        self.idp_keys = {k.get("kid"): public_key(k) for k in idp_jwks["keys"]}
        self.backend_signing_kid, self.backend_signing = key_of(backend_jwks, use="sig")
        self.backend_encryption = key_of(backend_jwks, use="enc")
        self.data_key, self.sealed, self.signing_key = AESGCM(data_key), sealed, signing_key
        self.signing_kid = b64e(hashlib.sha256(b"floor").digest())  # as long as a thumbprint kid
        self.verified: dict[str, dict[str, Any]] = {}  # SHA-256 of a subject token → its claims

    def __call__(self, form: str) -> str:
        from urllib.parse import parse_qs

        now = time.time()
        fields = {k: v[0] for k, v in parse_qs(form).items()}
        assertion = verified_claims(fields["client_assertion"], self.backend_signing)
        client_id = assertion["iss"]
        if assertion["sub"] != client_id or fields["audience"] != client_id:
            raise ValueError("refused")
        check_claims(assertion, issuer=client_id, audience=self.token_endpoint, now=now)
        subject_token = fields["subject_token"]
        digest = hashlib.sha256(subject_token.encode()).hexdigest()
        claims = self.verified.get(digest)
        if claims is None:
            kid = json.loads(b64d(subject_token.split(".")[0])).get("kid")
            claims = self.verified[digest] = verified_claims(subject_token, self.idp_keys[kid])
        check_claims(claims, issuer=self.idp_issuer, audience=self.audience, now=now)
        wanted = [_key(pk, sk) for pk, sk in self.keys_of(client_id, claims["iss"], claims["sub"])]
        found = self.client.batch_get_item(RequestItems={self.table: {"Keys": wanted}})["Responses"][self.table]
        if len(found) != len(wanted):
            raise ValueError("refused")
        secret = self.data_key.decrypt(self.sealed[:12], self.sealed[12:], claims["sub"].encode())
        kid, recipient = self.backend_encryption
        sealed = jwe_ecdh_es_a256kw(secret, recipient, kid)
        token_id = b64e(os.urandom(16))
        signing_kid = self.signing_kid
        token = sign_es256({"iss": self.issuer, "sub": claims["sub"], "aud": client_id, "iat": int(now),
                            "exp": int(now) + 60, "jti": token_id, "secret": {client_id: sealed}},
                           {"typ": "secret+jwt", "alg": "ES256", "kid": signing_kid}, self.signing_key)
        details = {"clientId": client_id, "assertionKid": self.backend_signing_kid, "clientAuthenticated": True,
                   "issuer": claims["iss"], "subject": claims["sub"], "encryptionKid": kid,
                   "encryptionAlg": "ECDH-ES+A256KW", "signingKid": signing_kid, "tokenId": token_id, "secretVersion": 1,
                   "secretCreated": False}
        self.client.transact_write_items(TransactItems=[
            {"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(pk) OR #ttl <= :now",
                     "ExpressionAttributeValues": {":now": {"N": str(int(now))}},
                     "ExpressionAttributeNames": {"#ttl": "expires_at"},
                     "Item": {**_key(f"JTI#{client_id}", assertion["jti"]), "expires_at": {"N": str(assertion["exp"])}}}},
            {"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(pk)",
                     "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                     "Item": _audit_item("SVCAUDIT", "SECRET_RELEASE", {
                         k: {"BOOL": v} if isinstance(v, bool) else {"N": str(v)} if isinstance(v, int) else {"S": v}
                         for k, v in details.items()}, now)}},
        ], ClientRequestToken=os.urandom(18).hex())
        return json.dumps({"access_token": token, "issued_token_type": "urn:ietf:params:oauth:token-type:jwt",
                           "token_type": "N_A", "expires_in": 60}, separators=(",", ":"))
