"""The long poll of users awaiting a grant: one read per poll while nothing changes, whatever the
number of vaults; any change of access shows on the next poll (the access epoch, db/epoch.py)."""
from __future__ import annotations

import pytest

from chalicelib import deps
from chalicelib.db.table import Transaction
from tests.support import faults
from tests.support.dynamo_calls import CallCounter
from tests.support.katta_api import Actor, body
from tests.support.katta_keys import new_vault_id
from tests.test_katta_rules import alice, bob  # noqa: F401 - the fixtures

POLL = "/api/vaults/users-requiring-access-grant?wait=0"


def vaults_of(holder: Actor, count: int) -> list[str]:
    """``count`` vaults the holder owns and holds a token for, written directly."""
    vault_ids = [new_vault_id() for _ in range(count)]
    for vault_id in vault_ids:
        transaction = deps.vaults().create(Transaction(), {"id": vault_id, "name": vault_id, "archived": False,
                                                           "creationTime": "2026-01-01T00:00:00Z"})
        deps.vaults().put_member(transaction, vault_id, holder.id, "USER", "OWNER")
        deps.vaults().put_token(transaction, vault_id, holder.id, "jwe")
        deps.table().commit(transaction)
    return vault_ids


def many_vaults(holder: Actor, count: int) -> list[str]:
    """As ``vaults_of``, in batches of 25 items (a thousand transactions take moto too long)."""
    from chalicelib import aws
    vault_ids = [new_vault_id() for _ in range(count)]
    items = []
    for vault_id in vault_ids:
        transaction = deps.vaults().create(Transaction(), {"id": vault_id, "name": vault_id, "archived": False,
                                                           "creationTime": "2026-01-01T00:00:00Z"})
        deps.vaults().put_member(transaction, vault_id, holder.id, "USER", "OWNER")
        deps.vaults().put_token(transaction, vault_id, holder.id, "jwe")
        items += [op["Put"]["Item"] for op in transaction.ops]  # in DynamoDB's encoding already
    client, table = aws.client("dynamodb"), deps.table().name
    for start in range(0, len(items), 25):
        client.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": item}}
                                                      for item in items[start:start + 25]]})
    return vault_ids


def poll_calls(holder: Actor) -> list[str]:
    with CallCounter() as counter:
        assert body(holder.get(POLL)) == {}
    return counter.calls


def test_a_poll_costs_the_same_at_1_and_60_vaults(bob):
    vaults_of(bob, 1)
    assert body(bob.get(POLL)) == {}  # the first poll derives the snapshot
    few = poll_calls(bob)
    vaults_of(bob, 59)  # written around the service: the epoch did not move, the snapshot is reused
    assert body(bob.get(POLL)) == {}
    many = poll_calls(bob)
    assert few == many and many.count("Query") <= 1, many  # the caller's groups; nothing per vault


def test_every_change_of_access_shows_on_the_next_poll(client, issuer, alice, bob):
    admin = Actor(client, issuer, "ada", roles=("user", "admin")).sign_in()
    vault_id = new_vault_id()
    alice.create_vault(vault_id)
    assert alice.call("PUT", f"/api/vaults/{vault_id}/users/{bob.id}").status_code == 201
    assert alice.call("POST", f"/api/vaults/{vault_id}/access-tokens",
                      {bob.id: bob.keys.access_token(b"k" * 32)}).status_code == 200
    assert body(bob.get(POLL)) == {}
    carol = Actor(client, issuer, "carol", roles=("user",)).sign_in()
    assert alice.call("PUT", f"/api/vaults/{vault_id}/users/{carol.id}").status_code == 201
    assert body(bob.get(POLL)) == {}  # a member without keys awaits nothing yet
    carol.set_up_keys()
    assert body(bob.get(POLL)) == {vault_id: [carol.id]}  # her keys
    assert alice.call("POST", f"/api/vaults/{vault_id}/access-tokens",
                      {carol.id: carol.keys.access_token(b"k" * 32)}).status_code == 200
    assert body(bob.get(POLL)) == {}  # her grant
    dave = Actor(client, issuer, "dave", roles=("user",)).sign_in().set_up_keys()
    assert admin.call("POST", "/api/groups", {"name": "Team"}).status_code == 201
    assert alice.call("PUT", f"/api/vaults/{vault_id}/groups/team").status_code == 201
    assert body(bob.get(POLL)) == {}
    assert admin.call("POST", f"/api/groups/team/members/{dave.id}").status_code == 204
    assert body(bob.get(POLL)) == {vault_id: [dave.id]}  # a group's new member
    assert alice.call("PUT", f"/api/vaults/{vault_id}/archived", "true", content_type="text/plain").status_code == 200
    assert body(bob.get(POLL)) == {}  # archived


