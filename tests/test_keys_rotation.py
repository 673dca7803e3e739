"""POP rotation: the state machine, its two invariants across instances, locking and races."""
from __future__ import annotations

import json

import pytest

from chalicelib import deps
from chalicelib.crypto.errors import RingConflict
from chalicelib.crypto.pop_rotation import ACTIVE, CREATED, PASSIVE, KeyTimes, NewKey, Timing, plan
from chalicelib.db.locks import Locks
from tests.conftest import bearer
from tests.support.atomic import atomic_items, race  # noqa: F401 — fixture
from tests.support.clock import FakeClock
from tests.support.kms import kms_key  # noqa: F401 — fixture
from tests.support.pop import instance

TIMING = Timing(publish_lead=110, rotation=1000, retire_after=310)
FAST = {"pop_jwks_cache_seconds": 100, "key_ring_cache_seconds": 10, "key_ring_refresh_cooldown_seconds": 5,
        "max_token_lifetime_seconds": 300, "pop_rotation_seconds": 1000, "data_key_cache_seconds": 60}


# -- the plan -------------------------------------------------------------------------------

def test_an_empty_ring_gets_an_active_key_at_once():
    assert plan([], 0, TIMING) == type(plan([], 0, TIMING))(create=NewKey(ACTIVE, 0))


def test_the_successor_is_published_one_lead_before_it_takes_over():
    active = KeyTimes("a", ACTIVE, 0, 0, 0)
    assert not plan([active], 889, TIMING)
    step = plan([active], 890, TIMING)
    assert step.create == NewKey(CREATED, 1000)
    pending = KeyTimes("b", CREATED, 890, 1000)
    assert not plan([active, pending], 999, TIMING)
    step = plan([active, pending], 1000, TIMING)
    assert (step.activate, step.deactivate) == ("b", "a")


def test_a_late_job_still_waits_the_full_lead():
    active = KeyTimes("a", ACTIVE, 0, 0, 0)
    step = plan([active], 5000, TIMING)  # the schedule was down for a while
    assert step.create == NewKey(CREATED, 5110)
    assert not plan([active, KeyTimes("b", CREATED, 5000, 5110)], 5109, TIMING).activate


def test_passive_keys_retire_after_the_tail():
    passive = KeyTimes("a", PASSIVE, 0, 0, 0, 1000)
    active = KeyTimes("b", ACTIVE, 890, 1000, 1000)
    assert plan([passive, active], 1309, TIMING).retire == []
    assert plan([passive, active], 1310, TIMING).retire == ["a"]


def test_force_starts_a_rotation_but_never_skips_publication():
    active = KeyTimes("a", ACTIVE, 0, 0, 0)
    assert plan([active], 10, TIMING, force=True).create == NewKey(CREATED, 120)
    scheduled = KeyTimes("b", CREATED, 890, 1000)
    step = plan([active, scheduled], 900, TIMING, force=True)
    assert step.expedite is None and not step.activate  # already as early as publication allows
    late = KeyTimes("c", CREATED, 10, 5000)
    step = plan([active, late], 500, TIMING, force=True)
    assert step.expedite == ("c", 500) and step.activate == "c"


# -- the invariants, observed from several instances ----------------------------------------

SIMULATED = {"pop_jwks_cache_seconds": 60, "key_ring_cache_seconds": 20, "key_ring_refresh_cooldown_seconds": 5,
             "max_token_lifetime_seconds": 300, "pop_rotation_seconds": 200, "data_key_cache_seconds": 60}


@pytest.mark.parametrize("use", ["sig", "enc"])
def test_keys_are_published_a_cache_lifetime_before_use_and_after_last_use(kms_key, use):
    """Two instances, each with its own stale-able cache; the job runs on either.

    Observed every 10 s, so a measured gap is never longer than the real one.
    """
    clock = FakeClock()
    instances = [instance(clock, **SIMULATED) for _ in range(2)]
    jwks_cache = SIMULATED["pop_jwks_cache_seconds"]
    tail = SIMULATED["max_token_lifetime_seconds"] if use == "sig" else jwks_cache
    seen: dict = {"published": [], "used": []}
    for step in range(160):  # 1600 s: about seven rotations
        if step % 3 == 0:
            instances[step % 2].rotate(use, wait=False)  # the scheduled job, on any instance
        if step == 50:
            instances[1].rotate(use, force=True)  # an admin starts a rotation early
        for index, pop in enumerate(instances):
            seen["published"].append((clock(), index, {k.kid for k in pop.keys(use)}))
            seen["used"].append((clock(), index, pop.active(use).kid))
        clock.advance(10)

    used_by_time = {}
    for moment, _index, kid in seen["used"]:
        used_by_time.setdefault(kid, []).append(moment)
    assert len(used_by_time) >= 5
    publishers = {}
    for moment, index, kids in seen["published"]:
        publishers.setdefault(moment, {})[index] = kids
    moments = sorted(publishers)
    checked_publication = checked_retirement = 0
    for kid, uses in used_by_time.items():
        first_use, last_use = min(uses), max(uses)
        everywhere = [m for m in moments if all(kid in kids for kids in publishers[m].values())]
        # Published by every instance continuously from some moment up to the first use …
        since = first_use
        for m in reversed([m for m in moments if m <= first_use]):
            if m not in everywhere:
                break
            since = m
        if since > moments[0]:  # the bootstrap key is the documented exception
            assert first_use - since >= jwks_cache, kid
            checked_publication += 1
        # … and still published everywhere a token lifetime after the last use.
        missing = [m for m in moments if m > last_use and m not in everywhere]
        if missing:
            assert min(missing) - last_use >= tail, kid
            checked_retirement += 1
    assert checked_publication >= 4 and checked_retirement >= 3


