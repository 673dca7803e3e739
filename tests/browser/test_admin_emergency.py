"""Emergency access between the browser and the CLI: two of three council members recover a vault
whose owner lost her keys, each side making and opening the other's shares and process keys.

The CLI (katta_client) sets the council up, so the shares are katta_client's Shamir split. In the
first recovery bob starts it in the browser (a process key WebCrypto made, his approval with it),
carol approves with ``katta emergency approve`` and bob completes it in the browser (the CLI's
share combined there, vault.uvf re-keyed there) — erin, the new owner, reads the vault's file with
the CLI. In the second, carol starts it with the CLI, bob approves in the browser and carol
completes it with the CLI, combining the browser's share.
"""
from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from katta_client.cli.context import Context
from tests.browser.conftest import serious_accessibility_violations
from tests.browser.test_admin_pages import nav
from tests.browser.test_shell import sign_in, stored_user
from tests.test_client_vault_flow import file_keychain, katta, ok, one_line_error  # noqa: F401 — a fixture

pytestmark = pytest.mark.slow  # a live stack with SeaweedFS, a browser and the CLI


def _signed_in(stack, root, name: str, roles=("user",), *, init: bool = True):
    user = stack.new_user(name, roles=roles)
    config = root / name
    ok(katta(stack, config, "login", "--username", user, "--password", user))
    account_key = ok(katta(stack, config, "--json", "init")).json().get("accountKey") if init else None
    return user, config, account_key


def _vault_with_a_council(stack, ada, alice, name: str, council, tmp_path) -> tuple[dict, bytes]:
    """Emergency access on (two of at least three), alice's vault with ``council`` and a file in it."""
    ok(katta(stack, ada, "admin", "settings", "set", "--emergency-access", "on", "--default-threshold", "2",
             "--min-members", "3", "--owners-choose-council", "on"))
    vault = ok(katta(stack, alice, "--json", "vault", "create", name, "--council", *council, "--threshold", "2")).json()
    secret = tmp_path / "secret.txt"
    secret.write_bytes(os.urandom(4096))
    ok(katta(stack, alice, "put", str(secret), "/secret.txt"))
    return vault, secret.read_bytes()


def _open_processes(stack, config) -> list[dict]:
    return ok(katta(stack, config, "--json", "emergency", "list")).json()["processes"]


def _unlock(page, account_key: str) -> None:
    page.get_by_label("Your account key (to unlock your keys on this page only)").fill(account_key)
    page.get_by_role("button", name="Unlock my keys").click()
    expect(page.get_by_test_id("status")).to_have_text("Your keys are unlocked on this page.")


