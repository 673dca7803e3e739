"""The secret server's rules (architecture §8): who may have which user's secret, and in what form.

A release needs three proofs: the caller is a registered resource server
(``private_key_jwt``), it asks for itself (``audience``), and the user signed
in at a registered IdP whose token names the secret server. The user's secret
is then released only inside a JWE to the resource server's registered ``enc``
key, inside a JWT signed by our active POP key. The plaintext exists only in
this function's memory.

Every outcome is audited — the release with its key ids, or the refusal with
the reason — in the same transaction that spends the assertion's ``jti``.
A warm release is one BatchGetItem and one TransactWriteItems, and no KMS call.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets as random
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from chalicelib.audit import catalogue
from chalicelib.auth import accounts, bearer, signed_jwt
from chalicelib.crypto import envelope
from chalicelib.errors import Unauthorized
from chalicelib.oauth import INVALID_CLIENT, INVALID_GRANT, INVALID_TARGET, TOKEN_TYPE_JWT, OAuthError
from chalicelib.secrets import TOKEN_PATH, client_auth, keysets
from chalicelib.db.table import ConditionFailed, Transaction

if TYPE_CHECKING:
    # The key rings and POP keys (and their stores) are the service's collaborators, handed in
    # by deps on first use: importing them here would load them at cold start for every route.
    from chalicelib.audit import AuditLog
    from chalicelib.crypto.keyring import KeyRings
    from chalicelib.crypto.pop import PopKeys
    from chalicelib.secrets.client_auth import Assertion, AuthenticatedClient
    from chalicelib.secrets.form import ExchangeRequest
    from chalicelib.secrets.keys import RegisteredKeys
    from chalicelib.settings import Settings
    from chalicelib.db.secrets import SecretServerRepository
    from chalicelib.db.table import Transactions

RING = "secret"
PURPOSE = "secret-server"
SECRET_BYTES = 32
# Explicit typing (RFC 8725 §3.11): a release token is never mistaken for another token of ours.
RELEASE_TOKEN_TYPE = "secret+jwt"
MAX_SUBJECT_LENGTH = 255
_AUDIT_TEXT = 256


def secret_identity(issuer: str, subject: str, purpose: str = PURPOSE) -> str:
    """The AAD identity of a user's secret: a record moved to another user does not open."""
    return "secret:" + json.dumps([issuer, subject, purpose], separators=(",", ":"))


@dataclass(frozen=True)
class IdpPolicy:
    """A registered IdP as ``signed_jwt`` sees it."""

    issuer: str
    audience: str
    algorithms: list[str]
    audience_claim: str = "aud"
    authorized_parties: tuple[str, ...] = ()
    authorized_party_claim: str = "azp"

    @classmethod
    def of(cls, item: dict[str, Any]) -> "IdpPolicy":
        return cls(item["issuer"], item["audience"], list(item["algorithms"]), item.get("audience_claim", "aud"))


@dataclass
class _Outcome:
    """What the audit event of one exchange says; filled in as the exchange proceeds."""

    assertion: Assertion | None = None
    client: AuthenticatedClient | None = None
    issuer: str | None = None
    subject: str | None = None

    def details(self) -> dict[str, Any]:
        found = client_auth.describe(self.assertion)
        found["clientAuthenticated"] = self.client is not None
        if self.issuer:
            found["issuer"] = self.issuer[:_AUDIT_TEXT]
        if self.subject:
            found["subject"] = self.subject[:_AUDIT_TEXT]
        return found


