"""Emergency access end to end, through the CLI against a live stack with SeaweedFS: two of three.

ada (admin) enables emergency access; alice creates a vault with bob, carol and dave on its council
(two required) and puts a file; alice's account is reset (her keys are gone); bob starts a recovery,
carol approves it, bob completes it naming erin the new owner; erin reads alice's file. On the way:
a stranger cannot approve, a member cannot approve twice, and too few approvals complete nothing.
"""
from __future__ import annotations

import os

import pytest

from katta_client.cli.context import Context
from tests.support.live_stack import shared_live_stack
from tests.test_client_vault_flow import file_keychain, katta, ok, one_line_error  # noqa: F401 — a fixture

pytestmark = pytest.mark.slow  # a live stack with SeaweedFS

pytest.importorskip("devstack.seaweed")


def _user_id(stack, config) -> str:
    return Context(stack.api_url, config, False, 0).api.get_me()["id"]


def _signed_in(stack, root, name: str, roles=("user",), *, init: bool = True):
    user = stack.new_user(name, roles=roles)
    config = root / name
    ok(katta(stack, config, "login", "--username", user, "--password", user))
    if init:
        ok(katta(stack, config, "init"))
    return user, config


def test_two_of_three_recover_a_vault_whose_owner_lost_her_keys(tmp_path):
    stack = shared_live_stack(storage=True)
    _, ada = _signed_in(stack, tmp_path, "ada", roles=("user", "admin"), init=False)
    alice_name, alice = _signed_in(stack, tmp_path, "alice", roles=("user", "create-vaults"))
    council = {name: _signed_in(stack, tmp_path, name) for name in ("bob", "carol", "dave")}
    erin_name, erin = _signed_in(stack, tmp_path, "erin")
    (bob_name, bob), (_, carol) = council["bob"], council["carol"]

    settings = ok(katta(stack, ada, "--json", "admin", "settings", "set", "--emergency-access", "on",
                        "--default-threshold", "2", "--min-members", "3", "--owners-choose-council", "on")).json()
    assert settings["enableEmergencyAccess"] is True
    # A council smaller than the threshold, or than the hub's minimum, is refused; no vault is left behind.
    one_line_error(katta(stack, alice, "vault", "create", "Too small", "--council", bob_name,
                         "--threshold", "2"), "threshold")
    one_line_error(katta(stack, alice, "vault", "create", "Too small", "--council", bob_name, council["carol"][0],
                         "--threshold", "2"), "defaultMinMembers")
    assert ok(katta(stack, alice, "--json", "vault", "list")).json() == []
    vault = ok(katta(stack, alice, "--json", "vault", "create", "Rescue", "--council",
                     *(name for name, _ in council.values()), "--threshold", "2")).json()
    assert len(vault["emergencyCouncil"]) == 3
    secret = tmp_path / "will.txt"
    secret.write_bytes(os.urandom(4096))
    ok(katta(stack, alice, "put", str(secret), "/will.txt"))

    Context(stack.api_url, alice, False, 0).api.reset_me()  # alice lost her account key: her keys are gone

    listed = ok(katta(stack, bob, "--json", "emergency", "list")).json()
    assert [v["id"] for v in listed["vaults"]] == [vault["id"]]
    process = ok(katta(stack, bob, "--json", "emergency", "start", vault["id"], "--reason", "alice lost her keys")
                 ).json()["process"]
    one_line_error(katta(stack, erin, "emergency", "approve", process), "no open recovery process")
    one_line_error(katta(stack, bob, "emergency", "complete", process, "--new-owner", erin_name), "1 of the 2")
    ok(katta(stack, carol, "emergency", "approve", process))
    one_line_error(katta(stack, carol, "emergency", "approve", process), "already")
    done = ok(katta(stack, bob, "--json", "emergency", "complete", process, "--new-owner", erin_name)).json()
    assert done == {"process": process, "vault": vault["id"], "completed": True}

    copy = tmp_path / "copy.txt"
    ok(katta(stack, erin, "get", "--vault", vault["id"], "/will.txt", str(copy)))
    assert copy.read_bytes() == secret.read_bytes()
    assert ok(katta(stack, erin, "--json", "vault", "unlock", "--vault", vault["id"])).json()["owner"] is True
    # The process is over: bob holds no power over the vault any more.
    assert ok(katta(stack, bob, "--json", "emergency", "list")).json()["processes"] == []
    one_line_error(katta(stack, bob, "ls", "--vault", vault["id"]), "no vault")
    # erin, owner now, reseats the council on demand; a recovery started and aborted changes nothing.
    names = [name for name, _ in council.values()]
    reseated = ok(katta(stack, erin, "--json", "emergency", "setup", "--vault", vault["id"], "--council", *names,
                        "--threshold", "3")).json()
    assert reseated["requiredEmergencyKeyShares"] == 3 and len(reseated["council"]) == 3
    second = ok(katta(stack, bob, "--json", "emergency", "start", vault["id"])).json()["process"]
    ok(katta(stack, bob, "emergency", "abort", second))
    one_line_error(katta(stack, carol, "emergency", "approve", second), "no open recovery process")
    events = ok(katta(stack, ada, "--json", "admin", "audit", "--type", "EMERGENCY_ACCESS_RECOVERY_STARTED",
                      "EMERGENCY_ACCESS_RECOVERY_APPROVED", "EMERGENCY_ACCESS_RECOVERY_COMPLETED",
                      "--page-size", "100")).json()
    mine = [e for e in events if e.get("processId") == process]
    assert sorted(e["type"] for e in mine) == ["EMERGENCY_ACCESS_RECOVERY_APPROVED"] * 2 + [
        "EMERGENCY_ACCESS_RECOVERY_COMPLETED", "EMERGENCY_ACCESS_RECOVERY_STARTED"]
    assert alice_name not in {e.get("councilMemberId") for e in mine}


