"""The web app's journeys in a real browser, each asserting what the user sees and what the server stored.

alice's first sign-in → a vault → shared with bob → bob's first sign-in in a second browser → alice
grants (live) → bob opens it; a new browser recovered with the account key; and the refusals.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, serious_accessibility_violations
from tests.browser.test_shell import sign_in
from tests.support.live_stack import ROOT

pytestmark = pytest.mark.slow  # a live stack and a browser: not in the fast lane

SLOW = 30_000  # PBES2 with 1,000,000 PBKDF2 rounds, key generation, bucket creation


def api(stack, username: str, method: str, path: str) -> tuple[int, str]:
    """What the server holds, asked as ``username`` (a token minted by the dev IdP)."""
    request = urllib.request.Request(stack.api_url + path, method=method,
                                     headers={"Authorization": "Bearer " + stack.idp.mint(username)})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def me(stack, username: str) -> dict:
    status, body = api(stack, username, "GET", "/api/users/me?withDevices=true")
    assert status == 200, body
    return json.loads(body)


def assert_nothing_secret_in_storage(page, *secrets: str) -> None:
    """Keys and tokens live in memory only: localStorage and sessionStorage hold none of them."""
    stored = page.evaluate("() => JSON.stringify({...localStorage}) + JSON.stringify({...sessionStorage})")
    assert "eyJ" not in stored and "token" not in stored.lower() and "privateKey" not in stored
    for secret in secrets:
        assert secret not in stored


def first_sign_in(page, stack, username: str) -> str:
    """Signs in, creates the user keys, confirms the account key; returns the account key shown."""
    sign_in(page, stack, username)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up your account", timeout=SLOW)
    account_key = page.get_by_test_id("secret").inner_text(timeout=SLOW)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", account_key)
    assert serious_accessibility_violations(page) == []
    page.get_by_role("button", name="Finish setup").click()  # nothing typed back: refused
    expect(page.get_by_text("That does not match the end of your account key")).to_be_visible()
    expect(page.get_by_label("Type the last group of your account key")).to_be_focused()
    page.get_by_label("Type the last group of your account key").fill(account_key.split("-")[-1])
    page.get_by_role("button", name="Finish setup").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Vaults", timeout=SLOW)
    return account_key


def create_vault(page, name: str) -> str:
    page.get_by_role("link", name="Create a vault").click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Description (optional)").fill("made in the browser")
    page.get_by_role("button", name="Create the vault").click()
    expect(page.get_by_text(f"The vault {name} is ready.")).to_be_visible(timeout=SLOW)
    assert page.get_by_test_id("secret").inner_text()  # the recovery key, shown once
    page.get_by_role("link", name="Go to the vault").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    return page.url.rsplit("/", 1)[-1]


def test_alice_creates_a_vault_shares_it_with_bob_grants_him_access_and_bob_opens_it(web_stack, browser, context):
    alice, bob = web_stack.new_user("alice"), web_stack.new_user("bob")
    page = context.new_page()
    account_key = first_sign_in(page, web_stack, alice)
    stored = me(web_stack, alice)
    assert stored["ecdhPublicKey"] and stored["ecdsaPublicKey"] and stored["privateKeys"].count(".") == 4
    assert [d["type"] for d in stored["devices"]] == ["BROWSER"]
    assert account_key not in json.dumps(stored)  # the server holds it sealed only

    vault_id = create_vault(page, "Alice's vault")
    expect(page.get_by_test_id("vault-bucket")).to_have_text(web_stack.storage.bucket(vault_id), timeout=SLOW)
    web_stack.storage.admin_s3().head_bucket(Bucket=web_stack.storage.bucket(vault_id))  # the bucket was made
    status, body = api(web_stack, alice, "GET", f"/api/vaults/{vault_id}")
    assert status == 200 and json.loads(body)["description"] == "made in the browser"
    assert serious_accessibility_violations(page) == []

    bob_name = me(web_stack, bob)["name"]  # bob is known to the hub (his first API call), not yet set up
    page.get_by_label("Find a user or group").fill(bob_name)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("button", name=f"Add {bob_name}").click()
    expect(page.get_by_test_id(f"member-{bob_name}")).to_be_visible()
    expect(page.get_by_text("Nobody is waiting for access")).to_be_visible()

    bob_context = browser.new_context()
    bob_context.set_default_timeout(5_000)
    try:
        bob_page = bob_context.new_page()
        first_sign_in(bob_page, web_stack, bob)
        bob_page.get_by_role("link", name="Alice's vault").click()
        expect(bob_page.get_by_text("You have no access to this vault yet")).to_be_visible(timeout=SLOW)

        # alice's page learns of bob's request by itself (the long poll), and she grants it.
        expect(page.get_by_test_id("waiting")).to_contain_text(bob_name, timeout=SLOW)
        page.get_by_role("button", name="Grant access to everyone waiting").click()
        expect(page.get_by_text(f"Access granted to {bob_name}.")).to_be_visible(timeout=SLOW)
        assert api(web_stack, bob, "GET", f"/api/vaults/{vault_id}/access-token")[0] == 200

        bob_page.get_by_role("button", name="Try again").click()
        expect(bob_page.get_by_test_id("vault-bucket")).to_have_text(web_stack.storage.bucket(vault_id), timeout=SLOW)
        expect(bob_page.get_by_test_id("vault-storage")).to_have_text("Alice's vault")  # from the decrypted vault.uvf
        expect(bob_page.get_by_role("heading", name="Members")).to_have_count(0)  # sharing is for owners

        # Web of trust: bob reads out his fingerprint, alice compares it and signs his keys.
        bob_page.get_by_role("link", name="My account").click()
        expect(bob_page.get_by_test_id("identity-fingerprint")).to_have_text(re.compile("^[0-9A-F]+$"), timeout=SLOW)
        fingerprint = bob_page.get_by_test_id("identity-fingerprint").inner_text()
        assert len(fingerprint) == json.loads(api(web_stack, bob, "GET", "/api/settings")[1])["wotIdVerifyLen"]
        expect(page.get_by_test_id(f"trust-{bob_name}")).to_contain_text("not verified")
        page.get_by_role("button", name=f"Verify {bob_name}").click()
        typed = page.get_by_label(f"Ask {bob_name} to read out the identity fingerprint")
        typed.fill("0" * len(fingerprint) if fingerprint != "0" * len(fingerprint) else "1" * len(fingerprint))
        page.get_by_role("button", name="It matches: sign").click()
        expect(page.get_by_test_id("error")).to_contain_text(f"That is not {bob_name}'s fingerprint")
        typed.fill(fingerprint.lower())
        page.get_by_role("button", name="It matches: sign").click()
        expect(page.get_by_test_id(f"trust-{bob_name}")).to_have_text("verified by you", timeout=SLOW)
        trusted = json.loads(api(web_stack, alice, "GET", "/api/users/trusted")[1])
        assert [t["trustedUserId"] for t in trusted] == [me(web_stack, bob)["id"]]
        assert_nothing_secret_in_storage(bob_page)
    finally:
        bob_context.close()

    # The owner edits, archives, reactivates the vault and downloads its template.
    page.get_by_label("Name", exact=True).fill("Alice's renamed vault")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Alice's renamed vault")
    page.get_by_role("button", name="Archive").click()
    expect(page.get_by_test_id("vault-details")).to_contain_text("Archived", timeout=SLOW)
    assert json.loads(api(web_stack, alice, "GET", f"/api/vaults/{vault_id}")[1])["archived"] is True
    page.get_by_role("button", name="Reactivate").click()
    expect(page.get_by_test_id("vault-details")).to_contain_text("Active", timeout=SLOW)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the vault template").click()
    assert download.value.suggested_filename == "Alice's renamed vault.zip"
    stored = json.loads(api(web_stack, alice, "GET", f"/api/vaults/{vault_id}")[1])
    assert stored["name"] == "Alice's renamed vault" and stored["archived"] is False
    # The template holds what the server wrote into the bucket: vault.uvf and the root directory.
    bucket = web_stack.storage.admin_s3().list_objects_v2(Bucket=web_stack.storage.bucket(vault_id))
    with zipfile.ZipFile(download.value.path()) as template:
        assert template.read("vault.uvf").decode() == stored["uvfMetadataFile"]
        dir_uvf = next(name for name in template.namelist() if name.endswith("/dir.uvf"))
        assert dir_uvf in [o["Key"] for o in bucket["Contents"]]
        in_bucket = web_stack.storage.admin_s3().get_object(Bucket=web_stack.storage.bucket(vault_id),
                                                            Key=dir_uvf)["Body"].read()
        # the same root directory id, sealed afresh (a new nonce): the same size, not the same bytes
        assert template.read(dir_uvf)[:4] == in_bucket[:4] == b"uvf\x01"
        assert len(template.read(dir_uvf)) == len(in_bucket)
    assert_nothing_secret_in_storage(page, account_key)


def test_a_new_browser_recovers_with_the_account_key_and_a_removed_browser_is_refused(web_stack, browser, context):
    alice = web_stack.new_user("alice")
    first = context.new_page()
    account_key = first_sign_in(first, web_stack, alice)

    second_context = browser.new_context()
    second_context.set_default_timeout(5_000)
    try:
        second = second_context.new_page()
        sign_in(second, web_stack, alice)
        expect(second.get_by_role("heading", level=1)).to_have_text("Unlock your keys in this browser", timeout=SLOW)
        assert serious_accessibility_violations(second) == []
        key_field = second.get_by_role("textbox", name="Account key")
        key_field.fill("not-a-key")
        second.get_by_role("button", name="Unlock").click()
        expect(second.get_by_test_id("error")).to_have_text(re.compile("This is not an account key"))
        key_field.fill("00000000-0000-4000-8000-000000000000")  # the right shape, the wrong key
        second.get_by_role("button", name="Unlock").click()
        expect(second.get_by_test_id("error")).to_have_text("That is not your account key. Check it and try again.",
                                                            timeout=SLOW)
        expect(key_field).to_be_focused()
        assert len(me(web_stack, alice)["devices"]) == 1  # a refused key registers nothing

        key_field.fill(f"  {account_key} ")
        second.get_by_role("button", name="Unlock").click()
        expect(second.get_by_role("heading", level=1)).to_have_text("Vaults", timeout=SLOW)
        devices = me(web_stack, alice)["devices"]
        assert [d["type"] for d in devices] == ["BROWSER", "BROWSER"]

        # The second browser removes the first one from the account.
        second.get_by_role("link", name="My devices").click()
        expect(second.get_by_text("This browser")).to_be_visible()
        assert serious_accessibility_violations(second) == []
        other = second.locator("tr", has_not=second.get_by_text("This browser")).filter(has=second.get_by_role("button"))
        second.once("dialog", lambda dialog: dialog.accept())
        other.get_by_role("button").click()
        expect(second.locator("tbody tr")).to_have_count(1)
        assert len(me(web_stack, alice)["devices"]) == 1
        assert_nothing_secret_in_storage(second, account_key)
    finally:
        second_context.close()

    # The removed browser, opened again, no longer opens the keys: it says why and offers recovery.
    first.goto(web_stack.api_url + "/app/vaults")
    first.get_by_role("button", name="Sign in").click()
    expect(first.get_by_test_id("removed")).to_be_visible(timeout=SLOW)
    expect(first.get_by_role("heading", level=1)).to_have_text("Unlock your keys in this browser")


def test_bob_cannot_see_alices_vault(web_stack, browser, context):
    alice, bob = web_stack.new_user("alice"), web_stack.new_user("bob")
    page = context.new_page()
    first_sign_in(page, web_stack, alice)
    vault_id = create_vault(page, "Alice's secrets")

    bob_context = browser.new_context()
    bob_context.set_default_timeout(5_000)
    try:
        bob_page = bob_context.new_page()
        first_sign_in(bob_page, web_stack, bob)
        expect(bob_page.get_by_text("You have no vaults yet")).to_be_visible()
        bob_page.goto(f"{web_stack.api_url}/app/vaults/{vault_id}")
        bob_page.get_by_role("button", name="Sign in").click()
        expect(bob_page.get_by_test_id("error")).to_have_text("You are not a member of this vault.", timeout=SLOW)
        expect(bob_page.get_by_test_id("vault-details")).to_have_count(0)
        assert api(web_stack, bob, "GET", f"/api/vaults/{vault_id}")[0] == 403
        assert_nothing_secret_in_storage(bob_page)
    finally:
        bob_context.close()


def katta(stack, config_dir, *args: str, **popen) -> subprocess.Popen:
    """The katta CLI against the live stack, with its own configuration and a file key chain."""
    env = {**os.environ, "KATTA_KEYCHAIN": "file"}
    for name in ("KATTA_PASSWORD", "KATTA_USERNAME", "KATTA_SERVER", "KATTA_CONFIG_DIR"):
        env.pop(name, None)
    return subprocess.Popen([sys.executable, "-m", "katta_client.cli", "--server", stack.api_url,
                             "--config-dir", str(config_dir), *args], env=env, text=True, cwd=ROOT, **popen)


def katta_ok(stack, config_dir, *args: str) -> str:
    process = katta(stack, config_dir, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return out


def katta_user(stack, tmp_path, prefix: str):  # type: ignore[no-untyped-def]
    """A user set up with katta (signed in, user keys, this desktop registered)."""
    user, config = stack.new_user(prefix), tmp_path / prefix
    katta_ok(stack, config, "login", "--username", user, "--password", user)
    katta_ok(stack, config, "init", "--device-name", "laptop")
    return user, config


@pytest.fixture
def processes():
    """The katta runs a test started: none outlives it."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def katta_link(stack, config_dir, code: str, processes: list) -> subprocess.Popen:
    """``katta device link CODE``: katta scans the browser's code."""
    link = katta(stack, config_dir, "device", "link", code, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                 stdin=subprocess.DEVNULL)
    processes.append(link)
    return link