def test_two_of_three_recover_a_vault_between_the_browser_and_the_cli(web_storage_stack, page, tmp_path):
    stack = web_storage_stack
    _, ada, _ = _signed_in(stack, tmp_path, "ada", roles=("user", "admin"), init=False)
    _, alice, _ = _signed_in(stack, tmp_path, "alice", roles=("user", "create-vaults"))
    bob, bob_cfg, bob_key = _signed_in(stack, tmp_path, "bob")
    carol, carol_cfg, _ = _signed_in(stack, tmp_path, "carol")
    dave, _, _ = _signed_in(stack, tmp_path, "dave")
    erin, erin_cfg, _ = _signed_in(stack, tmp_path, "erin")
    vault, secret = _vault_with_a_council(stack, ada, alice, "Rescue", (bob, carol, dave), tmp_path)
    Context(stack.api_url, alice, False, 0).api.reset_me()  # alice lost her account key: her keys are gone

    sign_in(page, stack, bob)
    nav(page, "Emergency access")
    expect(page.get_by_role("heading", level=1)).to_have_text("Emergency access")
    _unlock(page, bob_key)
    vaults = page.get_by_role("list", name="Vaults you can help recover")
    expect(vaults).to_contain_text("2 of 3 council members needed")
    erin_name = stored_user(stack, erin)["name"]
    page.get_by_label("New owner of Rescue").fill(erin_name)
    page.get_by_label("Reason (optional)").fill("alice lost her keys")
    page.get_by_role("button", name="Start recovery of Rescue").click()
    expect(page.get_by_test_id("status")).to_contain_text("Recovery of Rescue started with your approval")
    processes = page.get_by_role("list", name="Open recoveries")
    expect(processes).to_contain_text("1 of 2 approvals")
    expect(processes.get_by_role("button", name="Complete recovery")).to_have_count(0)  # not before the threshold
    assert serious_accessibility_violations(page) == []

    (process,) = _open_processes(stack, carol_cfg)
    ok(katta(stack, carol_cfg, "emergency", "approve", process["id"]))  # the CLI opens the browser's process key

    page.get_by_role("button", name="Refresh").click()
    expect(processes).to_contain_text("2 of 2 approvals")
    expect(page.get_by_label("New owner(s), comma-separated")).to_have_value(erin_name)  # from the start's details
    page.get_by_role("button", name="Complete recovery").click()
    expect(page.get_by_test_id("status")).to_have_text("The recovery of Rescue is complete: its new owners have access.")
    expect(page.get_by_text("No recovery is under way.")).to_be_visible()

    copy = tmp_path / "copy.txt"
    ok(katta(stack, erin_cfg, "get", "--vault", vault["id"], "/secret.txt", str(copy)))  # vault.uvf re-keyed in the browser
    assert copy.read_bytes() == secret
    assert ok(katta(stack, erin_cfg, "--json", "vault", "unlock", "--vault", vault["id"])).json()["owner"] is True

    # The other way round: the CLI's process naming dave, the browser's approval (the CLI's signature checked
    # there, its own checked by the CLI), combined by the CLI for the owner the start named.
    ok(katta(stack, erin_cfg, "emergency", "setup", "--vault", vault["id"], "--council", bob, carol, dave,
             "--threshold", "2"))
    started = ok(katta(stack, carol_cfg, "--json", "emergency", "start", vault["id"], "--new-owner", dave)
                 ).json()["process"]
    page.get_by_role("button", name="Refresh").click()
    page.get_by_role("button", name="Approve recovery of Rescue").click()
    expect(page.get_by_test_id("status")).to_have_text("You approved the recovery of Rescue.")
    expect(processes).to_contain_text("2 of 2 approvals")
    done = ok(katta(stack, carol_cfg, "--json", "emergency", "complete", started)).json()
    assert done == {"process": started, "vault": vault["id"], "completed": True}
    assert _open_processes(stack, bob_cfg) == []


def test_the_council_changes_its_seats_in_the_browser_and_the_new_council_recovers(web_storage_stack, page, tmp_path):
    """bob starts a council change in the browser (to carol, erin and frank), carol approves it with the CLI, bob
    completes it in the browser (the shares split anew there); then erin and frank recover the vault with the
    CLI for gus, who reads its file, and bob, off the council, starts nothing."""
    stack = web_storage_stack
    _, ada, _ = _signed_in(stack, tmp_path, "ada", roles=("user", "admin"), init=False)
    _, alice, _ = _signed_in(stack, tmp_path, "alice", roles=("user", "create-vaults"))
    bob, bob_cfg, bob_key = _signed_in(stack, tmp_path, "bob")
    (carol, carol_cfg, _), (dave, _, _), (erin, erin_cfg, _), (frank, frank_cfg, _), (gus, gus_cfg, _) = (
        _signed_in(stack, tmp_path, name) for name in ("carol", "dave", "erin", "frank", "gus"))
    vault, secret = _vault_with_a_council(stack, ada, alice, "Handover", (bob, carol, dave), tmp_path)

    sign_in(page, stack, bob)
    nav(page, "Emergency access")
    _unlock(page, bob_key)
    names = {user: stored_user(stack, user)["name"] for user in (carol, erin, frank)}
    page.get_by_label("New council of Handover, comma-separated").fill(", ".join(names.values()))
    page.get_by_label("Approvals needed (new council)").fill("2")
    page.get_by_role("button", name="Start council change of Handover").click()
    expect(page.get_by_test_id("status")).to_contain_text("The council change of Handover started with your approval")
    processes = page.get_by_role("list", name="Open recoveries")
    expect(processes).to_contain_text("new council")
    expect(processes).to_contain_text("1 of 2 approvals")
    expect(processes.get_by_role("button", name="Complete council change")).to_have_count(0)  # not before the threshold
    # One open council change per vault: a second start is refused with the API's reason.
    page.get_by_label("New council of Handover, comma-separated").fill(", ".join(names.values()))
    page.get_by_role("button", name="Start council change of Handover").click()
    expect(page.get_by_role("alert")).to_contain_text("a COUNCIL_CHANGE recovery of this vault is open already")

    (process,) = _open_processes(stack, carol_cfg)
    # Hub's object, and bob's approval signed as Hub's web client signs it (the CLI checks it when approving).
    assert process["details"] == {"newCouncilMemberIds": [stored_user(stack, u)["id"] for u in names],
                                  "newRequiredKeyShares": 2}
    assert all(s.get("signedProcessInfo") for s in process["recoveredKeyShares"].values() if s.get("recoveredKeyShare"))
    ok(katta(stack, carol_cfg, "emergency", "approve", process["id"]))
    page.get_by_role("button", name="Refresh").click()
    expect(processes).to_contain_text("2 of 2 approvals")
    page.get_by_role("button", name="Complete council change").click()
    expect(page.get_by_test_id("status")).to_have_text(
        "The council of Handover is changed: only the new council's key shares count now.")
    expect(page.get_by_text("You are on no vault's emergency council.")).to_be_visible()  # bob is off it
    assert serious_accessibility_violations(page) == []

    Context(stack.api_url, alice, False, 0).api.reset_me()  # alice lost her account key
    one_line_error(katta(stack, bob_cfg, "emergency", "start", vault["id"]), "not on the emergency council")
    started = ok(katta(stack, erin_cfg, "--json", "emergency", "start", vault["id"])).json()["process"]
    ok(katta(stack, frank_cfg, "emergency", "approve", started))
    ok(katta(stack, erin_cfg, "emergency", "complete", started, "--new-owner", gus))  # the browser's shares combine
    copy = tmp_path / "copy.txt"
    ok(katta(stack, gus_cfg, "get", "--vault", vault["id"], "/secret.txt", str(copy)))
    assert copy.read_bytes() == secret


