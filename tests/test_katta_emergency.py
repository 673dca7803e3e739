"""Emergency access over the API, with the client's real crypto: the council recovers a vault two of
three, and every refusal (a stranger, a second submission, too few shares, a tampered share, a closed
process) answers clearly and changes nothing."""
from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from chalicelib import deps
from katta_client.crypto import DecryptionFailed, KeyMismatch, VaultKeys, VaultMetadata
from katta_client.crypto import jwe as client_jwe
from katta_client.crypto.ec import public_key_from_jwk
from katta_client.crypto.emergency import combine_recovered_key, new_process_key, recover_share, split_recovery_key
from katta_client.crypto.keys import UserKeys as ClientUserKeys
from tests.support.katta_api import Actor, body
from tests.support.katta_keys import new_vault_id
from tests.test_katta_rules import audit_types


class Member(Actor):
    """An actor whose keys the client crypto can use."""

    @property
    def client_keys(self) -> ClientUserKeys:
        return ClientUserKeys(self.keys.ecdh, self.keys.ecdsa)


@pytest.fixture
def people(client, issuer):
    made = {name: Member(client, issuer, name, roles=roles).sign_in().set_up_keys()
            for name, roles in (("alice", ("user", "create-vaults")), ("bob", ("user",)), ("carol", ("user",)),
                                ("dave", ("user",)), ("erin", ("user",)), ("ada", ("user", "admin")))}
    enabled = {"enableEmergencyAccess": True, "defaultRequiredEmergencyKeyShares": 2, "defaultMinMembers": 2,
               "allowChoosingEmergencyCouncil": True, "emergencyCouncilMemberIds": []}
    assert made["ada"].call("PUT", "/api/settings", enabled).status_code == 204
    return made


COUNCIL = ("bob", "carol", "dave")


def _vault(people, threshold: int = 2) -> tuple[str, VaultKeys]:
    """alice's vault, its recovery key split among bob, carol and dave."""
    alice, vault_id, keys = people["alice"], new_vault_id(), VaultKeys.create()
    dto = {"id": vault_id, "name": "Rescue", "uvfMetadataFile": keys.encrypt_metadata(VaultMetadata.create()),
           "uvfKeySet": keys.jwks_json(), "requiredEmergencyKeyShares": threshold,
           "emergencyKeyShares": split_recovery_key(keys.recovery_private_key, threshold,
                                                    {people[m].id: people[m].keys.ecdh_public for m in COUNCIL})}
    assert alice.call("PUT", f"/api/vaults/{vault_id}", dto).status_code == 201
    token = keys.encrypt_for_user(alice.keys.ecdh_public, owner=True)
    assert alice.call("POST", f"/api/vaults/{vault_id}/access-tokens", {alice.id: token}).status_code == 200
    return vault_id, keys


def _recoverable(member: Member, vault_id: str) -> dict:
    (vault,) = [v for v in body(member.get("/api/vaults/recoverable")) if v["id"] == vault_id]
    return vault


def _share_of(member: Member, vault_id: str) -> str:
    return _recoverable(member, vault_id)["emergencyKeyShares"][member.id]


def _start(starter: Member, vault_id: str, people, *, approve: bool = True,
           kind: str = "CHANGE_PERMISSIONS", details: Any = json.dumps({"newOwners": ["erin"]})) -> tuple[str, dict]:
    process_id = new_vault_id()
    public_key, private_keys = new_process_key({people[m].id: people[m].keys.ecdh_public for m in COUNCIL})
    shares = {people[m].id: {"processPrivateKey": private_keys[people[m].id]} for m in COUNCIL}
    if approve:
        shares[starter.id]["recoveredKeyShare"] = recover_share(_share_of(starter, vault_id),
                                                                starter.client_keys.ecdh_private_key, public_key)
    required = _recoverable(starter, vault_id)["requiredEmergencyKeyShares"]
    process = {"id": process_id, "vaultId": vault_id, "type": kind, "requiredKeyShares": required,
               "details": details, "processPublicKey": public_key,
               "recoveredKeyShares": shares}
    response = starter.call("PUT", f"/api/emergency-access/{process_id}", process)
    assert response.status_code == 204, response.body
    return process_id, process