def check_code(link: subprocess.Popen) -> str:
    """The check code katta shows, to type in the browser."""
    for line in link.stderr:
        found = re.search(r"Check code: (\d\d)", line)
        if found:
            return found.group(1)
    raise AssertionError("katta showed no check code")


def test_a_new_browser_is_linked_by_qr_from_katta(web_stack, page, tmp_path, processes):
    alice, config = katta_user(web_stack, tmp_path, "alice")
    sign_in(page, web_stack, alice)
    expect(page.get_by_role("heading", level=1)).to_have_text("Unlock your keys in this browser", timeout=SLOW)
    page.get_by_role("button", name="Show a code to scan").click()
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible(timeout=SLOW)
    assert serious_accessibility_violations(page) == []

    # A wrong check code: the browser refuses to offer its key, katta registers nothing.
    first_code = page.get_by_test_id("link-text").input_value()
    link = katta_link(web_stack, config, first_code, processes)
    shown = check_code(link)
    page.get_by_label("Check code shown on the other device").fill("00" if shown != "00" else "01")
    page.get_by_role("button", name="Link this browser").click()
    expect(page.get_by_test_id("error")).to_have_text(re.compile("That is not the code the other device shows"))
    assert link.wait(timeout=60) == 1
    assert [d["type"] for d in me(web_stack, alice)["devices"]] == ["DESKTOP"]

    page.get_by_role("button", name="Show a new code").click()
    expect(page.get_by_test_id("link-text")).not_to_have_value(first_code)  # a spent code is never shown again
    link = katta_link(web_stack, config, page.get_by_test_id("link-text").input_value(), processes)
    page.get_by_label("Check code shown on the other device").fill(check_code(link))
    page.get_by_role("region", name="From a signed-in device").get_by_label("A name for this browser").fill("linked browser")
    page.get_by_role("button", name="Link this browser").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Vaults", timeout=SLOW)
    out, err = link.communicate(timeout=60)
    assert link.returncode == 0, err
    assert 'Linked "linked browser"' in out
    devices = {d["name"]: d["type"] for d in me(web_stack, alice)["devices"]}
    assert devices == {"laptop": "DESKTOP", "linked browser": "BROWSER"}
    assert_nothing_secret_in_storage(page)