def test_a_wrong_account_key_unlocks_nothing_and_a_non_member_sees_no_vault(web_storage_stack, page, tmp_path):
    stack = web_storage_stack
    frank, _, frank_key = _signed_in(stack, tmp_path, "frank")
    sign_in(page, stack, frank)
    nav(page, "Emergency access")
    page.get_by_label("Your account key (to unlock your keys on this page only)").fill(
        frank_key[:-4] + ("AAAA" if not frank_key.endswith("AAAA") else "BBBB"))
    page.get_by_role("button", name="Unlock my keys").click()
    expect(page.get_by_role("alert")).to_have_text("This account key does not open your keys. Check it and try again.")
    expect(page.get_by_label("Your account key (to unlock your keys on this page only)")).to_have_value("")
    expect(page.get_by_text("You are on no vault's emergency council.")).to_be_visible()
    _unlock(page, frank_key)
    expect(page.get_by_role("button", name="Unlock my keys")).to_have_count(0)


def test_a_page_opened_while_the_start_page_opens_the_keys_stays_open(web_storage_stack, page, tmp_path):
    """The start page sends a signed-in user on once it knows where this browser stands with their keys; a page
    the user opened meanwhile stays, even one whose code is still loading. It did not: under load the start page
    sent the emergency page to /unlock. Held here: the start page's request, then the page's code; gina has no
    keys yet, so the start page would go on to /setup as soon as its request is answered."""
    stack = web_storage_stack
    gina, _, _ = _signed_in(stack, tmp_path, "gina", init=False)
    held = {}
    page.route("**/api/users/me?withDevices=true", lambda route: held.setdefault("keys", route))
    page.route("**/EmergencyPage-*.js", lambda route: held.setdefault("page", route))
    sign_in(page, stack, gina)
    with page.expect_request("**/EmergencyPage-*.js"):
        nav(page, "Emergency access")
    opening = page.get_by_text("Opening your keys in this browser…")  # the start page, still shown
    expect(opening).to_be_visible()
    held["keys"].continue_()
    expect(opening).to_have_count(0)  # the start page knows: here it would go on
    held["page"].continue_()
    expect(page.get_by_text("Set up your keys first: a council member needs them to take part.")).to_be_visible()
    expect(page).to_have_url(stack.api_url + "/app/emergency")
