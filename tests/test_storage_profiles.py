"""Storage profiles: admins create, every user reads, nobody edits; archiving is the only change."""
from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from tests.support.katta_api import Actor, body
from tests.support.storage_world import STATIC_PROFILE, STS_PROFILE, world  # noqa: F401 — fixture


def archive(actor, profile_id: str, fields=None, content_type="application/x-www-form-urlencoded"):
    fields = {"archived": "true"} if fields is None else fields
    payload = urlencode(fields, doseq=True) if content_type.endswith("urlencoded") else json.dumps(fields)
    return actor.call("PUT", f"/api/storageprofile/{profile_id}", payload, content_type=content_type)


def test_admin_creates_an_sts_profile_and_the_server_assigns_the_id(world):
    response = world.admin.call("POST", "/api/storageprofile", {**STS_PROFILE, "id": "client-chosen"})
    assert response.status_code == 201, response.body
    profile = body(response)
    assert profile["id"] != "client-chosen"
    assert profile["archived"] is False
    assert {k: profile[k] for k in STS_PROFILE} == STS_PROFILE
    assert body(world.bob.get(f"/api/storageprofile/{profile['id']}")) == profile


def test_admin_creates_a_static_profile_with_defaults(world):
    profile = body(world.admin.call("POST", "/api/storageprofile", STATIC_PROFILE))
    assert profile["protocol"] == "S3STATIC"
    assert profile["storageClass"] == "STANDARD"
    assert profile["pathStyleAccessEnabled"] is False
    assert "stsRoleCreateBucketClient" not in profile


def test_creation_is_audited(world):
    profile = world.profile()
    events = world.audit_events("STORAGE_PROFILE_CREATE")
    assert [(e["createdBy"], e["storageProfileId"]) for e in events] == [(world.admin.id, profile["id"])]


def test_a_user_cannot_create_a_profile(world):
    response = world.alice.call("POST", "/api/storageprofile", STS_PROFILE)
    assert response.status_code == 403
    assert body(world.admin.get("/api/storageprofile")) == []


def test_anonymous_callers_cannot_read_profiles(world):
    assert world.client.http.get("/api/storageprofile").status_code == 401


def test_a_caller_without_the_user_role_cannot_read_profiles(world, client, issuer):
    world.profile()
    assert Actor(client, issuer, "guest", roles=()).get("/api/storageprofile").status_code == 403


def test_every_user_reads_the_profiles_and_filters_by_archived(world):
    first = world.profile(name="B profile")
    second = world.profile(name="A profile")
    assert [p["id"] for p in body(world.bob.get("/api/storageprofile"))] == [second["id"], first["id"]]
    assert archive(world.admin, first["id"]).status_code == 204
    assert [p["id"] for p in body(world.bob.get("/api/storageprofile?archived=false"))] == [second["id"]]
    assert [p["id"] for p in body(world.bob.get("/api/storageprofile?archived=true"))] == [first["id"]]
    assert world.bob.get("/api/storageprofile?archived=maybe").status_code == 400


def test_unknown_profile_is_404_and_a_malformed_id_400(world):
    assert world.bob.get("/api/storageprofile/0f8e0d9a-5b7c-4d3e-9f21-0a1b2c3d4e5f").status_code == 404
    assert world.bob.get("/api/storageprofile/not-a-uuid").status_code == 400


@pytest.mark.parametrize("change, value", [
    ("bucketPrefix", "other-"), ("name", "Renamed"), ("endpoint", "https://s3.evil.test"),
    ("stsRoleAccessBucketAssumeRoleWithWebIdentity", "arn:aws:iam::1:role/any"),
])
def test_profiles_are_immutable(world, change, value):
    profile = world.profile()
    for content_type in ("application/x-www-form-urlencoded", "application/json"):
        response = archive(world.admin, profile["id"], {change: value}, content_type)
        assert response.status_code == 400
        assert "immutable" in body(response)["detail"]
        response = archive(world.admin, profile["id"], {"archived": "true", change: value}, content_type)
        assert response.status_code == 400
    assert body(world.bob.get(f"/api/storageprofile/{profile['id']}")) == profile


def test_unarchiving_is_refused(world):
    profile = world.profile()
    archive(world.admin, profile["id"])
    assert archive(world.admin, profile["id"], {"archived": "false"}).status_code == 400
    assert archive(world.admin, profile["id"], {}).status_code == 400
    assert body(world.bob.get(f"/api/storageprofile/{profile['id']}"))["archived"] is True


def test_an_oversized_archive_body_is_413_and_archives_nothing(world):
    from chalicelib.settings import get_settings

    profile = world.profile()
    padding = "x" * get_settings().max_body_bytes
    response = world.admin.call("PUT", f"/api/storageprofile/{profile['id']}", f"archived=true&pad={padding}",
                                content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert body(world.bob.get(f"/api/storageprofile/{profile['id']}"))["archived"] is False


def test_admin_archives_with_form_or_json_and_archiving_twice_is_harmless(world):
    first, second = world.profile(), world.profile()
    assert archive(world.admin, first["id"]).status_code == 204
    assert archive(world.admin, first["id"]).status_code == 204
    assert archive(world.admin, second["id"], {"archived": True}, "application/json").status_code == 204
    archived = body(world.bob.get(f"/api/storageprofile/{first['id']}"))
    assert archived == {**first, "archived": True}
    events = world.audit_events("STORAGE_PROFILE_ARCHIVE")
    assert sorted(e["storageProfileId"] for e in events) == sorted([first["id"], second["id"]])


def test_a_user_cannot_archive(world):
    profile = world.profile()
    assert archive(world.alice, profile["id"]).status_code == 403
    assert body(world.bob.get(f"/api/storageprofile/{profile['id']}"))["archived"] is False


def test_archiving_an_unknown_profile_is_404(world):
    assert archive(world.admin, "0f8e0d9a-5b7c-4d3e-9f21-0a1b2c3d4e5f").status_code == 404


@pytest.mark.parametrize("field, value", [
    ("protocol", "FTP"), ("bucketPrefix", "Katta"), ("bucketPrefix", "katta_"), ("bucketPrefix", ""),
    ("bucketPrefix", "x" * 28), ("bucketPrefix", "xn--katta"), ("bucketPrefix", "-katta"),
    ("storageClass", "COLD"), ("region", "mars-1"), ("regions", []), ("endpoint", "ftp://s3.test"),
    ("endpoint", "https://s3.test/?x=1"), ("stsRoleCreateBucketClient", "role/katta"), ("stsDurationSeconds", 60),
    ("name", ""), ("bucketVersioning", True),
])
def test_invalid_profiles_are_refused_naming_the_field(world, field, value):
    response = world.admin.call("POST", "/api/storageprofile", {**STS_PROFILE, field: value})
    assert response.status_code == 400, (field, value)
    assert body(world.admin.get("/api/storageprofile")) == []


@pytest.mark.parametrize("missing", ["bucketPrefix", "regions", "stsRoleCreateBucketClient",
                                     "stsRoleAccessBucketAssumeRoleWithWebIdentity", "protocol", "name"])
def test_required_fields_are_required(world, missing):
    profile = {k: v for k, v in STS_PROFILE.items() if k != missing}
    assert world.admin.call("POST", "/api/storageprofile", profile).status_code == 400