def test_a_vault_made_in_the_browser_opens_in_katta_and_one_made_with_katta_opens_in_the_browser(web_stack, page,
                                                                                                  tmp_path):
    alice, config = web_stack.new_user("alice"), tmp_path / "alice"
    account_key = first_sign_in(page, web_stack, alice)
    browser_vault = create_vault(page, "Made in the browser")

    # katta, on a new desktop: recovered with the account key the browser showed.
    katta_ok(web_stack, config, "login", "--username", alice, "--password", alice)
    katta_ok(web_stack, config, "init", "--account-key", account_key, "--device-name", "laptop")
    unlocked = json.loads(katta_ok(web_stack, config, "--json", "vault", "unlock", "--vault", browser_vault))
    assert unlocked["owner"] is True and unlocked["bucket"] == web_stack.storage.bucket(browser_vault)
    note = tmp_path / "note.txt"
    note.write_text("from katta into the browser's bucket\n")
    katta_ok(web_stack, config, "put", str(note), "/", "--vault", browser_vault)  # its root directory was made
    assert "note.txt" in katta_ok(web_stack, config, "ls", "/", "--vault", browser_vault)

    # and the other way: a vault katta made, opened in the browser.
    created = json.loads(katta_ok(web_stack, config, "--json", "vault", "create", "Made with katta"))
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Vaults").click()
    page.get_by_label("Search vaults").fill("katta")
    expect(page.get_by_role("list", name="Your vaults").get_by_role("listitem")).to_have_count(1)
    page.get_by_role("link", name="Made with katta").click()
    expect(page.get_by_test_id("vault-bucket")).to_have_text(web_stack.storage.bucket(created["id"]), timeout=SLOW)
    expect(page.get_by_test_id("vault-storage")).to_have_text("Made with katta")
    assert serious_accessibility_violations(page) == []
    assert_nothing_secret_in_storage(page, account_key)


