"""Whatever a write route accepts, the matching read route answers as the same JSON.

DynamoDB hands numbers back as ``Decimal``; a read path that serialized one
answered 500 for good (issue 13: ``GET /api/settings`` after any ``PUT``).
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import deps
from tests.support.katta_api import Actor, body
from tests.support.katta_keys import DeviceKeys, new_vault_id
from tests.support.kms import create_management_key
from tests.support.storage_world import STATIC_PROFILE, STS_PROFILE

SETTINGS = st.fixed_dictionaries({
    "wotMaxDepth": st.integers(0, 9), "wotIdVerifyLen": st.integers(0, 64),
    "enableAutomaticAccessGrant": st.booleans(), "automaticAccessGrantTrustThreshold": st.integers(-1, 9),
    "allowAutomaticAccessGrantOverride": st.booleans(),
})


@pytest.fixture
def admin(client, issuer):
    return Actor(client, issuer, "ada", roles=("user", "admin", "create-vaults")).sign_in().set_up_keys()


def test_settings_read_back_after_the_body_the_read_returned(admin):
    current = body(admin.get("/api/settings"))
    assert admin.call("PUT", "/api/settings", current).status_code == 204
    again = admin.get("/api/settings")
    assert again.status_code == 200 and body(again) == current


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=SETTINGS)
def test_settings_read_back_as_written(admin, values):
    sent = {**body(admin.get("/api/settings")), **values}
    assert admin.call("PUT", "/api/settings", sent).status_code == 204
    assert body(admin.get("/api/settings")) == sent
    # Web-of-trust reads the depth back for every signature chain: it must survive the round trip too.
    assert admin.get("/api/users/trusted").status_code == 200


def test_a_device_reads_back_as_registered(admin):
    device = DeviceKeys.generate()
    sent = device.dto("Phone")
    assert admin.call("PUT", f"/api/devices/{device.id}", sent).status_code == 201
    stored = body(admin.get(f"/api/devices/{device.id}"))
    assert {k: stored[k] for k in sent} == sent
    mine = body(admin.get("/api/users/me?withDevices=true"))["devices"]
    assert mine == [stored]


@pytest.mark.parametrize("profile", [STS_PROFILE, STATIC_PROFILE], ids=["S3STS", "S3STATIC"])
def test_a_storage_profile_reads_back_as_created(admin, profile):
    create_management_key()
    created = admin.call("POST", "/api/storageprofile", profile)
    assert created.status_code == 201, created.body
    profile_id = body(created)["id"]
    listed = [p for p in body(admin.get("/api/storageprofile")) if p["id"] == profile_id]
    assert listed == [body(admin.get(f"/api/storageprofile/{profile_id}"))]
    assert {k: listed[0][k] for k in profile if k in listed[0] and not k.startswith("aws")} == \
        {k: v for k, v in profile.items() if k in listed[0] and not k.startswith("aws")}


def test_counters_and_audit_ids_are_json_integers(admin):
    assert admin.call("POST", "/api/groups", {"name": "Team"}).status_code == 201
    assert admin.call("POST", f"/api/groups/team/members/{admin.id}").status_code in (200, 201, 204)
    vault_id = new_vault_id()
    admin.create_vault(vault_id)
    assert admin.call("PUT", f"/api/vaults/{vault_id}/groups/team?role=MEMBER").status_code == 201
    (group,) = body(admin.get("/api/groups"))
    assert (group["memberSize"], group["vaultCount"]) == (1, 1)
    events = body(admin.get("/api/auditlog?startDate=2000-01-01T00:00:00Z&endDate=2100-01-01T00:00:00Z"))
    assert events and all(type(e["id"]) is int for e in events)


def test_every_number_a_repository_reads_is_an_int(admin):
    deps.table().put({"pk": "TEST#numbers", "sk": "N", "count": 3, "nested": {"list": [1, 2]},
                      "ratio": Decimal("0.5")})
    item = deps.table().get("TEST#numbers", "N")
    assert (type(item["count"]), item["nested"], item["ratio"]) == (int, {"list": [1, 2]}, 0.5)


def test_fields_a_settings_update_leaves_out_keep_their_values(admin):
    full = {**body(admin.get("/api/settings")), "wotMaxDepth": 5, "enableAutomaticAccessGrant": True,
            "automaticAccessGrantTrustThreshold": 2}
    assert admin.call("PUT", "/api/settings", full).status_code == 204
    hubs_form = {"hubId": full["hubId"], "wotMaxDepth": 4, "wotIdVerifyLen": 3}  # what Hub's web client sends
    assert admin.call("PUT", "/api/settings", hubs_form).status_code == 204
    assert body(admin.get("/api/settings")) == {**full, "wotMaxDepth": 4, "wotIdVerifyLen": 3}
    refused = admin.call("PUT", "/api/settings", {"wotMaxDepth": 10})
    assert refused.status_code == 400 and body(refused)["errors"][0]["field"] == "wotMaxDepth"
    assert body(admin.get("/api/settings"))["wotMaxDepth"] == 4  # nothing written