def _approval(member: Member, vault_id: str, process: dict) -> dict:
    return {"recoveredKeyShare": recover_share(_share_of(member, vault_id), member.client_keys.ecdh_private_key,
                                               process["processPublicKey"])}


def _process(member: Member, vault_id: str, process_id: str) -> dict:
    (found,) = [p for p in body(member.get(f"/api/emergency-access/{vault_id}")) if p["id"] == process_id]
    return found


def _combine(member: Member, process: dict, recovery_public) -> object:
    shares = [s["recoveredKeyShare"] for s in process["recoveredKeyShares"].values() if "recoveredKeyShare" in s]
    return combine_recovered_key(shares, process["recoveredKeyShares"][member.id]["processPrivateKey"],
                                 member.client_keys.ecdh_private_key, recovery_public)


def test_two_of_three_recover_the_vault_and_grant_a_new_owner(people):
    bob, carol, erin = people["bob"], people["carol"], people["erin"]
    vault_id, keys = _vault(people)
    assert [v["id"] for v in body(bob.get("/api/vaults/recoverable"))] == [vault_id]
    process_id, _ = _start(bob, vault_id, people)
    # One approval of the two needed: bob does not act for the owners yet.
    assert bob.call("PUT", f"/api/vaults/{vault_id}/users/{erin.id}?role=OWNER").status_code == 403
    assert bob.call("DELETE", f"/api/emergency-access/{process_id}/complete").status_code == 403
    process = _process(carol, vault_id, process_id)
    assert carol.call("POST", f"/api/emergency-access/{process_id}/recovered-key-shares",
                      _approval(carol, vault_id, process)).status_code == 204

    recovered = _combine(bob, _process(bob, vault_id, process_id), keys.recovery_public_key)
    assert recovered.private_numbers() == keys.recovery_private_key.private_numbers()
    # Now bob acts for the owners: he reads vault.uvf, makes erin owner and hands her the keys.
    uvf = bob.get(f"/api/vaults/{vault_id}/uvf/vault.uvf").body.decode()
    assert VaultKeys(keys.member_key, keys.recovery_public_key, recovered).decrypt_metadata(uvf)
    assert bob.call("PUT", f"/api/vaults/{vault_id}/users/{erin.id}?role=OWNER").status_code == 201
    token = VaultKeys(keys.member_key, keys.recovery_public_key, recovered).encrypt_for_user(
        erin.keys.ecdh_public, owner=True)
    assert bob.call("POST", f"/api/vaults/{vault_id}/access-tokens", {erin.id: token}).status_code == 200
    assert bob.call("DELETE", f"/api/emergency-access/{process_id}/complete").status_code == 204
    # The process is over: bob is back to a council member, erin owns the vault.
    assert bob.call("PUT", f"/api/vaults/{vault_id}/users/{bob.id}?role=OWNER").status_code == 403
    assert body(bob.get(f"/api/emergency-access/{vault_id}")) == []
    opened = erin.client_keys.decrypt_access_token(erin.get(f"/api/vaults/{vault_id}/access-token").body.decode())
    assert opened.recovery_key is not None and opened.member_key == keys.member_key
    assert [t for t in audit_types() if t.startswith("EMERGENCY")] == [
        "EMERGENCY_ACCESS_RECOVERY_COMPLETED", "EMERGENCY_ACCESS_RECOVERY_APPROVED",
        "EMERGENCY_ACCESS_RECOVERY_APPROVED", "EMERGENCY_ACCESS_RECOVERY_STARTED", "EMERGENCY_ACCESS_SETUP",
        "EMERGENCY_ACCESS_SETTINGS_UPDATED"]


def test_only_the_council_sees_starts_approves_or_ends_a_process(people):
    vault_id, _ = _vault(people)
    process_id, process = _start(people["bob"], vault_id, people)
    erin, alice = people["erin"], people["alice"]
    for outsider in (erin, alice):  # alice owns the vault, but sits on no council
        assert body(outsider.get("/api/emergency-access")) == []
        assert body(outsider.get(f"/api/emergency-access/{vault_id}")) == []
        assert body(outsider.get("/api/vaults/recoverable")) == []
        assert outsider.call("POST", f"/api/emergency-access/{process_id}/recovered-key-shares",
                             {"recoveredKeyShare": process["recoveredKeyShares"][people["bob"].id]["processPrivateKey"]}
                             ).status_code == 403
        assert outsider.call("DELETE", f"/api/emergency-access/{process_id}/abort").status_code == 403
        refused = outsider.call("PUT", f"/api/emergency-access/{new_vault_id()}", {**process, "id": None})
        assert refused.status_code == 403 and "emergency council" in body(refused)["detail"]
    assert [p["id"] for p in body(people["dave"].get("/api/emergency-access"))] == [process_id]
    assert audit_types().count("EMERGENCY_ACCESS_RECOVERY_STARTED") == 1


