"""The web app's journeys in a real browser, each asserting what the user sees and what the server stored.

alice's first sign-in → a vault → shared with bob → bob's first sign-in in a second browser → alice
grants (live) → bob opens it; a new browser recovered with the account key; and the refusals.
"""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import serious_accessibility_violations
from tests.browser.test_shell import sign_in

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
        assert_nothing_secret_in_storage(bob_page)
    finally:
        bob_context.close()
    assert_nothing_secret_in_storage(page, account_key)