# -- locks and races ------------------------------------------------------------------------

def test_racing_rotations_create_exactly_one_new_key(kms_key, atomic_items):
    # atomic_items: each DynamoDB request is atomic, as in AWS (two of moto's conditional puts can both pass).
    clock = FakeClock()
    instances = [instance(clock, sleep=lambda _s: __import__("time").sleep(0.01), **FAST) for _ in range(6)]
    instances[0].jwks()  # bootstrap
    before = {i["kid"] for i in deps.table().query_all("POP#sig", "KEY#")}
    results = race([lambda pop=pop: pop.rotate("sig", force=True) for pop in instances])
    assert [r for r in results if isinstance(r, Exception)] == []
    after = {i["kid"]: i["state"] for i in deps.table().query_all("POP#sig", "KEY#")}
    new = set(after) - before
    assert len(new) == 1 and after[new.pop()] == CREATED
    assert len({r["pending"]["kid"] for r in results}) == 1
    assert sum(1 for r in results if r["created"]) == 1


def test_racing_bootstraps_create_exactly_one_key(kms_key, atomic_items):
    clock = FakeClock()
    instances = [instance(clock, sleep=lambda _s: __import__("time").sleep(0.01), **FAST) for _ in range(6)]
    keys = race([lambda pop=pop: pop.active("sig") for pop in instances])
    assert [k for k in keys if isinstance(k, Exception)] == []
    assert len(list(deps.table().query_all("POP#sig", "KEY#"))) == 1
    assert len({key.kid for key in keys}) == 1


class _NoLocks(Locks):
    """A lease that expired under its holder: both 'hold' it."""

    def acquire(self, *args, **kwargs) -> bool:
        return True


def test_without_the_lock_the_generation_check_still_refuses_a_second_rotation(kms_key):
    clock = FakeClock()
    first, second = instance(clock, **FAST), instance(clock, **FAST)
    first.jwks()
    second._locks = _NoLocks(deps.table())
    loaded = second._repository.load
    snapshot = loaded("sig")
    second._repository.load = lambda use: snapshot  # read before the first one wrote
    first.rotate("sig", force=True)
    with pytest.raises(RingConflict, match="changed concurrently"):
        second.rotate("sig", force=True)
    states = [i["state"] for i in deps.table().query_all("POP#sig", "KEY#")]
    assert sorted(states) == [ACTIVE, CREATED]


def test_a_held_lock_makes_the_scheduled_job_skip_and_an_admin_wait(kms_key):
    clock = FakeClock()
    pop = instance(clock, **FAST)
    pop.jwks()
    assert Locks(deps.table()).acquire("pop-rotation-sig", "someone", 120, int(clock()))
    assert pop.run_schedule()["sig"] is None
    waited = []
    pop._sleep = lambda s: (waited.append(s), clock.advance(1))
    with pytest.raises(RingConflict, match="holds the lock"):
        pop.rotate("sig", force=True)
    assert waited
    clock.advance(120)  # the lease expires
    assert pop.rotate("sig", force=True)["created"]


# -- the schedule and the admin endpoint ----------------------------------------------------

def test_the_rotation_is_scheduled_and_runs(kms_key):
    import app
    from chalicelib.pop.schedule import rotate_pop_keys

    schedules = [s for s in app.app.event_sources if getattr(s, "name", "") == "rotate-pop-keys"]
    assert len(schedules) == 1
    outcome = rotate_pop_keys()
    assert set(outcome) == {"sig", "enc"} and all(o["created"] for o in outcome.values())


def test_admin_rotation_is_idempotent_and_audited(client, issuer, kms_key):
    admin = issuer.token("root", realm_access={"roles": ["admin"]})
    assert client.http.get("/.well-known/jwks.json").status_code == 200  # bootstraps the rings
    first = json.loads(client.http.post("/api/admin/keys/pop/sig/rotate", headers=bearer(admin)).body)
    second = json.loads(client.http.post("/api/admin/keys/pop/sig/rotate", headers=bearer(admin)).body)
    assert first["created"] and second["created"] is None
    assert first["pending"] == second["pending"]
    listing = json.loads(client.http.get("/api/admin/keys", headers=bearer(admin)).body)
    states = sorted(k["state"] for k in listing["pop"]["sig"])
    assert states == [ACTIVE, CREATED]
    events = [e for e in deps.table().query_all(_audit_partition()) if e["type"] == "POP_KEY_CREATE"]
    assert any(e.get("kid") == first["created"] and e.get("userId") for e in events)
    assert client.http.post("/api/admin/keys/pop/other/rotate", headers=bearer(admin)).status_code == 404


def _audit_partition() -> str:
    import datetime as dt
    return "SVCAUDIT#" + dt.datetime.now(dt.timezone.utc).strftime("%Y-%m")  # the service log's month
