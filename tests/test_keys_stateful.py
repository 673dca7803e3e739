"""A reference model of one key ring, raced against the real one by hypothesis.

Records are sealed, opened, moved to the newest version; the ring is rotated,
its floor raised and lowered, old versions trimmed. Whatever the order, a record
sealed at or above the floor always opens to its plaintext, and one below it is
refused as retired — never lost, never opened by the wrong identity.
"""
from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from chalicelib import deps
from chalicelib.crypto import envelope
from chalicelib.crypto.errors import RecordError, TamperedRecord, VersionRetired
from chalicelib.crypto.keyring import KeyRings
from chalicelib.settings import Settings
from chalicelib.db.keyrings import KeyRingRepository, SealedRecordIndex
from tests.support.clock import FakeClock
from tests.support.kms import kms_key  # noqa: F401 — fixture
from tests.support.sealed import sealed_item

pytestmark = pytest.mark.slow  # a live stack, a subprocess or a long run: not in the fast lane

CACHE = 5


class KeyRingMachine(RuleBasedStateMachine):
    records = Bundle("records")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        table = deps.table()
        self.table = table
        self.rings = KeyRings(KeyRingRepository(table), SealedRecordIndex(table), deps.transactions(),
                              deps.audit_log(), Settings(key_ring_cache_seconds=CACHE, data_key_cache_seconds=50),
                              clock=self.clock)
        self.ring = "r" + uuid.uuid4().hex[:12]
        self.pk = f"TEST#{self.ring}"
        self.plaintexts: dict[str, bytes] = {}
        self.versions: dict[str, int] = {}
        self.latest = 0
        self.floor = 1
        self.min_available = 1

    def _item(self, record_id: str) -> dict:
        return self.table.get(self.pk, record_id)

    @rule(target=records, plaintext=st.binary(max_size=48))
    def seal(self, plaintext):
        record_id = uuid.uuid4().hex
        item = sealed_item(self.rings, self.ring, self.pk, record_id, plaintext, record_id)
        self.table.put(item)
        self.latest = max(self.latest, 1)
        assert envelope.version_of(self.ring, bytes(item["sealed"])) == self.latest
        self.plaintexts[record_id], self.versions[record_id] = plaintext, self.latest
        return record_id

    @rule(record_id=records)
    def open_as_someone_else(self, record_id):
        sealed = bytes(self._item(record_id)["sealed"])
        expected = VersionRetired if self.versions[record_id] < self.floor else TamperedRecord
        with pytest.raises(expected):
            self.rings.open(self.ring, sealed, "another-" + record_id)

    @rule(record_id=records, position=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
    def open_tampered(self, record_id, position, bit):
        sealed = bytearray(bytes(self._item(record_id)["sealed"]))
        sealed[position % len(sealed)] ^= 1 << bit
        with pytest.raises(RecordError):
            self.rings.open(self.ring, bytes(sealed), record_id)

    @precondition(lambda self: self.latest >= 1)
    @rule()
    def rotate(self):
        self.rings.rotate(self.ring)
        self.latest += 1

    @precondition(lambda self: self.latest >= 1)
    @rule(data=st.data())
    def raise_floor(self, data):
        floor = data.draw(st.integers(min_value=self.floor, max_value=self.latest))
        self.clock.advance(CACHE)  # every instance has seen the newest version by now
        self.rings.set_min_decryption_version(self.ring, floor)
        self.floor = floor

    @precondition(lambda self: self.latest >= 1)
    @rule(data=st.data())
    def lower_floor(self, data):
        floor = data.draw(st.integers(min_value=self.min_available, max_value=self.floor))
        self.rings.set_min_decryption_version(self.ring, floor)
        self.floor = floor

    @precondition(lambda self: self.latest >= 1)
    @rule()
    def trim(self):
        trimmed = self.rings.trim(self.ring)
        assert trimmed == list(range(self.min_available, self.floor))
        self.min_available = self.floor

    @precondition(lambda self: self.latest >= 1)
    @rule()
    def rewrap(self):
        movable = [r for r, v in self.versions.items() if self.floor <= v < self.latest]
        retired = [r for r, v in self.versions.items() if v < self.floor]
        report = self.rings.rewrap_records(self.ring)
        assert (report.rewrapped, report.retired, report.unreadable) == (len(movable), len(retired), 0)
        for record_id in movable:
            self.versions[record_id] = self.latest

    @invariant()
    def no_record_at_or_above_the_floor_is_lost(self):
        if not self.plaintexts:
            return
        for item in self.table.query_all(self.pk):
            record_id, sealed = item["sk"], bytes(item["sealed"])
            assert envelope.version_of(self.ring, sealed) == self.versions[record_id]
            if self.versions[record_id] >= self.floor:
                assert self.rings.open(self.ring, sealed, record_id) == self.plaintexts[record_id]
            else:
                with pytest.raises(VersionRetired):
                    self.rings.open(self.ring, sealed, record_id)


def test_key_ring_against_its_reference_model(kms_key):
    run_state_machine_as_test(KeyRingMachine, settings=settings(
        max_examples=12, stateful_step_count=12, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
