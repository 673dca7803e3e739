"""``POST /api/storage/s3-token``: a vault-scoped web-identity token, only for the vault's members.

These tests check what we mint and to whom. That STS then confines the token
to the vault's bucket is shown against SeaweedFS (test_storage_sts_e2e.py),
never with moto, which accepts any token.
"""
from __future__ import annotations

import json

import pytest

from chalicelib import deps
from chalicelib.db.table import Transaction
from tests.support.katta_api import Actor, body
from tests.support.storage_world import world  # noqa: F401 — fixture

AWS_TAGS = "https://aws.amazon.com/tags"
FLAT_TAGS = "https://aws.amazon.com/tags/principal_tags"


def s3_token(actor, vault_id: str):
    return actor.call("POST", f"/api/storage/s3-token?vault={vault_id}")


def test_member_gets_a_token_with_the_vault_tags_signed_by_our_published_key(world):
    vault_id = world.vault()
    response = s3_token(world.alice, vault_id)
    assert response.status_code == 200, response.body
    assert response.headers["Cache-Control"] == "no-store"
    answer = body(response)
    assert answer["issued_token_type"] == "urn:ietf:params:oauth:token-type:jwt"
    assert answer["token_type"] == "N_A"
    assert answer["scope"] == vault_id
    assert answer["expires_in"] == 300

    token = world.verify(answer["access_token"])
    assert token.header["alg"] == "ES256" and token.header["kid"]
    claims = token.claims
    assert claims["iss"] == "https://katta.test"
    assert claims["sub"] == world.alice.id
    assert claims["aud"] == "sts.amazonaws.com"  # a string: SeaweedFS ignores a list
    assert claims["exp"] - claims["iat"] == 300
    assert claims["scope"] == vault_id
    assert claims["jti"]
    assert claims[AWS_TAGS] == {"principal_tags": {"Vault": [vault_id]}, "transitive_tag_keys": ["Vault"]}
    assert claims[FLAT_TAGS] == {"Vault": [vault_id]}


def test_each_token_has_its_own_jti(world):
    vault_id = world.vault()
    first, second = (world.verify(body(s3_token(world.alice, vault_id))["access_token"]) for _ in range(2))
    assert first.claims["jti"] != second.claims["jti"]


def test_the_token_does_not_verify_against_another_key(world):
    from joserfc import jwt
    from joserfc.errors import BadSignatureError
    from joserfc.jwk import ECKey

    answer = body(s3_token(world.alice, world.vault()))
    stranger = ECKey.generate_key("P-256")
    with pytest.raises(BadSignatureError):
        jwt.decode(answer["access_token"], stranger, algorithms=["ES256"])


def test_issuance_is_audited(world):
    vault_id = world.vault()
    answer = body(s3_token(world.alice, vault_id))
    events = world.audit_events("STORAGE_TOKEN_ISSUE")
    assert [(e["issuedTo"], e["vaultId"], e["result"]) for e in events] == [(world.alice.id, vault_id, "SUCCESS")]
    assert events[0]["jti"] == world.verify(answer["access_token"]).claims["jti"]
    assert answer["access_token"] not in json.dumps(events, default=str)


def test_another_user_is_refused_and_the_refusal_audited(world):
    vault_id = world.vault()
    response = s3_token(world.bob, vault_id)
    assert response.status_code == 403
    assert "access_token" not in body(response)
    events = world.audit_events("STORAGE_TOKEN_ISSUE")
    assert [(e["issuedTo"], e["result"]) for e in events] == [(world.bob.id, "UNAUTHORIZED")]


def test_a_direct_member_added_by_the_owner_gets_a_token(world):
    vault_id = world.vault()
    assert world.alice.call("PUT", f"/api/vaults/{vault_id}/users/{world.bob.id}").status_code == 201
    response = s3_token(world.bob, vault_id)
    assert response.status_code == 200
    assert world.verify(body(response)["access_token"]).claims["sub"] == world.bob.id


def test_removed_member_is_refused_again(world):
    vault_id = world.vault()
    world.alice.call("PUT", f"/api/vaults/{vault_id}/users/{world.bob.id}")
    assert world.alice.call("DELETE", f"/api/vaults/{vault_id}/authority/{world.bob.id}").status_code == 204
    assert s3_token(world.bob, vault_id).status_code == 403


def _add_group_member(vault_id: str, group_id: str) -> None:
    transaction = deps.vaults().put_member(Transaction(), vault_id, group_id, "GROUP", "MEMBER")
    deps.table().commit(transaction)


def test_member_through_a_group_claim_gets_a_token(world, client, issuer):
    vault_id = world.vault()
    _add_group_member(vault_id, "engineering")
    carol = Actor(client, issuer, "carol", roles=("user",), groups=("/Engineering",)).sign_in()
    dave = Actor(client, issuer, "dave", roles=("user",), groups=("/Sales",)).sign_in()
    assert s3_token(carol, vault_id).status_code == 200
    assert s3_token(dave, vault_id).status_code == 403


def test_member_through_an_admin_managed_group_gets_a_token(world, client, issuer):
    vault_id = world.vault()
    erin = Actor(client, issuer, "erin", roles=("user",)).sign_in()
    deps.table().commit(deps.groups().create(Transaction(), {"id": "auditors", "name": "Auditors"}))
    deps.table().commit(deps.groups().add_member(Transaction(), "auditors", erin.id))
    assert s3_token(erin, vault_id).status_code == 403
    _add_group_member(vault_id, "auditors")
    assert s3_token(erin, vault_id).status_code == 200