def test_a_share_is_submitted_once_and_the_same_request_twice_answers_the_same(people):
    carol = people["carol"]
    vault_id, _ = _vault(people)
    process_id, process = _start(people["bob"], vault_id, people)
    assert people["bob"].call("PUT", f"/api/emergency-access/{process_id}", process).status_code == 204
    mine = _approval(carol, vault_id, process)
    for _ in range(2):
        assert carol.call("POST", f"/api/emergency-access/{process_id}/recovered-key-shares", mine).status_code == 204
    other = carol.call("POST", f"/api/emergency-access/{process_id}/recovered-key-shares",
                       _approval(carol, vault_id, process))
    assert other.status_code == 403 and "already" in body(other)["detail"]
    assert _process(carol, vault_id, process_id)["recoveredKeyShares"][carol.id]["recoveredKeyShare"] == \
        mine["recoveredKeyShare"]
    assert audit_types().count("EMERGENCY_ACCESS_RECOVERY_APPROVED") == 2  # bob's at the start, carol's
    assert audit_types().count("EMERGENCY_ACCESS_RECOVERY_STARTED") == 1
    changed = people["bob"].call("PUT", f"/api/emergency-access/{process_id}", {**process, "details": "other"})
    assert changed.status_code == 409


def test_fewer_shares_than_the_threshold_recover_nothing(people):
    bob, carol = people["bob"], people["carol"]
    vault_id, keys = _vault(people, threshold=3)
    process_id, process = _start(bob, vault_id, people)
    assert carol.call("POST", f"/api/emergency-access/{process_id}/recovered-key-shares",
                      _approval(carol, vault_id, process)).status_code == 204
    short = bob.call("DELETE", f"/api/emergency-access/{process_id}/complete")
    assert short.status_code == 403 and "2 of the 3" in body(short)["detail"]
    assert bob.call("PUT", f"/api/vaults/{vault_id}/users/{bob.id}?role=OWNER").status_code == 403
    with pytest.raises(KeyMismatch):
        _combine(bob, _process(bob, vault_id, process_id), keys.recovery_public_key)


def test_a_tampered_share_is_caught_by_the_client(people):
    bob, carol = people["bob"], people["carol"]
    vault_id, keys = _vault(people)
    process_id, process = _start(bob, vault_id, people)
    # carol's share, opened and altered by one bit, then sealed to the process key as a real approval.
    mine = client_jwe.decrypt_ecdh_es(_share_of(carol, vault_id), carol.client_keys.ecdh_private_key)
    share = bytearray(base64.b64decode(mine["keyShare"]))
    share[0] ^= 1
    altered = client_jwe.encrypt_ecdh_es({"keyShare": base64.b64encode(bytes(share)).decode()},
                                         public_key_from_jwk(json.loads(process["processPublicKey"])))
    assert carol.call("POST", f"/api/emergency-access/{process_id}/recovered-key-shares",
                      {"recoveredKeyShare": altered}).status_code == 204  # the server cannot tell
    with pytest.raises(KeyMismatch):
        _combine(bob, _process(bob, vault_id, process_id), keys.recovery_public_key)
    # A JWE changed in transit does not even open.
    stored = _process(bob, vault_id, process_id)
    head, key, iv, ciphertext, tag = stored["recoveredKeyShares"][carol.id]["recoveredKeyShare"].split(".")
    flipped = ("B" if ciphertext[0] == "A" else "A") + ciphertext[1:]
    stored["recoveredKeyShares"][carol.id]["recoveredKeyShare"] = ".".join((head, key, iv, flipped, tag))
    with pytest.raises(DecryptionFailed):
        _combine(bob, stored, keys.recovery_public_key)