def test_a_lost_epoch_write_is_outlived_by_the_snapshots_age(alice, bob, monkeypatch):
    from chalicelib.katta import vaults as vault_module
    vault_id = new_vault_id()
    alice.create_vault(vault_id)
    assert alice.call("PUT", f"/api/vaults/{vault_id}/users/{bob.id}").status_code == 201
    assert body(alice.get(POLL)) == {vault_id: [bob.id]}
    with faults.installed() as injector:
        with injector.failing(("dynamodb", "UpdateItem", 1), faults.INTERNAL_ERROR):  # the epoch's ADD
            assert alice.call("POST", f"/api/vaults/{vault_id}/access-tokens",
                              {bob.id: bob.keys.access_token(b"k" * 32)}).status_code == 200  # the grant stands
        assert injector.fired
    assert body(alice.get(POLL)) == {vault_id: [bob.id]}  # stale, within the age
    monkeypatch.setattr(vault_module, "_PENDING_MAX_AGE_SECONDS", 0.0)
    assert body(alice.get(POLL)) == {}


def test_the_writes_outside_a_transaction_cannot_change_the_answer(client, issuer, alice, bob, monkeypatch):
    """Signing in writes a user's item outside ``Transactions.commit`` — a new account, and the profile
    following the identity provider (name, e-mail, picture) — so the epoch does not move. Neither can
    change the answer, which names members with keys set up, no token and no disabled flag: a new
    account has no keys, and the profile sync writes nothing else."""
    from chalicelib.katta import vaults as vault_module
    vault_id = new_vault_id()
    alice.create_vault(vault_id)
    assert alice.call("PUT", f"/api/vaults/{vault_id}/users/{bob.id}").status_code == 201
    assert body(alice.get(POLL)) == {vault_id: [bob.id]}
    epoch = deps.access_epoch().read()
    renamed = issuer.token(bob.username, realm_access={"roles": list(bob.roles)}, name="Robert",
                           email="robert@example.test", picture="https://example.test/robert.png")
    assert client.http.get("/api/users/me", headers={"Authorization": f"Bearer {renamed}"}).status_code == 200
    assert deps.users().get(bob.id)["name"] == "Robert"  # written outside a transaction
    newcomer = Actor(client, issuer, "erin", roles=("user",)).sign_in()  # provisioned outside one
    assert deps.users().get(newcomer.id) is not None
    assert deps.access_epoch().read() == epoch
    assert body(alice.get(POLL)) == {vault_id: [bob.id]}  # the snapshot, reused
    monkeypatch.setattr(vault_module, "_PENDING_MAX_AGE_SECONDS", 0.0)
    assert body(alice.get(POLL)) == {vault_id: [bob.id]}  # derived again: the same answer


def _first_polls_after_changes(client, issuer, owner: Actor, vaults: int) -> dict[str, list[str]]:
    """The calls of the first poll after a change elsewhere, and after a change in one of ``vaults``."""
    vault_ids = many_vaults(owner, vaults)
    newcomer = Actor(client, issuer, f"new-{owner.username}", roles=("user",)).sign_in().set_up_keys()
    assert body(owner.get(POLL)) == {}  # derived: a user changed (keys set up)
    stranger = Actor(client, issuer, f"stranger-{owner.username}").sign_in()
    stranger.create_vault(new_vault_id())  # another user's vault: none of the owner's changed
    elsewhere = poll_calls(owner)
    assert owner.call("PUT", f"/api/vaults/{vault_ids[-1]}/users/{newcomer.id}").status_code == 201
    with CallCounter() as counter:
        assert body(owner.get(POLL)) == {vault_ids[-1]: [newcomer.id]}
    return {"elsewhere": elsewhere, "in one vault": counter.calls}


