"""Parallel changes to one vault and one key ring end in a state some serial order could produce.

Threads play Lambda instances against one moto table whose writes are made
atomic per call (``tests/support/atomic.py``), as DynamoDB's are; everything
between two calls interleaves. Each test checks the final state and the audit
log against the operations that reported success.
"""
from __future__ import annotations

import datetime as dt
import os
from collections import Counter

import pytest

from chalicelib import audit, deps, errors
from chalicelib.audit import catalogue
from chalicelib.katta.formats import AuthorityType, UserKeysInput
from tests.support import katta_world
from tests.support.atomic import atomic_items, race  # noqa: F401 — fixture
from tests.support.katta_keys import UserKeys
from tests.support.kms import kms_key  # noqa: F401 — fixture

pytestmark = pytest.mark.slow  # a live stack, a subprocess or a long run: not in the fast lane

THREADS = 8
ALICE = katta_world.principal("alice")


@pytest.fixture
def world(atomic_items):
    return katta_world.build()


def events(event_type: str, **match) -> list[dict]:
    now = dt.datetime.now(dt.timezone.utc)
    log = audit.HUB if event_type in catalogue.KATTA_TYPES else audit.SERVICE
    found = deps.audit_log().events(now - dt.timedelta(days=1), now + dt.timedelta(days=1), log=log, page_size=100,
                                    types=frozenset({event_type}))
    return [e for e in found if all(e.get(k) == v for k, v in match.items())]


def newcomers(count: int, prefix: str = "new") -> list[str]:
    """Users with keys set up, not yet members of anything."""
    ids = []
    for n in range(count):
        name = f"{prefix}{n}"
        principal = katta_world.Principal(katta_world.user_id_of(name), katta_world.ISSUER,
                                          katta_world.user_id_of(name), frozenset({"user"}), frozenset(), name, "")
        deps.users().create({"id": principal.user_id, "iss": katta_world.ISSUER, "sub": principal.user_id,
                             "name": name, "createdAt": 0})
        deps.user_service().update_me(principal, UserKeysInput(**UserKeys.generate().user_dto()))
        ids.append(principal.user_id)
    return ids


def test_parallel_grants_to_different_members_all_land_once(world):
    people = newcomers(THREADS)
    tokens = {user_id: UserKeys.generate().access_token(os.urandom(32)) for user_id in people}
    outcomes = race([lambda u=u, t=t: deps.vault_service().grant(ALICE, world.vault_id, {u: t}) for u, t in tokens.items()])

    assert [o for o in outcomes if isinstance(o, errors.ApiError)] == []
    stored = deps.vaults().contents(world.vault_id).tokens
    assert {u: stored[u]["token"] for u in people} == tokens  # every grant readable, none lost
    grants = Counter(e["authorityId"] for e in events("VAULT_ACCESS_GRANT", vaultId=world.vault_id))
    assert all(grants[u] == 1 for u in people)


def test_parallel_changes_of_one_member_are_serialisable(world):
    carol = world.id("carol")
    wanted = ["MEMBER", "OWNER", None, "MEMBER", None, "OWNER", "MEMBER", None]

    def change(role):
        if role is None:
            deps.vault_service().remove_member(ALICE, world.vault_id, carol)
            return "removed"
        return "added" if deps.vault_service().put_member(ALICE, world.vault_id, carol, AuthorityType.USER.value, role) else "updated"

    outcomes = race([lambda r=r: change(r) for r in wanted])
    assert all(o in ("added", "updated", "removed") or isinstance(o, errors.Conflict) for o in outcomes), outcomes

    adds = events("VAULT_MEMBER_ADD", vaultId=world.vault_id, authorityId=carol)
    updates = events("VAULT_MEMBER_UPDATE", vaultId=world.vault_id, authorityId=carol)
    removes = events("VAULT_MEMBER_REMOVE", vaultId=world.vault_id, authorityId=carol)
    # Each success is one event; from "absent", adds and removes alternate, so their counts differ by 0 or 1.
    assert len(adds) == outcomes.count("added")
    assert len(updates) == outcomes.count("updated")
    assert len(removes) <= outcomes.count("removed")  # removing an absent member is a no-op without an event
    assert len(adds) - len(removes) in (0, 1)
    assert not updates or adds  # an update needs carol present: some add came first
    final = deps.vaults().contents(world.vault_id).members.get(carol)
    assert (final is not None) == (len(adds) - len(removes) == 1)
    if final is not None:
        winners = [e["role"] for e in adds + updates]
        assert final["role"] in winners


def test_parallel_changes_of_different_members_all_land(world):
    people = newcomers(THREADS)
    outcomes = race([lambda u=u, i=i: deps.vault_service().put_member(ALICE, world.vault_id, u, AuthorityType.USER.value,
                                                        "OWNER" if i % 2 else "MEMBER")
                     for i, u in enumerate(people)])
    assert outcomes == [True] * THREADS
    members = deps.vaults().contents(world.vault_id).members
    assert {u: members[u]["role"] for u in people} == {u: "OWNER" if i % 2 else "MEMBER" for i, u in enumerate(people)}
    assert len(events("VAULT_MEMBER_ADD", vaultId=world.vault_id)) == THREADS + 4  # + the hub's own four


