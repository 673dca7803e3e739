"""The admin's pages in a real browser: storage profiles, groups, users, the audit log, settings; and
what a non-admin sees there."""
from __future__ import annotations

import csv
import io
import json
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, serious_accessibility_violations
from tests.browser.test_shell import sign_in, stored_user

pytestmark = pytest.mark.slow  # a live stack and a browser: not in the fast lane


def call(stack, username: str, method: str, path: str, body=None, content_type="application/json"):
    """The API as ``username`` calls it: (status, parsed JSON or None)."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(stack.api_url + path, data=data, method=method, headers={
        "Authorization": "Bearer " + stack.idp.mint(username), "Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            text = answer.read()
            return answer.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def nav(page, name: str) -> None:
    page.get_by_role("navigation", name="Pages").get_by_role("link", name=name, exact=True).click()


@pytest.fixture
def admin(web_stack):
    return web_stack.new_user("ada", roles=("user", "admin"))


def test_an_admin_creates_a_storage_profile_and_archives_it(web_stack, page, admin):
    sign_in(page, web_stack, admin)
    nav(page, "Storage")
    expect(page.get_by_role("heading", level=1)).to_have_text("Storage profiles")
    name = f"Browser STS {admin}"
    page.locator("#field-name").fill(name)
    page.locator("#field-endpoint").fill("https://s3.example.test")
    page.locator("#field-region").fill("eu-central-1")
    page.locator("#field-regions").fill("eu-central-1, eu-west-1")
    page.locator("#field-bucketPrefix").fill("xn--katta-")  # reserved by S3: the API names the field
    page.locator("#field-stsRoleCreateBucketClient").fill("arn:aws:iam::123456789012:role/katta-create")
    page.locator("#field-stsRoleCreateBucketHub").fill("arn:aws:iam::123456789012:role/katta-create")
    page.locator("#field-stsRoleAccessBucketAssumeRoleWithWebIdentity").fill("arn:aws:iam::123456789012:role/katta-access")
    page.locator("#field-stsDurationSeconds").fill("3600")
    page.get_by_role("button", name="Create storage profile").click()
    # In the field's words, not the DTO's: the label where the API named S3STS.bucketPrefix.
    expect(page.get_by_role("alert")).to_have_text(re.compile(
        r"^Bucket prefix \(buckets are named prefix \+ vault id\): .*must not start with xn--"))
    expect(page.locator("#field-bucketPrefix")).to_be_focused()
    assert [p for p in call(web_stack, admin, "GET", "/api/storageprofile")[1] if p["name"] == name] == []

    page.locator("#field-bucketPrefix").fill("katta-browser-")
    page.get_by_role("button", name="Create storage profile").click()
    expect(page.get_by_test_id("status")).to_have_text(f"Storage profile {name} created.")
    (created,) = [p for p in call(web_stack, admin, "GET", "/api/storageprofile")[1] if p["name"] == name]
    assert created | {"id": "-"} == {
        "id": "-", "name": name, "protocol": "S3STS", "archived": False, "endpoint": "https://s3.example.test",
        "pathStyleAccessEnabled": False, "storageClass": "STANDARD", "region": "eu-central-1",
        "regions": ["eu-central-1", "eu-west-1"], "bucketPrefix": "katta-browser-",
        "stsRoleCreateBucketClient": "arn:aws:iam::123456789012:role/katta-create",
        "stsRoleCreateBucketHub": "arn:aws:iam::123456789012:role/katta-create",
        "stsRoleAccessBucketAssumeRoleWithWebIdentity": "arn:aws:iam::123456789012:role/katta-access",
        "stsDurationSeconds": 3600, "stsSessionTag": "Vault"} | {
        k: created[k] for k in created if k not in ("id", "name", "protocol", "archived", "endpoint",
                                                    "pathStyleAccessEnabled", "storageClass", "region", "regions",
                                                    "bucketPrefix", "stsRoleCreateBucketClient",
                                                    "stsRoleCreateBucketHub",
                                                    "stsRoleAccessBucketAssumeRoleWithWebIdentity",
                                                    "stsDurationSeconds", "stsSessionTag")}

    static = f"Browser static {admin}"
    page.get_by_label("S3 static (permanent credentials)").check()
    expect(page.locator("#field-stsRoleCreateBucketHub")).to_have_count(0)  # STS fields only for STS
    page.locator("#field-name").fill(static)
    page.locator("#field-bucketPrefix").fill("katta-static-")
    page.get_by_role("button", name="Create storage profile").click()
    expect(page.get_by_test_id("status")).to_have_text(f"Storage profile {static} created.")
    assert [p["protocol"] for p in call(web_stack, admin, "GET", "/api/storageprofile")[1]
            if p["name"] == static] == ["S3STATIC"]

    page.get_by_role("button", name=f"Archive {name}…").click()
    page.get_by_role("button", name=f"Archive {name} now").click()
    expect(page.get_by_test_id("status")).to_contain_text(f"Storage profile {name} archived")
    assert call(web_stack, admin, "GET", f"/api/storageprofile/{created['id']}")[1]["archived"] is True
    assert serious_accessibility_violations(page) == []


def test_an_admin_manages_a_group(web_stack, page, admin):
    bob = web_stack.new_user("bob")
    bob_name = stored_user(web_stack, bob)["name"]  # bob has signed in once: the hub knows him
    sign_in(page, web_stack, admin)
    nav(page, "Groups")
    group = f"Auditors {admin}"
    page.get_by_label("New group's name").fill(group)
    page.get_by_role("button", name="Create group").click()
    expect(page.get_by_test_id("status")).to_have_text(f"Group {group} created.")
    panel = page.get_by_role("region", name=f"Group {group}")
    panel.get_by_label("Add a user").select_option(label=bob_name)
    panel.get_by_role("button", name="Add member").click()
    expect(page.get_by_test_id("status")).to_have_text(f"{bob_name} is a member of {group} now.")
    (listed,) = [g for g in call(web_stack, admin, "GET", "/api/groups")[1] if g["name"] == group]
    assert [m["id"] for m in call(web_stack, admin, "GET", f"/api/groups/{listed['id']}/effective-members")[1]] == [
        stored_user(web_stack, bob)["id"]]

    renamed = f"Reviewers {admin}"
    panel.get_by_label("Name", exact=True).fill(renamed)
    panel.get_by_role("button", name="Rename").click()
    expect(page.get_by_test_id("status")).to_have_text(f"Group renamed to {renamed}.")
    assert call(web_stack, admin, "GET", f"/api/groups/{listed['id']}")[1]["name"] == renamed
    panel = page.get_by_role("region", name=f"Group {renamed}")
    panel.get_by_role("button", name=f"Remove {bob_name}").click()
    expect(page.get_by_test_id("status")).to_have_text(f"{bob_name} is no longer a member of {renamed}.")
    assert call(web_stack, admin, "GET", f"/api/groups/{listed['id']}/effective-members")[1] == []

    panel.get_by_role("button", name=f"Delete {renamed}…").click()
    expect(panel).to_contain_text("its members lose the access they had through it")
    panel.get_by_role("button", name=f"Delete {renamed} now").click()
    expect(page.get_by_test_id("status")).to_have_text(f"Group {renamed} deleted.")
    assert call(web_stack, admin, "GET", f"/api/groups/{listed['id']}")[0] == 404


def test_an_admin_disables_a_user_whose_next_call_is_refused(web_stack, page, admin):
    bob = web_stack.new_user("bob")
    bob_name = stored_user(web_stack, bob)["name"]
    sign_in(page, web_stack, admin)
    nav(page, "Users")
    expect(page.get_by_role("heading", level=1)).to_have_text("Users")
    page.get_by_label("Search users").fill(bob)
    rows = page.get_by_role("list", name="Users").get_by_role("listitem")
    expect(rows).to_have_count(1)
    page.get_by_role("button", name=f"Disable {bob_name}").click()
    expect(page.get_by_test_id("status")).to_have_text(
        f"{bob_name} is disabled: the API refuses every request they make. Their keys, devices and vault access "
        "stay stored.")
    expect(rows.first).to_contain_text("disabled")
    status, problem = call(web_stack, bob, "GET", "/api/users/me")
    assert (status, problem["detail"]) == (403, "this account is disabled")

    page.get_by_role("button", name=f"Enable {bob_name}").click()
    expect(page.get_by_test_id("status")).to_contain_text(f"{bob_name} is enabled")
    assert call(web_stack, bob, "GET", "/api/users/me")[0] == 200
    page.get_by_label("Search users").fill("no such user at all")
    expect(page.get_by_text("No user matches “no such user at all”.")).to_be_visible()


def test_an_admin_reads_the_audit_log_page_by_page_and_exports_a_page(web_stack, page, admin):
    carol = web_stack.new_user("carol")
    carol_id = stored_user(web_stack, carol)["id"]
    for enabled in ("false", "true") * 6:  # twelve events of one type
        assert call(web_stack, admin, "PUT", f"/api/users/{carol_id}/enabled", enabled.encode(), "text/plain")[0] == 204
    sign_in(page, web_stack, admin)
    nav(page, "Audit log")
    page.get_by_label("User enabled or disabled").check()
    page.get_by_label("Events per page").select_option("10")
    page.get_by_role("button", name="Show events").click()
    expect(page.get_by_test_id("audit-page")).to_have_text("Page 1: 10 events")
    events = page.get_by_role("list", name="Audit events, newest first").get_by_role("listitem")
    first_ids = [int(i) for i in events.evaluate_all("items => items.map(i => i.dataset.eventId)")]
    expect(events.first).to_contain_text(f"enabled {stored_user(web_stack, carol)['name']}.")

    # What the page showed is what the API answers for the same query, page by page.
    start = page.locator("#field-startDate").input_value()
    period = {"startDate": _instant(page, start), "endDate": _instant(page, page.locator("#field-endDate").input_value()),
              "pageSize": 10, "type": "USER_ENABLED_CHANGE"}
    api_first = call(web_stack, admin, "GET", "/api/auditlog?" + urllib.parse.urlencode(period))[1]
    assert [e["id"] for e in api_first] == first_ids

    with page.expect_download() as json_download:
        page.get_by_role("button", name="Export this page as JSON").click()
    assert json_download.value.suggested_filename == "katta-audit-page-1.json"
    assert json.loads(open(json_download.value.path()).read()) == api_first

    page.get_by_role("button", name="Older events").click()
    expect(page.get_by_test_id("audit-page")).to_contain_text("Page 2:")
    second_ids = [int(i) for i in events.evaluate_all("items => items.map(i => i.dataset.eventId)")]
    api_second = call(web_stack, admin, "GET", "/api/auditlog?" + urllib.parse.urlencode(
        {**period, "paginationId": first_ids[-1]}))[1]
    assert second_ids == [e["id"] for e in api_second] and len(second_ids) >= 2
    assert set(first_ids).isdisjoint(second_ids) and max(second_ids) < min(first_ids)

    with page.expect_download() as csv_download:
        page.get_by_role("button", name="Export this page as CSV").click()
    assert csv_download.value.suggested_filename == "katta-audit-page-2.csv"
    rows = list(csv.DictReader(io.StringIO(open(csv_download.value.path(), newline="").read())))
    assert [int(r["id"]) for r in rows] == second_ids
    assert {r["type"] for r in rows} == {"USER_ENABLED_CHANGE"} and {r["enabled"] for r in rows} <= {"True", "true", "False", "false"}

    page.get_by_role("button", name="Newer events").click()
    expect(page.get_by_test_id("audit-page")).to_have_text("Page 1: 10 events")
    assert serious_accessibility_violations(page) == []


def _instant(page, local: str) -> str:
    """The browser's own reading of a datetime-local value, as the page sends it."""
    return page.evaluate("value => new Date(value).toISOString()", local)


