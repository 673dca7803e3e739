"""The independent-client contract suite (issue 13 item 14).

``tests/independent`` is a second client, written from Katta's contract and Cryptomator Hub's web
client rather than from our SDK (jwcrypto, not joserfc). Here it walks one hub from first sign-in to
the audit log through every Katta route this service implements; then every answer it met is checked
against the contract (status, content type, body schema), for safe integers and for ``role`` beside
``vaultRole`` on every member; then each route's refusals. The app runs in-process on moto; only the
client is independent — the server-side fixtures (test issuer, table) are the suite's usual ones.
"""
from __future__ import annotations

import ast
import base64
import datetime as dt
import json
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest

from chalicelib.katta.http_out_of_scope import OUT_OF_SCOPE
from tests.independent import keys as jose
from tests.independent.hub import MAX_SAFE_INTEGER, TEXT, Answer, HubApi
from tests.support.katta_contract import check_response, contract, operations
from tests.support.tokens import TokenIssuer

API_BASE = "https://katta.test"  # KATTA_PUBLIC_BASE_URL of the test settings (conftest)
TABLE = "katta-test"
PACKAGE = Path(__file__).parent / "independent"
USER = ("user",)
CREATOR = ("user", "create-vaults")
ADMIN = ("user", "admin")


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


_OUT_OF_SCOPE = {(method, _shape(path)) for path, methods, _ in OUT_OF_SCOPE for method in methods}
# Every Katta operation of the contract this service implements (storage is another part's suite).
IMPLEMENTED = sorted((method, path) for method, path in operations() if (method, _shape(path)) not in _OUT_OF_SCOPE)
PUBLIC = {("GET", "/api/config"), ("GET", "/api/version")}


