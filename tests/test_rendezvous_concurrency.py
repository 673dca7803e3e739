"""Many Lambda instances at once: correctness comes from DynamoDB conditions, not from memory.

Each thread plays a separate Lambda instance (its own service, repository and
table objects) against one moto table. Real DynamoDB applies each write to an
item atomically; moto does not lock, so the fixture gives each moto write the
same atomicity — and nothing more: our read-decide-write steps still interleave.
"""
from __future__ import annotations

import time

from chalicelib import errors
from chalicelib.rendezvous.service import Creator, RendezvousService
from chalicelib.settings import Settings
from chalicelib.db.rendezvous import RendezvousRepository
from chalicelib.db.table import Table
from tests.support.atomic import atomic_items, race  # noqa: F401 — fixture

THREADS = 8


def instance(clock=time.time, **overrides) -> RendezvousService:
    settings = Settings(**overrides)
    return RendezvousService(RendezvousRepository(Table(settings.table_name)), settings, clock=clock)


def test_concurrent_writes_with_one_token_have_exactly_one_winner(atomic_items):
    created = instance().create(Creator("alice", None), "offer")
    instances = [instance() for _ in range(THREADS)]
    outcomes = race([lambda i=i, s=s: s.write(created.id, created.sequence_token, f"answer {i}")
                     for i, s in enumerate(instances)])

    winners = [(i, o) for i, o in enumerate(outcomes) if not isinstance(o, errors.ApiError)]
    assert len(winners) == 1, outcomes
    assert all(isinstance(o, errors.Conflict) for o in outcomes if isinstance(o, errors.ApiError))
    index, won = winners[0]
    state = instance().read(created.id)
    assert (state.data, state.sequence_token) == (f"answer {index}", won.sequence_token)


def test_concurrent_identical_retries_all_get_the_one_new_token(atomic_items):
    created = instance().create(Creator("alice", None), "offer")
    outcomes = race([lambda s=instance(): s.write(created.id, created.sequence_token, "answer")
                     for _ in range(THREADS)])
    tokens = {o.sequence_token for o in outcomes}
    assert tokens == {instance().read(created.id).sequence_token}


def test_concurrent_creations_never_exceed_the_per_user_limit(atomic_items):
    outcomes = race([lambda s=instance(rendezvous_max_open_per_user=3): s.create(Creator("alice", None), "x")
                     for _ in range(THREADS)])
    created = [o for o in outcomes if not isinstance(o, errors.ApiError)]
    assert len(created) == 3
    assert all(isinstance(o, errors.TooManyRequests) for o in outcomes if isinstance(o, errors.ApiError))
    assert len(RendezvousRepository(Table(Settings().table_name)).live_slots("alice", 0)) == 3


def test_concurrent_anonymous_creations_respect_the_rate(atomic_items):
    settings = {"rendezvous_open_creation": True, "rendezvous_anonymous_rate_per_minute": 5}
    mid_minute = (time.time() // 60) * 60 + 30  # one rate window for every instance
    outcomes = race([lambda s=instance(lambda: mid_minute, **settings): s.create(Creator(None, "198.51.100.7"), "x")
                     for _ in range(THREADS)])
    assert sum(not isinstance(o, errors.ApiError) for o in outcomes) == 5
