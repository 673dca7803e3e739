"""``katta admin …`` against a live stack: settings, users, groups, the audit log and storage profiles,
each as an admin scripts it (``--json``), and refused to anybody else."""
from __future__ import annotations

import json

import pytest

from tests.support.live_stack import shared_live_stack
from tests.support.storage_world import STATIC_PROFILE
from tests.test_client_vault_flow import file_keychain, katta, ok, one_line_error  # noqa: F401 — a fixture

pytestmark = pytest.mark.slow  # a live stack


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    stack = shared_live_stack()
    root = tmp_path_factory.mktemp("admin")
    found = {}
    for name, roles in (("ada", ("user", "admin")), ("bob", ("user",)), ("carol", ("user",))):
        user = stack.new_user(name, roles=roles)
        ok(katta(stack, root / name, "login", "--username", user, "--password", user))
        ok(katta(stack, root / name, "whoami"))  # signs in: the hub knows the account
        found[name] = (user, root / name)
    return stack, found


def admin(people, *args: str):
    stack, found = people
    return ok(katta(stack, found["ada"][1], "--json", "admin", *args)).json()


def test_a_non_admin_is_refused_with_the_reason(people):
    stack, found = people
    for args in (("settings", "set", "--wot-max-depth", "1"), ("users", "list"), ("groups", "list"),
                 ("audit",), ("storage", "archive", "00000000-0000-4000-8000-000000000000")):
        one_line_error(katta(stack, found["bob"][1], "admin", *args), "admin")


def test_settings_change_only_what_is_named(people):
    before = admin(people, "settings", "show")
    after = admin(people, "settings", "set", "--wot-max-depth", "4", "--automatic-access-grant", "on")
    assert (after["wotMaxDepth"], after["enableAutomaticAccessGrant"]) == (4, True)
    assert {k: v for k, v in after.items() if k not in ("wotMaxDepth", "enableAutomaticAccessGrant")} == \
        {k: v for k, v in before.items() if k not in ("wotMaxDepth", "enableAutomaticAccessGrant")}
    stack, found = people
    one_line_error(katta(stack, found["ada"][1], "admin", "settings", "set", "--wot-max-depth", "99"), "wotMaxDepth")
    one_line_error(katta(stack, found["ada"][1], "admin", "settings", "set"), "at least one setting")
    one_line_error(katta(stack, found["ada"][1], "admin", "settings", "set", "--emergency-access", "on",
                         "--default-threshold", "1"), "at least 2")
    admin(people, "settings", "set", "--wot-max-depth", str(before["wotMaxDepth"]), "--automatic-access-grant",
          "on" if before["enableAutomaticAccessGrant"] else "off")


def test_disable_and_enable_a_user(people):
    stack, found = people
    carol, carol_cfg = found["carol"]
    (listed,) = admin(people, "users", "list", "--search", carol)
    assert listed["enabled"] is True
    assert admin(people, "users", "disable", carol) == {"id": listed["id"], "enabled": False}
    one_line_error(katta(stack, carol_cfg, "whoami"), "disabled")
    admin(people, "users", "enable", carol)
    ok(katta(stack, carol_cfg, "whoami"))
    events = admin(people, "audit", "--type", "USER_ENABLED_CHANGE", "--page-size", "100")
    assert [e["enabled"] for e in events if e["userId"] == listed["id"]] == [True, False]


def test_groups_from_creation_to_deletion(people):
    _, found = people
    bob = found["bob"][0]
    group = admin(people, "groups", "create", "Auditors " + bob)
    assert admin(people, "groups", "rename", group["id"], "Reviewers " + bob)["name"] == "Reviewers " + bob
    admin(people, "groups", "add", group["id"], bob)
    (bob_user,) = admin(people, "users", "list", "--search", bob)
    assert [m["id"] for m in admin(people, "groups", "show", group["id"])["members"]] == [bob_user["id"]]
    admin(people, "groups", "remove", group["id"], bob)
    assert admin(people, "groups", "show", group["id"])["members"] == []
    assert group["id"] in {g["id"] for g in admin(people, "groups", "list")}
    admin(people, "groups", "delete", group["id"])
    assert group["id"] not in {g["id"] for g in admin(people, "groups", "list")}


def test_audit_pages_follow_the_last_id(people):
    first = admin(people, "audit", "--page-size", "2")
    assert len(first) == 2 and first[0]["id"] > first[1]["id"]
    second = admin(people, "audit", "--page-size", "2", "--after", str(first[-1]["id"]))
    assert second and all(e["id"] < first[-1]["id"] for e in second)
    assert admin(people, "audit", "--since", "2100-01-01", "--until", "2100-02-01") == []
    stack, found = people
    one_line_error(katta(stack, found["ada"][1], "admin", "audit", "--since", "yesterday"), "ISO 8601")


def test_storage_profiles_create_list_archive(people, tmp_path):
    definition = tmp_path / "static.json"
    definition.write_text(json.dumps({**STATIC_PROFILE, "name": "Static " + tmp_path.name}))
    created = admin(people, "storage", "create", str(definition))
    assert created["protocol"] == "S3STATIC" and created["id"]
    assert created["id"] in {p["id"] for p in admin(people, "storage", "list", "--archived", "off")}
    admin(people, "storage", "archive", created["id"])
    assert created["id"] in {p["id"] for p in admin(people, "storage", "list", "--archived", "on")}
    stack, found = people
    definition.write_text("[1, 2]")
    one_line_error(katta(stack, found["ada"][1], "admin", "storage", "create", str(definition)), "one JSON object")
