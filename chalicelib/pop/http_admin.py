"""Admin endpoints of key management (role ``admin``). Responses carry metadata, never material."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from chalicelib import deps
from chalicelib.auth import authenticate
from chalicelib.crypto import admin
from chalicelib.pop.blueprint import bp
from chalicelib.web import json_response, parse_body, route


class FloorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1)


class RewrapVersionsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kmsKeyId: str | None = Field(default=None, min_length=1, max_length=2048)


def _admin() -> str:
    principal = authenticate(bp.current_request)
    principal.require_role("admin")
    return principal.user_id


@route(bp, "/api/admin/keys")
def list_keys():
    _admin()
    return json_response(admin.overview(deps.key_rings(), deps.pop_keys()))


@route(bp, "/api/admin/keys/pop/{use}/rotate", methods=("POST",))
def rotate_pop(use: str):
    actor = _admin()
    return json_response(admin.rotate_pop(deps.pop_keys(), use, actor))


@route(bp, "/api/admin/keys/rings/{ring}/rotate", methods=("POST",))
def rotate_ring(ring: str):
    actor = _admin()
    return json_response(admin.rotate_ring(deps.key_rings(), ring, actor))


@route(bp, "/api/admin/keys/rings/{ring}/min-decryption-version", methods=("PUT",))
def set_min_decryption_version(ring: str):
    actor = _admin()
    body = parse_body(bp.current_request, FloorBody)
    return json_response(admin.set_floor(deps.key_rings(), ring, body.version, actor))


@route(bp, "/api/admin/keys/rings/{ring}/trim", methods=("POST",))
def trim_ring(ring: str):
    actor = _admin()
    return json_response(admin.trim(deps.key_rings(), ring, actor))


@route(bp, "/api/admin/keys/rings/{ring}/rewrap", methods=("POST",))
def rewrap_records(ring: str):
    _admin()
    return json_response(admin.rewrap_records(deps.key_rings(), ring))


@route(bp, "/api/admin/keys/rings/{ring}/rewrap-versions", methods=("POST",))
def rewrap_versions(ring: str):
    actor = _admin()
    request = bp.current_request
    body = parse_body(request, RewrapVersionsBody) if request.raw_body else RewrapVersionsBody()
    return json_response(admin.rewrap_versions(deps.key_rings(), ring, body.kmsKeyId, actor))
