"""Our SDK's recoveries and Hub's web client's: each reads, approves and completes what the other writes.

Hub's web client signs every approval (``signedProcessInfo``: the process's type and details, by the
approver's ECDSA key) and refuses to approve or complete a process with an approval that is unsigned or
signed otherwise. The Hub-side fixtures and checks are ``tests.independent.keys`` (jwcrypto), written
from Hub's observed format, not from our SDK; the SDK runs against the in-process app.
"""
from __future__ import annotations

import pytest

from katta_client.crypto.emergency import new_process_key, recover_share
from katta_client.emergency import (COUNCIL_CHANGE, approve_recovery, complete_recovery,
                                    council_change_details, start_recovery)
from katta_client.vaults import VaultError
from tests import test_katta_emergency
from tests.independent.keys import hub_accepts_approvals, signed_process_info
from tests.support.katta_api import body
from tests.support.katta_keys import new_vault_id
from tests.test_katta_emergency import COUNCIL, _process, _recoverable, _start, _vault

people = test_katta_emergency.people  # the fixture: alice's vault's council and the others


def _ecdsa_publics(people) -> dict[str, str]:
    return {p.id: p.keys.ecdsa_public for p in people.values()}


def _hub_start(people, vault_id: str, details: dict, sign=None) -> dict:
    """bob starts a recovery as Hub's web client does: details an object, each member's share along, his
    approval signed (by ``sign(process)`` when a test forges it)."""
    bob = people["bob"]
    vault = _recoverable(bob, vault_id)
    public_key, private_keys = new_process_key({people[m].id: people[m].keys.ecdh_public for m in COUNCIL})
    process = {"id": new_vault_id(), "vaultId": vault_id, "type": "CHANGE_PERMISSIONS", "details": details,
               "requiredKeyShares": 2, "processPublicKey": public_key,
               "recoveredKeyShares": {people[m].id: {"unrecoveredKeyShare": vault["emergencyKeyShares"][people[m].id],
                                                     "processPrivateKey": private_keys[people[m].id]} for m in COUNCIL}}
    mine = process["recoveredKeyShares"][bob.id]
    mine["recoveredKeyShare"] = recover_share(mine["unrecoveredKeyShare"], bob.client_keys.ecdh_private_key, public_key)
    signature = (sign or (lambda p: signed_process_info(bob.keys.ecdsa, bob.id, p)))(process)
    if signature:
        mine["signedProcessInfo"] = signature
    assert bob.call("PUT", f"/api/emergency-access/{process['id']}", process).status_code == 204
    return process


def _owners(member, vault_id: str) -> set[str]:
    return {m["id"] for m in body(member.get(f"/api/vaults/{vault_id}/members")) if m.get("role") == "OWNER"}


def test_our_sdk_approves_and_completes_a_recovery_hubs_web_client_started(people):
    carol, dave, erin = people["carol"], people["dave"], people["erin"]
    vault_id, _ = _vault(people)
    process = _hub_start(people, vault_id, {"newOwnerIds": [erin.id], "newMemberIds": []})
    approve_recovery(carol.sdk(), carol.client_keys, carol.id, process["id"])
    stored = _process(dave, vault_id, process["id"])
    assert stored["details"] == {"newOwnerIds": [erin.id], "newMemberIds": []}
    # carol's approval is one Hub's web client takes: it could complete the process now.
    assert stored["recoveredKeyShares"][carol.id]["signedProcessInfo"]
    assert hub_accepts_approvals(stored, _ecdsa_publics(people))
    complete_recovery(carol.sdk(), carol.client_keys, carol.id, process["id"], new_owners=[erin.id])
    assert erin.id in _owners(erin, vault_id)


@pytest.mark.parametrize("kind", ["CHANGE_PERMISSIONS", COUNCIL_CHANGE])
def test_what_our_sdk_writes_passes_hubs_web_client_checks(people, kind):
    bob, carol, dave, erin = people["bob"], people["carol"], people["dave"], people["erin"]
    vault_id, _ = _vault(people)
    details = ({"newOwnerIds": [erin.id]} if kind == "CHANGE_PERMISSIONS"
               else council_change_details([carol.id, dave.id, erin.id], 2))
    process = start_recovery(bob.sdk(), bob.client_keys, bob.id, vault_id, kind=kind, details=details)
    stored = _process(carol, vault_id, process["id"])
    assert stored["details"] == details  # an object, as Hub's web client reads it
    assert hub_accepts_approvals(stored, _ecdsa_publics(people))
    approve_recovery(carol.sdk(), carol.client_keys, carol.id, process["id"])
    approved = _process(dave, vault_id, process["id"])
    assert {m for m, s in approved["recoveredKeyShares"].items() if s.get("recoveredKeyShare")} == {bob.id, carol.id}
    assert hub_accepts_approvals(approved, _ecdsa_publics(people))


def _other_details(process: dict, people) -> dict:
    return {**process, "details": {"newOwnerIds": [people["bob"].id], "newMemberIds": []}}


# bob's approval as a server that tampered with it would hand it out: (people, process) → signedProcessInfo.
FORGERIES = {
    "unsigned": lambda people, process: None,
    "another user's key": lambda people, process: signed_process_info(people["dave"].keys.ecdsa, people["bob"].id,
                                                                      process),
    "as another user": lambda people, process: signed_process_info(people["dave"].keys.ecdsa, people["dave"].id,
                                                                   process),
    "other details": lambda people, process: signed_process_info(people["bob"].keys.ecdsa, people["bob"].id,
                                                                 _other_details(process, people)),
    "another process": lambda people, process: signed_process_info(people["bob"].keys.ecdsa, people["bob"].id,
                                                                   {**process, "id": new_vault_id()}),
}