def test_an_admin_changes_settings_and_a_setting_that_cannot_work_is_named(web_stack, page, admin):
    before = call(web_stack, admin, "GET", "/api/settings")[1]
    sign_in(page, web_stack, admin)
    nav(page, "Settings")
    try:
        page.locator("#field-wotIdVerifyLen").fill(str(before["wotIdVerifyLen"] + 1))
        page.get_by_role("button", name="Save settings").click()
        expect(page.get_by_test_id("status")).to_have_text("Settings saved.")
        after = call(web_stack, admin, "GET", "/api/settings")[1]
        assert after == before | {"wotIdVerifyLen": before["wotIdVerifyLen"] + 1}

        if not before.get("enableEmergencyAccess"):
            page.get_by_label("Enable emergency access").check()
        page.locator("#field-defaultRequiredEmergencyKeyShares").fill("1")
        page.get_by_role("button", name="Save settings").click()
        expect(page.get_by_role("alert")).to_contain_text("Council members needed to recover a vault (at least 2): must be at least 2")
        expect(page.locator("#field-defaultRequiredEmergencyKeyShares")).to_be_focused()
        assert call(web_stack, admin, "GET", "/api/settings")[1] == after  # nothing half-written
    finally:
        call(web_stack, admin, "PUT", "/api/settings", {k: v for k, v in before.items() if k != "hubId"})


