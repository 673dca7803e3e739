"""The POP key service: rings of signing (``sig``) and encryption (``enc``) keys.

Every instance reads the rings from DynamoDB, caches them for
``key_ring_cache_seconds`` and reloads at most once per
``key_ring_refresh_cooldown_seconds`` when it meets an unknown ``kid``. Private
keys live only sealed in the ``pop`` key ring; unsealed ones are cached for the
data-key lifetime. State changes happen in ``rotate`` — under a DynamoDB lock,
and as one transaction conditional on the ring's generation — following
``pop_rotation.plan``.
"""
from __future__ import annotations

import json
import logging
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from chalicelib import errors
from chalicelib.audit import AuditLog, catalogue
from chalicelib.crypto import jose, pop_rotation
from chalicelib.crypto.errors import InvalidJwe, RingConflict
from chalicelib.crypto.keyring import KeyRings
from chalicelib.crypto.pop_rotation import ACTIVE, CREATED, PASSIVE, PUBLISHED_STATES, RETIRED, KeyTimes, Timing
from chalicelib.settings import Settings
from chalicelib.db.locks import Locks
from chalicelib.db.popkeys import SEALED_ATTRIBUTES, KeyChange, PopKeyRepository, RingChange
from chalicelib.db.table import ConditionFailed, Transaction, Transactions

log = logging.getLogger("katta")

USES = ("sig", "enc")
SEALING_RING = "pop"
LOCK_WAIT_SECONDS = 10


@dataclass(frozen=True)
class PopKey:
    kid: str
    use: str
    alg: str
    state: str
    public_jwk: dict[str, Any]
    created_at: int
    activate_at: int | None
    activated_at: int | None
    deactivated_at: int | None
    retired_at: int | None
    sealed: bytes | None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "PopKey":
        def moment(name: str) -> int | None:
            return int(item[name]) if item.get(name) is not None else None
        return cls(item["kid"], item["use"], item["alg"], item["state"], json.loads(item["public_jwk"]),
                   int(item["created_at"]), moment("activate_at"), moment("activated_at"),
                   moment("deactivated_at"), moment("retired_at"),
                   bytes(item["sealed"]) if item.get("sealed") is not None else None)

    def times(self) -> KeyTimes:
        return KeyTimes(self.kid, self.state, self.created_at, self.activate_at, self.activated_at,
                        self.deactivated_at)

    def metadata(self) -> dict[str, Any]:
        """What admins may see: never key material, public or private."""
        return {"kid": self.kid, "use": self.use, "alg": self.alg, "state": self.state,
                "createdAt": self.created_at, "activateAt": self.activate_at, "activatedAt": self.activated_at,
                "deactivatedAt": self.deactivated_at, "retiredAt": self.retired_at}


def identity(use: str, kid: str) -> str:
    return f"pop:{use}:{kid}"


