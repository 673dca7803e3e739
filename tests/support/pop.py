"""Building POP key services by hand: several 'Lambda instances' over one table, a fake clock."""
from __future__ import annotations

from chalicelib import deps
from chalicelib.crypto.keyring import KeyRings
from chalicelib.crypto.pop import PopKeys
from chalicelib.settings import Settings
from chalicelib.db.keyrings import KeyRingRepository, SealedRecordIndex
from chalicelib.db.locks import Locks
from chalicelib.db.popkeys import PopKeyRepository


def instance(clock, sleep=lambda _s: None, **overrides) -> PopKeys:
    """One process's view: its own caches, the shared table."""
    settings = Settings(**overrides)
    table = deps.table()
    rings = KeyRings(KeyRingRepository(table), SealedRecordIndex(table), deps.transactions(), deps.audit_log(),
                     settings, clock=clock)
    return PopKeys(PopKeyRepository(table), rings, Locks(table), deps.transactions(), deps.audit_log(), settings,
                   clock=clock, sleep=sleep)


def encrypt_to(public_jwk: dict, plaintext: bytes, **header) -> str:
    from joserfc import jwe
    from joserfc.jwk import JWKRegistry

    key = JWKRegistry.import_key(public_jwk)
    protected = {"alg": public_jwk["alg"], "enc": "A256GCM", "kid": public_jwk["kid"], **header}
    return jwe.encrypt_compact(protected, plaintext, key, algorithms=[protected["alg"], protected["enc"]])