def test_a_closed_process_accepts_nothing_more(people):
    bob, carol, dave = people["bob"], people["carol"], people["dave"]
    vault_id, _ = _vault(people)
    done, process = _start(bob, vault_id, people)
    assert carol.call("POST", f"/api/emergency-access/{done}/recovered-key-shares",
                      _approval(carol, vault_id, process)).status_code == 204
    assert bob.call("DELETE", f"/api/emergency-access/{done}/complete").status_code == 204
    assert bob.call("DELETE", f"/api/emergency-access/{done}/complete").status_code == 204  # the same, twice
    late = dave.call("POST", f"/api/emergency-access/{done}/recovered-key-shares", _approval(dave, vault_id, process))
    assert late.status_code == 403 and "completed" in body(late)["detail"]
    assert dave.call("DELETE", f"/api/emergency-access/{done}/abort").status_code == 403
    assert bob.call("PUT", f"/api/emergency-access/{done}", process).status_code == 409
    aborted, process = _start(dave, vault_id, people)
    assert carol.call("DELETE", f"/api/emergency-access/{aborted}/abort").status_code == 204
    assert carol.call("DELETE", f"/api/emergency-access/{aborted}/abort").status_code == 204
    assert bob.call("DELETE", f"/api/emergency-access/{aborted}/complete").status_code == 403
    assert carol.call("POST", f"/api/emergency-access/{aborted}/recovered-key-shares",
                      _approval(carol, vault_id, process)).status_code == 403
    assert audit_types().count("EMERGENCY_ACCESS_RECOVERY_COMPLETED") == 1
    assert audit_types().count("EMERGENCY_ACCESS_RECOVERY_ABORTED") == 1
    assert bob.call("DELETE", f"/api/emergency-access/{new_vault_id()}/abort").status_code == 404


@pytest.mark.parametrize(("change", "status", "words"), [
    (lambda p, people: p["recoveredKeyShares"][people["carol"].id].update(recoveredKeyShare=p["processPublicKey"]),
     400, "recoveredKeyShare"),  # not a JWE
    (lambda p, people: p["recoveredKeyShares"][people["carol"].id].update(
        recoveredKeyShare=p["recoveredKeyShares"][people["carol"].id]["processPrivateKey"]), 400, "themselves"),
    (lambda p, people: p["recoveredKeyShares"].update(
        {people["erin"].id: p["recoveredKeyShares"][people["carol"].id]}), 400, "not on the vault's emergency council"),
    (lambda p, people: p.update(requiredKeyShares=3), 400, "requires 2"),
    (lambda p, people: p.update(type="DELETE_VAULT"), 400, "type"),
    (lambda p, people: p.update(recoveredKeyShares={}), 400, "recoveredKeyShares"),
    (lambda p, people: p["recoveredKeyShares"][people["bob"].id].pop("processPrivateKey"), 400, "processPrivateKey"),
])
def test_a_start_that_strays_is_refused_naming_the_field(people, change, status, words):
    bob = people["bob"]
    vault_id, _ = _vault(people)
    public_key, private_keys = new_process_key({people[m].id: people[m].keys.ecdh_public for m in COUNCIL})
    process = {"vaultId": vault_id, "type": "CHANGE_PERMISSIONS", "processPublicKey": public_key,
               "recoveredKeyShares": {people[m].id: {"processPrivateKey": private_keys[people[m].id]}
                                      for m in COUNCIL}}
    change(process, people)
    process_id = new_vault_id()
    response = bob.call("PUT", f"/api/emergency-access/{process_id}", process)
    assert response.status_code == status and words in response.body.decode()
    assert body(bob.get(f"/api/emergency-access/{vault_id}")) == []


def test_a_council_needs_emergency_access_enabled_and_members_with_keys(people, client, issuer):
    alice, ada = people["alice"], people["ada"]
    keyless = Member(client, issuer, "gus", roles=("user",)).sign_in()
    vault_id = new_vault_id()
    dto = {"id": vault_id, "name": "V", "requiredEmergencyKeyShares": 2,
           "emergencyKeyShares": {people["bob"].id: _share_of_nothing(people["bob"]),
                                  keyless.id: _share_of_nothing(people["bob"])}}
    refused = alice.call("PUT", f"/api/vaults/{vault_id}", dto)
    assert refused.status_code == 400 and keyless.id in body(refused)["detail"]
    one = alice.call("PUT", f"/api/vaults/{vault_id}", {**dto, "requiredEmergencyKeyShares": 1})
    assert one.status_code == 400 and "requiredEmergencyKeyShares" in body(one)["detail"]
    assert ada.call("PUT", "/api/settings", {"enableEmergencyAccess": False}).status_code == 204
    disabled = alice.call("PUT", f"/api/vaults/{vault_id}", {**dto, "emergencyKeyShares": {
        people["bob"].id: _share_of_nothing(people["bob"]), people["carol"].id: _share_of_nothing(people["carol"])}})
    assert disabled.status_code == 400 and "not enabled" in body(disabled)["detail"]
    assert alice.get(f"/api/vaults/{vault_id}").status_code == 403  # nothing was created


