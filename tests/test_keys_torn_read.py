"""A ring read that meets its creating or rotating transaction half-applied (a Query is
read-committed item by item) is read again, never handed on without its newest version."""
from __future__ import annotations

import pytest

from chalicelib import errors
from chalicelib.db.keyrings import KeyRingRepository
from chalicelib.db.keys import ring_pk, ring_version_sk

HEAD = {"pk": ring_pk("secret"), "sk": "HEAD", "latest": 2, "min_decryption_version": 1,
        "min_available_version": 1, "created_at": 1, "updated_at": 2}


def version(number: int) -> dict:
    return {"pk": ring_pk("secret"), "sk": ring_version_sk(number), "version": number, "wrapped": b"w",
            "kms_key": "arn:aws:kms:key", "created_at": number}


class ScriptedTable:
    """Answers each Query of the ring with the next of ``reads``."""

    def __init__(self, *reads: list[dict]) -> None:
        self.reads = list(reads)
        self.queries = 0

    def query_all(self, pk: str, *, consistent: bool = False):
        assert consistent, "a ring is read strongly consistent"
        self.queries += 1
        return iter(self.reads.pop(0))


def test_a_head_read_before_its_new_version_is_read_again():
    table = ScriptedTable([HEAD, version(1)], [HEAD, version(1), version(2)])
    ring = KeyRingRepository(table).load("secret")
    assert ring.latest == 2 and set(ring.versions) == {1, 2}
    assert table.queries == 2


def test_a_complete_ring_is_read_once():
    table = ScriptedTable([HEAD, version(1), version(2)])
    assert set(KeyRingRepository(table).load("secret").versions) == {1, 2}
    assert table.queries == 1


def test_a_ring_that_stays_torn_is_a_retryable_503_not_a_ring_without_its_version():
    table = ScriptedTable(*([HEAD, version(1)] for _ in range(3)))
    with pytest.raises(errors.ServiceUnavailable):
        KeyRingRepository(table).load("secret")


def test_a_missing_ring_is_none():
    assert KeyRingRepository(ScriptedTable([])).load("secret") is None
