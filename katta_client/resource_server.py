"""The resource-server side of the Katta secret server (docs/secret-server.md).

A backend that stores users' data encrypted holds two key pairs — a signing
key that authenticates it (``private_key_jwt``) and an encryption key the
secret server encrypts users' secrets to — and registers their public halves.
For each request it forwards the user's IdP token; ``ResourceServer.release``

1. builds a client assertion (RFC 7523) signed with the signing key,
2. calls ``POST /secret-server/token-exchange`` (RFC 8693),
3. verifies the answer — a JWT signed by a key from the server's
   ``/.well-known/jwks.json``, issued by the server, addressed to this backend, unexpired —
4. and decrypts this backend's entry of its ``secret`` claim (a JWE to the encryption key).

The result is the user's 256-bit secret, the same on every call for the same user.
"""
from __future__ import annotations

import json
import secrets as random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from joserfc import jwe, jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from katta_client.crypto import InvalidFormat, json_object, json_segment

TOKEN_PATH = "/secret-server/token-exchange"
JWKS_PATH = "/.well-known/jwks.json"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
RELEASE_TOKEN_TYPE = "secret+jwt"
# What the secret server signs and encrypts with (architecture §6); nothing else is accepted.
SIGNING_ALGORITHMS = frozenset({"ES256", "ES384", "ES512", "RS256"})
KEY_WRAPPING_ALGORITHMS = frozenset({"ECDH-ES+A256KW", "RSA-OAEP-256"})
CONTENT_ENCRYPTION = "A256GCM"
SECRET_BYTES = 32
MAX_RESPONSE_BYTES = 256 * 1024


class SecretServerError(Exception):
    """The secret server refused (``error`` is the RFC 6749 code) or could not be used."""

    def __init__(self, error: str, description: str, status: int | None = None) -> None:
        super().__init__(f"{error}: {description}" + (f" (HTTP {status})" if status else ""))
        self.error = error
        self.description = description
        self.status = status


class InvalidRelease(SecretServerError):
    """The answer is not a release we can trust: bad signature, wrong audience, expired, undecryptable."""

    def __init__(self, description: str) -> None:
        super().__init__("invalid_release", description)


class Transport(Protocol):
    """HTTP as the helper needs it; ``RequestsTransport`` is the real one, tests bring their own."""

    def post_form(self, url: str, form: dict[str, str]) -> tuple[int, Any]: ...

    def get_json(self, url: str) -> Any: ...


