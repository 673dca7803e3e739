"""A table item holding a sealed record, as a repository would write one (for the re-wrap tests)."""
from __future__ import annotations

from typing import Any

from chalicelib.db.keyrings import SealedRecordIndex


def sealed_item(rings, ring: str, pk: str, sk: str, plaintext: bytes, identity: str) -> dict[str, Any]:
    sealed = rings.seal(ring, plaintext, identity)
    return {"pk": pk, "sk": sk, **SealedRecordIndex.attributes(ring, pk, sk, sealed.record, sealed.version, identity)}
