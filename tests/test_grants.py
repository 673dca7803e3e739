"""Large access grants: transactions of 49 grants, each atomic; a request that fails part-way is
completed by the same request again, without granting (or auditing) anything twice."""
from __future__ import annotations

import datetime as dt

import pytest

from chalicelib import deps
from chalicelib.db.table import Transaction
from chalicelib.katta.formats import MAX_TOKENS_PER_REQUEST
from tests.support import faults
from tests.support.katta_api import Actor, body
from tests.support.katta_keys import new_vault_id

GRANTS = 150  # four transactions: 49 + 49 + 49 + 3


@pytest.fixture
def owner(client, issuer):
    return Actor(client, issuer, "owner").sign_in().set_up_keys()


def awaiting_members(owner: Actor, vault_id: str, count: int) -> dict[str, str]:
    """``count`` users with keys, direct members without a token: user id → the token to grant them."""
    user_ids = [f"member-{n:03d}" for n in range(count)]
    transaction = Transaction()
    for user_id in user_ids:
        deps.users().create({"id": user_id, "name": user_id, "ecdhPublicKey": owner.keys.ecdh_public})
        deps.vaults().put_member(transaction, vault_id, user_id, "USER", "MEMBER")
        if len(transaction.ops) >= 90:
            deps.transactions().commit(transaction)
            transaction = Transaction()
    if transaction.ops:
        deps.transactions().commit(transaction)
    token = owner.keys.access_token(b"k" * 32)
    return dict.fromkeys(user_ids, token)


def stored_tokens(vault_id: str) -> dict[str, str]:
    return {u: t["token"] for u, t in deps.vaults().contents(vault_id).tokens.items()}


def grant_events(vault_id: str) -> int:
    now = dt.datetime.now(dt.timezone.utc)
    events = deps.audit_log().events(now - dt.timedelta(days=1), now + dt.timedelta(days=1), page_size=100,
                                     types=frozenset({"VAULT_ACCESS_GRANT"}))
    while len(events) % 100 == 0 and events:
        more = deps.audit_log().events(now - dt.timedelta(days=1), now + dt.timedelta(days=1), page_size=100,
                                       types=frozenset({"VAULT_ACCESS_GRANT"}), after_id=events[-1]["id"])
        if not more:
            break
        events += more
    return sum(1 for e in events if e["vaultId"] == vault_id)


@pytest.mark.slow
@pytest.mark.parametrize("route", ["access-tokens", "access-tokens/auto"])
def test_more_than_100_grants_go_through_and_a_retry_completes_a_failed_request(owner, route):
    vault_id = new_vault_id()
    owner.create_vault(vault_id)
    tokens = awaiting_members(owner, vault_id, GRANTS)
    with faults.installed() as injector:
        with injector.failing(("dynamodb", "TransactWriteItems", 3), faults.INTERNAL_ERROR):
            assert owner.call("POST", f"/api/vaults/{vault_id}/{route}", tokens).status_code == 503
        assert injector.fired
    partial = stored_tokens(vault_id)
    assert len(partial) == 1 + 2 * 49  # the owner's own, and the first two transactions'
    assert grant_events(vault_id) == 1 + 2 * 49  # every stored grant with its event, nothing else
    assert owner.call("POST", f"/api/vaults/{vault_id}/{route}", tokens).status_code == 200
    assert stored_tokens(vault_id) == {**tokens, owner.id: partial[owner.id]}
    assert grant_events(vault_id) == 1 + GRANTS  # the retry granted only the rest
    assert owner.call("POST", f"/api/vaults/{vault_id}/{route}", tokens).status_code == 200  # all done: a no-op
    assert grant_events(vault_id) == 1 + GRANTS


def test_a_grant_request_over_the_limit_is_refused_before_anything_is_stored(owner):
    vault_id = new_vault_id()
    owner.create_vault(vault_id)
    token = owner.keys.access_token(b"k" * 32)
    tokens = {f"user-{n:04d}": token for n in range(MAX_TOKENS_PER_REQUEST + 1)}
    response = owner.call("POST", f"/api/vaults/{vault_id}/access-tokens", tokens)
    assert response.status_code in (400, 413)  # the count, or the body size limit before it
    assert "tokens per request" in body(response)["detail"] or response.status_code == 413
    assert list(stored_tokens(vault_id)) == [owner.id]


def test_a_user_stores_their_own_tokens_for_many_vaults_with_bounded_reads(client, issuer, owner):
    """``POST /api/users/me/access-tokens`` (re-encrypted tokens): 150 vaults checked with BatchGetItems
    of 100 keys rather than a Query each; a vault the caller is no member of refuses the whole request."""
    from tests.support.dynamo_calls import CallCounter

    bob = Actor(client, issuer, "bob", roles=("user",)).sign_in().set_up_keys()
    vault_ids = [new_vault_id() for _ in range(GRANTS)]
    for vault_id in vault_ids:
        transaction = deps.vaults().create(Transaction(), {"id": vault_id, "name": vault_id, "archived": False,
                                                           "creationTime": "2026-01-01T00:00:00Z"})
        deps.table().commit(deps.vaults().put_member(transaction, vault_id, bob.id, "USER", "MEMBER"))
    token = bob.keys.access_token(b"k" * 32)
    stranger = new_vault_id()
    owner.create_vault(stranger)
    refused = bob.call("POST", "/api/users/me/access-tokens", {**dict.fromkeys(vault_ids, token), stranger: token})
    assert refused.status_code == 403 and stranger in body(refused)["detail"]
    assert not stored_tokens(vault_ids[0])
    with CallCounter() as counter:
        assert bob.call("POST", "/api/users/me/access-tokens", dict.fromkeys(vault_ids, token)).status_code == 200
    assert counter.calls.count("BatchGetItem") <= 4 and counter.calls.count("Query") <= 1, counter.calls
    assert all(stored_tokens(v) == {bob.id: token} for v in vault_ids[::37])