class PopKeys:
    def __init__(self, repository: PopKeyRepository, rings: KeyRings, locks: Locks, transactions: Transactions,
                 audit_log: AuditLog, settings: Settings, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._repository = repository
        self._rings = rings
        self._locks = locks
        self._transactions = transactions
        self._audit = audit_log
        self._settings = settings
        self._clock = clock
        self._sleep = sleep
        self._cache: dict[str, tuple[list[PopKey], float]] = {}
        self._private: dict[str, tuple[Any, float]] = {}
        self._last_refresh: dict[str, float] = {}

    # -- reading --------------------------------------------------------------------------

    def keys(self, use: str) -> list[PopKey]:
        """The published keys of ``use`` (created, active, passive), creating the first if there is none."""
        cached = self._cache.get(use)
        if cached and self._clock() - cached[1] < self._settings.key_ring_cache_seconds:
            return cached[0]
        keys = self._load(use)
        if not keys:
            # Bootstrap before anything is published, so no key set without it ever was.
            self.rotate(use)
            keys = self._cache[use][0]
        return keys

    def jwks(self) -> dict[str, Any]:
        order = {ACTIVE: 0, CREATED: 1, PASSIVE: 2}
        published = sorted((k for use in USES for k in self.keys(use)), key=lambda k: (k.use, order[k.state]))
        return {"keys": [k.public_jwk for k in published]}

    def pop_document(self) -> dict[str, Any]:
        """The JWKS plus which key of each use is active (the one clients should encrypt to)."""
        document = self.jwks()
        document["active"] = {use: self.active(use).kid for use in USES}
        return document

    def active(self, use: str) -> PopKey:
        key = self._active_in(self.keys(use))
        if key is None:
            key = self._active_in(self._refresh_once(use) or [])
        if key is None:
            raise errors.ServiceUnavailable(f"no active POP '{use}' key yet; the rotation job activates one")
        return key

    def describe(self) -> dict[str, list[dict[str, Any]]]:
        return {use: [k.metadata() for k in self._load(use, include_retired=True)] for use in USES}

    # -- using ----------------------------------------------------------------------------

    def sign_jwt(self, claims: dict[str, Any], header_overrides: dict[str, Any] | None = None) -> str:
        """A JWT signed with the active signing key.

        ``exp`` is required and may lie at most ``max_token_lifetime_seconds`` ahead:
        that bound is what lets a retired signing key disappear from the JWKS safely.
        """
        return self.sign_jwt_naming_key(claims, header_overrides)[0]

    def sign_jwt_naming_key(self, claims: dict[str, Any],
                            header_overrides: dict[str, Any] | None = None) -> tuple[str, str]:
        """(``sign_jwt``'s JWT, the kid of the key that signed it), for an audit that names the key."""
        from joserfc import jwt

        overrides = dict(header_overrides or {})
        reserved = sorted(set(overrides) & jose.RESERVED_JWS_HEADERS)
        if reserved:
            raise ValueError(f"sign_jwt: header members {', '.join(reserved)} are chosen by the key service")
        exp = claims.get("exp")
        latest_exp = int(self._clock()) + self._settings.max_token_lifetime_seconds
        if not isinstance(exp, int) or isinstance(exp, bool) or exp > latest_exp:
            raise ValueError("sign_jwt: claims need an integer exp within max_token_lifetime_seconds")
        key = self.active("sig")
        header = {"typ": "JWT", **overrides, "alg": key.alg, "kid": key.kid}
        return jwt.encode(header, claims, self._private_key(key), algorithms=[key.alg]), key.kid

    def decrypt(self, compact: str) -> tuple[dict[str, Any], bytes]:
        """(protected header, plaintext) of a compact JWE addressed to a published POP ``enc`` key."""
        from joserfc import jwe
        from joserfc.errors import JoseError

        try:
            header = jose.jwe_protected_header(compact)
        except ValueError as exc:
            raise InvalidJwe(f"not a compact JWE: {exc}") from None
        if "zip" in header:
            raise InvalidJwe("compressed JWEs (zip) are refused")
        if not isinstance(header.get("enc"), str) or header["enc"] not in jose.CONTENT_ENCRYPTIONS:
            raise InvalidJwe(f"enc must be one of {', '.join(sorted(jose.CONTENT_ENCRYPTIONS))}")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidJwe("the JWE header must name the POP key (kid)")
        key = self._published_enc_key(kid)
        if header.get("alg") != key.alg:
            raise InvalidJwe(f"key {kid} is for alg {key.alg}")
        try:
            result = jwe.decrypt_compact(compact, self._private_key(key), algorithms=[key.alg, header["enc"]])
        except (JoseError, ValueError, TypeError):
            raise InvalidJwe("the JWE does not decrypt with the POP key it names") from None
        return dict(result.protected), result.plaintext

    # -- rotation -------------------------------------------------------------------------

    def rotate(self, use: str, *, force: bool = False, actor: str | None = None, wait: bool = True) -> dict[str, Any] | None:
        """One rotation step for ``use`` under the ring's lock; ``force`` starts a rotation now.

        Returns what changed, or None if ``wait`` is False and another instance holds the lock.
        """
        if use not in USES:
            raise errors.NotFound(f"there is no POP key ring '{use}' (sig or enc)")
        lock, owner = f"pop-rotation-{use}", str(uuid.uuid4())
        if not self._acquire(lock, owner, wait):
            if not wait:
                return None
            raise RingConflict(f"another rotation of the POP '{use}' keys holds the lock; retry later")
        try:
            return self._rotate_locked(use, force, actor)
        finally:
            self._locks.release(lock, owner)

    def run_schedule(self) -> dict[str, Any]:
        """The scheduled job: one step per ring; rings locked by another instance are skipped."""
        return {use: self.rotate(use, wait=False) for use in USES}

    def _rotate_locked(self, use: str, force: bool, actor: str | None) -> dict[str, Any]:
        generation, items = self._repository.load(use)
        keys = {k.kid: k for k in (PopKey.from_item(i) for i in items)}
        now = int(self._clock())
        step = pop_rotation.plan([k.times() for k in keys.values()], now, self._timing(use), force=force)
        change = RingChange()
        events: list[tuple[catalogue.EventType, dict[str, Any]]] = []
        by = {"userId": actor} if actor else {}
        created = None
        if step.create:
            created = self._new_key_item(use, step.create, now)
            change.creates.append(created)
            events.append((catalogue.POP_KEY_CREATE, {"kid": created["kid"], "alg": created["alg"],
                                                      "state": created["state"]}))
        if step.expedite:
            kid, at = step.expedite
            change.changes.append(KeyChange(kid, CREATED, {"activate_at": at}))
            events.append((catalogue.POP_KEY_EXPEDITE, {"kid": kid, "activateAt": at}))
        if step.activate:
            change.changes.append(KeyChange(step.activate, CREATED, {"state": ACTIVE, "activated_at": now}))
            events.append((catalogue.POP_KEY_ACTIVATE, {"kid": step.activate}))
        if step.deactivate:
            change.changes.append(KeyChange(step.deactivate, ACTIVE, {"state": PASSIVE, "deactivated_at": now}))
            events.append((catalogue.POP_KEY_DEACTIVATE, {"kid": step.deactivate}))
        for kid in step.retire:
            change.changes.append(KeyChange(kid, PASSIVE, {"state": RETIRED, "retired_at": now}, SEALED_ATTRIBUTES))
            events.append((catalogue.POP_KEY_RETIRE, {"kid": kid}))
        if change:
            transaction = self._repository.apply(Transaction(), use, generation, change)
            for event, details in events:
                self._audit.record(transaction, event, use=use, **details, **by)
            try:
                self._transactions.commit(transaction)
            except ConditionFailed:
                raise RingConflict(f"the POP '{use}' keys changed concurrently; nothing was written") from None
        fresh = self._load(use, include_retired=True)
        for kid in step.retire:
            self._private.pop(kid, None)
        pending = next((k for k in fresh if k.state == CREATED), None)
        return {"use": use, "created": created["kid"] if created else None, "activated": step.activate,
                "deactivated": step.deactivate, "retired": step.retire,
                "pending": {"kid": pending.kid, "activateAt": pending.activate_at} if pending else None}

    def _new_key_item(self, use: str, new: pop_rotation.NewKey, now: int) -> dict[str, Any]:
        alg = self._settings.pop_signing_alg if use == "sig" else self._settings.pop_encryption_alg
        key = jose.generate_key(use, alg)
        public = jose.public_jwk(key)
        private_json = json.dumps(key.as_dict(private=True), separators=(",", ":")).encode()
        sealed = self._rings.seal(SEALING_RING, private_json, identity(use, key.kid))
        attributes = {"kid": key.kid, "use": use, "alg": alg, "state": new.state,
                      "public_jwk": json.dumps(public, separators=(",", ":")), "created_at": now,
                      "activate_at": new.activate_at}
        if new.state == ACTIVE:
            attributes["activated_at"] = now
        return self._repository.key_item(use, key.kid, attributes, ring=SEALING_RING, sealed=sealed.record,
                                         version=sealed.version, identity=identity(use, key.kid))

    def _timing(self, use: str) -> Timing:
        s = self._settings
        tail = s.max_token_lifetime_seconds if use == "sig" else s.pop_jwks_cache_seconds
        return Timing(publish_lead=s.pop_jwks_cache_seconds + s.key_ring_cache_seconds,
                      rotation=s.pop_rotation_seconds, retire_after=tail + s.key_ring_cache_seconds)

    def _acquire(self, lock: str, owner: str, wait: bool) -> bool:
        deadline = self._clock() + (LOCK_WAIT_SECONDS if wait else 0)
        while True:
            if self._locks.acquire(lock, owner, self._settings.rotation_lock_seconds, int(self._clock())):
                return True
            if self._clock() >= deadline:
                return False
            self._sleep(random.uniform(0.02, 0.1))

    # -- caches ---------------------------------------------------------------------------

    def _load(self, use: str, include_retired: bool = False) -> list[PopKey]:
        _generation, items = self._repository.load(use)
        every = [PopKey.from_item(i) for i in items]
        published = [k for k in every if k.state in PUBLISHED_STATES]
        self._cache[use] = (published, self._clock())
        return every if include_retired else published

    def _refresh_once(self, use: str) -> list[PopKey] | None:
        now = self._clock()
        if now - self._last_refresh.get(use, float("-inf")) < self._settings.key_ring_refresh_cooldown_seconds:
            return None
        self._last_refresh[use] = now
        return self._load(use)

    @staticmethod
    def _active_in(keys: list[PopKey]) -> PopKey | None:
        actives = [k for k in keys if k.state == ACTIVE]
        return max(actives, key=lambda k: k.activated_at or 0) if actives else None

    def _published_enc_key(self, kid: str) -> PopKey:
        for attempt in (self.keys("enc"), self._refresh_once("enc") or []):
            for key in attempt:
                if key.kid == kid:
                    return key
        raise InvalidJwe(f"no published POP encryption key has kid {kid[:64]!r}")

    def _private_key(self, key: PopKey):
        cached = self._private.get(key.kid)
        if cached and self._clock() - cached[1] < self._settings.data_key_cache_seconds:
            return cached[0]
        if key.sealed is None:
            raise errors.ServiceUnavailable(f"POP key {key.kid} has no private part any more")
        private_json = self._rings.open(SEALING_RING, key.sealed, identity(key.use, key.kid))
        private = jose.import_key(json.loads(private_json))
        self._private[key.kid] = (private, self._clock())
        return private
