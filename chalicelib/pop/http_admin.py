"""Admin endpoints of key management (role ``admin``). Responses carry metadata, never material."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from chalicelib import deps
from chalicelib.apidoc import Operation
from chalicelib.pop.blueprint import bp
from chalicelib.web import json_response, parse_body, route


_TAGS = ("key management",)


class FloorBody(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    version: int = Field(ge=1)


class RewrapVersionsBody(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    kmsKeyId: str | None = Field(default=None, min_length=1, max_length=2048)


class RingVersion(BaseModel):
    model_config = ConfigDict(defer_build=True)

    version: int
    kmsKey: str
    createdAt: int


class Ring(BaseModel):
    """A key ring's versions and floors: metadata, never a key."""

    model_config = ConfigDict(defer_build=True)

    name: str
    latestVersion: int
    minDecryptionVersion: int
    minAvailableVersion: int
    createdAt: int
    updatedAt: int
    versions: list[RingVersion]


class PopKeyMetadata(BaseModel):
    model_config = ConfigDict(defer_build=True)

    kid: str
    use: str
    alg: str
    state: str
    createdAt: int
    activateAt: int | None
    activatedAt: int | None
    deactivatedAt: int | None
    retiredAt: int | None


class KeysOverview(BaseModel):
    model_config = ConfigDict(defer_build=True)

    rings: list[Ring]
    pop: dict[str, list[PopKeyMetadata]]


class PendingPopKey(BaseModel):
    model_config = ConfigDict(defer_build=True)

    kid: str
    activateAt: int | None


class PopRotation(BaseModel):
    """What one rotation step changed; ``pending`` is the key published ahead of its activation."""

    model_config = ConfigDict(defer_build=True)

    use: str
    created: str | None
    activated: str | None
    deactivated: str | None
    retired: list[str]
    pending: PendingPopKey | None


class Trimmed(BaseModel):
    model_config = ConfigDict(defer_build=True)

    trimmed: list[int]
    ring: Ring


class RewrapReport(BaseModel):
    model_config = ConfigDict(defer_build=True)

    rewrapped: int
    retired: int
    unreadable: int
    conflicts: int


class RewrappedVersions(BaseModel):
    model_config = ConfigDict(defer_build=True)

    rewrapped: int
    ring: Ring


@route(bp, "/api/admin/keys", role="admin", doc=Operation(
    "Every key ring and POP key, as metadata", "bearer", {200: KeysOverview}, tags=_TAGS))
def list_keys(principal):
    return json_response(deps.key_admin_service().overview())


@route(bp, "/api/admin/keys/pop/{use}/rotate", methods=("POST",), role="admin", doc=Operation(
    "Starts a rotation of the POP keys of one use (sig or enc) now", "bearer", {200: PopRotation}, tags=_TAGS))
def rotate_pop(principal, use: str):
    return json_response(deps.key_admin_service().rotate_pop(use, principal.user_id))


@route(bp, "/api/admin/keys/rings/{ring}/rotate", methods=("POST",), role="admin", doc=Operation(
    "Adds a key-ring version that seals from now on", "bearer", {200: Ring}, tags=_TAGS))
def rotate_ring(principal, ring: str):
    return json_response(deps.key_admin_service().rotate_ring(ring, principal.user_id))


@route(bp, "/api/admin/keys/rings/{ring}/min-decryption-version", methods=("PUT",), role="admin", doc=Operation(
    "Raises or lowers the oldest version a record may be opened with", "bearer", {200: Ring}, body=FloorBody,
    tags=_TAGS))
def set_min_decryption_version(principal, ring: str):
    body = parse_body(bp.current_request, FloorBody)
    return json_response(deps.key_admin_service().set_floor(ring, body.version, principal.user_id))


@route(bp, "/api/admin/keys/rings/{ring}/trim", methods=("POST",), role="admin", doc=Operation(
    "Deletes the versions below the floor, for good", "bearer", {200: Trimmed}, tags=_TAGS))
def trim_ring(principal, ring: str):
    return json_response(deps.key_admin_service().trim(ring, principal.user_id))


@route(bp, "/api/admin/keys/rings/{ring}/rewrap", methods=("POST",), role="admin", doc=Operation(
    "Re-seals every record of older versions under the newest one", "bearer", {200: RewrapReport}, tags=_TAGS))
def rewrap_records(principal, ring: str):
    return json_response(deps.key_admin_service().rewrap_records(ring))


@route(bp, "/api/admin/keys/rings/{ring}/rewrap-versions", methods=("POST",), role="admin", doc=Operation(
    "Re-wraps every version's key under a KMS key (default: the configured management key)", "bearer",
    {200: RewrappedVersions}, body=RewrapVersionsBody, body_required=False, tags=_TAGS))
def rewrap_versions(principal, ring: str):
    request = bp.current_request
    body = parse_body(request, RewrapVersionsBody) if request.raw_body else RewrapVersionsBody()
    return json_response(deps.key_admin_service().rewrap_versions(ring, body.kmsKeyId, principal.user_id))