def _template_of(path: str, method: str) -> str | None:
    """The contract path a request path was sent to; literal segments win over parameters, and of two
    templates of one shape (Hub's /api/emergency-access/{processId} and /{vaultId}) the method's."""
    bare = path.split("?")[0]
    matches = [p for p, item in contract()["paths"].items()
               if method.lower() in item and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", p), bare)]
    return min(matches, key=lambda p: p.count("{"), default=None)


# -- the stack and its people ---------------------------------------------------------------------

@dataclass
class Person:
    username: str
    roles: tuple[str, ...]
    api: HubApi
    keys: jose.UserKeys = field(default_factory=jose.UserKeys)
    device: jose.Device = field(default_factory=jose.Device)
    id: str = ""


@dataclass
class Stack:
    client: Any
    issuer: TokenIssuer
    log: list[Answer] = field(default_factory=list)
    claims: dict[str, dict[str, Any]] = field(default_factory=dict)

    def transport(self, method: str, path: str, headers, body: bytes) -> Answer:
        response = self.client.http.request(method, path, headers=dict(headers), body=body)
        return Answer(method, path, response.status_code, dict(response.headers), response.body or b"")

    def token(self, username: str | None, roles: tuple[str, ...]) -> str | None:
        if username is None:
            return None
        return self.issuer.token(username, realm_access={"roles": list(roles)}, **self.claims.get(username, {}))

    def api(self, username: str | None = None, roles: tuple[str, ...] = USER) -> HubApi:
        return HubApi(self.transport, lambda: self.token(username, roles), self.log)

    def person(self, username: str, roles: tuple[str, ...] = USER, keys: bool = True) -> Person:
        """Hub's first sign-in: sync from the token, read oneself, then (optionally) set up keys and a browser."""
        person = Person(username, roles, self.api(username, roles))
        expect(person.api.sync_me(), 201)
        person.id = expect(person.api.me(), 200).json()["id"]
        if keys:
            expect(person.api.put_me(person.keys.user_dto()), 201)
            expect(person.api.put_device(person.device.id, person.device.dto(person.keys)), 201)
        return person


def expect(answer: Answer, status: int) -> Answer:
    assert answer.status == status, f"{answer.method} {answer.path}: {answer.status} {answer.text[:300]}"
    return answer


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """One app on moto for the module (building a hub through HTTP costs a few seconds)."""
    from moto import mock_aws

    from chalicelib import deps
    from chalicelib.db.schema import create_table
    from tests.support.app_client import app_client

    patch = pytest.MonkeyPatch()
    with mock_aws():
        deps.reset()
        create_table(boto3.client("dynamodb"), TABLE)
        issuer = TokenIssuer().trust(patch)
        import app
        with app_client(app.app) as client:
            yield Stack(client, issuer)
        patch.undo()
        deps.reset()


@dataclass
class Hub:
    stack: Stack
    alice: Person  # creates vaults; owns ``vault``
    bob: Person  # a direct member with an access token
    carol: Person  # signed in, in no vault
    dave: Person  # member through ``team``
    ada: Person  # admin
    erin: Person  # disabled by ada
    vault: jose.Vault
    team: str  # a group id
    member_key: bytes  # what bob's access token opened
    audit_page: list[dict]
    settings: dict
    process_id: str  # a recovery process of ``vault``, completed


def _since() -> str:
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _until() -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest.fixture(scope="module")
def hub(stack) -> Hub:
    """From first sign-in to the audit log, as Hub's web client does it; every answer lands in ``stack.log``."""
    anonymous = stack.api()
    expect(anonymous.config(), 200)
    expect(anonymous.version(), 200)
    alice = stack.person("alice", CREATOR)
    bob, carol, dave = (stack.person(name) for name in ("bob", "carol", "dave"))
    ada, erin = stack.person("ada", ADMIN), stack.person("erin", CREATOR)
    gus = stack.person("gus", keys=False)
    for person in (alice, ada):
        expect(person.api.license_user_info(), 200)
        expect(person.api.me(with_devices=True, with_last_access=True), 200)
    expect(alice.api.device(alice.device.id), 200)
    expect(alice.api.devices([alice.device.id]), 200)

    # The admin pages.
    expect(ada.api.billing(), 200)
    expect(ada.api.list_users(), 200)
    settings = expect(ada.api.settings(), 200).json()
    expect(ada.api.put_settings({"hubId": settings["hubId"], "wotMaxDepth": 2, "wotIdVerifyLen": 3}), 204)
    team = expect(ada.api.create_group({"name": "Team"}), 201).json()["id"]
    expect(ada.api.groups(), 200)
    expect(ada.api.update_group(team, {"name": "Team A"}), 200)
    expect(ada.api.add_group_member(team, dave.id), 204)
    expect(ada.api.add_group_member(team, carol.id), 204)
    expect(ada.api.remove_group_member(team, carol.id), 204)
    expect(ada.api.group(team), 200)
    expect(ada.api.effective_members(team), 200)
    spare = expect(ada.api.create_group({"name": "Spare"}), 201).json()["id"]
    expect(ada.api.delete_group(spare), 204)

    # A vault, its members and their access tokens.
    vault = jose.Vault()
    expect(alice.api.create_or_update_vault(vault.id, vault.dto(API_BASE, description="shared")), 201)
    expect(alice.api.grant_access(vault.id, {alice.id: vault.access_token(alice.keys.ecdh_public, owner=True)}), 200)
    expect(alice.api.search_authorities("b", with_member_size=True), 200)
    expect(alice.api.authorities([bob.id, team]), 200)
    expect(alice.api.add_user(vault.id, bob.id), 201)
    expect(alice.api.add_user(vault.id, carol.id), 201)
    expect(alice.api.remove_authority(vault.id, carol.id), 204)
    expect(alice.api.add_group(vault.id, team), 201)
    expect(alice.api.members(vault.id), 200)
    # Replaces every direct member: what is not named leaves.
    expect(alice.api.put_members(vault.id, {alice.id: "OWNER", bob.id: "MEMBER", team: "MEMBER"}), 204)
    waiting = expect(alice.api.users_requiring_access_grant(vault.id), 200).json()
    assert {m["id"] for m in waiting} == {bob.id, dave.id}
    expect(alice.api.all_users_requiring_access_grant(), 200)
    # The users awaiting a grant carry the public key the token is sealed to.
    by_id = {m["id"]: m for m in waiting}
    expect(alice.api.grant_access(vault.id, {bob.id: vault.access_token(by_id[bob.id]["ecdhPublicKey"])}), 200)
    # A member grants automatically (Katta's Java client writes ECDH-ES).
    expect(bob.api.grant_access_automatically(vault.id, {dave.id: vault.access_token(
        by_id[dave.id]["ecdhPublicKey"], alg=jose.JAVA_ECDH)}), 200)

    # Bob unlocks in his browser.
    expect(bob.api.vault(vault.id), 200)
    expect(bob.api.accessible(), 200)
    expect(alice.api.accessible("OWNER"), 200)
    token = expect(bob.api.access_token(vault.id, bob.device.id), 200).text
    member_key = base64.b64decode(jose.open_ecdh_jwe(token, bob.keys.ecdh)["key"])
    expect(bob.api.put_my_access_tokens({vault.id: token}), 200)
    expect(bob.api.vault_uvf(vault.id), 200)
    expect(bob.api.vault_jwks(vault.id), 200)

    # Web of trust: alice verified bob.
    signature = alice.keys.sign(alice.id, bob.id, bob.keys.ecdh_public, bob.keys.ecdsa_public)
    expect(alice.api.trust(bob.id, signature), 204)
    expect(alice.api.trusted_user(bob.id), 200)
    expect(alice.api.trusted_users(), 200)

    # Archive and reactivate, both ways Hub's and Katta's clients do it.
    dto = vault.dto(API_BASE, description="shared")
    expect(alice.api.create_or_update_vault(vault.id, {**dto, "archived": True}), 200)
    expect(bob.api.access_token(vault.id, bob.device.id), 410)
    expect(bob.api.access_token(vault.id, bob.device.id, even_if_archived=True), 200)
    expect(alice.api.create_or_update_vault(vault.id, {**dto, "archived": False}), 200)
    expect(alice.api.set_archived(vault.id, True), 200)
    expect(alice.api.set_archived(vault.id, False), 200)

    expect(ada.api.all_vaults(), 200)
    expect(ada.api.some_vaults([vault.id]), 200)
    expect(ada.api.set_enabled(erin.id, False), 204)

    # What is left to remove: a vault, a browser, an account's keys.
    doomed = jose.Vault()
    expect(alice.api.create_or_update_vault(doomed.id, doomed.dto(API_BASE, name="Doomed")), 201)
    expect(alice.api.delete_vault(doomed.id), 204)
    old = jose.Device()
    expect(alice.api.put_device(old.id, old.dto(alice.keys, "Old browser")), 201)
    expect(alice.api.remove_device(old.id), 204)
    expect(gus.api.reset_me(), 204)

    process_id = _emergency_access(alice, bob, carol, ada, vault)

    page = expect(ada.api.audit_log(_since(), _until()), 200).json()
    return Hub(stack, alice, bob, carol, dave, ada, erin, vault, team, member_key, page, settings, process_id)


EMERGENCY_SETTINGS = {"enableEmergencyAccess": True, "defaultRequiredEmergencyKeyShares": 2, "defaultMinMembers": 2,
                      "allowChoosingEmergencyCouncil": True, "emergencyCouncilMemberIds": []}


def _key_share(member: Person) -> str:
    """A key share as Hub's web client seals it: a JWE of ``{"keyShare": base64}`` (the server never opens it)."""
    return jose.ecdh_jwe({"keyShare": jose.b64(os.urandom(49))}, jose.public_key_of(member.keys.ecdh_public),
                         jose.USER_KEY_KID)


def _emergency_access(alice: Person, bob: Person, carol: Person, ada: Person, vault: jose.Vault) -> str:
    """Hub's emergency pages: ada enables it, alice seats bob and carol, who recover the vault two of two
    (started and approved by carol, approved by bob, completed), then start another and abort it."""
    expect(ada.api.put_settings(EMERGENCY_SETTINGS), 204)
    council = {bob.id: _key_share(bob), carol.id: _key_share(carol)}
    dto = {**vault.dto(API_BASE, description="shared"), "requiredEmergencyKeyShares": 2, "emergencyKeyShares": council}
    expect(alice.api.create_or_update_vault(vault.id, dto), 200)
    assert [v["id"] for v in expect(carol.api.recoverable_vaults(), 200).json()] == [vault.id]
    process_ids = [str(uuid.uuid4()), str(uuid.uuid4())]

    def start(process_id: str) -> None:
        process = {"id": process_id, "vaultId": vault.id, "type": "CHANGE_PERMISSIONS",
                   "details": json.dumps({"newOwners": [carol.id]}), "requiredKeyShares": 2,
                   "processPublicKey": json.dumps({"kty": "EC", "crv": "P-384"}),
                   "recoveredKeyShares": {m.id: {"processPrivateKey": _key_share(m)} for m in (bob, carol)}}
        process["recoveredKeyShares"][carol.id]["recoveredKeyShare"] = _key_share(carol)
        expect(carol.api.start_recovery(process_id, process), 204)

    start(process_ids[0])
    expect(bob.api.recovery_processes(), 200)
    expect(bob.api.vault_recovery_processes(vault.id), 200)
    expect(bob.api.add_recovered_key_share(process_ids[0], {"recoveredKeyShare": _key_share(bob)}), 204)
    expect(carol.api.complete_recovery(process_ids[0]), 204)
    start(process_ids[1])  # a vault has one open process of a type: the next once the first is closed
    expect(bob.api.abort_recovery(process_ids[1]), 204)
    return process_ids[0]


# -- the client is independent --------------------------------------------------------------------

def _imported_modules(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_independent_client_imports_neither_our_sdk_nor_our_server_nor_their_jose_library():
    files = sorted(PACKAGE.glob("*.py"))
    assert {f.name for f in files} >= {"__init__.py", "hub.py", "keys.py"}
    for file in files:
        for module in _imported_modules(file.read_text()):
            root = module.split(".")[0]
            assert root not in ("katta_client", "chalicelib", "joserfc", "app"), f"{file.name} imports {module}"
            assert not module.startswith("tests.") or module.startswith("tests.independent"), \
                f"{file.name} imports {module}"


# -- every route, every answer ---------------------------------------------------------------------

def _katta_app_routes() -> set[tuple[str, str]]:
    import app
    return {(method, _shape(path)) for path, entries in app.app.routes.items() for method, entry in entries.items()
            if entry.view_function.__module__.startswith("chalicelib.katta.") and method != "OPTIONS"}


def test_the_journey_meets_every_katta_route_of_the_contract_and_of_the_app(hub):
    met = {(a.method, _template_of(a.path, a.method)) for a in hub.stack.log if 200 <= a.status < 300}
    assert len(IMPLEMENTED) > 45  # the contract really was read
    assert [route for route in IMPLEMENTED if route not in met] == []
    # A Katta route the app serves that the contract lacks would be met nowhere above.
    contract_shapes = {(m, _shape(p)) for m, p in operations()}
    assert sorted(_katta_app_routes() - _OUT_OF_SCOPE - contract_shapes) == []


def _unsafe_integers(value: Any, at: str = "") -> list[str]:
    """Every integer a JavaScript client would round (beyond ±(2^53 − 1))."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [f"{at}: {value}"] if abs(value) > MAX_SAFE_INTEGER else []
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _unsafe_integers(item, f"{at}.{key}")]
    if isinstance(value, list):
        return [found for i, item in enumerate(value) for found in _unsafe_integers(item, f"{at}[{i}]")]
    return []


def _returns_members(method: str, template: str) -> bool:
    schema = contract()["paths"][template][method.lower()]["responses"].get("200", {})
    return "#/components/schemas/MemberDto" in json.dumps(schema)


@pytest.mark.parametrize(("method", "template"), IMPLEMENTED, ids=[f"{m} {p}" for m, p in IMPLEMENTED])
def test_every_answer_fits_the_contract(hub, method, template):
    answers = [a for a in hub.stack.log if a.method == method and _template_of(a.path, method) == template]
    assert answers, "the journey never called this route"
    for answer in answers:
        check_response(method, template, answer.status, answer.media_type, answer.text)
        if answer.media_type.endswith("json") and answer.body:
            assert _unsafe_integers(answer.json()) == [], f"{answer.path}"
        if _returns_members(method, template) and answer.status == 200:
            for member in answer.json():
                assert member["role"] == member["vaultRole"] in ("OWNER", "MEMBER"), member


def test_safe_integers_are_checked_for_real():
    assert _unsafe_integers({"a": [1, {"b": 2 ** 53}], "c": True}) == [".a[1].b: 9007199254740992"]
    assert _unsafe_integers([-(2 ** 53 - 1), 2 ** 53 - 1, 1.5]) == []


# -- what Hub's web client depends on --------------------------------------------------------------

def test_first_sign_in_without_a_body_syncs_name_email_and_picture_from_the_token(stack):
    stack.claims["hank"] = {"name": "Hank Hill", "email": "hank@katta.test",
                            "picture": "https://idp.test/pictures/hank.png"}
    hank = stack.person("hank", keys=False)
    me = expect(hank.api.me(), 200).json()
    assert (me["name"], me["email"], me["pictureUrl"]) == ("Hank Hill", "hank@katta.test",
                                                          "https://idp.test/pictures/hank.png")
    assert "ecdhPublicKey" not in me  # a bare sync sets up nothing
    stack.claims["hank"] = {"name": "Hank", "email": "hank@new.test", "picture": "https://idp.test/h2.png"}
    expect(hank.api.sync_me(), 201)
    me = expect(hank.api.me(), 200).json()
    assert (me["name"], me["email"], me["pictureUrl"]) == ("Hank", "hank@new.test", "https://idp.test/h2.png")
    # Others see the picture too (Hub's member list shows it).
    found = expect(hank.api.search_authorities("Hank"), 200).json()
    assert [a.get("pictureUrl") for a in found if a["id"] == hank.id] == ["https://idp.test/h2.png"]
    # A token without a picture clears it, as Hub's sync does.
    stack.claims["hank"] = {"name": "Hank", "email": "hank@new.test"}
    expect(hank.api.sync_me(), 201)
    assert "pictureUrl" not in expect(hank.api.me(), 200).json()


def test_licence_free_answers_show_everything(hub):
    info = expect(hub.bob.api.license_user_info(), 200).json()
    assert info["licensedSeats"] >= info["usedSeats"] >= 7
    assert "expiresAt" not in info or info["expiresAt"] is None
    billing = expect(hub.ada.api.billing(), 200).json()
    assert billing["hubId"] == hub.settings["hubId"]
    assert billing["managedInstance"] is False and billing["licensedSeats"] >= billing["usedSeats"]
    assert not billing.get("token") and not billing.get("expiresAt")
    # Licence *changes* stay refused, clearly.
    refused = hub.ada.api.send("PUT", "/api/billing/token", "token", content_type=TEXT)
    assert (refused.status, refused.media_type) == (501, "application/problem+json")


def test_the_audit_page_hub_asks_for_first_is_the_newest(hub):
    page = hub.audit_page
    assert 0 < len(page) <= 21
    ids = [event["id"] for event in page]
    assert ids == sorted(ids, reverse=True) and all(0 < i <= MAX_SAFE_INTEGER for i in ids)
    types = {event["type"] for event in page}
    assert {"VAULT_ACCESS_GRANT", "VAULT_KEY_RETRIEVE", "USER_ACCOUNT_RESET"} & types
    # The next page starts below the last id of this one; nothing repeats, nothing is skipped.
    after = expect(hub.ada.api.audit_log(_since(), _until(), pagination_id=ids[-1]), 200).json()
    assert not {e["id"] for e in after} & set(ids)
    assert all(e["id"] < ids[-1] for e in after)
    ascending = expect(hub.ada.api.audit_log(_since(), _until(), pagination_id=0, order="asc",
                                             page_size=100), 200).json()
    assert [e["id"] for e in ascending][-len(ids):][::-1] == ids


def test_settings_keep_what_the_web_of_trust_form_leaves_out(hub):
    settings = expect(hub.ada.api.settings(), 200).json()
    assert (settings["wotMaxDepth"], settings["wotIdVerifyLen"]) == (2, 3)
    # The emergency settings changed since hub.settings was read, by a body of their own.
    assert {k: v for k, v in settings.items() if k not in ("wotMaxDepth", "wotIdVerifyLen")} == \
        {k: v for k, v in {**hub.settings, **EMERGENCY_SETTINGS}.items() if k not in ("wotMaxDepth", "wotIdVerifyLen")}
    # Sending back exactly what GET returned is accepted and changes nothing.
    expect(hub.ada.api.put_settings(settings), 204)
    assert expect(hub.bob.api.settings(), 200).json() == settings


def test_archiving_through_the_vault_update_is_honoured_and_audited(hub):
    vault = jose.Vault()
    alice = hub.alice
    dto = vault.dto(API_BASE, name="Old projects")
    expect(alice.api.create_or_update_vault(vault.id, dto), 201)
    archived = expect(alice.api.create_or_update_vault(vault.id, {**dto, "archived": True}), 200).json()
    assert archived["archived"] is True
    assert expect(alice.api.vault(vault.id), 200).json()["archived"] is True
    assert expect(alice.api.create_or_update_vault(vault.id, dto), 200).json()["archived"] is False
    events = expect(hub.ada.api.audit_log(_since(), _until(), types=["VAULT_UPDATE"]), 200).json()
    mine = [e for e in events if e.get("vaultId") == vault.id]
    assert [e.get("vaultArchived") for e in mine][:2] == [False, True]


def test_a_key_retrieval_that_names_the_device_records_its_last_use(hub):
    bob = hub.bob
    expect(bob.api.access_token(hub.vault.id, bob.device.id), 200)
    devices = expect(bob.api.me(with_devices=True, with_last_access=True), 200).json()["devices"]
    (browser,) = [d for d in devices if d["id"] == bob.device.id]
    assert browser["type"] == "BROWSER" and browser["lastAccessTime"]


def test_gets_with_a_content_type_and_no_body_are_answered(hub):
    bob = hub.bob
    for content_type in ("application/json", "text/plain", "application/x-www-form-urlencoded"):
        answer = bob.api.send("GET", f"/api/vaults/{hub.vault.id}/access-token", content_type=content_type)
        assert answer.status == 200, (content_type, answer.text)
        answer = bob.api.send("GET", "/api/users/me", content_type=content_type)
        assert answer.status == 200, (content_type, answer.text)


def test_a_bodyless_put_or_post_ignores_its_content_type(hub):
    """Item 8's rule beyond GETs: without a body, a Content-Type decides nothing."""
    alice, ada = hub.alice, hub.ada
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        answer = alice.api.send("PUT", f"/api/vaults/{hub.vault.id}/users/{hub.bob.id}?role=MEMBER",
                                content_type=content_type)
        assert answer.status == 200, (content_type, answer.text)
        answer = alice.api.send("PUT", f"/api/vaults/{hub.vault.id}/groups/{hub.team}?role=MEMBER",
                                content_type=content_type)
        assert answer.status == 200, (content_type, answer.text)
        answer = ada.api.send("POST", f"/api/groups/{hub.team}/members/{hub.dave.id}", content_type=content_type)
        assert answer.status == 204, (content_type, answer.text)
    gail = hub.stack.person("gail", keys=False)
    assert gail.api.send("POST", "/api/users/me/reset", content_type="text/plain").status == 204


@pytest.mark.slow  # two PBKDF2 runs of a million iterations
def test_a_new_browser_recovers_the_keys_hub_sealed_at_its_own_iteration_count(hub):
    carol = hub.carol
    expect(carol.api.put_me({"privateKeys": carol.keys.private_keys_jwe(jose.HUB_PBES2_ITERATIONS)}), 201)
    me = expect(carol.api.me(), 200).json()
    assert jose.header_of(me["privateKeys"])["p2c"] == jose.HUB_PBES2_ITERATIONS
    recovered = jose.UserKeys.recover(me["privateKeys"], carol.keys.account_key)
    assert (recovered.ecdh_public, recovered.ecdsa_public) == (me["ecdhPublicKey"], me["ecdsaPublicKey"])


def test_what_the_server_hands_back_opens_in_this_client(hub):
    bob, alice, vault = hub.bob, hub.alice, hub.vault
    assert hub.member_key == vault.member_key
    metadata = jose.open_vault_metadata(expect(bob.api.vault_uvf(vault.id), 200).text, hub.member_key)
    assert metadata["seeds"] == {vault.seed_id: jose.b64u(vault.seed)}
    (recovery,) = expect(bob.api.vault_jwks(vault.id), 200).json()["keys"]
    assert recovery["kid"] == vault.recovery_kid
    # The owner's token carries the recovery key.
    owner = jose.open_ecdh_jwe(expect(alice.api.access_token(vault.id), 200).text, alice.keys.ecdh)
    assert jose.pkcs8(jose.private_key_of(owner["recoveryKey"])) == jose.pkcs8(vault.recovery)
    # A second browser recovers the keys with the account key, from what /api/users/me hands back.
    me = expect(bob.api.me(with_devices=True), 200).json()
    account_key = jose.open_ecdh_jwe(me["setupCode"], bob.keys.ecdh)["setupCode"]
    recovered = jose.UserKeys.recover(me["privateKeys"], account_key)
    assert recovered.ecdh_public == me["ecdhPublicKey"] == bob.keys.ecdh_public
    (device,) = [d for d in me["devices"] if d["id"] == bob.device.id]
    assert bob.device.open_user_keys(device["userPrivateKey"]).ecdsa_public == bob.keys.ecdsa_public
    # Alice's signature of bob, as anybody reads it back.
    trusted = expect(alice.api.trusted_user(bob.id), 200).json()
    header, signed = jose.verify_signature(trusted["signatureChain"][-1], alice.keys.ecdsa_public)
    assert (header["iss"], header["sub"], signed["ecdsaPublicKey"]) == (alice.id, bob.id, bob.keys.ecdsa_public)


# -- refusals ---------------------------------------------------------------------------------------

def _path(template: str, hub: Hub) -> str:
    values = {"vaultId": hub.vault.id, "deviceId": hub.alice.device.id, "groupId": hub.team, "userId": hub.bob.id,
              "authorityId": hub.bob.id, "id": hub.carol.id, "processId": hub.process_id}
    return re.sub(r"\{([^}]+)\}", lambda m: values[m.group(1)], template)


PROTECTED = [route for route in IMPLEMENTED if route not in PUBLIC]


def _assert_problem(answer: Answer, status: int, *words: str) -> dict:
    assert answer.status == status, f"{answer.method} {answer.path}: {answer.status} {answer.text[:300]}"
    assert answer.media_type == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == status and problem.get("detail")
    for word in words:
        assert word in answer.text, f"{word!r} not named: {problem}"
    assert "Traceback" not in answer.text
    return problem


def _media_type(method: str, template: str) -> str:
    """The media type of the route's body in the contract (JSON where it takes none)."""
    body = contract()["paths"][template][method.lower()].get("requestBody", {})
    return next(iter(body.get("content", {})), "application/json")


@pytest.mark.parametrize(("method", "template"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
def test_no_token_is_401_and_a_disabled_account_403_on_every_route(hub, method, template):
    path, content_type = _path(template, hub), _media_type(method, template)
    _assert_problem(hub.stack.api().send(method, path, content_type=content_type), 401)
    # erin is no admin: an admin route refuses her for the role her token lacks, read before her account.
    reason = "role 'admin'" if (method, template) in ADMIN_ONLY else "disabled"
    _assert_problem(hub.erin.api.send(method, path, content_type=content_type), 403, reason)


ADMIN_ONLY = [("GET", "/api/billing"), ("GET", "/api/users"), ("PUT", "/api/users/{id}/enabled"),
              ("GET", "/api/groups"), ("POST", "/api/groups"), ("GET", "/api/groups/{groupId}"),
              ("PUT", "/api/groups/{groupId}"), ("DELETE", "/api/groups/{groupId}"),
              ("GET", "/api/groups/{groupId}/effective-members"), ("POST", "/api/groups/{groupId}/members/{userId}"),
              ("DELETE", "/api/groups/{groupId}/members/{userId}"), ("GET", "/api/vaults/all"),
              ("GET", "/api/vaults/some"), ("PUT", "/api/settings"), ("GET", "/api/auditlog")]
V = "/api/vaults/{vaultId}"
OWNER_ONLY = [("PUT", V), ("DELETE", V), ("PUT", V + "/archived"), ("GET", V + "/members"), ("PUT", V + "/members"),
              ("PUT", V + "/users/{userId}"), ("PUT", V + "/groups/{groupId}"),
              ("DELETE", V + "/authority/{authorityId}"), ("POST", V + "/access-tokens"),
              ("GET", V + "/users-requiring-access-grant")]
MEMBERS_ONLY = [("GET", V), ("GET", V + "/access-token"), ("GET", V + "/uvf/vault.uvf"),
                ("GET", V + "/uvf/jwks.json"), ("POST", V + "/access-tokens/auto")]


def _body_for(method: str, template: str, hub: Hub) -> tuple[Any, str]:
    """A well-formed body, so that only the caller decides the answer."""
    token = hub.vault.access_token(hub.carol.keys.ecdh_public)
    bodies = {("PUT", "/api/users/{id}/enabled"): ("true", TEXT), ("POST", "/api/groups"): ({"name": "X"}, "json"),
              ("PUT", "/api/groups/{groupId}"): ({"name": "Team A"}, "json"),
              ("PUT", "/api/settings"): ({"wotMaxDepth": 2}, "json"),
              ("PUT", V): (hub.vault.dto(API_BASE), "json"), ("PUT", V + "/archived"): ("true", TEXT),
              ("PUT", V + "/members"): ({hub.bob.id: "OWNER"}, "json"),
              ("POST", V + "/access-tokens"): ({hub.carol.id: token}, "json"),
              ("POST", V + "/access-tokens/auto"): ({hub.carol.id: token}, "json")}
    body, media = bodies.get((method, template), (None, "json"))
    return body, TEXT if media == TEXT else "application/json"


def _refused(api: HubApi, method: str, template: str, hub: Hub) -> Answer:
    body, content_type = _body_for(method, template, hub)
    path = _path(template, hub) + ("?ids=" + hub.vault.id if template == "/api/vaults/some" else "")
    if template == "/api/auditlog":
        path += f"?startDate={_since()}&endDate={_until()}"
    return api.send(method, path, body, content_type=content_type)


@pytest.mark.parametrize(("method", "template"), ADMIN_ONLY, ids=[f"{m} {p}" for m, p in ADMIN_ONLY])
def test_admin_routes_refuse_other_users(hub, method, template):
    _assert_problem(_refused(hub.alice.api, method, template, hub), 403, "admin")


@pytest.mark.parametrize(("method", "template"), OWNER_ONLY, ids=[f"{m} {p}" for m, p in OWNER_ONLY])
def test_owner_routes_refuse_a_member_and_an_outsider(hub, method, template):
    for person in (hub.bob, hub.carol):
        _assert_problem(_refused(person.api, method, template, hub), 403)
    # Nothing of the refused changes happened.
    assert expect(hub.alice.api.vault(hub.vault.id), 200).json()["name"] == "Team Vault"
    roles = {m["id"]: m["role"] for m in expect(hub.alice.api.members(hub.vault.id), 200).json()}
    assert (roles[hub.alice.id], roles[hub.bob.id], hub.carol.id in roles) == ("OWNER", "MEMBER", False)


@pytest.mark.parametrize(("method", "template"), MEMBERS_ONLY, ids=[f"{m} {p}" for m, p in MEMBERS_ONLY])
def test_member_routes_refuse_an_outsider(hub, method, template):
    _assert_problem(_refused(hub.carol.api, method, template, hub), 403)


UNKNOWN = "00000000-0000-4000-8000-000000000000"
UNKNOWN_DEVICE = "0" * 64


@pytest.mark.parametrize(("method", "path", "caller"), [
    ("GET", f"/api/devices/{UNKNOWN_DEVICE}", "alice"), ("DELETE", f"/api/devices/{UNKNOWN_DEVICE}", "alice"),
    ("GET", "/api/groups/nobody", "ada"), ("PUT", "/api/groups/nobody", "ada"), ("DELETE", "/api/groups/nobody", "ada"),
    ("POST", "/api/groups/nobody/members/{bob}", "ada"), ("DELETE", "/api/groups/{team}/members/nobody", "ada"),
    ("GET", f"/api/vaults/{UNKNOWN}/access-token", "bob"), ("GET", f"/api/vaults/{UNKNOWN}/uvf/vault.uvf", "bob"),
    ("GET", f"/api/vaults/{UNKNOWN}/uvf/jwks.json", "bob"), ("GET", "/api/users/trusted/nobody", "alice"),
    ("PUT", "/api/vaults/{vault}/users/nobody", "alice"), ("PUT", "/api/vaults/{vault}/groups/nobody", "alice"),
    ("PUT", f"/api/vaults/{UNKNOWN}/archived", "ada"),
])
def test_unknown_ids_are_404(hub, method, path, caller):
    path = path.format(bob=hub.bob.id, team=hub.team, vault=hub.vault.id)
    body, content_type = ({"name": "X"}, "application/json") if path.startswith("/api/groups/nobody") else (None, TEXT)
    if path.endswith("/archived"):
        body = "true"
    answer = getattr(hub, caller).api.send(method, path, body, content_type=content_type)
    _assert_problem(answer, 404)
    template = _template_of(path, method)
    check_response(method, template, 404, answer.media_type, answer.text)


def _not_a_key() -> str:
    return base64.b64encode(b"not a key").decode()


@pytest.mark.parametrize(("caller", "method", "path", "body", "field_name"), [
    ("bob", "PUT", "/api/users/me", {"ecdhPublicKey": "not base64!"}, "ecdhPublicKey"),
    ("bob", "PUT", "/api/users/me", {"ecdsaPublicKey": "_not_a_key"}, "ecdsaPublicKey"),
    ("bob", "PUT", "/api/users/me", {"privateKeys": "a.b"}, "privateKeys"),
    ("bob", "PUT", "/api/devices/{device}", {"name": "X", "type": "BROWSER", "publicKey": "_not_a_key",
                                              "userPrivateKey": "a.b.c.d.e"}, "publicKey"),
    ("bob", "PUT", "/api/devices/{device}", {"name": "X", "type": "TOASTER", "publicKey": "{key}",
                                              "userPrivateKey": "a.b.c.d.e"}, "type"),
    ("alice", "PUT", "/api/vaults/{vault}", {"name": "<script>"}, "name"),
    ("alice", "PUT", "/api/vaults/{vault}", {"name": "X", "uvfMetadataFile": "not json"}, "uvfMetadataFile"),
    ("alice", "PUT", "/api/vaults/{vault}/members", {"{bob}": "KING"}, "{bob}"),
    ("alice", "POST", "/api/vaults/{vault}/access-tokens", {"{bob}": "not a jwe"}, "{bob}"),
    ("bob", "POST", "/api/users/me/access-tokens", {"{vault}": "not a jwe"}, "{vault}"),
    ("ada", "POST", "/api/groups", {"name": ""}, "name"),
    ("ada", "PUT", "/api/settings", {"wotMaxDepth": 99}, "wotMaxDepth"),
    ("ada", "PUT", "/api/settings", {"wotIdVerifyLen": "long"}, "wotIdVerifyLen"),
    ("alice", "PUT", "/api/vaults/{vault}/users/{bob}?role=KING", None, "role"),
])
def test_bad_bodies_are_400_naming_the_field_and_change_nothing(hub, caller, method, path, body, field_name):
    names = {"{bob}": hub.bob.id, "{vault}": hub.vault.id, "{device}": hub.bob.device.id,
             "{key}": hub.bob.device.public}
    fill = lambda text: re.sub("|".join(map(re.escape, names)), lambda m: names[m.group(0)], text)  # noqa: E731
    before = (expect(hub.alice.api.vault(hub.vault.id), 200).json(), expect(hub.bob.api.me(True), 200).json(),
              expect(hub.ada.api.settings(), 200).json(), expect(hub.ada.api.groups(), 200).json())
    sent = json.loads(fill(json.dumps(body))) if body is not None else None
    _assert_problem(getattr(hub, caller).api.send(method, fill(path), sent), 400, fill(field_name))
    after = (expect(hub.alice.api.vault(hub.vault.id), 200).json(), expect(hub.bob.api.me(True), 200).json(),
             expect(hub.ada.api.settings(), 200).json(), expect(hub.ada.api.groups(), 200).json())
    assert after == before


MISSING_BODY = [
    ("bob", "PUT", "/api/devices/{device}", "application/json"),
    ("alice", "PUT", "/api/vaults/{vault}", "application/json"),
    ("alice", "PUT", "/api/vaults/{vault}/members", "application/json"),
    ("alice", "POST", "/api/vaults/{vault}/access-tokens", "application/json"),
    ("bob", "POST", "/api/vaults/{vault}/access-tokens/auto", "application/json"),
    ("bob", "POST", "/api/users/me/access-tokens", "application/json"),
    ("ada", "POST", "/api/groups", "application/json"),
    ("ada", "PUT", "/api/groups/{team}", "application/json"),
    ("ada", "PUT", "/api/users/{carol}/enabled", TEXT),
    ("alice", "PUT", "/api/vaults/{vault}/archived", TEXT),
    ("alice", "PUT", "/api/users/trusted/{carol}", TEXT),
    ("carol", "PUT", "/api/emergency-access/{vault}", "application/json"),
    ("bob", "POST", "/api/emergency-access/{vault}/recovered-key-shares", "application/json"),
]


@pytest.mark.parametrize(("caller", "method", "path", "content_type"), MISSING_BODY)
def test_a_missing_body_is_400_where_the_route_needs_one(hub, caller, method, path, content_type):
    path = path.format(device=hub.bob.device.id, vault=hub.vault.id, team=hub.team, carol=hub.carol.id)
    _assert_problem(getattr(hub, caller).api.send(method, path, content_type=content_type), 400, "body")


def _body_routes() -> list[tuple[str, str]]:
    return [(m, p) for m, p in IMPLEMENTED if "requestBody" in contract()["paths"][p][m.lower()]]


def test_every_route_taking_a_body_has_a_missing_body_case():
    covered = {(method, _template_of(path.replace("{", "").replace("}", "x"), method))
               for _, method, path, _ in MISSING_BODY}
    # PUT /api/users/me and PUT /api/settings take a missing or partial body (below).
    assert sorted(set(_body_routes()) - covered) == [("PUT", "/api/settings"), ("PUT", "/api/users/me")]


def test_partial_bodies_keep_what_they_leave_out(hub):
    bob = hub.bob
    before = expect(bob.api.me(), 200).json()
    expect(bob.api.put_me({"language": "de"}), 201)
    after = expect(bob.api.me(), 200).json()
    assert after["language"] == "de"
    assert {k: after[k] for k in ("ecdhPublicKey", "ecdsaPublicKey", "privateKeys", "setupCode")} == \
        {k: before[k] for k in ("ecdhPublicKey", "ecdsaPublicKey", "privateKeys", "setupCode")}
    expect(hub.ada.api.put_settings({"wotIdVerifyLen": 3}), 204)
    assert expect(hub.ada.api.settings(), 200).json()["wotMaxDepth"] == 2
    expect(hub.ada.api.send("PUT", "/api/settings"), 400)
    # Katta's desktop client renames without an ``archived`` field: the vault stays archived, and its
    # vault.uvf (not in the body) stays as it was.
    vault = jose.Vault()
    expect(hub.alice.api.create_or_update_vault(vault.id, vault.dto(API_BASE, archived=True)), 201)
    expect(hub.alice.api.set_archived(vault.id, True), 200)
    document = expect(hub.alice.api.vault_uvf(vault.id), 200).text
    renamed = expect(hub.alice.api.create_or_update_vault(vault.id, {"name": "Renamed"}), 200).json()
    assert (renamed["name"], renamed["archived"]) == ("Renamed", True)
    assert expect(hub.alice.api.vault_uvf(vault.id), 200).text == document


# -- interop with our SDK ---------------------------------------------------------------------------

def test_interop_what_this_client_writes_our_sdk_reads_and_back(hub):
    """The one test that imports katta_client: each side opens what the other wrote, through the server."""
    from katta_client.crypto.keys import UserKeys as SdkUserKeys
    from katta_client.crypto.uvf_metadata import VaultMetadata
    from katta_client.crypto.vault import VaultKeys, vault_uvf_origin
    from katta_client.crypto.wot import SignedKeys, sign_user_keys

    bob, vault = hub.bob, hub.vault
    # This client's writing (jwcrypto, ECDH-ES+A256KW and the general JSON vault.uvf as Hub writes them),
    # read back from the server, unlocks in our SDK.
    me = expect(bob.api.me(with_devices=True), 200).json()
    (device,) = [d for d in me["devices"] if d["id"] == bob.device.id]
    sdk_bob = SdkUserKeys.decrypt_on_device(device["userPrivateKey"], bob.device.key, me["ecdhPublicKey"],
                                            me["ecdsaPublicKey"])
    assert sdk_bob.decrypt_setup_code(me["setupCode"]) == bob.keys.account_key
    recovered = SdkUserKeys.recover_with_account_key(me["privateKeys"], bob.keys.account_key, me["ecdhPublicKey"],
                                                     me["ecdsaPublicKey"])
    assert recovered.encoded_ecdsa_public_key == bob.keys.ecdsa_public
    member = VaultKeys.from_access_token(sdk_bob.decrypt_access_token(expect(bob.api.access_token(vault.id), 200).text),
                                         expect(bob.api.vault_jwks(vault.id), 200).text)
    assert member.member_key == vault.member_key and not member.is_owner
    opened = member.decrypt_metadata(expect(bob.api.vault_uvf(vault.id), 200).text)
    assert opened.seeds[opened.initial_seed_id] == vault.seed

    # And back: keys, a vault and a grant our SDK wrote, stored through this client, open here.
    sdk_ivy = SdkUserKeys.create()
    ivy = Person("ivy", CREATOR, hub.stack.api("ivy", CREATOR))
    expect(ivy.api.sync_me(), 201)
    ivy.id = expect(ivy.api.me(), 200).json()["id"]
    account_key = "ivy-account-key"
    expect(ivy.api.put_me({"ecdhPublicKey": sdk_ivy.encoded_ecdh_public_key,
                           "ecdsaPublicKey": sdk_ivy.encoded_ecdsa_public_key,
                           "privateKeys": sdk_ivy.encrypt_with_account_key(account_key, iterations=1_000),
                           "setupCode": sdk_ivy.encrypt_setup_code(account_key)}), 201)
    expect(ivy.api.put_device(ivy.device.id, {"name": "katta", "type": "DESKTOP", "publicKey": ivy.device.public,
                                              "userPrivateKey": sdk_ivy.encrypt_for_device(ivy.device.public)}), 201)
    sdk_vault, metadata = VaultKeys.create(), VaultMetadata.create()
    vault_id = jose.Vault().id
    expect(ivy.api.create_or_update_vault(vault_id, {
        "id": vault_id, "name": "Made by katta",
        "uvfMetadataFile": sdk_vault.encrypt_metadata(metadata, vault_uvf_origin(API_BASE + "/api", vault_id)),
        "uvfKeySet": sdk_vault.jwks_json()}), 201)
    expect(ivy.api.grant_access(vault_id, {ivy.id: sdk_vault.encrypt_for_user(sdk_ivy.encoded_ecdh_public_key,
                                                                              owner=True)}), 200)
    me = expect(ivy.api.me(with_devices=True), 200).json()
    mine = ivy.device.open_user_keys(me["devices"][0]["userPrivateKey"])
    assert mine.ecdh_public == sdk_ivy.encoded_ecdh_public_key
    assert jose.UserKeys.recover(me["privateKeys"], account_key).ecdsa_public == sdk_ivy.encoded_ecdsa_public_key
    assert jose.open_ecdh_jwe(me["setupCode"], mine.ecdh)["setupCode"] == account_key
    token = jose.open_ecdh_jwe(expect(ivy.api.access_token(vault_id, ivy.device.id), 200).text, mine.ecdh)
    assert base64.b64decode(token["key"]) == sdk_vault.member_key and "recoveryKey" in token
    payload = jose.open_vault_metadata(expect(ivy.api.vault_uvf(vault_id), 200).text, sdk_vault.member_key)
    assert payload["seeds"] == {jose.b64u(metadata.initial_seed_id.to_bytes(4, "big")):
                                jose.b64u(metadata.seeds[metadata.initial_seed_id])}
    (recovery,) = expect(ivy.api.vault_jwks(vault_id), 200).json()["keys"]
    assert recovery["kid"] == sdk_vault.recovery_key_id
    # Our SDK's web-of-trust signature verifies here.
    signature = sign_user_keys(sdk_ivy, ivy.id, bob.id, SignedKeys(bob.keys.ecdh_public, bob.keys.ecdsa_public))
    expect(ivy.api.trust(bob.id, signature), 204)
    chain = expect(ivy.api.trusted_user(bob.id), 200).json()["signatureChain"]
    header, signed = jose.verify_signature(chain[-1], sdk_ivy.encoded_ecdsa_public_key)
    assert (header["iss"], header["sub"], signed["ecdhPublicKey"]) == (ivy.id, bob.id, bob.keys.ecdh_public)


# -- last: what the module's refusals were ----------------------------------------------------------

# The contract lists no 400 for these, yet they read input a client can get wrong; a clear 400 naming
# the field beats any status the contract does list.
UNLISTED_400 = {("PUT", "/api/users/trusted/{userId}"), ("PUT", "/api/users/{id}/enabled"),
                ("PUT", V + "/archived"), ("PUT", V + "/users/{userId}")}


def test_the_contract_refusal_statuses_are_the_ones_answered(hub):
    """Each refusal met in this module (it runs last) is one the contract lists, or a 400 named above."""
    unlisted = set()
    for answer in hub.stack.log:
        template = _template_of(answer.path, answer.method)
        if answer.status >= 400 and (answer.method, template) in IMPLEMENTED:
            responses = contract()["paths"][template][answer.method.lower()]["responses"]
            if str(answer.status) in responses:
                check_response(answer.method, template, answer.status, answer.media_type, answer.text)
            else:
                unlisted.add((answer.method, template, answer.status))
    assert unlisted <= {(method, template, 400) for method, template in UNLISTED_400}