def _share_of_nothing(member: Member) -> str:
    return member.keys.access_token(b"x" * 32)


@pytest.mark.parametrize(("settings", "words"), [
    ({"enableEmergencyAccess": True, "defaultRequiredEmergencyKeyShares": 1}, "at least 2"),
    ({"emergencyCouncilMemberIds": ["nobody"]}, "no such user: nobody"),
    ({"enableEmergencyAccess": True, "defaultRequiredEmergencyKeyShares": 3, "allowChoosingEmergencyCouncil": False,
      "emergencyCouncilMemberIds": []}, "at least defaultRequiredEmergencyKeyShares"),
    ({"defaultMinMembers": -1}, "defaultMinMembers"),
])
def test_emergency_settings_that_cannot_work_are_refused(people, settings, words):
    ada = people["ada"]
    before = body(ada.get("/api/settings"))
    response = ada.call("PUT", "/api/settings", settings)
    assert response.status_code == 400 and words in response.body.decode()
    assert body(ada.get("/api/settings")) == before


def test_owners_on_a_fixed_council_hub_must_seat_that_council(people):
    ada, alice = people["ada"], people["alice"]
    fixed = {"enableEmergencyAccess": True, "defaultRequiredEmergencyKeyShares": 2,
             "allowChoosingEmergencyCouncil": False,
             "emergencyCouncilMemberIds": [people["bob"].id, people["carol"].id]}
    assert ada.call("PUT", "/api/settings", fixed).status_code == 204
    vault_id, keys = new_vault_id(), VaultKeys.create()
    others = {people[m].id: people[m].keys.ecdh_public for m in ("bob", "dave")}
    dto = {"id": vault_id, "name": "V", "requiredEmergencyKeyShares": 2,
           "emergencyKeyShares": split_recovery_key(keys.recovery_private_key, 2, others)}
    refused = alice.call("PUT", f"/api/vaults/{vault_id}", dto)
    assert refused.status_code == 400 and "hub's emergency council" in body(refused)["detail"]
    council = {people[m].id: people[m].keys.ecdh_public for m in ("bob", "carol")}
    dto["emergencyKeyShares"] = split_recovery_key(keys.recovery_private_key, 2, council)
    assert alice.call("PUT", f"/api/vaults/{vault_id}", dto).status_code == 201
    assert body(alice.get(f"/api/vaults/{vault_id}"))["requiredEmergencyKeyShares"] == 2
    # A member (not an owner) may not reseat it.
    bob = people["bob"]
    assert alice.call("PUT", f"/api/vaults/{vault_id}/users/{bob.id}").status_code == 201
    assert bob.call("PUT", f"/api/vaults/{vault_id}", {**dto, "emergencyKeyShares": {}}).status_code == 403
    assert set(body(alice.get(f"/api/vaults/{vault_id}"))["emergencyKeyShares"]) == set(council)



def test_deleting_a_vault_takes_its_council_and_processes_with_it(people):
    bob = people["bob"]
    vault_id, _ = _vault(people)
    process_id, _ = _start(bob, vault_id, people)
    assert people["alice"].call("DELETE", f"/api/vaults/{vault_id}").status_code == 204
    assert body(bob.get("/api/vaults/recoverable")) == []
    assert body(bob.get("/api/emergency-access")) == []
    assert bob.call("DELETE", f"/api/emergency-access/{process_id}/abort").status_code == 404
    assert list(deps.table().query_all(f"VAULT#{vault_id}")) == []  # the open process's hold on its type too


