"""``/api/storageprofile…`` and ``PUT /api/storage/{vaultId}``: parse, authorize, call the service, serialize."""
from __future__ import annotations

import json
from urllib.parse import parse_qs

from chalice import Response

from chalicelib import deps
from chalicelib.apidoc import Operation
from chalicelib.errors import InvalidField
from chalicelib.pop import bodies
from chalicelib.storage.blueprint import bp
from chalicelib.storage.vault_ids import canonical_vault_id
from chalicelib.katta.formats import is_uuid
from chalicelib.web import bool_param, json_response, parse_body, raw_body, route

FORM = "application/x-www-form-urlencoded"
_TAGS = ("storage",)
# The models are named, not imported: they load with the first request that validates with one (or
# with /openapi.json), not at cold start (see apidoc).
_FORMATS = "chalicelib.storage.formats:"
_SCHEMAS = "chalicelib.storage.schemas:"
IMMUTABLE = "storage profiles are immutable: the only change is archived=true (archive it and create a new one)"


def _profile_id(value: str) -> str:
    if not is_uuid(value):
        raise InvalidField([{"field": "profileId", "reason": "must be a UUID"}])
    return value.lower()


@route(bp, "/api/storageprofile", role=("user", "admin"), doc=Operation(
    "The storage profiles, sorted by name", "bearer", {200: _SCHEMAS + "list[StorageProfile]"},
    query=_SCHEMAS + "ProfilesQuery", tags=_TAGS))
def list_profiles(principal):
    request = bp.current_request
    archived = bool_param(request, "archived") if "archived" in (request.query_params or {}) else None
    return json_response(deps.storage_profile_service().listing(archived))


@route(bp, "/api/storageprofile", methods=("POST",), role="admin", doc=Operation(
    "Creates a storage profile (immutable from then on)", "bearer", {201: _SCHEMAS + "StorageProfile"},
    body=_FORMATS + "ProfileInput", tags=_TAGS))
def create_profile(principal):
    from chalicelib.storage.formats import ProfileInput

    body = parse_body(bp.current_request, ProfileInput)
    return json_response(deps.storage_profile_service().create(principal, body), status=201)


@route(bp, "/api/storageprofile/{profileId}", role=("user", "admin"), doc=Operation(
    "One storage profile", "bearer", {200: _SCHEMAS + "StorageProfile"}, tags=_TAGS))
def get_profile(principal, profileId):
    return json_response(deps.storage_profile_service().get(_profile_id(profileId)))


@route(bp, "/api/storageprofile/{profileId}", methods=("PUT",), role="admin", content_types=[FORM, "application/json"],
       doc=Operation("Archives a storage profile: no new vaults on it", "bearer", {204: None},
                     body=_SCHEMAS + "ArchiveForm", body_media_type=FORM, other_bodies={"application/json": _SCHEMAS + "ArchiveJson"}, tags=_TAGS))
def archive_profile(principal, profileId):
    profile_id = _profile_id(profileId)
    _require_archive_only(bp.current_request)
    deps.storage_profile_service().archive(principal, profile_id)
    return Response(body="", status_code=204)


def _require_archive_only(request) -> None:
    """The contract's form ``archived=true`` (or the JSON ``{"archived": true}``), and nothing else."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    raw = raw_body(request)
    try:
        if content_type == FORM:
            fields = {k: v[-1] if len(v) == 1 else v for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True,
                                                                            max_num_fields=32).items()}
        else:
            fields = json.loads(raw) if raw else {}
    except (ValueError, UnicodeDecodeError):
        raise InvalidField([{"field": "body", "reason": "not a valid form or JSON body"}]) from None
    if not isinstance(fields, dict) or set(fields) != {"archived"} or fields["archived"] not in (True, "true"):
        raise InvalidField([{"field": "archived", "reason": IMMUTABLE}])


@route(bp, "/api/storage/{vaultId}", methods=("PUT",), role="user", content_types=bodies.ACCEPTED_CONTENT_TYPES, doc=Operation(
    "Creates the vault's bucket and its template with the caller's create-bucket credentials", "bearer",
    {200: _SCHEMAS + "BucketCreated"}, body=_FORMATS + "CreateBucketInput", other_bodies={bodies.JOSE: str},
    error_statuses=(410,), tags=_TAGS))
def create_bucket(principal, vaultId):
    vault_id = canonical_vault_id(vaultId, field="vaultId")
    # JSON, or a compact JWE to a POP enc key so no proxy or log sees the credentials.
    from chalicelib.storage.formats import CreateBucketInput

    body = bodies.parse_body(bp.current_request, CreateBucketInput)
    return json_response(deps.bucket_service().create(principal, vault_id, body))