@pytest.mark.slow  # a thousand vaults, derived once in full on moto
def test_the_first_poll_after_a_change_reads_only_the_vaults_that_changed(client, issuer, alice, bob):
    one = _first_polls_after_changes(client, issuer, alice, 1)
    thousand = _first_polls_after_changes(client, issuer, bob, 1000)
    for change in ("elsewhere", "in one vault"):
        small, large = one[change], thousand[change]
        # The vaults' epochs: one BatchGetItem per 100 vaults; everything else the same at both sizes.
        assert small.count("BatchGetItem") + 9 == large.count("BatchGetItem"), (change, small, large)
        assert [c for c in small if c != "BatchGetItem"] == [c for c in large if c != "BatchGetItem"], change
    # Elsewhere: the caller's token list and its vaults' epochs, no vault read; in one vault: that vault's
    # items and the caller's groups (read only when a vault is).
    assert one["elsewhere"].count("Query") == 1 and one["in one vault"].count("Query") == 3, one


def test_a_change_of_people_none_of_the_callers_vaults_rests_on_reads_no_vault(client, issuer, alice, bob):
    few, many = [], []
    for holder, count, calls in ((alice, 1, few), (bob, 60, many)):
        vaults_of(holder, count)
        assert body(holder.get(POLL)) == {}
        Actor(client, issuer, f"stranger-{holder.username}", roles=("user",)).sign_in().set_up_keys()
        calls += poll_calls(holder)
    # The caller, the epoch, the slot of the change, the caller's token list and its vaults' epochs: no
    # vault's items.
    assert few == many == ["GetItem", "GetItem", "BatchGetItem", "Query", "BatchGetItem"], (few, many)


def test_a_change_of_people_reads_again_only_the_vaults_resting_on_them(client, issuer, alice):
    admin = Actor(client, issuer, "ada", roles=("user", "admin")).sign_in()
    vault_ids = vaults_of(alice, 5)
    carol, dave = (Actor(client, issuer, name, roles=("user",)).sign_in() for name in ("carol", "dave"))
    erin = Actor(client, issuer, "erin", roles=("user",)).sign_in().set_up_keys()
    assert admin.call("POST", "/api/groups", {"name": "Team"}).status_code == 201
    assert admin.call("POST", f"/api/groups/team/members/{dave.id}").status_code == 204
    assert alice.call("PUT", f"/api/vaults/{vault_ids[1]}/users/{carol.id}").status_code == 201
    assert alice.call("PUT", f"/api/vaults/{vault_ids[3]}/groups/team").status_code == 201
    assert body(alice.get(POLL)) == {}  # carol and dave have no keys yet

    carol.set_up_keys()  # a member
    with CallCounter() as counter:
        assert body(alice.get(POLL)) == {vault_ids[1]: [carol.id]}
    assert counter.calls.count("Query") == 3, counter.calls  # the token list, that vault, the caller's groups

    dave.set_up_keys()  # a member group's member
    with CallCounter() as counter:
        assert body(alice.get(POLL)) == {vault_ids[1]: [carol.id], vault_ids[3]: [dave.id]}
    assert counter.calls.count("Query") == 4, counter.calls  # and the group's members

    assert admin.call("POST", f"/api/groups/team/members/{erin.id}").status_code == 204  # a member group
    with CallCounter() as counter:
        assert body(alice.get(POLL)) == {vault_ids[1]: [carol.id], vault_ids[3]: sorted([dave.id, erin.id])}
    assert counter.calls.count("Query") == 4, counter.calls


