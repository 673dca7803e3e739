"""Every write route under injected AWS faults: a 503 with Retry-After or a correct 409, never half-written.

For each write route (enumerated from the route table, so a new one without a
scenario fails ``test_every_write_route_has_a_fault_scenario``) a clean run
records the AWS calls the request makes; then each call k = 1..n is failed in
turn, with a fault of the kind that call can meet. After every faulted request
the whole table is read (a Scan — here, in the test, never in the service) and
must equal, item by item, the table before the request or the table after a
complete successful one.

One hub is built for the module (seconds on moto) and restored after every
request that changed it; every request runs on a cold instance (fresh clients
and caches), so the sequence of calls is the same in every run.
"""
from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlencode

import boto3
import pytest

from chalicelib import deps
from chalicelib.katta.http_out_of_scope import OUT_OF_SCOPE
from tests.support import faults, katta_world
from tests.support.katta_api import user_id_of
from tests.support.katta_keys import UserKeys, new_vault_id, vault_dto
from tests.support.sealed import sealed_item
from tests.support.storage_world import STS_PROFILE
from tests.support.tokens import TokenIssuer
from tests.test_secret_fixtures import SECRET_AUDIENCE, SecretWorld
from tests.test_secret_fixtures import build_world as build_secret_world

pytestmark = pytest.mark.slow  # a live stack, a subprocess or a long run: not in the fast lane

TABLE = os.environ["KATTA_TABLE_NAME"]
WRITE_METHODS = ("PUT", "POST", "DELETE", "PATCH")
JWE = UserKeys.generate().access_token(b"k" * 32)
JWS = "eyJhbGciOiJFUzM4NCJ9.eyJzdWIiOiJjYXJvbCJ9.c2ln"
BOB, CAROL, DAVE, FRANK = (user_id_of(u) for u in ("bob", "carol", "dave", "frank"))
# A user the IdP provisioned (SCIM) and who never signed in.
GRACE = "scim-grace"
SCIM_GRACE = {"externalId": GRACE, "userName": "grace@katta.test", "displayName": "Grace"}
RING, TRIMMED_RING = "faults", "trimmed"
REPORTS = "https://reports.katta.test"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
FORM = "application/x-www-form-urlencoded"
NEW_KEYS = UserKeys.generate().user_dto()  # one body for every run, so runs end in the same state


# --- the hub ---------------------------------------------------------------------------------------