class SecretServer:
    def __init__(self, repository: SecretServerRepository, transactions: Transactions, audit_log: AuditLog,
                 rings: KeyRings, pop: PopKeys, keys: RegisteredKeys, settings: Settings,
                 clock: Callable[[], float] = time.time) -> None:
        self._repository = repository
        self._transactions = transactions
        self._audit = audit_log
        self._rings = rings
        self._pop = pop
        self._keys = keys
        self._settings = settings
        self._clock = clock
        # digest → (trusted until, claims, the IdP's policy and key set they were verified under, header)
        self._verified: dict[str, tuple[float, dict[str, Any], IdpPolicy, Any, dict[str, Any]]] = {}
        self._verified_lock = threading.Lock()

    @property
    def token_endpoint(self) -> str:
        return self._settings.public_base_url + TOKEN_PATH

    def exchange(self, request: ExchangeRequest) -> dict[str, Any]:
        """The token response for ``request``; OAuthError (audited) if it is refused."""
        outcome = _Outcome()
        try:
            return self._exchange(request, outcome)
        except OAuthError as refusal:
            raise self._refuse(refusal, outcome) from None

    def _exchange(self, request: ExchangeRequest, outcome: _Outcome) -> dict[str, Any]:
        outcome.assertion = client_auth.read_assertion(request.client_assertion, request.client_id)
        digest = hashlib.sha256(request.subject_token.encode()).hexdigest()
        outcome.issuer, outcome.subject, header, unverified = _peek_subject(request.subject_token,
                                                                            self._verified.get(digest))
        # Only an issuer the hub trusts has hub accounts; its subject_claim names the account.
        trusted = self._settings.issuer(outcome.issuer) if outcome.subject else None
        hub_subject = accounts.subject_of(trusted, unverified) if trusted else None
        items = self._repository.read_for_release(
            outcome.assertion.client_id, outcome.issuer, outcome.subject, PURPOSE,
            accounts.account_id(trusted, hub_subject) if hub_subject else None)
        now = self._clock()
        outcome.client = client = client_auth.authenticate(
            outcome.assertion, items.resource_server, self._keys, token_endpoint=self.token_endpoint,
            now=now, leeway=self._settings.clock_leeway_seconds,
            max_lifetime=self._settings.secret_server_assertion_max_lifetime_seconds)
        if request.audience != client.client_id:
            raise OAuthError(INVALID_TARGET, "audience must be the authenticated resource server itself")
        user = self._verify_subject(request.subject_token, digest, header, items.idp, now)
        issuer, subject = user["iss"], user["sub"]
        if trusted and accounts.is_disabled(items.account, issuer, accounts.subject_of(trusted, user)):
            raise OAuthError(INVALID_GRANT, "subject_token: the user's account is disabled")
        recipient = keysets.encryption_key(client.keys)
        if recipient is None:
            raise OAuthError(INVALID_CLIENT, "the client's JWKS has no usable encryption key")
        secret, version, created = self._secret(issuer, subject, items.secret)
        response, details = self._release_token(client, subject, secret, recipient, int(now))
        transaction = self._repository.spend_assertion(Transaction(), client.client_id, client.jti,
                                                       client.expires_at, int(now))
        self._audit.record(transaction, catalogue.SECRET_RELEASE, **outcome.details(), **details,
                           secretVersion=version, secretCreated=created)
        try:
            self._transactions.commit(transaction)
        except ConditionFailed:
            outcome.client = None  # spent by an earlier exchange: nothing more to spend
            raise OAuthError(INVALID_CLIENT, "client_assertion: this assertion (jti) was already used") from None
        return response

    def _verify_subject(self, token: str, digest: str, header: dict[str, Any] | None, idp: dict[str, Any] | None,
                        now: float) -> dict[str, Any]:
        """``digest``: the token's SHA-256; ``header``: the token's, as ``_peek_subject`` decoded it
        (None: it did not decode)."""
        try:
            bearer.read_token(token)
            if header is None:
                header, _claims = signed_jwt.decode_unverified(token)  # raises what is wrong with it
            if idp is None:
                raise Unauthorized("its issuer is not a registered identity provider")
            claims = self._verified_claims(token, digest, header, idp, now)
        except Unauthorized as error:
            raise OAuthError(INVALID_GRANT, "subject_token: " + error.detail.replace("the token", "it")) from None
        if len(claims["sub"]) > MAX_SUBJECT_LENGTH:
            raise OAuthError(INVALID_GRANT, f"subject_token: sub is longer than {MAX_SUBJECT_LENGTH} characters")
        return claims

    def _verified_claims(self, token: str, digest: str, header: dict[str, Any], idp: dict[str, Any],
                         now: float) -> dict[str, Any]:
        """The subject token's claims, verified once per token: a backend sends its user's token with
        every release, and checking it each time was a fifth of a warm release's CPU."""
        # Keyed by a hash: the token itself is a credential. Any other byte is another token.
        policy = IdpPolicy.of(idp)
        cached = self._verified.get(digest)
        # A changed registration (keys, audience, algorithms) or a refreshed key set verifies again.
        if cached and cached[0] > now and cached[2] == policy and cached[3] is self._keys.current(idp):
            return cached[1]
        claims = signed_jwt.verify(token, header, policy, lambda kid: _find(self._keys.key_set(idp, kid), kid),
                                   now=now, leeway=self._settings.clock_leeway_seconds)
        key_set = self._keys.current(idp)
        if key_set is not None:
            until = min(claims["exp"] + self._settings.clock_leeway_seconds, now + self._settings.jwks_cache_seconds)
            bearer.remember(self._verified, self._verified_lock, digest, (until, claims, policy, key_set, header),
                            now, bearer.VERIFIED_CACHE_SIZE)
        return claims

    def _secret(self, issuer: str, subject: str, item: dict[str, Any] | None) -> tuple[bytes, int, bool]:
        """(secret, ring version, created now): read, or created by the first request to get there."""
        identity = secret_identity(issuer, subject)
        if item is None:
            secret = os.urandom(SECRET_BYTES)
            sealed = self._rings.seal(RING, secret, identity)
            try:
                self._repository.create_secret(issuer, subject, PURPOSE, ring=RING, sealed=sealed.record,
                                               version=sealed.version, identity=identity,
                                               created_at=int(self._clock()))
                return secret, sealed.version, True
            except ConditionFailed:
                item = self._repository.secret(issuer, subject, PURPOSE)  # a concurrent first request won
                if item is None:
                    raise
        record = bytes(item["sealed"])
        return self._rings.open(RING, record, identity), envelope.version_of(RING, record), False

    def _release_token(self, client: AuthenticatedClient, subject: str, secret: bytes,
                       recipient: tuple[Any, str], now: int) -> tuple[dict[str, Any], dict[str, Any]]:
        from joserfc import jwe

        key, alg = recipient
        sealed = jwe.encrypt_compact({"alg": alg, "enc": keysets.CONTENT_ENCRYPTION, "kid": key.kid}, secret, key,
                                     algorithms=[alg, keysets.CONTENT_ENCRYPTION])
        lifetime = self._settings.secret_server_token_lifetime_seconds
        token_id = random.token_urlsafe(16)
        claims = {"iss": self._settings.public_base_url, "sub": subject, "aud": client.client_id, "iat": now,
                  "exp": now + lifetime, "jti": token_id, "secret": {client.client_id: sealed}}
        token, signing_kid = self._pop.sign_jwt_naming_key(claims, {"typ": RELEASE_TOKEN_TYPE})
        response = {"access_token": token, "issued_token_type": TOKEN_TYPE_JWT, "token_type": "N_A",
                    "expires_in": lifetime}
        return response, {"encryptionKid": key.kid, "encryptionAlg": alg, "signingKid": signing_kid,
                          "tokenId": token_id}

    def _refuse(self, refusal: OAuthError, outcome: _Outcome) -> OAuthError:
        """Audits ``refusal``, spending the assertion if the client was authenticated."""
        transaction = Transaction()
        client = outcome.client
        if client is not None:
            self._repository.spend_assertion(transaction, client.client_id, client.jti, client.expires_at,
                                             int(self._clock()))
        details = {**outcome.details(), "error": refusal.error, "reason": refusal.description[:_AUDIT_TEXT]}
        try:
            self._transactions.commit(self._audit.record(transaction, catalogue.SECRET_REFUSAL, **details))
        except ConditionFailed:
            # The assertion was spent before: that is the refusal that counts.
            refusal = OAuthError(INVALID_CLIENT, "client_assertion: this assertion (jti) was already used")
            outcome.client = None
            details = {**outcome.details(), "error": refusal.error, "reason": refusal.description}
            self._transactions.commit(self._audit.record(Transaction(), catalogue.SECRET_REFUSAL, **details))
        return refusal