def test_ten_owners_changing_the_roles_of_ten_others_at_once_all_succeed(world):
    """Each demotion is guarded by the owners it counted on, which the others change meanwhile: a lost
    race is retried on a fresh read, so only a real conflict of intent would be refused."""
    actors, targets = newcomers(5, "actor"), newcomers(10, "target")
    for user_id in actors + targets[::2]:
        deps.vault_service().put_member(ALICE, world.vault_id, user_id, AuthorityType.USER.value, "OWNER")
    for user_id in targets[1::2]:
        deps.vault_service().put_member(ALICE, world.vault_id, user_id, AuthorityType.USER.value, "MEMBER")
    wanted = {t: "MEMBER" if i % 2 == 0 else "OWNER" for i, t in enumerate(targets)}
    outcomes = race([lambda i=i, t=t: deps.vault_service().put_member(
        _principal(actors[i % len(actors)]), world.vault_id, t, AuthorityType.USER.value, wanted[t])
        for i, t in enumerate(targets)])

    assert outcomes == [False] * len(targets), outcomes  # every one an update, none refused
    members = deps.vaults().contents(world.vault_id).members
    assert {t: members[t]["role"] for t in targets} == wanted
    updates = Counter(e["authorityId"] for e in events("VAULT_MEMBER_UPDATE", vaultId=world.vault_id))
    assert all(updates[t] == 1 for t in targets)


def test_many_role_flips_of_one_member_all_land_in_some_order(world):
    carol = world.id("carol")
    deps.vault_service().put_member(ALICE, world.vault_id, carol, AuthorityType.USER.value, "MEMBER")
    roles = ["OWNER" if n % 2 else "MEMBER" for n in range(2 * THREADS)]
    outcomes = race([lambda r=r: deps.vault_service().put_member(ALICE, world.vault_id, carol, AuthorityType.USER.value, r)
                     for r in roles])

    assert outcomes == [False] * len(roles), outcomes
    updates = events("VAULT_MEMBER_UPDATE", vaultId=world.vault_id, authorityId=carol)
    assert sorted(e["role"] for e in updates) == sorted(roles)  # each flip landed once


def test_owners_demoting_each_other_at_once_leave_one_owner(world):
    owners = newcomers(THREADS)
    for user_id in owners:
        deps.vault_service().put_member(ALICE, world.vault_id, user_id, AuthorityType.USER.value, "OWNER")
    deps.vault_service().put_member(katta_world.principal("alice"), world.vault_id, world.id("alice"), AuthorityType.USER.value, "MEMBER")
    # Every owner demotes itself; without a guard each sees the others and all succeed.
    demotions = [lambda u=u: deps.vault_service().put_member(_principal(u), world.vault_id, u, AuthorityType.USER.value, "MEMBER")
                 for u in owners]
    outcomes = race(demotions)

    members = deps.vaults().contents(world.vault_id).members
    remaining = [a for a, m in members.items() if m["role"] == "OWNER"]
    assert len(remaining) >= 1, outcomes
    assert sum(o is False for o in outcomes) == THREADS - len(remaining)
    assert all(isinstance(o, errors.Conflict) for o in outcomes if o is not False)


def _principal(user_id: str):
    return katta_world.Principal(user_id, katta_world.ISSUER, user_id, frozenset({"user"}), frozenset(), "", "")


def test_parallel_vault_updates_each_land_whole_and_are_each_audited(world):
    from chalicelib.katta.formats import VaultInput
    from tests.support.katta_keys import vault_dto

    names = [f"Name {n}" for n in range(THREADS)]
    outcomes = race([lambda n=n: deps.vault_service().put(ALICE, world.vault_id, VaultInput(**vault_dto(
        world.vault_id, name=n, description=f"about {n}"))) for n in names])
    assert all(created is False for _dto, created in outcomes)
    vault = deps.vaults().get(world.vault_id)
    assert vault["name"] in names and vault["description"] == f"about {vault['name']}"  # never a mix
    updates = events("VAULT_UPDATE", vaultId=world.vault_id)
    assert sorted(e["vaultName"] for e in updates) == sorted(names)


def test_parallel_ring_rotations_add_exactly_one_version_each(kms_key, atomic_items):
    rings = deps.key_rings()
    rings.seal("concurrent", b"first", "x")
    instances = [_fresh_rings() for _ in range(THREADS)]
    outcomes = race([lambda r=r: r.rotate("concurrent", actor="ada") for r in instances])

    won = [o for o in outcomes if not isinstance(o, Exception)]
    lost = [o for o in outcomes if isinstance(o, Exception)]
    assert all(o.status == 409 for o in lost), lost
    ring = _fresh_rings().describe("concurrent")
    versions = [v["version"] for v in ring["versions"]]
    assert versions == list(range(1, len(won) + 2))  # no lost and no duplicate version
    assert ring["latestVersion"] == len(won) + 1
    assert len(events("KEY_RING_ROTATE", ring="concurrent")) == len(won)


def _fresh_rings():
    """Another Lambda instance: its own key-ring service and caches."""
    from chalicelib.crypto.keyring import KeyRings
    from chalicelib.settings import get_settings
    from chalicelib.db.keyrings import KeyRingRepository, SealedRecordIndex
    table = deps.table()
    return KeyRings(KeyRingRepository(table), SealedRecordIndex(table), deps.transactions(),
                    deps.audit_log(), get_settings())