class RequestsTransport:
    def __init__(self, timeout: float = 10.0, session=None) -> None:
        import requests

        self._timeout = timeout
        self._session = session or requests.Session()

    def post_form(self, url: str, form: dict[str, str]) -> tuple[int, Any]:
        response = self._session.post(url, data=form, timeout=self._timeout,
                                      headers={"Accept": "application/json"})
        return response.status_code, _bounded_json(response)

    def get_json(self, url: str) -> Any:
        response = self._session.get(url, timeout=self._timeout, headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise SecretServerError("jwks_unavailable", f"{url} answered HTTP {response.status_code}",
                                    response.status_code)
        return _bounded_json(response)


def _bounded_json(response) -> Any:
    if len(response.content) > MAX_RESPONSE_BYTES:
        raise SecretServerError("invalid_response", f"the answer exceeds {MAX_RESPONSE_BYTES} bytes")
    try:
        return response.json()
    except ValueError:
        raise SecretServerError("invalid_response", f"the answer is not JSON (HTTP {response.status_code})",
                                response.status_code) from None


@dataclass(frozen=True)
class ResourceServerKeys:
    """The backend's two key pairs; keep ``private_jwks()`` as secret as a password."""

    signing: Any
    encryption: Any

    @classmethod
    def generate(cls) -> "ResourceServerKeys":
        signing = ECKey.generate_key("P-256", parameters={"use": "sig", "alg": "ES256"}, auto_kid=True)
        encryption = ECKey.generate_key("P-256", parameters={"use": "enc", "alg": "ECDH-ES+A256KW"}, auto_kid=True)
        return cls(signing, encryption)

    @classmethod
    def from_private_jwks(cls, document: dict[str, Any]) -> "ResourceServerKeys":
        keys = KeySet.import_key_set(document)
        by_use = {key.get("use"): key for key in keys.keys}
        if set(by_use) != {"sig", "enc"} or len(keys.keys) != 2:
            raise ValueError('expected exactly one "sig" and one "enc" private key')
        return cls(by_use["sig"], by_use["enc"])

    def private_jwks(self) -> dict[str, Any]:
        return {"keys": [self.signing.as_dict(private=True), self.encryption.as_dict(private=True)]}

    def public_jwks(self) -> dict[str, Any]:
        """What to register (inline) or to serve at the registered JWKS URL."""
        return {"keys": [self.signing.as_dict(private=False), self.encryption.as_dict(private=False)]}

    @property
    def signing_alg(self) -> str:
        return self.signing.get("alg") or "ES256"


@dataclass(frozen=True)
class ReleasedSecret:
    secret: bytes = field(repr=False)
    subject: str
    token_id: str
    expires_at: int


class ResourceServer:
    def __init__(self, client_id: str, secret_server_url: str, keys: ResourceServerKeys, *,
                 transport: Transport | None = None, clock: Callable[[], float] = time.time,
                 assertion_lifetime: int = 60, leeway: int = 30, jwks_refetch_cooldown: float = 30.0) -> None:
        self.client_id = client_id
        self.base_url = secret_server_url.rstrip("/")
        self.keys = keys
        self._transport = transport or RequestsTransport()
        self._clock = clock
        self._assertion_lifetime = assertion_lifetime
        self._leeway = leeway
        self._cooldown = jwks_refetch_cooldown
        self._server_keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    @property
    def token_endpoint(self) -> str:
        return self.base_url + TOKEN_PATH

    def client_assertion(self) -> str:
        """A fresh, single-use ``private_key_jwt`` assertion for the token endpoint."""
        now = int(self._clock())
        claims = {"iss": self.client_id, "sub": self.client_id, "aud": self.token_endpoint, "iat": now,
                  "exp": now + self._assertion_lifetime, "jti": random.token_urlsafe(24)}
        header = {"alg": self.keys.signing_alg, "kid": self.keys.signing.kid, "typ": "JWT"}
        return jws.serialize_compact(header, json.dumps(claims).encode(), self.keys.signing,
                                     algorithms=[header["alg"]])

    def exchange(self, subject_token: str) -> dict[str, Any]:
        """The raw token response; SecretServerError with the server's error code if refused."""
        status, body = self._transport.post_form(self.token_endpoint, {
            "grant_type": TOKEN_EXCHANGE, "subject_token": subject_token,
            "subject_token_type": JWT_TOKEN_TYPE, "requested_token_type": JWT_TOKEN_TYPE,
            "audience": self.client_id, "client_assertion_type": JWT_BEARER_ASSERTION,
            "client_assertion": self.client_assertion()})
        if status != 200:
            error = body.get("error", "http_error") if isinstance(body, dict) else "http_error"
            description = body.get("error_description", "") if isinstance(body, dict) else ""
            raise SecretServerError(str(error), str(description), status)
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise SecretServerError("invalid_response", "the answer has no access_token", status)
        return body

    def release(self, subject_token: str) -> ReleasedSecret:
        """The user's secret, for the user whose IdP token ``subject_token`` is."""
        return self.open_release(self.exchange(subject_token)["access_token"])

    def open_release(self, token: str) -> ReleasedSecret:
        """Verifies a release token and decrypts this backend's secret from it."""
        claims = self._verified_claims(token)
        sealed = claims.get("secret", {}).get(self.client_id) if isinstance(claims.get("secret"), dict) else None
        if not isinstance(sealed, str):
            raise InvalidRelease(f"the token carries no secret for {self.client_id}")
        return ReleasedSecret(self._decrypt(sealed), claims["sub"], str(claims.get("jti", "")), int(claims["exp"]))

    # -- verification ---------------------------------------------------------------------

    def _verified_claims(self, token: str) -> dict[str, Any]:
        try:
            header = json_segment(token.split(".")[0], "the access token's header")
        except InvalidFormat:
            raise InvalidRelease("the access token is not a JWS with a well-formed header") from None
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in SIGNING_ALGORITHMS:
            raise InvalidRelease(f"the access token's alg must be one of {', '.join(sorted(SIGNING_ALGORITHMS))}")
        if header.get("typ") != RELEASE_TOKEN_TYPE:
            raise InvalidRelease(f"the access token's typ is not {RELEASE_TOKEN_TYPE}")
        if "crit" in header or not isinstance(kid, str):
            raise InvalidRelease("the access token must name its key (kid) and have no crit header")
        key = self._server_key(kid)
        try:
            verified = jws.deserialize_compact(token, key, algorithms=[alg])
        except (JoseError, ValueError, TypeError):
            raise InvalidRelease("the access token's signature is invalid") from None
        try:
            claims = json_object(verified.payload, "the access token's claims")
        except InvalidFormat as error:
            raise InvalidRelease(str(error)) from None
        now = self._clock()
        if claims.get("iss") != self.base_url:
            raise InvalidRelease(f"the access token was not issued by {self.base_url}")
        audience = claims.get("aud")
        if audience != self.client_id and not (isinstance(audience, list) and self.client_id in audience):
            raise InvalidRelease("the access token is not addressed to this resource server")
        if not _numeric_date(claims.get("exp")) or now > claims["exp"] + self._leeway:
            raise InvalidRelease("the access token has expired (or its exp is not a date)")
        # A token dated ahead of our clock (beyond leeway) was not issued for now: refuse it like RFC 7519 §4.1.5.
        for claim in ("nbf", "iat"):
            if claim in claims and (not _numeric_date(claims[claim]) or claims[claim] > now + self._leeway):
                raise InvalidRelease(f"the access token's {claim} lies in the future (or is not a date)")
        if not isinstance(claims.get("sub"), str):
            raise InvalidRelease("the access token has no subject")
        return claims

    def _server_key(self, kid: str):
        with self._lock:
            if self._server_keys is None or (_find_sig(self._server_keys, kid) is None
                                             and self._clock() - self._fetched_at >= self._cooldown):
                # Unknown kid: the server may have rotated; refetch, at most once per cooldown.
                self._fetched_at = self._clock()
                self._server_keys = KeySet.import_key_set(self._transport.get_json(self.base_url + JWKS_PATH))
            key = _find_sig(self._server_keys, kid)
        if key is None:
            raise InvalidRelease(f"no signing key {kid[:64]!r} in {self.base_url}{JWKS_PATH}")
        return key

    def _decrypt(self, compact: str) -> bytes:
        try:
            header = json_segment(compact.split(".")[0], "the secret's JWE header")
        except InvalidFormat:
            raise InvalidRelease("the secret is not a compact JWE with a well-formed header") from None
        if "zip" in header or header.get("enc") != CONTENT_ENCRYPTION:
            raise InvalidRelease(f"the secret's JWE must use enc {CONTENT_ENCRYPTION} without zip")
        alg = header.get("alg")
        if (not isinstance(alg, str) or alg not in KEY_WRAPPING_ALGORITHMS
                or alg != (self.keys.encryption.get("alg") or alg)):
            raise InvalidRelease("the secret's JWE uses a key-wrapping algorithm our key is not for")
        if header.get("kid") != self.keys.encryption.kid:
            raise InvalidRelease("the secret is encrypted to another key than ours (kid)")
        try:
            plaintext = jwe.decrypt_compact(compact, self.keys.encryption,
                                            algorithms=[alg, CONTENT_ENCRYPTION]).plaintext
        except (JoseError, ValueError, TypeError):
            raise InvalidRelease("the secret's JWE does not decrypt with our key") from None
        if plaintext is None or len(plaintext) != SECRET_BYTES:
            raise InvalidRelease(f"the secret is not {SECRET_BYTES} bytes")
        return plaintext


def _numeric_date(value: Any) -> bool:
    # Our tokens carry integer dates; 10**400 is an int too, and no date (the server's bound, 2^53).
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2 ** 53


def _find_sig(keys: KeySet, kid: str):
    return next((k for k in keys.keys if k.kid == kid and k.get("use") in (None, "sig")), None)
