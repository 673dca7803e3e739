"""Long lists (``GET /api/users``, a vault's members): the contract's array by default, pages when
asked, and never an answer past Lambda's 6 MB response limit (README, Katta API)."""
from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs

import pytest

from chalicelib import deps, web
from chalicelib.db.table import Transaction
from tests.support.dynamo_calls import CallCounter
from tests.support.katta_api import Actor, body
from tests.support.katta_keys import new_vault_id


@pytest.fixture
def admin(client, issuer):
    return Actor(client, issuer, "admin", roles=("user", "create-vaults", "admin")).sign_in()


def seed_users(count: int) -> list[str]:
    names = [f"user {n:03d}" for n in range(count)]
    for name in names:
        assert deps.users().create({"id": name.replace(" ", "-"), "name": name})
    return names


def next_query(response) -> dict[str, str] | None:
    link = {k.lower(): v for k, v in response.headers.items()}.get("link")
    if link is None:
        return None
    target, rel = link.split(";")
    assert rel.strip() == 'rel="next"' and target.startswith("<?") and target.endswith(">")
    return {k: v[0] for k, v in parse_qs(target[2:-1]).items()}


def walk(actor: Actor, path: str, query: dict[str, str] | None) -> list[list]:
    """Every page, following the Link headers."""
    pages = []
    while query is not None:
        response = actor.get(path + "?" + "&".join(f"{k}={v}" for k, v in query.items()))
        assert response.status_code == 200, response.body
        pages.append(body(response))
        query = next_query(response)
    return pages


def test_users_are_the_contracts_array_by_default_and_pages_when_asked(admin):
    names = seed_users(7)
    everyone = admin.get("/api/users")
    assert everyone.status_code == 200 and next_query(everyone) is None
    listed = [u["name"] for u in body(everyone)]
    assert listed == sorted(listed) and set(names) <= set(listed)
    pages = walk(admin, "/api/users", {"pageSize": "3"})
    assert [len(p) for p in pages] == [3, 3, 2]  # 7 seeded + the admin; the last, short page says no more
    assert [u for page in pages for u in page] == body(everyone)


def test_a_list_too_long_for_one_answer_ends_with_a_link_to_the_rest(admin, monkeypatch):
    seed_users(30)
    everyone = body(admin.get("/api/users"))
    monkeypatch.setattr(web, "MAX_RESPONSE_BYTES", 1000)
    first = admin.get("/api/users")
    assert len(first.body) <= 1000 and 0 < len(body(first)) < len(everyone)
    pages = [body(first), *walk(admin, "/api/users", next_query(first))]
    assert all(len(json.dumps(p, separators=(",", ":"))) <= 1000 for p in pages)
    assert [u for page in pages for u in page] == everyone
    # An explicit page larger than the limit is cut short the same way.
    sized = admin.get("/api/users?pageSize=1000")
    assert len(sized.body) <= 1000 and next_query(sized)["pageSize"] == "1000"


@pytest.mark.parametrize("query", ["pageSize=0", "pageSize=1001", "pageSize=x", "pageSize=%C2%B2", "pageSize="])
def test_a_bad_page_size_is_400_naming_it(admin, query):
    response = admin.get(f"/api/users?{query}")
    assert response.status_code == 400 and body(response)["detail"].startswith("pageSize:")


def _token(*values) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("token", [
    "garbage!", _token("x"), _token(1, 2, 3, 4),
    # Well-formed keys outside the list's own range: another partition, another kind of item.
    _token("VAULT#v", "MEMBER#a", "AUTH#a", "VAULT#v"), _token("USER#a", "PROFILE", "AUTHORITIES", "GROUP#a#a"),
])
def test_a_token_the_list_did_not_hand_out_is_400_naming_it(admin, token):
    response = admin.get(f"/api/users?paginationToken={token}")
    assert response.status_code == 400 and body(response)["detail"].startswith("paginationToken:"), response.body


def test_members_page_for_owners_only_and_each_page_reads_what_it_shows(client, issuer, admin):
    owner = Actor(client, issuer, "owner").sign_in()
    vault_id = new_vault_id()
    owner.create_vault(vault_id)
    member_ids = [n.replace(" ", "-") for n in seed_users(40)]
    transaction = Transaction()
    for user_id in member_ids[:30]:
        deps.vaults().put_member(transaction, vault_id, user_id, "USER", "MEMBER")
    deps.transactions().commit(transaction)
    assert owner.call("PUT", f"/api/vaults/{vault_id}/users/{member_ids[30]}?role=OWNER").status_code == 201
    everyone = body(owner.get(f"/api/vaults/{vault_id}/members"))
    assert len(everyone) == 32 and {m["id"] for m in everyone} >= set(member_ids[:31])
    with CallCounter() as counter:
        first = owner.get(f"/api/vaults/{vault_id}/members?pageSize=5")
    assert len(body(first)) == 5
    # The auth's and the ownership check's reads, one Query of 5 members, one BatchGetItem of 5 users.
    assert counter.items_scanned <= 7 and counter.limits.count(5) == 1, (counter.calls, counter.items_scanned)
    pages = [body(first), *walk(owner, f"/api/vaults/{vault_id}/members", next_query(first))]
    assert [m for page in pages for m in page] == everyone
    plain_member = Actor(client, issuer, "plain").sign_in()
    assert owner.call("PUT", f"/api/vaults/{vault_id}/users/{plain_member.id}").status_code == 201
    for caller in (plain_member, admin):
        assert caller.get(f"/api/vaults/{vault_id}/members?pageSize=5").status_code == 403
    assert owner.get(f"/api/vaults/{new_vault_id()}/members").status_code == 403
    users_token = next_query(admin.get("/api/users?pageSize=1"))["paginationToken"]
    refused = owner.get(f"/api/vaults/{vault_id}/members?paginationToken={users_token}")
    assert refused.status_code == 400 and "paginationToken" in body(refused)["detail"]