def test_unknown_vault_is_404(world):
    assert s3_token(world.alice, "0f8e0d9a-5b7c-4d3e-9f21-0a1b2c3d4e5f").status_code == 404


def test_archived_vault_is_410(world):
    vault_id = world.vault()
    archived = world.alice.call("PUT", f"/api/vaults/{vault_id}/archived", "true", content_type="text/plain")
    assert archived.status_code == 200
    assert s3_token(world.alice, vault_id).status_code == 410
    assert s3_token(world.bob, vault_id).status_code == 403  # no hint to outsiders that it exists


@pytest.mark.parametrize("shape", [
    "*", "%3F" * 36, "upper", "prefix-star", "braces", "no-hyphens", "empty", "trailing-space",
])
def test_a_vault_id_that_is_not_canonical_is_refused_before_it_reaches_a_token(world, shape):
    vault_id = world.vault()
    bad = {
        "*": "*", "%3F" * 36: "%3F" * 36, "upper": vault_id.upper(), "prefix-star": vault_id[:9] + "*",
        "braces": "%7B" + vault_id + "%7D", "no-hyphens": vault_id.replace("-", ""), "empty": "",
        "trailing-space": vault_id + "%20",
    }[shape]
    response = s3_token(world.alice, bad)
    assert response.status_code == 400
    assert body(response)["errors"][0]["field"] == "vault"
    assert world.audit_events("STORAGE_TOKEN_ISSUE") == []


def test_vault_parameter_is_required(world):
    response = world.alice.call("POST", "/api/storage/s3-token")
    assert response.status_code == 400
    assert "vault" in body(response)["detail"]


def test_without_a_bearer_token_it_is_401(world):
    vault_id = world.vault()
    response = world.client.http.post(f"/api/storage/s3-token?vault={vault_id}")
    assert response.status_code == 401


def test_a_user_without_the_user_role_is_refused(world, client, issuer):
    vault_id = world.vault()
    guest = Actor(client, issuer, "guest", roles=())
    assert s3_token(guest, vault_id).status_code == 403


class _FakeAccess:
    """VaultAccess for one vault: its item and the caller's role there (None: no member)."""

    def __init__(self, vault: dict, role: str | None) -> None:
        self.vault, self.role = vault, role

    def vault_and_role(self, principal, vault_id: str):
        return {**self.vault, "id": vault_id}, self.role


class _FakePop:
    def __init__(self) -> None:
        self.signed: list[dict] = []

    def sign_jwt(self, claims: dict, header_overrides=None) -> str:
        self.signed.append(claims)
        return "signed.jwt.token"


def test_the_storage_token_service_built_from_its_collaborators_audits_each_issuance(aws):
    import datetime as dt

    from chalicelib import audit
    from chalicelib.audit import AuditLog
    from chalicelib.auth.accounts import Principal
    from chalicelib.errors import Forbidden
    from chalicelib.settings import Settings
    from chalicelib.db.audit import AuditEventRepository
    from chalicelib.tokens.s3_token import StorageTokens

    now = 1_900_000_000.0
    ticks = iter(range(1, 100))  # events written a millisecond apart, so their ids order them
    audit_log = AuditLog(AuditEventRepository(deps.table()), clock=lambda: now + next(ticks) / 1000)
    pop = _FakePop()
    settings = Settings(s3_token_lifetime_seconds=600)
    principal = Principal("alice-id", "https://idp.test", "alice", frozenset({"user"}), frozenset(), "alice", None)
    vault_id = "0f8e0d9a-5b7c-4d3e-9f21-0a1b2c3d4e5f"

    member = StorageTokens(_FakeAccess({}, "MEMBER"), pop, audit_log, settings, clock=lambda: now)
    answer = member.issue(principal, vault_id, source_ip="192.0.2.1")
    assert answer == {"access_token": "signed.jwt.token", "issued_token_type": "urn:ietf:params:oauth:token-type:jwt",
                      "token_type": "N_A", "expires_in": 600, "scope": vault_id}
    [claims] = pop.signed
    assert (claims["sub"], claims["iat"], claims["exp"], claims["scope"]) == ("alice-id", int(now), int(now) + 600,
                                                                              vault_id)

    outsider = StorageTokens(_FakeAccess({}, None), pop, audit_log, settings, clock=lambda: now)
    with pytest.raises(Forbidden):
        outsider.issue(principal, vault_id)
    assert len(pop.signed) == 1  # nothing signed for a non-member

    moment = dt.datetime.fromtimestamp(now, tz=dt.timezone.utc)
    events = audit_log.events(moment - dt.timedelta(minutes=1), moment + dt.timedelta(minutes=1), log=audit.SERVICE,
                              descending=False)
    assert [(e["type"], e["result"]) for e in events] == [("STORAGE_TOKEN_ISSUE", "SUCCESS"),
                                                         ("STORAGE_TOKEN_ISSUE", "UNAUTHORIZED")]
    assert events[0]["jti"] == claims["jti"] and events[0]["expiresAt"] == int(now) + 600
    assert events[0]["ipAddress"] == "192.0.2.1" and "ipAddress" not in events[1]