def test_reading_some_vaults_again_keeps_the_age_of_the_whole_snapshot(client, issuer, alice, bob, monkeypatch):
    """A view kept through changes elsewhere is trusted no longer than the snapshot's age from when
    it was last derived whole — here one whose vault's epoch write was lost."""
    now = [1000.0]
    monkeypatch.setattr(deps.vault_service(), "_monotonic", lambda: now[0])
    vault_id = new_vault_id()
    alice.create_vault(vault_id)
    assert alice.call("PUT", f"/api/vaults/{vault_id}/users/{bob.id}").status_code == 201
    assert body(alice.get(POLL)) == {vault_id: [bob.id]}  # derived whole at 1000
    with faults.installed() as injector:
        with injector.failing(("dynamodb", "UpdateItem", 1), faults.INTERNAL_ERROR):  # the vault epoch's ADD
            assert alice.call("POST", f"/api/vaults/{vault_id}/access-tokens",
                              {bob.id: bob.keys.access_token(b"k" * 32)}).status_code == 200
        assert injector.fired
    for step, name in enumerate(("x", "y", "z"), start=1):
        now[0] = 1000.0 + 25 * step  # a change elsewhere every 25 s
        Actor(client, issuer, name, roles=("user",)).sign_in().set_up_keys()
        expected = {vault_id: [bob.id]} if now[0] < 1060 else {}  # stale within the age, then derived whole
        assert body(alice.get(POLL)) == expected, now[0]


def test_a_change_of_the_caller_derives_everything_anew(client, issuer, alice, bob):
    """A vault the caller holds a token for but does not belong to answers nothing. Joining a group
    that is one of its members changes the caller and that group, neither of them a member's user."""
    admin = Actor(client, issuer, "ada", roles=("user", "admin")).sign_in()
    assert admin.call("POST", "/api/groups", {"name": "Team"}).status_code == 201
    vault_id = new_vault_id()
    alice.create_vault(vault_id)
    assert alice.call("PUT", f"/api/vaults/{vault_id}/groups/team").status_code == 201
    assert alice.call("PUT", f"/api/vaults/{vault_id}/users/{bob.id}").status_code == 201  # awaits a grant
    carol = Actor(client, issuer, "carol", roles=("user",)).sign_in()
    deps.table().commit(deps.vaults().put_token(Transaction(), vault_id, carol.id, "jwe"))  # around the service
    assert body(carol.get(POLL)) == {}  # a token, but no member
    assert admin.call("POST", f"/api/groups/team/members/{carol.id}").status_code == 204
    assert body(carol.get(POLL)) == {vault_id: [bob.id]}


def test_changes_of_people_not_all_known_derive_everything_anew(client, issuer, alice, monkeypatch):
    from chalicelib.db import keys
    monkeypatch.setattr(keys, "PEOPLE_CHANGE_SLOTS", 2)
    vault_id, = vaults_of(alice, 1)
    carol, erin = (Actor(client, issuer, name, roles=("user",)).sign_in() for name in ("carol", "erin"))
    for member in (carol, erin):
        assert alice.call("PUT", f"/api/vaults/{vault_id}/users/{member.id}").status_code == 201
    assert body(alice.get(POLL)) == {}

    carol.set_up_keys()
    for name in ("x", "y"):  # two more changes: three since the snapshot, more than the slots keep
        Actor(client, issuer, name, roles=("user",)).sign_in().set_up_keys()
    assert body(alice.get(POLL)) == {vault_id: [carol.id]}

    with faults.installed() as injector:
        stranger = Actor(client, issuer, "z", roles=("user",)).sign_in()
        with injector.record() as calls:
            stranger.set_up_keys()
        slot_write = [c for c in calls if c.operation == "UpdateItem" and c.best_effort][-1]
        with injector.failing(slot_write, faults.INTERNAL_ERROR):  # the slot of erin's change is not written
            erin.set_up_keys()  # her keys stand
        assert injector.fired
    assert body(alice.get(POLL)) == {vault_id: sorted([carol.id, erin.id])}