def test_the_council_changes_its_own_seats_and_only_the_new_council_recovers(tmp_path):
    """bob, carol and dave (two required) hand the vault to a new council of carol, erin and frank: bob starts
    a COUNCIL_CHANGE naming it (what carol approves), bob completes it; later alice loses her keys and erin
    and frank recover the vault for gus, while bob and dave, off the council, can start nothing."""
    stack = shared_live_stack(storage=True)
    _, ada = _signed_in(stack, tmp_path, "ada", roles=("user", "admin"), init=False)
    _, alice = _signed_in(stack, tmp_path, "alice", roles=("user", "create-vaults"))
    people = {name: _signed_in(stack, tmp_path, name) for name in ("bob", "carol", "dave", "erin", "frank", "gus")}
    name, config = ({n: user for n, (user, _) in people.items()}, {n: cfg for n, (_, cfg) in people.items()})
    ok(katta(stack, ada, "admin", "settings", "set", "--emergency-access", "on", "--default-threshold", "2",
             "--min-members", "3", "--owners-choose-council", "on"))
    vault = ok(katta(stack, alice, "--json", "vault", "create", "Handover", "--council", name["bob"], name["carol"],
                     name["dave"], "--threshold", "2")).json()
    secret = tmp_path / "deeds.txt"
    secret.write_bytes(os.urandom(2048))
    ok(katta(stack, alice, "put", str(secret), "/deeds.txt"))

    new_council = ("--new-council", name["carol"], name["erin"], name["frank"], "--new-threshold", "2")
    one_line_error(katta(stack, config["bob"], "emergency", "start", vault["id"], "--type", "COUNCIL_CHANGE"),
                   "names the new council")
    change = ok(katta(stack, config["bob"], "--json", "emergency", "start", vault["id"], "--type", "COUNCIL_CHANGE",
                      "--reason", "bob and dave are leaving", *new_council)).json()
    assert change["type"] == "COUNCIL_CHANGE"
    (listed,) = ok(katta(stack, config["carol"], "--json", "emergency", "list")).json()["processes"]
    assert listed["details"]["newRequiredKeyShares"] == 2  # what carol approves: Hub's object, in Hub's names
    assert listed["recoveredKeyShares"][_user_id(stack, config["bob"])]["signedProcessInfo"]
    one_line_error(katta(stack, config["bob"], "emergency", "complete", change["process"]), "1 of the 2")
    ok(katta(stack, config["carol"], "emergency", "approve", change["process"]))
    one_line_error(katta(stack, config["bob"], "emergency", "complete", change["process"], "--new-council",
                         name["bob"], name["erin"], name["frank"], "--new-threshold", "2"), "another council")
    # Approved, the council change acts on the council only: bob may not hand out ownership meanwhile.
    one_line_error(katta(stack, config["bob"], "vault", "add", name["gus"], "--vault", vault["id"], "--owner"),
                   "owner")
    done = ok(katta(stack, config["bob"], "--json", "emergency", "complete", change["process"])).json()
    assert done == {"process": change["process"], "vault": vault["id"], "completed": True}
    seated = ok(katta(stack, alice, "--json", "vault", "show", vault["id"])).json()
    assert set(seated["emergencyKeyShares"]) == {_user_id(stack, config[n]) for n in ("carol", "erin", "frank")}
    assert seated["requiredEmergencyKeyShares"] == 2

    Context(stack.api_url, alice, False, 0).api.reset_me()  # alice lost her account key
    for gone in ("bob", "dave"):  # off the council: no vault to recover, no recovery to start
        assert ok(katta(stack, config[gone], "--json", "emergency", "list")).json() == {"vaults": [], "processes": []}
        one_line_error(katta(stack, config[gone], "emergency", "start", vault["id"]), "not on the emergency council")
    # erin names gus at the start, as Hub's web client shows it: frank approves that, and only that.
    process = ok(katta(stack, config["erin"], "--json", "emergency", "start", vault["id"], "--new-owner", name["gus"])
                 ).json()["process"]
    ok(katta(stack, config["frank"], "emergency", "approve", process))
    one_line_error(katta(stack, config["erin"], "emergency", "complete", process, "--new-owner", name["frank"]),
                   "other new owners")
    ok(katta(stack, config["erin"], "emergency", "complete", process))
    copy = tmp_path / "copy.txt"
    ok(katta(stack, config["gus"], "get", "--vault", vault["id"], "/deeds.txt", str(copy)))  # the new shares held
    assert copy.read_bytes() == secret.read_bytes()