def test_my_account_shows_the_account_key_again_and_a_reset_starts_afresh_on_a_phone(web_stack, browser):
    phone = browser.new_context(viewport=PHONE)
    phone.set_default_timeout(5_000)
    try:
        page = phone.new_page()
        carol = web_stack.new_user("carol")
        account_key = first_sign_in(page, web_stack, carol)
        page.get_by_role("link", name="My account").click()
        page.get_by_role("button", name="Show my account key").click()
        expect(page.get_by_test_id("secret")).to_have_text(account_key, timeout=SLOW)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        assert serious_accessibility_violations(page) == []
        before = me(web_stack, carol)

        expect(page.get_by_role("button", name="Reset my account")).to_be_disabled()  # consequences first
        page.get_by_label("I understand: reset my account").check()
        page.get_by_role("button", name="Reset my account").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Set up your account", timeout=SLOW)
        new_key = page.get_by_test_id("secret").inner_text(timeout=SLOW)
        assert new_key != account_key
        after = me(web_stack, carol)
        assert not after.get("ecdhPublicKey") and after["devices"] == []  # nothing of the old keys is left
        assert before["ecdhPublicKey"]

        page.get_by_label("Type the last group of your account key").fill(new_key.split("-")[-1])
        page.get_by_role("button", name="Finish setup").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Vaults", timeout=SLOW)
        assert me(web_stack, carol)["ecdhPublicKey"] != before["ecdhPublicKey"]
        page.get_by_role("link", name="My devices").click()
        expect(page.get_by_role("row", name=re.compile("This browser"))).to_contain_text("Browser")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        assert_nothing_secret_in_storage(page, account_key, new_key)
    finally:
        phone.close()


def test_an_expired_session_locks_the_keys_and_offers_sign_in_on_the_page_it_was_on(web_stack, page, monkeypatch):
    dave = web_stack.new_user("dave")
    page.clock.install()
    first_sign_in(page, web_stack, dave)
    page.get_by_role("link", name="My devices").click()
    expect(page.get_by_text("This browser")).to_be_visible()

    later = 11 * 3600  # the tokens, the refresh token and the IdP's session have all run out
    monkeypatch.setattr(web_stack.idp, "clock", lambda: time.time() + later)
    page.clock.fast_forward(later * 1000)
    expect(page.get_by_text("Your session has expired. Sign in again to continue.")).to_be_visible()
    expect(page.get_by_role("navigation", name="Pages")).to_have_count(0)  # the keys are locked
    assert_nothing_secret_in_storage(page)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Password")).to_be_visible()
