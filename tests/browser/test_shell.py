"""The web app's shell in a real browser: sign-in through the dev IdP, the CSP, an expired session."""
from __future__ import annotations

import json
import re
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, serious_accessibility_violations

pytestmark = pytest.mark.slow  # a live stack and a browser: not in the fast lane


def sign_in(page, stack, username: str) -> None:
    page.goto(stack.api_url + "/")
    expect(page).to_have_url(stack.api_url + "/app/")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(stack.issuer) + "/"))  # the IdP's own page
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(username)
    page.get_by_role("button", name="Sign in").click()


def stored_user(stack, username: str) -> dict:
    request = urllib.request.Request(stack.api_url + "/api/users/me",
                                     headers={"Authorization": "Bearer " + stack.idp.mint(username)})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.load(answer)


def test_alice_signs_in_through_the_dev_idp_sees_her_name_and_signs_out(web_stack, page):
    alice = web_stack.new_user("alice")
    page.goto(web_stack.api_url + "/app/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert serious_accessibility_violations(page) == []

    sign_in(page, web_stack, alice)
    signed_in = page.get_by_test_id("signed-in-as")
    expect(signed_in).to_have_text(f"Signed in as {stored_user(web_stack, alice)['name']}")
    # The callback's code is gone from the address; a new user goes on to set up their keys.
    expect(page).to_have_url(web_stack.api_url + "/app/setup")
    assert serious_accessibility_violations(page) == []
    # Tokens in memory only: nothing of the session is in the browser's storage.
    stored = page.evaluate("() => JSON.stringify({...localStorage}) + JSON.stringify({...sessionStorage})")
    assert "token" not in stored.lower() and "eyJ" not in stored

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    # RP-initiated logout ended the IdP's session too: signing in asks for the password again.
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Password")).to_be_visible()


def test_the_shell_works_on_a_phone_sized_screen(web_stack, browser):
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        bob = web_stack.new_user("bob")
        sign_in(page, web_stack, bob)
        expect(page.get_by_test_id("signed-in-as")).to_be_in_viewport()
        expect(page.get_by_role("button", name="Sign out")).to_be_in_viewport()
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "the page scrolls sideways on a phone"
        assert serious_accessibility_violations(page) == []
    finally:
        context.close()


def test_a_page_that_does_not_exist_says_so_and_leads_back(web_stack, page):
    page.goto(web_stack.api_url + "/app/no-such-page")
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page).to_have_title("Page not found · Katta")
    assert serious_accessibility_violations(page) == []
    page.get_by_role("link", name="Go to the start page").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.locator("#main")).to_be_focused()  # the new page is announced where its content starts


def test_the_app_has_its_policy_and_an_inline_script_does_not_run(web_stack, page):
    violations = []
    page.on("console", lambda message: violations.append(message.text) if "Content Security Policy" in message.text
            else None)
    answer = page.goto(web_stack.api_url + "/app/")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert web_stack.issuer.split("/realms/")[0] in policy  # the IdP may be reached, nothing else
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()  # the app's own script runs

    color = page.evaluate("""() => {
        const script = document.createElement('script');
        script.textContent = 'window.inlineRan = true';
        document.body.append(script);
        const styled = document.createElement('p');
        styled.setAttribute('style', 'color: rgb(255, 0, 0)');
        document.body.append(styled);
        return getComputedStyle(styled).color;
    }""")
    assert page.evaluate("() => window.inlineRan === true") is False
    assert color != "rgb(255, 0, 0)"
    assert any("inline script" in text for text in violations), violations
    assert any("inline style" in text for text in violations), violations


def test_the_tokens_are_renewed_before_they_expire(web_stack, page):
    carol = web_stack.new_user("carol")
    renewals = []
    page.on("request", lambda request: renewals.append(request) if request.method == "POST"
            and "grant_type=refresh_token" in (request.post_data or "") else None)
    page.clock.install()
    sign_in(page, web_stack, carol)
    expect(page.get_by_test_id("signed-in-as")).to_be_visible()
    lifetime = web_stack.idp.access_token_lifetime

    page.clock.fast_forward((lifetime - 30) * 1000)  # within the last minute of the first token
    page.wait_for_event("requestfinished", lambda request: request in renewals)
    page.clock.fast_forward(60 * 1000)  # past the first token's expiry
    expect(page.get_by_test_id("signed-in-as")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)
    assert len(renewals) == 1


def test_an_expired_session_sends_her_back_to_sign_in(web_stack, page, monkeypatch):
    alice = web_stack.new_user("alice")
    page.clock.install()
    sign_in(page, web_stack, alice)
    expect(page.get_by_test_id("signed-in-as")).to_be_visible()

    # Eleven hours later, for the browser and the IdP alike: the tokens, the refresh token and the
    # IdP's session have all run out.
    later = 11 * 3600
    monkeypatch.setattr(web_stack.idp, "clock", lambda: time.time() + later)
    page.clock.fast_forward(later * 1000)

    expect(page.get_by_role("alert")).to_have_text("Your session has expired. Sign in again to continue.")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_test_id("signed-in-as")).to_have_count(0)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Password")).to_be_visible()
