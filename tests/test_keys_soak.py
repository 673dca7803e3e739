"""A seeded random run over one key ring by several instances at once, each with its own caches.

Worker threads play API instances (their own ``KeyRings``, ring and data-key caches): they seal
records, open them, re-wrap one record or the whole ring, and change the ring as the admin API
and the scheduled job do (rotate, raise and lower the floor, trim). Whatever interleaving the seed
gives, the only refusal a record operation may meet is "too old" (``VersionRetired``, for a
record below the floor) — a ring change may also lose its race to another instance's (409); a
record never opens to another plaintext, is never unreadable, and the ring ends with one version
per rotation, none lost.

The fast lane runs a short seeded round; the long one is marked slow, and a soak of any length is
``KATTA_KEYRING_SOAK_OPS=1000 KATTA_KEYRING_SOAK_SEED=7 .venv/bin/python -m pytest tests/test_keys_soak.py -m slow``
(the seed of a failing run is in its assertion message).
"""
from __future__ import annotations

import os
import random
import threading
import uuid
from dataclasses import dataclass, field

import pytest

from chalicelib import deps, errors
from chalicelib.crypto import envelope
from chalicelib.crypto.errors import VersionRetired
from chalicelib.crypto.keyring import KeyRings
from chalicelib.db.keyrings import KeyRingRepository, SealedRecordIndex
from chalicelib.db.table import ConditionFailed
from chalicelib.settings import Settings
from tests.support.atomic import atomic_items  # noqa: F401 — fixture
from tests.support.clock import FakeClock
from tests.support.kms import kms_key  # noqa: F401 — fixture
from tests.support.sealed import sealed_item

CACHE = 5  # seconds of the fake clock an instance trusts its copy of the ring
RING = "soak"
PK = "TEST#soak"
WORKERS = 4


@dataclass
class Soak:
    seed: int
    clock: FakeClock = field(default_factory=FakeClock)
    plaintexts: dict[str, bytes] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)  # anything but "too old"
    retired_opens: int = 0
    rotations: int = 0
    lost_ring_races: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def instance(self) -> KeyRings:
        table = deps.table()
        return KeyRings(KeyRingRepository(table), SealedRecordIndex(table), deps.transactions(), deps.audit_log(),
                        Settings(key_ring_cache_seconds=CACHE, data_key_cache_seconds=10 * CACHE), clock=self.clock)

    def worker(self, n: int, ops: int) -> None:
        rings, rng, table = self.instance(), random.Random(f"{self.seed}/{n}"), deps.table()
        for i in range(ops):
            self.clock.advance(rng.random() / 10)  # time passes: the instances' caches expire at different moments
            op = rng.choices(("seal", "open", "rewrap", "rewrap_ring", "ring"), weights=(4, 6, 2, 1, 2))[0]
            if n == 0 and i == ops // 2:
                op = "rotate"  # whatever the interleaving, every run rotates under the others' feet
            try:
                if op == "rotate":
                    self.rotate_until_it_lands(rings)
                elif op == "ring":
                    self.ring_change(rings, rng)
                elif op == "seal" or not self.plaintexts:
                    record_id, plaintext = uuid.uuid4().hex, rng.randbytes(rng.randrange(48))
                    table.put(sealed_item(rings, RING, PK, record_id, plaintext, record_id))
                    with self.lock:
                        self.plaintexts[record_id] = plaintext
                elif op == "rewrap_ring":
                    report = rings.rewrap_records(RING)
                    if report.unreadable:
                        self.refuse(f"re-wrap found {report.unreadable} unreadable records")
                else:
                    record_id = rng.choice(sorted(self.plaintexts))
                    item = table.get(PK, record_id)
                    sealed = bytes(item["sealed"])
                    if op == "open":
                        if rings.open(RING, sealed, record_id) != self.plaintexts[record_id]:
                            self.refuse(f"{record_id} opened to another plaintext")
                    else:
                        moved = rings.rewrap(RING, sealed, record_id)
                        try:
                            SealedRecordIndex(table).replace(item, moved.record, moved.version)
                        except ConditionFailed:
                            pass  # re-wrapped by another instance meanwhile: already current
            except VersionRetired:
                with self.lock:
                    self.retired_opens += 1
            except Exception as exc:  # noqa: BLE001 — every other refusal is a finding
                self.refuse(f"{op}: {type(exc).__name__}: {exc}")

    def ring_change(self, rings: KeyRings, rng: random.Random) -> None:
        """What the admin API and the scheduled job do, from any instance."""
        ring = rings.describe(RING)
        floor, latest, available = ring["minDecryptionVersion"], ring["latestVersion"], ring["minAvailableVersion"]
        op = rng.choices(("rotate", "raise", "lower", "trim"), weights=(4, 2, 1, 1))[0]
        try:
            if op == "rotate":
                rings.rotate(RING, actor="soak")
                with self.lock:
                    self.rotations += 1
            elif op == "raise" and floor < latest:
                self.clock.advance(CACHE)  # every instance has seen the newest version by now
                rings.set_min_decryption_version(RING, rng.randint(floor + 1, latest))
            elif op == "lower" and available < floor:
                rings.set_min_decryption_version(RING, rng.randint(available, floor - 1))
            elif op == "trim":
                rings.trim(RING)
        except errors.Conflict:
            with self.lock:
                self.lost_ring_races += 1  # another instance changed the ring meanwhile (409)

    def rotate_until_it_lands(self, rings: KeyRings) -> None:
        for _attempt in range(10):
            try:
                rings.rotate(RING, actor="soak")
            except errors.Conflict:
                with self.lock:
                    self.lost_ring_races += 1
                continue
            with self.lock:
                self.rotations += 1
            return
        self.refuse("a rotation lost ten races in a row")

    def refuse(self, what: str) -> None:
        with self.lock:
            self.refusals.append(what)


def soak(seed: int, ops: int) -> Soak:
    run = Soak(seed)
    first = run.instance()
    first.seal(RING, b"creates the ring", "bootstrap")
    workers = [threading.Thread(target=run.worker, args=(n, ops)) for n in range(WORKERS)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()

    context = f"seed {seed}, {ops} ops per worker"
    assert run.refusals == [], f"{context}: {run.refusals[:5]}"
    run.clock.advance(CACHE)
    final, ring = run.instance(), deps.key_rings().describe(RING)
    versions = [v["version"] for v in ring["versions"]]
    assert versions == list(range(ring["minAvailableVersion"], ring["latestVersion"] + 1)), context
    assert ring["latestVersion"] == 1 + run.rotations, context  # one version per rotation, none lost
    for record_id, plaintext in run.plaintexts.items():
        sealed = bytes(deps.table().get(PK, record_id)["sealed"])
        if envelope.version_of(RING, sealed) < ring["minDecryptionVersion"]:
            with pytest.raises(VersionRetired):
                final.open(RING, sealed, record_id)
        else:
            assert final.open(RING, sealed, record_id) == plaintext, context
    return run


def test_a_short_seeded_soak_of_one_ring_by_several_instances(kms_key, atomic_items):
    run = soak(seed=int(os.environ.get("KATTA_KEYRING_SOAK_SEED", "1")), ops=15)
    assert run.plaintexts and run.rotations


@pytest.mark.slow
def test_a_long_seeded_soak_of_one_ring_by_several_instances(kms_key, atomic_items):
    soak(seed=int(os.environ.get("KATTA_KEYRING_SOAK_SEED", "2")),
         ops=int(os.environ.get("KATTA_KEYRING_SOAK_OPS", "150")))
