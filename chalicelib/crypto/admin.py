"""Key-management operations as the admin endpoints offer them: metadata in, metadata out."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from chalicelib import errors

if TYPE_CHECKING:
    from chalicelib.crypto.keyring import KeyRings
    from chalicelib.crypto.pop import PopKeys

RING_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")


def ring_name(value: str) -> str:
    if not RING_NAME.fullmatch(value or ""):
        raise errors.InvalidField([{"field": "ring", "reason": "must match [a-z][a-z0-9-]{0,31}"}])
    return value


def overview(rings: KeyRings, pop: PopKeys) -> dict[str, Any]:
    return {"rings": [rings.describe(name) for name in rings.names()], "pop": pop.describe()}


def rotate_ring(rings: KeyRings, ring: str, actor: str) -> dict[str, Any]:
    rings.rotate(ring_name(ring), actor=actor)
    return rings.describe(ring)


def set_floor(rings: KeyRings, ring: str, version: int, actor: str) -> dict[str, Any]:
    rings.set_min_decryption_version(ring_name(ring), version, actor=actor)
    return rings.describe(ring)


def trim(rings: KeyRings, ring: str, actor: str) -> dict[str, Any]:
    trimmed = rings.trim(ring_name(ring), actor=actor)
    return {"trimmed": trimmed, "ring": rings.describe(ring)}


def rewrap_records(rings: KeyRings, ring: str) -> dict[str, Any]:
    return rings.rewrap_records(ring_name(ring)).as_dict()


def rewrap_versions(rings: KeyRings, ring: str, kms_key_id: str | None, actor: str) -> dict[str, Any]:
    count = rings.rewrap_versions(ring_name(ring), kms_key_id, actor=actor)
    return {"rewrapped": count, "ring": rings.describe(ring)}


def rotate_pop(pop: PopKeys, use: str, actor: str) -> dict[str, Any]:
    return pop.rotate(use, force=True, actor=actor)