def test_a_vault_has_one_open_process_of_each_type(people):
    bob, carol = people["bob"], people["carol"]
    vault_id, _ = _vault(people)
    first, process = _start(bob, vault_id, people)
    second = new_vault_id()
    refused = carol.call("PUT", f"/api/emergency-access/{second}", {**process, "id": second, "recoveredKeyShares": {
        m: {"processPrivateKey": s["processPrivateKey"]} for m, s in process["recoveredKeyShares"].items()}})
    # The contract lists 400, 401 and 403 for this route: a state that forbids the start is a 403.
    assert refused.status_code == 403, refused.body
    assert body(refused)["detail"] == (f"type: a CHANGE_PERMISSIONS recovery of this vault is open already ({first}): "
                                       "complete or abort it first")
    assert [p["id"] for p in body(carol.get(f"/api/emergency-access/{vault_id}"))] == [first]
    assert bob.call("PUT", f"/api/emergency-access/{first}", process).status_code == 204  # the same start twice
    council_change, _ = _start(carol, vault_id, people, kind="COUNCIL_CHANGE")  # another type: its own process
    assert carol.call("DELETE", f"/api/emergency-access/{first}/abort").status_code == 204
    again, _ = _start(carol, vault_id, people)  # the first closed: the type is free again
    assert {p["id"] for p in body(bob.get(f"/api/emergency-access/{vault_id}"))} == {council_change, again}
    assert audit_types().count("EMERGENCY_ACCESS_RECOVERY_STARTED") == 3


def _approved(people, kind: str) -> tuple[str, VaultKeys, dict]:
    """alice's vault, a process of ``kind`` started by bob and approved by carol (the threshold reached), and
    the body of a PUT that changes nothing."""
    vault_id, keys = _vault(people)
    process_id, process = _start(people["bob"], vault_id, people, kind=kind)
    carol = people["carol"]
    assert carol.call("POST", f"/api/emergency-access/{process_id}/recovered-key-shares",
                      _approval(carol, vault_id, process)).status_code == 204
    vault = body(people["bob"].get(f"/api/vaults/{vault_id}"))
    return vault_id, keys, {k: vault[k] for k in ("id", "name", "archived")}


def _new_council(people, keys: VaultKeys) -> dict:
    shares = split_recovery_key(keys.recovery_private_key, 2,
                                {people[m].id: people[m].keys.ecdh_public for m in ("carol", "dave", "erin")})
    return {"requiredEmergencyKeyShares": 2, "emergencyKeyShares": shares}


def test_an_approved_council_change_reseats_the_council_and_does_nothing_else(people):
    bob, erin = people["bob"], people["erin"]
    vault_id, keys, put = _approved(people, "COUNCIL_CHANGE")
    for refused in (bob.call("PUT", f"/api/vaults/{vault_id}/users/{erin.id}?role=OWNER"),
                    bob.call("POST", f"/api/vaults/{vault_id}/access-tokens",
                             {erin.id: keys.encrypt_for_user(erin.keys.ecdh_public, owner=True)}),
                    bob.call("PUT", f"/api/vaults/{vault_id}",
                             {**put, "uvfMetadataFile": keys.encrypt_metadata(VaultMetadata.create())}),
                    bob.call("PUT", f"/api/vaults/{vault_id}", {**put, "name": "Mine now"})):
        assert refused.status_code == 403, refused.body
    council = _new_council(people, keys)
    reseated = bob.call("PUT", f"/api/vaults/{vault_id}", {**put, **council})
    assert reseated.status_code == 200, reseated.body
    assert body(erin.get("/api/vaults/recoverable"))[0]["emergencyKeyShares"].keys() == council["emergencyKeyShares"].keys()
    assert body(people["alice"].get(f"/api/vaults/{vault_id}"))["name"] == "Rescue"


def test_an_approved_change_of_permissions_may_not_reseat_the_council_or_rename(people):
    bob, erin = people["bob"], people["erin"]
    vault_id, keys, put = _approved(people, "CHANGE_PERMISSIONS")
    for refused in (bob.call("PUT", f"/api/vaults/{vault_id}", {**put, **_new_council(people, keys)}),
                    bob.call("PUT", f"/api/vaults/{vault_id}", {**put, "name": "Mine now"}),
                    bob.call("PUT", f"/api/vaults/{vault_id}", {**put, "archived": True})):
        assert refused.status_code == 403, refused.body
    assert set(body(bob.get("/api/vaults/recoverable"))[0]["emergencyKeyShares"]) == {
        people[m].id for m in COUNCIL}
    assert bob.call("PUT", f"/api/vaults/{vault_id}/users/{erin.id}?role=OWNER").status_code == 201