@dataclass
class Hub:
    client: Any
    issuer: TokenIssuer
    world: katta_world.World
    new_vault: str
    rendezvous: dict[str, str]
    profile_id: str
    secrets: SecretWorld
    backend: Any  # a resource server registered with the secret server
    before: list[dict[str, Any]]  # the table as built, DynamoDB JSON

    def body(self, scenario: "Scenario") -> str | bytes:
        """The request body, built once per scenario: every run must send the same bytes."""
        body = scenario.body(self) if scenario.body else None
        return json.dumps(body) if body is not None and not isinstance(body, str) else body or b""

    def call(self, scenario: "Scenario", body: str | bytes):
        headers = {"Content-Type": scenario.content_type}
        if scenario.caller:
            roles = list(katta_world.ROLES[scenario.caller])
            headers["Authorization"] = "Bearer " + self.issuer.token(scenario.caller, realm_access={"roles": roles})
        return self.client.http.request(scenario.method, scenario.path(self), headers=headers, body=body)

    def renew_rendezvous(self) -> None:
        """Moves the rendezvous session's expiry to now + TTL (the module outlives any TTL)."""
        expires_ms = int((time.time() + 180) * 1000)
        for item in self.before:
            if item["pk"]["S"].startswith(("RDV#", "RDVUSER#")):
                item["expires_at_ms"] = {"N": str(expires_ms)}
                item["expires_at"] = {"N": str(expires_ms // 1000)}
        self.restore()

    def restore(self, current: list[dict[str, Any]] | None = None) -> None:
        """Puts the table back to the hub as built."""
        dynamodb = boto3.client("dynamodb")
        current = scan() if current is None else current
        for start in range(0, len(current), 25):
            dynamodb.batch_write_item(RequestItems={TABLE: [
                {"DeleteRequest": {"Key": {"pk": i["pk"], "sk": i["sk"]}}} for i in current[start:start + 25]]})
        for start in range(0, len(self.before), 25):
            dynamodb.batch_write_item(RequestItems={TABLE: [
                {"PutRequest": {"Item": i}} for i in self.before[start:start + 25]]})


def scan() -> list[dict[str, Any]]:
    """The whole table. Test bookkeeping only: the service itself never scans."""
    dynamodb = boto3.client("dynamodb")
    items, start = [], None
    while True:
        page = dynamodb.scan(TableName=TABLE, **({"ExclusiveStartKey": start} if start else {}))
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def buckets() -> dict[str, list[str]]:
    """Every bucket with its object keys (the bucket route writes S3 before the table)."""
    s3 = boto3.client("s3", region_name="us-east-1")
    return {b["Name"]: sorted(o["Key"] for o in s3.list_objects_v2(Bucket=b["Name"]).get("Contents", []))
            for b in s3.list_buckets()["Buckets"]}


def remove_buckets() -> None:
    s3 = boto3.resource("s3", region_name="us-east-1")
    for bucket in s3.buckets.all():
        bucket.objects.all().delete()
        bucket.delete()


def by_key(items: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(i["pk"]["S"], i["sk"]["S"]): i for i in items}


def cold_instance() -> None:
    """Forgets cached services (key rings, POP keys, ...), like a new Lambda instance.

    The boto3 clients stay (building them costs more than a request); they hold
    no state that changes which calls a request makes. The JWKS fixture stays.
    """
    for name in dir(deps):
        accessor = getattr(deps, name)
        if name not in ("jwks", "get_settings") and hasattr(accessor, "cache_clear"):
            accessor.cache_clear()


@pytest.fixture(scope="module")
def hub():
    from tests.support.app_client import app_client
    from moto import mock_aws

    from chalicelib.db.schema import create_table

    patch = pytest.MonkeyPatch()
    # Floors may rise at once: no instance caches a ring here.
    patch.setenv("KATTA_KEY_RING_CACHE_SECONDS", "0")
    patch.setenv("KATTA_TOKEN_EXCHANGE_AUDIENCES", json.dumps([REPORTS]))
    with mock_aws():
        deps.reset()
        create_table(boto3.client("dynamodb"), TABLE)
        issuer = TokenIssuer().trust(patch)
        world = katta_world.build()
        import app
        with app_client(app.app) as client:
            secrets = build_secret_world(client, issuer, patch)  # creates the KMS management key
            backend = secrets.register("notes")
            _key_rings()
            backend.release(secrets.user_token("alice"))  # the secrets ring and alice's secret exist now
            assert client.http.get("/.well-known/jwks.json").status_code == 200  # the first POP keys
            created = client.http.post("/api/rendezvous", body=json.dumps({"data": "offer"}), headers={
                "Content-Type": "application/json",
                "Authorization": "Bearer " + issuer.token("alice", realm_access={"roles": ["user"]})})
            assert created.status_code == 201, created.body
            profile = client.http.post("/api/storageprofile", body=json.dumps(STS_PROFILE), headers={
                "Content-Type": "application/json",
                "Authorization": "Bearer " + issuer.token("ada", realm_access={"roles": ["user", "admin"]})})
            assert profile.status_code == 201, profile.body
            provisioned = client.http.post("/scim/v2/Users", body=json.dumps(SCIM_GRACE), headers={
                "Content-Type": "application/scim+json",
                "Authorization": "Bearer " + issuer.token("ada", realm_access={"roles": ["user", "admin"]})})
            assert provisioned.status_code == 201, provisioned.body
            yield Hub(client, issuer, world, new_vault_id(), json.loads(created.body), json.loads(profile.body)["id"],
                      secrets, backend, scan())
        patch.undo()
        deps.reset()


def _key_rings() -> None:
    """Ring ``faults``: versions 1 and 2, a record sealed under each (rewrap has work to do);
    ring ``trimmed``: versions 1 and 2 with the floor at 2 (trim has work to do)."""
    rings = deps.key_rings()
    for version, name in ((1, "first"), (2, "second")):
        if version == 2:
            rings.rotate(RING)
        pk, sk = f"RECORD#{name}", "DATA"
        deps.table().put(sealed_item(rings, RING, pk, sk, name.encode(), name))
    rings.seal(TRIMMED_RING, b"x", "x")
    rings.rotate(TRIMMED_RING)
    rings.set_min_decryption_version(TRIMMED_RING, 2)


@pytest.fixture(scope="module")
def injector(hub):
    with faults.installed() as installed:
        yield installed


# --- scenarios ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    method: str
    caller: str | None  # a katta_world user name; None = anonymous
    path: Callable[[Hub], str]
    status: int  # of the complete, successful request
    body: Callable[[Hub], Any] | None = None
    content_type: str = "application/json"
    # What a request answers when a condition it wrote under fails (injected, or a real race):
    # 409, or a success when the service reads the race as "already done".
    on_condition: tuple[int, ...] = (409,)
    # A batch job answers success with counts of what it could not do; each item changes atomically.
    reports_partial: bool = False
    # Audit events a refused request writes by design (the refusal is the record).
    refusal_events: tuple[str, ...] = ()
    # A lost race (a failed condition, a conflicting transaction) is decided again on a fresh read
    # (``Transactions.resolving_races``): one injected loss ends in the request's success.
    resolves_races: bool = False


V = "/api/vaults/{vaultId}"
KR = "/api/admin/keys/rings/{ring}"
SCENARIOS: dict[tuple[str, str], Scenario] = {
    ("PUT", "/api/users/me"): Scenario("PUT", "bob", lambda h: "/api/users/me", 201,
                                       body=lambda h: NEW_KEYS),
    ("PUT", "/api/users/{id}/enabled"): Scenario("PUT", "ada", lambda h: f"/api/users/{CAROL}/enabled", 204,
                                                 body=lambda h: "false", content_type="text/plain"),
    ("POST", "/api/users/me/reset"): Scenario("POST", "bob", lambda h: "/api/users/me/reset", 204),
    ("POST", "/api/users/me/access-tokens"): Scenario(
        "POST", "bob", lambda h: "/api/users/me/access-tokens", 200, body=lambda h: {h.world.vault_id: JWE}),
    ("PUT", "/api/devices/{deviceId}"): Scenario(
        "PUT", "alice", lambda h: f"/api/devices/{h.world.device.id}", 201,
        body=lambda h: h.world.device.dto("Renamed")),
    # A lost race on a removal means the item is gone meanwhile: 404 as for any unknown device.
    ("DELETE", "/api/devices/{deviceId}"): Scenario(
        "DELETE", "alice", lambda h: f"/api/devices/{h.world.device.id}", 204, on_condition=(404,)),
    ("POST", "/api/groups"): Scenario("POST", "ada", lambda h: "/api/groups", 201, body=lambda h: {"name": "Auditors"}),
    ("PUT", "/api/groups/{groupId}"): Scenario("PUT", "ada", lambda h: "/api/groups/team", 200,
                                               body=lambda h: {"name": "Team A"}),
    ("DELETE", "/api/groups/{groupId}"): Scenario("DELETE", "ada", lambda h: "/api/groups/team", 204),
    # Added meanwhile: what the caller wanted.
    ("POST", "/api/groups/{groupId}/members/{userId}"): Scenario(
        "POST", "ada", lambda h: f"/api/groups/team/members/{CAROL}", 204, on_condition=(204,)),
    ("DELETE", "/api/groups/{groupId}/members/{userId}"): Scenario(
        "DELETE", "ada", lambda h: f"/api/groups/team/members/{DAVE}", 204, on_condition=(404,)),
    # A creation that loses its race becomes an update: of the other request's vault (200, or 403 for
    # a non-owner) in a real race; of no vault at all when the race is injected (404).
    ("PUT", V): Scenario("PUT", "alice", lambda h: f"/api/vaults/{h.new_vault}", 201,
                         body=lambda h: vault_dto(h.new_vault), on_condition=(404, 409)),
    ("DELETE", V): Scenario("DELETE", "alice", lambda h: f"/api/vaults/{h.world.vault_id}", 204),
    ("PUT", V + "/archived"): Scenario("PUT", "alice", lambda h: f"/api/vaults/{h.world.vault_id}/archived", 200,
                                       body=lambda h: "true", content_type="text/plain"),
    ("PUT", V + "/members"): Scenario("PUT", "alice", lambda h: f"/api/vaults/{h.world.vault_id}/members", 204,
                                      body=lambda h: {h.world.id("alice"): "OWNER", BOB: "OWNER", CAROL: "MEMBER"},
                                      resolves_races=True),
    ("PUT", V + "/users/{userId}"): Scenario("PUT", "alice", lambda h: f"/api/vaults/{h.world.vault_id}/users/{CAROL}",
                                             201, resolves_races=True),
    ("PUT", V + "/groups/{groupId}"): Scenario(
        "PUT", "alice", lambda h: f"/api/vaults/{h.world.vault_id}/groups/team?role=OWNER", 200, resolves_races=True),
    # A removal whose member is gone meanwhile answers 204 (the caller's wish).
    ("DELETE", V + "/authority/{authorityId}"): Scenario(
        "DELETE", "alice", lambda h: f"/api/vaults/{h.world.vault_id}/authority/{BOB}", 204, on_condition=(204, 409),
        resolves_races=True),
    ("POST", V + "/access-tokens"): Scenario("POST", "alice", lambda h: f"/api/vaults/{h.world.vault_id}/access-tokens",
                                             200, body=lambda h: {CAROL: JWE, FRANK: JWE}),
    # A lost race here means somebody granted meanwhile: Katta's contract answers 400 "reload and retry".
    ("POST", V + "/access-tokens/auto"): Scenario(
        "POST", "bob", lambda h: f"/api/vaults/{h.world.vault_id}/access-tokens/auto", 200,
        body=lambda h: {FRANK: JWE}, on_condition=(400,)),
    ("PUT", "/api/users/trusted/{userId}"): Scenario("PUT", "alice", lambda h: f"/api/users/trusted/{CAROL}", 204,
                                                     body=lambda h: JWS, content_type="text/plain"),
    ("PUT", "/api/settings"): Scenario("PUT", "ada", lambda h: "/api/settings", 204, body=lambda h: {
        "wotMaxDepth": 2, "wotIdVerifyLen": 2, "emergencyCouncilMemberIds": []}),
    # Emergency access. A start or an approval that loses its race is the same request twice (204) or
    # another one (409, 403: already approved); a close that loses its race finds the process changed.
    ("PUT", "/api/emergency-access/{id}"): Scenario(
        "PUT", "carol", lambda h: f"/api/emergency-access/{h.new_vault}", 204,
        body=lambda h: katta_world.recovery_start(h.world, h.world.vault_id, kind="COUNCIL_CHANGE").model_dump(exclude_none=True),
        on_condition=(204, 409)),
    ("POST", "/api/emergency-access/{processId}/recovered-key-shares"): Scenario(
        "POST", "frank", lambda h: f"/api/emergency-access/{h.world.process_id}/recovered-key-shares", 204,
        body=lambda h: {"recoveredKeyShare": JWE}, on_condition=(204, 403)),
    ("DELETE", "/api/emergency-access/{processId}/complete"): Scenario(
        "DELETE", "carol", lambda h: f"/api/emergency-access/{h.world.ready_process_id}/complete", 204),
    ("DELETE", "/api/emergency-access/{processId}/abort"): Scenario(
        "DELETE", "carol", lambda h: f"/api/emergency-access/{h.world.process_id}/abort", 204),
    # Key management (admin).
    ("POST", KR + "/rotate"): Scenario("POST", "ada", lambda h: f"/api/admin/keys/rings/{RING}/rotate", 200),
    ("PUT", KR + "/min-decryption-version"): Scenario(
        "PUT", "ada", lambda h: f"/api/admin/keys/rings/{RING}/min-decryption-version", 200,
        body=lambda h: {"version": 2}),
    ("POST", KR + "/trim"): Scenario("POST", "ada", lambda h: f"/api/admin/keys/rings/{TRIMMED_RING}/trim", 200),
    # Records move one by one, each under a condition; the report counts those that lost a race.
    ("POST", KR + "/rewrap"): Scenario("POST", "ada", lambda h: f"/api/admin/keys/rings/{RING}/rewrap", 200,
                                       on_condition=(200,), reports_partial=True),
    ("POST", KR + "/rewrap-versions"): Scenario(
        "POST", "ada", lambda h: f"/api/admin/keys/rings/{RING}/rewrap-versions", 200),
    # A lost lease is waited for and taken again (200); a ring changed meanwhile is a 409.
    ("POST", "/api/admin/keys/pop/{use}/rotate"): Scenario("POST", "ada", lambda h: "/api/admin/keys/pop/sig/rotate",
                                                           200, on_condition=(200, 409)),
    # Rendezvous.
    # A slot taken meanwhile: the service tries the next free slot.
    ("POST", "/api/rendezvous"): Scenario("POST", "alice", lambda h: "/api/rendezvous", 201,
                                          body=lambda h: {"data": "another offer"}, on_condition=(201,)),
    ("PUT", "/api/rendezvous/{session_id}"): Scenario(
        "PUT", None, lambda h: f"/api/rendezvous/{h.rendezvous['id']}", 200,
        body=lambda h: {"sequence_token": h.rendezvous["sequence_token"], "data": "answer"}),
    ("DELETE", "/api/rendezvous/{session_id}"): Scenario(
        "DELETE", None, lambda h: f"/api/rendezvous/{h.rendezvous['id']}", 204, on_condition=(404,)),
    # Storage and tokens.
    ("POST", "/api/storageprofile"): Scenario("POST", "ada", lambda h: "/api/storageprofile", 201,
                                              body=lambda h: STS_PROFILE),
    ("PUT", "/api/storageprofile/{profileId}"): Scenario(
        "PUT", "ada", lambda h: f"/api/storageprofile/{h.profile_id}", 204, body=lambda h: "archived=true",
        content_type=FORM, on_condition=(404,)),
    # A lost condition on the creation lease means another creation is under way: 503, retry.
    ("PUT", "/api/storage/{vaultId}"): Scenario("PUT", "alice", lambda h: f"/api/storage/{h.world.vault_id}", 200,
                                                body=lambda h: bucket_request(h), on_condition=(409, 503)),
    ("POST", "/api/storage/s3-token"): Scenario(
        "POST", "alice", lambda h: f"/api/storage/s3-token?vault={h.world.vault_id}", 200),
    ("POST", "/oauth2/token"): Scenario("POST", None, lambda h: "/oauth2/token", 200, content_type=FORM,
                                        body=lambda h: urlencode({
                                            "grant_type": TOKEN_EXCHANGE, "subject_token_type": ACCESS_TOKEN_TYPE,
                                            "subject_token": h.issuer.token("bob", scope="openid"),
                                            "audience": REPORTS})),
    # SCIM provisioning (an admin's token here; the provisioning secret is the same caller to the service).
    ("POST", "/scim/v2/Users"): Scenario("POST", "ada", lambda h: "/scim/v2/Users", 201, body=lambda h: {
        "externalId": "scim-henry", "userName": "henry@katta.test", "active": False}),
    ("PUT", "/scim/v2/Users/{userId}"): Scenario("PUT", "ada", lambda h: f"/scim/v2/Users/{GRACE}", 200, body=lambda h: {
        **SCIM_GRACE, "userName": "grace.hopper@katta.test", "active": False}),
    ("PATCH", "/scim/v2/Users/{userId}"): Scenario("PATCH", "ada", lambda h: f"/scim/v2/Users/{GRACE}", 200, body=lambda h: {
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
    ("DELETE", "/scim/v2/Users/{userId}"): Scenario("DELETE", "ada", lambda h: f"/scim/v2/Users/{GRACE}", 204),
    ("POST", "/scim/v2/Groups"): Scenario("POST", "ada", lambda h: "/scim/v2/Groups", 201, body=lambda h: {
        "displayName": "Auditors", "members": [{"value": GRACE}, {"value": CAROL}]}),
    ("PUT", "/scim/v2/Groups/{groupId}"): Scenario("PUT", "ada", lambda h: "/scim/v2/Groups/team", 200, body=lambda h: {
        "displayName": "Team A", "members": [{"value": GRACE}]}),
    ("PATCH", "/scim/v2/Groups/{groupId}"): Scenario("PATCH", "ada", lambda h: "/scim/v2/Groups/team", 200, body=lambda h: {
        "Operations": [{"op": "add", "path": "members", "value": [{"value": GRACE}]}]}),
    ("DELETE", "/scim/v2/Groups/{groupId}"): Scenario("DELETE", "ada", lambda h: "/scim/v2/Groups/team", 204),
    # Secret server.
    ("PUT", "/secret-server/admin/idps"): Scenario("PUT", "ada", lambda h: "/secret-server/admin/idps", 201,
                                                   body=lambda h: {"issuer": "https://idp.other.test", "audience":
                                                                   SECRET_AUDIENCE, "jwks": h.secrets.idp.jwks(),
                                                                   "algorithms": ["ES256"]}),
    ("DELETE", "/secret-server/admin/idps"): Scenario(
        "DELETE", "ada", lambda h: "/secret-server/admin/idps?" + urlencode({"issuer": h.secrets.idp.issuer}), 204,
        on_condition=(404,)),
    ("PUT", "/secret-server/admin/resource-servers/{client_id}"): Scenario(
        "PUT", "ada", lambda h: "/secret-server/admin/resource-servers/reports", 201,
        body=lambda h: {"jwks": h.backend.keys.public_jwks()}),
    ("DELETE", "/secret-server/admin/resource-servers/{client_id}"): Scenario(
        "DELETE", "ada", lambda h: f"/secret-server/admin/resource-servers/{h.backend.client_id}", 204,
        on_condition=(404,)),
    # The assertion's id is written under a condition: a lost race is a replayed assertion (401).
    ("POST", "/secret-server/token-exchange"): Scenario(
        "POST", None, lambda h: "/secret-server/token-exchange", 200, content_type=FORM,
        body=lambda h: urlencode(h.secrets.form(h.backend, h.secrets.user_token("alice"))), on_condition=(401,),
        refusal_events=("SECRET_REFUSAL",)),
}


def bucket_request(hub: Hub) -> dict[str, str]:
    return {"vaultId": hub.world.vault_id, "storageConfigId": hub.profile_id,
            "vaultUvf": json.dumps({"protected": "e30", "recipients": [], "ciphertext": "x"}),
            "dirUvf": "AAAA", "rootDirHash": "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "region": "us-east-1",
            "awsAccessKey": "ASIAKATTATESTACCESS", "awsSecretKey": "secret", "sessionToken": "session"}

# Write routes that make no AWS write at all, and why.
NO_AWS_WRITE: dict[tuple[str, str], str] = {
    (method, path): f"answers 501 and touches nothing: {reason}"
    for path, methods, reason in OUT_OF_SCOPE for method in methods if method in WRITE_METHODS
}


def write_routes() -> list[tuple[str, str]]:
    import app
    return sorted((method, path) for path, methods in app.app.routes.items() for method in methods
                  if method in WRITE_METHODS)


def test_every_write_route_has_a_fault_scenario():
    missing = [route for route in write_routes() if route not in SCENARIOS and route not in NO_AWS_WRITE]
    assert missing == [], "write routes without a fault scenario (add one to SCENARIOS)"


def test_out_of_scope_write_routes_touch_no_aws(hub, injector):
    for method, path in NO_AWS_WRITE:
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        with injector.record() as calls:
            response = hub.client.http.request(method, concrete, headers={"Content-Type": "application/json"})
        assert response.status_code == 501, (method, path)
        assert calls == [], (method, path)


# --- the sweep --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    call: faults.Call
    fault: faults.Fault
    attempts: int | None = faults.ALL_ATTEMPTS

    def __str__(self) -> str:
        tries = "every attempt" if self.attempts is None else f"{self.attempts} attempt(s)"
        return f"{self.fault} on {self.call} ({tries})"


def fault_cases(calls: list[faults.Call], rotation: int) -> list[Case]:
    """An unavailability fault on every call (kinds rotate), condition faults on conditional writes,
    a conflict and a lost answer on every transaction, a lost answer on single conditional writes, and
    one transient fault the client's retry absorbs."""
    cases = []
    for index, call in enumerate(calls):
        kinds = faults.UNAVAILABLE[call.service]
        cases.append(Case(call, kinds[(index + rotation) % len(kinds)]))
        if call.operation == "TransactWriteItems":
            cases.append(Case(call, faults.TRANSACTION_CONFLICT))
            # Retried with its ClientRequestToken, which the injector honours as DynamoDB does.
            cases.append(Case(call, faults.LOST_RESPONSE, attempts=1))
            if call.conditional:
                cases.append(Case(call, faults.TRANSACTION_CONDITION))
        elif call.is_write and call.conditional:
            cases.append(Case(call, faults.CONDITION_FAILED))
            cases.append(Case(call, faults.LOST_RESPONSE, attempts=1))
    last_write = next((c for c in reversed(calls) if c.is_write), calls[-1])
    cases.append(Case(last_write, faults.THROTTLING, attempts=1))
    return cases


_MASKED = frozenset({
    # times
    "creationTime", "createdAt", "created_at", "updated_at", "latest_since", "activate_at",
    "activated_at", "deactivated_at", "retire_at", "expires_at", "expires_at_ms", "acquired_at",
    # fresh randomness: ids, tokens, key material
    "session_id", "sequence_token", "jti", "expiresAt", "issuedAt", "tokenId",
    "storageProfileId", "previous_token", "kid", "public_jwk", "wrapped", "sealed",
    "sealed_identity",
})
_RANDOM_KEY_PARTS = re.compile(r"(KEY#|RDV#)[A-Za-z0-9_-]{16,}")


def canonical(items: list[dict[str, Any]], ignored_events: tuple[str, ...] = ()) -> Counter:
    """The table as a multiset of items, with times and fresh random values masked.

    Two complete runs of one request differ only there; a half-done change still
    differs from both the table before and the table after (an item too many or
    too few, an attribute changed or not).
    """
    from boto3.dynamodb.types import TypeDeserializer
    deserializer = TypeDeserializer()
    result: Counter = Counter()
    for raw in items:
        item = {k: deserializer.deserialize(v) for k, v in raw.items()}
        if str(item["pk"]).startswith("LOCK#"):
            continue  # a lease: a holder whose release failed leaves it to expire (TTL), by design
        if item["pk"] == "EPOCH":
            continue  # the access epoch: a counter every commit of access moves on, best-effort, by design
        if str(item["pk"]).startswith(("AUDIT#", "SVCAUDIT#")):  # Katta's log and the service's
            if item["type"] in ignored_events:
                continue
            item.update(pk="AUDIT", sk=item["type"], id="*", timestamp="*")
            if "gsi1pk" in item:  # the type index: month and id as masked as the key's
                item.update(gsi1pk="AUDITTYPE", gsi1sk="*")
        elif item["pk"] == "STORAGEPROFILE" or str(item["pk"]).startswith("JTI#"):
            item.update(sk="*", id="*")  # a fresh profile id, a fresh assertion id
        masked = {k: "*" if k in _MASKED else v for k, v in item.items()}
        text = json.dumps(masked, sort_keys=True, default=str)
        result[_RANDOM_KEY_PARTS.sub(r"\1*", text)] += 1
    return result


def describe(state: tuple[Counter, dict], before: tuple[Counter, dict], after: tuple[Counter, dict]) -> str:
    if state[1] not in (before[1], after[1]):
        return f"buckets {state[1]} (before {before[1]}, after {after[1]})"
    state, before, after = state[0], before[0], after[0]
    extra = state - before
    missing = before - state
    return f"against before: +{sorted(extra)[:3]} -{sorted(missing)[:3]}; against after: " \
           f"+{sorted(state - after)[:3]} -{sorted(after - state)[:3]}"


def problem_of(response) -> dict[str, Any]:
    text = response.body.decode() if isinstance(response.body, bytes) else response.body
    assert "Traceback" not in text
    return json.loads(text) if text else {}


@pytest.mark.parametrize("route", sorted(SCENARIOS), ids=lambda r: f"{r[0]} {r[1]}")
def test_faults_end_in_503_or_409_and_the_table_before_or_after(hub, injector, route):
    if route not in write_routes():
        pytest.skip("this route is not registered (yet)")
    scenario = SCENARIOS[route]
    hub.renew_rendezvous()
    before = (canonical(hub.before), {})
    body = hub.body(scenario)
    cold_instance()
    with injector.record() as recorded:
        response = hub.call(scenario, body)
    calls = list(recorded)
    assert response.status_code == scenario.status, response.body
    after = (canonical(scan()), buckets())
    assert after != before, "the scenario must change the table"
    hub.restore()
    remove_buckets()

    failures = []
    for case in fault_cases(calls, rotation=sorted(SCENARIOS).index(route)):
        cold_instance()
        with injector.failing(case.call, case.fault, case.attempts):
            response = hub.call(scenario, body)
        assert injector.fired, f"{case}: the call was never made"
        items = scan()
        state = (canonical(items, scenario.refusal_events if response.status_code != scenario.status else ()),
                 buckets())
        if by_key(items) != by_key(hub.before):
            hub.restore(items)
        if state[1]:
            remove_buckets()
        problem = problem_of(response)
        status = response.status_code
        if case.call.best_effort:
            allowed = {scenario.status}  # bookkeeping after the change, which stands
        elif case.attempts == 1 and case.fault is not faults.LOST_RESPONSE:
            allowed = {scenario.status}  # the client's retry absorbed it
        elif scenario.resolves_races and (case.fault.is_condition or case.fault is faults.TRANSACTION_CONFLICT):
            allowed = {scenario.status}  # decided again on a fresh read
        elif case.fault.is_condition:
            # A failed condition on an audit event's fresh id is a collision: the event takes another.
            allowed = set(scenario.on_condition) | ({scenario.status} if case.call.renews else set())
        elif case.fault is faults.LOST_RESPONSE and case.call.operation == "TransactWriteItems":
            allowed = {scenario.status}  # the retry's token was applied: success, once
        elif case.fault is faults.LOST_RESPONSE:
            allowed = {scenario.status, 503, *scenario.on_condition}
        else:
            allowed = {503}
        if case.fault.is_condition:
            # The service may read the lost race as "already done" or retry past it; never half of it.
            states = [before, after]
        elif status == scenario.status:
            states = [before, after] if scenario.reports_partial else [after]
        elif status == 503:
            states = [before, after]  # the fault may come after the change landed (a read for the answer)
        else:
            states = [before]
        if status not in allowed:
            failures.append(f"{case}: answered {status} (expected {sorted(allowed)}) {problem}")
        elif status == 503 and not response.headers.get("Retry-After"):
            failures.append(f"{case}: 503 without Retry-After")
        if state not in states:
            failures.append(f"{case}: answered {status} with a table {describe(state, before, after)}")
    assert not failures, "\n".join(failures)
