"""The authorization matrix: every Katta route × every kind of caller, each cell on a fresh hub.

Every response is also checked against the contract (status listed, content
type and body schema), so this file doubles as the contract test of every
implemented operation.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Callable

import boto3
import pytest

from chalicelib.katta.http_out_of_scope import OUT_OF_SCOPE
from tests.support import katta_world
from tests.support.katta_api import user_id_of
from tests.support.katta_contract import check_response, operations
from tests.support.katta_keys import UserKeys, new_vault_id, vault_dto
from tests.support.tokens import TokenIssuer

CALLERS = list(katta_world.CALLERS)
JWE = UserKeys.generate().access_token(b"k" * 32)
JWS = "eyJhbGciOiJFUzM4NCJ9.eyJzdWIiOiJjYXJvbCJ9.c2ln"
BOB, CAROL, DAVE, FRANK = (user_id_of(u) for u in ("bob", "carol", "dave", "frank"))


@dataclass
class Route:
    method: str
    template: str  # the contract's path
    path: Callable[[katta_world.World], str]
    expected: dict[str, int]  # caller → status; missing users get ``default``
    default: int = 403
    body: Callable[[katta_world.World], object] | None = None
    content_type: str = "application/json"
    public: bool = False  # no authentication at all

    def status_for(self, caller: str) -> int:
        if caller in self.expected:
            return self.expected[caller]
        if not self.public and caller == "anonymous":
            return 401
        if not self.public and caller == "disabled":
            return 403
        return self.default


def everyone(status: int) -> dict[str, int]:
    return {c: status for c in ("owner", "member", "non_member", "group_member", "admin")}


def admin(status: int) -> dict[str, int]:
    return {"admin": status}


def members(status: int, *, admin_status: int = 403, non_member: int = 403) -> dict[str, int]:
    return {"owner": status, "member": status, "group_member": status, "admin": admin_status,
            "non_member": non_member}


V = "/api/vaults/{vaultId}"

ROUTES = [
    Route("GET", "/api/config", lambda w: "/api/config", {}, default=200, public=True),
    Route("GET", "/api/version", lambda w: "/api/version", {}, default=200, public=True),
    Route("GET", "/api/license/user-info", lambda w: "/api/license/user-info", everyone(200)),
    Route("GET", "/api/billing", lambda w: "/api/billing", admin(200)),
    Route("GET", "/api/users/me", lambda w: "/api/users/me?withDevices=true", everyone(200)),
    Route("PUT", "/api/users/me", lambda w: "/api/users/me", everyone(201),
          body=lambda w: UserKeys.generate().user_dto()),
    Route("POST", "/api/users/me/reset", lambda w: "/api/users/me/reset", everyone(204)),
    Route("POST", "/api/users/me/access-tokens", lambda w: "/api/users/me/access-tokens", members(200),
          body=lambda w: {w.vault_id: JWE}),
    Route("GET", "/api/users", lambda w: "/api/users", admin(200)),
    Route("PUT", "/api/users/{id}/enabled", lambda w: f"/api/users/{CAROL}/enabled", admin(204),
          body=lambda w: "false", content_type="text/plain"),
    Route("GET", "/api/devices", lambda w: f"/api/devices?ids={w.device.id}", everyone(200)),
    Route("GET", "/api/devices/{deviceId}", lambda w: f"/api/devices/{w.device.id}", {"owner": 200}, default=404),
    # The owner's key: an update for the owner, a conflict for anybody else.
    Route("PUT", "/api/devices/{deviceId}", lambda w: f"/api/devices/{w.device.id}", {"owner": 201}, default=409,
          body=lambda w: w.device.dto("Renamed")),
    Route("DELETE", "/api/devices/{deviceId}", lambda w: f"/api/devices/{w.device.id}", {"owner": 204},
          default=404),
    Route("GET", "/api/authorities", lambda w: f"/api/authorities?ids={BOB}&ids=team", everyone(200)),
    Route("GET", "/api/authorities/search", lambda w: "/api/authorities/search?query=b&withMemberSize=true",
          everyone(200)),
    Route("GET", "/api/groups", lambda w: "/api/groups", admin(200)),
    Route("POST", "/api/groups", lambda w: "/api/groups", admin(201), body=lambda w: {"name": "Auditors"}),
    Route("GET", "/api/groups/{groupId}", lambda w: "/api/groups/team", admin(200)),
    Route("PUT", "/api/groups/{groupId}", lambda w: "/api/groups/team", admin(200),
          body=lambda w: {"name": "Team A"}),
    Route("DELETE", "/api/groups/{groupId}", lambda w: "/api/groups/team", admin(204)),
    Route("GET", "/api/groups/{groupId}/effective-members", lambda w: "/api/groups/team/effective-members",
          admin(200)),
    Route("POST", "/api/groups/{groupId}/members/{userId}", lambda w: f"/api/groups/team/members/{CAROL}",
          admin(204)),
    Route("DELETE", "/api/groups/{groupId}/members/{userId}", lambda w: f"/api/groups/team/members/{DAVE}",
          admin(204)),
    Route("GET", "/api/vaults/accessible", lambda w: "/api/vaults/accessible", everyone(200)),
    Route("GET", "/api/vaults/all", lambda w: "/api/vaults/all", admin(200)),
    Route("GET", "/api/vaults/some", lambda w: f"/api/vaults/some?ids={w.vault_id}", admin(200)),
    Route("GET", "/api/vaults/users-requiring-access-grant",
          lambda w: "/api/vaults/users-requiring-access-grant?wait=0", everyone(200)),
    Route("GET", V, lambda w: f"/api/vaults/{w.vault_id}", members(200, admin_status=200)),
    Route("PUT", V, lambda w: f"/api/vaults/{w.vault_id}", {"owner": 200},
          body=lambda w: vault_dto(w.vault_id, name="Renamed")),
    # Creating needs the role create-vaults, which only the owner (alice) has here.
    Route("PUT", V, lambda w: f"/api/vaults/{w.new_vault}", {"owner": 201},
          body=lambda w: vault_dto(w.new_vault)),
    Route("DELETE", V, lambda w: f"/api/vaults/{w.vault_id}", {"owner": 204}),
    Route("PUT", V + "/archived", lambda w: f"/api/vaults/{w.vault_id}/archived", {"owner": 200, "admin": 200},
          body=lambda w: "true", content_type="text/plain"),
    Route("GET", V + "/members", lambda w: f"/api/vaults/{w.vault_id}/members", {"owner": 200}),
    Route("PUT", V + "/members", lambda w: f"/api/vaults/{w.vault_id}/members", {"owner": 204},
          body=lambda w: {w.id("alice"): "OWNER", BOB: "MEMBER"}),
    Route("PUT", V + "/users/{userId}", lambda w: f"/api/vaults/{w.vault_id}/users/{CAROL}", {"owner": 201}),
    Route("PUT", V + "/groups/{groupId}", lambda w: f"/api/vaults/{w.vault_id}/groups/team?role=OWNER",
          {"owner": 200}),
    Route("DELETE", V + "/authority/{authorityId}", lambda w: f"/api/vaults/{w.vault_id}/authority/{BOB}",
          {"owner": 204}),
    Route("GET", V + "/access-token", lambda w: f"/api/vaults/{w.vault_id}/access-token", members(200)),
    Route("POST", V + "/access-tokens", lambda w: f"/api/vaults/{w.vault_id}/access-tokens", {"owner": 200},
          body=lambda w: {CAROL: JWE}),
    Route("POST", V + "/access-tokens/auto", lambda w: f"/api/vaults/{w.vault_id}/access-tokens/auto",
          members(200), body=lambda w: {FRANK: JWE}),
    Route("GET", V + "/users-requiring-access-grant",
          lambda w: f"/api/vaults/{w.vault_id}/users-requiring-access-grant", {"owner": 200}),
    Route("GET", V + "/uvf/vault.uvf", lambda w: f"/api/vaults/{w.vault_id}/uvf/vault.uvf", members(200)),
    Route("GET", V + "/uvf/jwks.json", lambda w: f"/api/vaults/{w.vault_id}/uvf/jwks.json", members(200)),
    Route("GET", "/api/vaults/recoverable", lambda w: "/api/vaults/recoverable", everyone(200)),
    Route("GET", "/api/emergency-access", lambda w: "/api/emergency-access", everyone(200)),
    Route("GET", "/api/emergency-access/{vaultId}", lambda w: f"/api/emergency-access/{w.vault_id}", everyone(200)),
    # Only the council (carol, the non-member, here) starts, approves and ends a vault's recovery.
    Route("PUT", "/api/emergency-access/{processId}", lambda w: f"/api/emergency-access/{w.new_vault}",
          {"non_member": 204}, body=lambda w: katta_world.recovery_start(w, w.vault_id, kind="COUNCIL_CHANGE").model_dump(exclude_none=True)),
    Route("POST", "/api/emergency-access/{processId}/recovered-key-shares",
          lambda w: f"/api/emergency-access/{w.process_id}/recovered-key-shares", {"non_member": 204},
          body=lambda w: {"recoveredKeyShare": w.carols_share}),
    # One approval of the two the vault needs: not even a council member may complete it yet.
    Route("DELETE", "/api/emergency-access/{processId}/complete",
          lambda w: f"/api/emergency-access/{w.process_id}/complete", {}),
    Route("DELETE", "/api/emergency-access/{processId}/abort",
          lambda w: f"/api/emergency-access/{w.process_id}/abort", {"non_member": 204}),
    Route("GET", "/api/users/trusted", lambda w: "/api/users/trusted", everyone(200)),
    Route("GET", "/api/users/trusted/{userId}", lambda w: f"/api/users/trusted/{BOB}", {"owner": 200},
          default=404),
    Route("PUT", "/api/users/trusted/{userId}", lambda w: f"/api/users/trusted/{CAROL}", everyone(204),
          body=lambda w: JWS, content_type="text/plain"),
    Route("GET", "/api/settings", lambda w: "/api/settings", everyone(200)),
    Route("PUT", "/api/settings", lambda w: "/api/settings", admin(204),
          body=lambda w: {"wotMaxDepth": 2, "wotIdVerifyLen": 2, "emergencyCouncilMemberIds": []}),
    Route("GET", "/api/auditlog",
          lambda w: "/api/auditlog?startDate=2020-01-01T00:00:00Z&endDate=2100-01-01T00:00:00Z&type=VAULT_CREATE",
          admin(200)),
]

class _Ids:
    """Stands in for a world when naming the test cells."""

    vault_id = "{vaultId}"
    new_vault = "{newVaultId}"
    process_id = "{processId}"
    device = type("D", (), {"id": "{deviceId}"})()

    @staticmethod
    def id(username):
        return username


@dataclass
class Hub:
    client: object
    issuer: TokenIssuer
    world: katta_world.World
    snapshot: list[dict]

    def restore(self) -> None:
        """Puts the table back to the freshly built hub (after a call that changed it)."""
        dynamodb = boto3.client("dynamodb")
        current = _scan(dynamodb)
        for start in range(0, len(current), 25):
            dynamodb.batch_write_item(RequestItems={TABLE: [
                {"DeleteRequest": {"Key": {"pk": i["pk"], "sk": i["sk"]}}} for i in current[start:start + 25]]})
        for start in range(0, len(self.snapshot), 25):
            dynamodb.batch_write_item(RequestItems={TABLE: [
                {"PutRequest": {"Item": i}} for i in self.snapshot[start:start + 25]]})


TABLE = os.environ["KATTA_TABLE_NAME"]


def _scan(dynamodb) -> list[dict]:
    # Test bookkeeping only: the service itself never scans.
    return dynamodb.scan(TableName=TABLE)["Items"]


@pytest.fixture(scope="module")
def hub():
    """One hub for the whole matrix (building one costs seconds on moto); restored after every change."""
    from tests.support.app_client import app_client
    from moto import mock_aws

    from chalicelib import deps
    from chalicelib.db.schema import create_table

    patch = pytest.MonkeyPatch()
    with mock_aws():
        deps.reset()
        create_table(boto3.client("dynamodb"), TABLE)
        issuer = TokenIssuer().trust(patch)
        world = katta_world.build()
        world.new_vault = new_vault_id()
        import app
        with app_client(app.app) as client:
            yield Hub(client, issuer, world, _scan(boto3.client("dynamodb")))
        patch.undo()
        deps.reset()


def _call(hub: Hub, route: Route, caller: str):
    username = katta_world.CALLERS[caller]
    headers = {"Content-Type": route.content_type}
    if username:
        roles = list(katta_world.ROLES[username])
        headers["Authorization"] = "Bearer " + hub.issuer.token(username, realm_access={"roles": roles})
    body = route.body(hub.world) if route.body else None
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    return hub.client.http.request(route.method, route.path(hub.world), headers=headers, body=body or b"")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path(_Ids)}")
def test_authorization_matrix(hub, route):
    """Each caller in turn; the hub is restored whenever a call changed it."""
    mismatches = []
    for caller in CALLERS:
        response = _call(hub, route, caller)
        body = response.body.decode() if isinstance(response.body, bytes) else response.body
        if response.status_code != route.status_for(caller):
            mismatches.append(f"{caller}: {response.status_code} (expected {route.status_for(caller)}) {body[:200]}")
        else:
            check_response(route.method, route.template, response.status_code,
                           response.headers.get("Content-Type"), body)
        if route.method != "GET" and 200 <= response.status_code < 300:
            hub.restore()
    assert mismatches == []


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_every_contract_operation_is_covered():
    """Each operation outside storage is in the matrix or answers the out-of-scope 501."""
    covered = {(r.method, _shape(r.template)) for r in ROUTES}
    covered |= {(method, _shape(path)) for path, methods, _ in OUT_OF_SCOPE for method in methods}
    assert [(m, p) for m, p in operations() if (m, _shape(p)) not in covered] == []


@pytest.mark.parametrize(("method", "path"), [
    ("PUT", "/api/billing/token"), ("POST", "/api/license/refresh"),
    ("GET", "/api/devices/legacy-devices"), ("GET", "/api/users/me-with-legacy-devices-and-access"),
    ("GET", "/api/vaults/6f1d2c3b-4a59-4e7d-8c6b-5a4f3e2d1c0b/keys/ABC"), ("DELETE", "/api/users/someone"),
])
def test_out_of_scope_routes_answer_a_clear_501(hub, method, path):
    response = hub.client.http.request(method, path)
    assert response.status_code == 501
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = json.loads(response.body)
    assert "not supported" in problem["detail"] or "identity provider" in problem["detail"] \
        or "do not exist" in problem["detail"]
    assert "Traceback" not in response.body.decode()