def _hub_signed_process_info(member: Member, process: dict) -> str:
    """What Hub's web client signs when it adds a share: the process's type and details, by the member."""
    key = ECKey.import_key(member.keys.ecdsa)
    payload = {"iss": member.id, "sub": process["id"], "iat": 1767225600, "type": process["type"],
               "details": process["details"]}
    return jwt.encode({"alg": "ES384", "typ": "JWT"}, payload, key, algorithms=["ES384"])


def test_a_process_in_hub_web_clients_shape_is_stored_and_answered_as_it_was_sent(people):
    """Hub's web client (emergency access, 2026) sends ``details`` as a JSON object in its own names, the
    members' shares as ``unrecoveredKeyShare`` and a signed process info with each approval; Katta's contract
    has ``details`` as text. Both are served: each comes back in the shape it was sent."""
    bob, carol, erin = people["bob"], people["carol"], people["erin"]
    vault_id, keys = _vault(people)
    vault = _recoverable(bob, vault_id)
    public_key, private_keys = new_process_key({people[m].id: people[m].keys.ecdh_public for m in COUNCIL})
    process = {"id": new_vault_id(), "vaultId": vault_id, "type": "CHANGE_PERMISSIONS",
               "details": {"newOwnerIds": [erin.id], "newMemberIds": []},
               "requiredKeyShares": 2, "processPublicKey": public_key,
               "recoveredKeyShares": {people[m].id: {"unrecoveredKeyShare": vault["emergencyKeyShares"][people[m].id],
                                                     "processPrivateKey": private_keys[people[m].id]} for m in COUNCIL}}
    mine = process["recoveredKeyShares"][bob.id]
    mine.update(recoveredKeyShare=recover_share(mine["unrecoveredKeyShare"], bob.client_keys.ecdh_private_key, public_key),
                signedProcessInfo=_hub_signed_process_info(bob, process))
    started = bob.call("PUT", f"/api/emergency-access/{process['id']}", process)
    assert started.status_code == 204, started.body
    assert bob.call("PUT", f"/api/emergency-access/{process['id']}", process).status_code == 204  # the same twice
    stored = _process(carol, vault_id, process["id"])
    assert stored["details"] == {"newOwnerIds": [erin.id], "newMemberIds": []}
    assert stored["recoveredKeyShares"][bob.id] == mine
    # carol approves as Hub's client does: her whole entry back, with her share and signature added.
    theirs = {**stored["recoveredKeyShares"][carol.id]}
    theirs.update(recoveredKeyShare=recover_share(theirs["unrecoveredKeyShare"], carol.client_keys.ecdh_private_key,
                                                  public_key), signedProcessInfo=_hub_signed_process_info(carol, stored))
    assert carol.call("POST", f"/api/emergency-access/{process['id']}/recovered-key-shares", theirs).status_code == 204
    recovered = _combine(bob, _process(bob, vault_id, process["id"]), keys.recovery_public_key)
    assert recovered.private_numbers() == keys.recovery_private_key.private_numbers()
    # Katta's own shape stays text; details that are neither text nor an object are refused, naming the field.
    text_id, _ = _start(carol, vault_id, people, kind="COUNCIL_CHANGE")
    assert _process(bob, vault_id, text_id)["details"] == json.dumps({"newOwners": ["erin"]})
    for wrong in ([1], 7, {"x" * 17_000: 1}):
        refused = bob.call("PUT", f"/api/emergency-access/{new_vault_id()}", {**process, "id": None, "details": wrong})
        assert refused.status_code == 400 and body(refused)["errors"][0]["field"] == "details", refused.body


@pytest.mark.parametrize("details", [{}, ""])
def test_empty_details_come_back_as_they_were_sent(people, details):
    # Approvals sign the details as sent: an empty object dropped would make every signature fail.
    vault_id, _keys = _vault(people)
    process_id, _ = _start(people["bob"], vault_id, people, details=details)
    assert _process(people["carol"], vault_id, process_id)["details"] == details