@pytest.mark.parametrize("forgery", FORGERIES)
def test_our_sdk_refuses_to_approve_a_process_with_a_bad_approval_as_hubs_client_does(people, forgery):
    carol, erin = people["carol"], people["erin"]
    vault_id, _ = _vault(people)
    process = _hub_start(people, vault_id, {"newOwnerIds": [erin.id], "newMemberIds": []},
                         lambda p: FORGERIES[forgery](people, p))
    stored = _process(carol, vault_id, process["id"])
    assert not hub_accepts_approvals(stored, _ecdsa_publics(people))  # the reconstruction refuses it too
    with pytest.raises(VaultError, match=r"tampered with"):
        approve_recovery(carol.sdk(), carol.client_keys, carol.id, process["id"])
    assert "recoveredKeyShare" not in _process(carol, vault_id, process["id"])["recoveredKeyShares"][carol.id]


@pytest.mark.parametrize("forgery", ["unsigned", "other details"])
def test_our_sdk_refuses_to_complete_a_process_with_a_bad_approval(people, forgery):
    bob, carol, erin = people["bob"], people["carol"], people["erin"]
    vault_id, _ = _vault(people)
    process = start_recovery(bob.sdk(), bob.client_keys, bob.id, vault_id, details={"newOwnerIds": [erin.id]})
    share = recover_share(_recoverable(carol, vault_id)["emergencyKeyShares"][carol.id],
                          carol.client_keys.ecdh_private_key, process["processPublicKey"])
    approval = {"recoveredKeyShare": share}
    if forgery == "other details":
        approval["signedProcessInfo"] = signed_process_info(carol.keys.ecdsa, carol.id,
                                                            {**process, "details": {"newOwnerIds": [carol.id]}})
    path = f"/api/emergency-access/{process['id']}/recovered-key-shares"
    assert carol.call("POST", path, approval).status_code == 204
    with pytest.raises(VaultError, match=r"tampered with"):
        complete_recovery(bob.sdk(), bob.client_keys, bob.id, process["id"], new_owners=[erin.id])
    assert erin.id not in _owners(people["alice"], vault_id)
    assert _process(bob, vault_id, process["id"])["id"] == process["id"]  # still open: nothing was changed


def test_a_process_in_our_earlier_shape_is_refused(people):
    """Text details and an unsigned approval: a server can make that shape alone, with a process key of its own
    (sealing its private key to the members needs no secret), and collect every approver's share."""
    bob, carol, erin = people["bob"], people["carol"], people["erin"]
    vault_id, _ = _vault(people)
    process_id, process = _start(bob, vault_id, people)
    assert isinstance(process["details"], str) and "signedProcessInfo" not in process["recoveredKeyShares"][bob.id]
    with pytest.raises(VaultError, match=r"not signed.*abort it and start a new one"):
        approve_recovery(carol.sdk(), carol.client_keys, carol.id, process_id)
    assert "recoveredKeyShare" not in _process(carol, vault_id, process_id)["recoveredKeyShares"][carol.id]
    with pytest.raises(VaultError, match=r"not signed"):
        complete_recovery(bob.sdk(), bob.client_keys, bob.id, process_id, new_owners=[erin.id])


def test_a_process_whose_key_was_replaced_is_refused(people):
    """A server keeps a genuine process's id, details and signed approval but swaps in a key pair of its own:
    our signatures name the process key, so the next approver does not seal their share to the server's."""
    bob, carol, erin = people["bob"], people["carol"], people["erin"]
    vault_id, _ = _vault(people)
    process = start_recovery(bob.sdk(), bob.client_keys, bob.id, vault_id, details={"newOwnerIds": [erin.id]})
    assert hub_accepts_approvals(_process(carol, vault_id, process["id"]), _ecdsa_publics(people))
    servers_key, _ = new_process_key({})
    api = carol.sdk()
    stored = api.recovery_processes
    api.recovery_processes = lambda: [{**p, "processPublicKey": servers_key} for p in stored()]  # the server's answer
    with pytest.raises(VaultError, match=r"process key was replaced"):
        approve_recovery(api, carol.client_keys, carol.id, process["id"])
    assert "recoveredKeyShare" not in _process(carol, vault_id, process["id"])["recoveredKeyShares"][carol.id]


def test_a_process_nobody_approved_is_not_approved_first(people):
    """A process with no approval passes every signature check trivially, and a server can make one alone: our
    starts carry the starter's approval, so our clients never approve first."""
    carol = people["carol"]
    vault_id, _ = _vault(people)
    process_id, _ = _start(people["bob"], vault_id, people, approve=False)
    with pytest.raises(VaultError, match=r"no council member has approved"):
        approve_recovery(carol.sdk(), carol.client_keys, carol.id, process_id)
    assert "recoveredKeyShare" not in _process(carol, vault_id, process_id)["recoveredKeyShares"][carol.id]


def test_the_new_owners_a_start_names_are_the_ones_a_completion_makes(people):
    """What the approvers signed is what is done: a completion naming other owners is refused, changing nothing."""
    bob, carol, dave, erin = people["bob"], people["carol"], people["dave"], people["erin"]
    vault_id, _ = _vault(people)
    process = start_recovery(bob.sdk(), bob.client_keys, bob.id, vault_id, details={"newOwnerIds": [erin.id]})
    approve_recovery(carol.sdk(), carol.client_keys, carol.id, process["id"])
    with pytest.raises(VaultError, match="other new owners"):
        complete_recovery(bob.sdk(), bob.client_keys, bob.id, process["id"], new_owners=[dave.id])
    assert _owners(people["alice"], vault_id) == {people["alice"].id}
    complete_recovery(bob.sdk(), bob.client_keys, bob.id, process["id"])
    assert _owners(people["alice"], vault_id) == {people["alice"].id, erin.id}
