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


class KeyAdmin:
    def __init__(self, rings: KeyRings, pop: PopKeys) -> None:
        self._rings = rings
        self._pop = pop

    def overview(self) -> dict[str, Any]:
        return {"rings": [self._rings.describe(name) for name in self._rings.names()], "pop": self._pop.describe()}

    def rotate_ring(self, ring: str, actor: str) -> dict[str, Any]:
        self._rings.rotate(ring_name(ring), actor=actor)
        return self._rings.describe(ring)

    def set_floor(self, ring: str, version: int, actor: str) -> dict[str, Any]:
        self._rings.set_min_decryption_version(ring_name(ring), version, actor=actor)
        return self._rings.describe(ring)

    def trim(self, ring: str, actor: str) -> dict[str, Any]:
        trimmed = self._rings.trim(ring_name(ring), actor=actor)
        return {"trimmed": trimmed, "ring": self._rings.describe(ring)}

    def rewrap_records(self, ring: str) -> dict[str, Any]:
        return self._rings.rewrap_records(ring_name(ring)).as_dict()

    def rewrap_versions(self, ring: str, kms_key_id: str | None, actor: str) -> dict[str, Any]:
        count = self._rings.rewrap_versions(ring_name(ring), kms_key_id, actor=actor)
        return {"rewrapped": count, "ring": self._rings.describe(ring)}

    def rotate_pop(self, use: str, actor: str) -> dict[str, Any]:
        return self._pop.rotate(use, force=True, actor=actor)