def test_a_non_admin_sees_no_admin_links_and_the_apis_refusal(web_stack, page):
    dave = web_stack.new_user("dave")
    page.goto(web_stack.api_url + "/app/admin/users")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("User name").fill(dave)
    page.get_by_label("Password").fill(dave)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(web_stack.api_url + "/app/admin/users")
    expect(page.get_by_role("alert")).to_have_text("this operation needs the role 'admin'")
    links = page.get_by_role("navigation", name="Pages").get_by_role("link")
    # No admin link; the vault, device and account links wait for his keys (he has set none up).
    expect(links).to_have_text(["Emergency access"])
    assert serious_accessibility_violations(page) == []


def test_the_admin_pages_fit_a_phone(web_stack, browser, admin):
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        sign_in(page, web_stack, admin)
        for name in ("Users", "Groups", "Storage", "Audit log", "Settings", "Emergency access"):
            nav(page, name)
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            expect(page.get_by_role("alert")).to_have_count(0)
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"the {name} page scrolls sideways on a phone"
            assert serious_accessibility_violations(page) == [], name
    finally:
        context.close()


def test_the_admin_pages_are_loaded_only_when_opened(web_stack, page, admin):
    scripts = []
    page.on("request", lambda request: scripts.append(request.url) if request.resource_type == "script" else None)
    sign_in(page, web_stack, admin)
    expect(page.get_by_test_id("signed-in-as")).to_be_visible()
    assert not any(re.search(r"/(Audit|Users)Page-", url) for url in scripts)
    nav(page, "Audit log")
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    assert any(re.search(r"/AuditPage-", url) for url in scripts)