def _peek_subject(token: str, verified: tuple[Any, ...] | None
                  ) -> tuple[str | None, str | None, dict[str, Any] | None, dict[str, Any]]:
    """(iss, sub, header, claims) of the unverified subject token, to read its IdP and secret in the same
    call (and to decode it once). ``verified``: the cache entry of a token with the same digest, whose
    header and claims are these bytes' (the next release of a backend's user decodes nothing)."""
    if verified is not None:
        claims, header = verified[1], verified[4]
    else:
        try:
            header, claims = signed_jwt.decode_unverified(token)
        except Unauthorized:
            return None, None, None, {}
    issuer, subject = claims.get("iss"), claims.get("sub")
    if not isinstance(issuer, str) or not issuer or "#" in issuer or len(issuer) > 512:
        return None, None, header, {}
    if not isinstance(subject, str) or not subject or len(subject) > MAX_SUBJECT_LENGTH:
        return issuer, None, header, claims
    return issuer, subject, header, claims


def _find(key_set, kid: str | None):
    """The key an IdP signed with: by ``kid``, or the only signing-capable key if there is none."""
    candidates = [k for k in key_set.keys if k.get("use") in (None, "sig")]
    if kid is None:
        return candidates[0] if len(candidates) == 1 else None
    return next((k for k in candidates if k.kid == kid), None)
