"""``/api/users/trusted…`` (web of trust), ``/api/settings`` and ``/api/auditlog``."""
import re

from chalice import Response

from chalicelib import deps
from chalicelib.apidoc import Operation
from chalicelib.katta import params
from chalicelib.katta.blueprint import bp
from chalicelib.katta.formats import JWS_PATTERN, MAX_JWS_CHARS, HubSettingsInput
from chalicelib.web import json_response, parse_body, route

_JWS = re.compile(JWS_PATTERN)
USERS = ("Users Resource",)
SETTINGS = ("Settings Resource",)


@route(bp, "/api/users/trusted", role="user", doc=Operation(
    "the users the caller trusts: the shortest chain of signatures to each, up to the hub's wotMaxDepth",
    "bearer", {200: "list[TrustedUserDto]"}, tags=USERS))
def get_trusted_users(principal):
    return json_response(deps.trust_service().trusted_users(principal))


@route(bp, "/api/users/trusted/{userId}", role="user", doc=Operation(
    "the shortest chain of signatures from the caller to a user; 404 if there is none short enough", "bearer",
    {200: "TrustedUserDto"}, tags=USERS))
def get_trusted_user(principal, userId):
    return json_response(deps.trust_service().trusted_user(principal, params.authority_id(userId, "userId")))


@route(bp, "/api/users/trusted/{userId}", methods=("PUT",), role="user", content_types=["text/plain"], doc=Operation(
    "stores the caller's signature (a compact JWS) of a user's identity", "bearer", {204: None}, body=str,
    body_media_type="text/plain", tags=USERS))
def put_trusted_user(principal, userId):
    user_id = params.authority_id(userId, "userId")
    signature = params.text_body(bp.current_request)
    if len(signature) > MAX_JWS_CHARS or not _JWS.fullmatch(signature):
        raise params.invalid("body", "must be a compact JWS")
    deps.trust_service().sign(principal, user_id, signature)
    return Response(body="", status_code=204)


@route(bp, "/api/settings", role="user", doc=Operation(
    "the hub's web-of-trust and automatic access grant settings", "bearer", {200: "SettingsDto"},
    tags=SETTINGS))
def get_hub_settings(principal):
    return json_response(deps.hub_settings_service().current())


@route(bp, "/api/settings", methods=("PUT",), role="admin", doc=Operation(
    "changes the hub's settings (admin)", "bearer", {204: None}, body=HubSettingsInput, tags=SETTINGS))
def put_hub_settings(principal):
    deps.hub_settings_service().update(principal, parse_body(bp.current_request, HubSettingsInput))
    return Response(body="", status_code=204)


@route(bp, "/api/auditlog", role="admin", doc=Operation(
    "one page of audit events in a period, newest first unless order=asc (admin)", "bearer",
    {200: "list[AuditEvent]"}, query="AuditLogQuery", tags=("Audit Log Resource",)))
def get_audit_log(principal):
    query = params.audit_log_query(bp.current_request)
    return json_response(deps.audit_log().events(
        query.start, query.end, descending=query.descending, after_id=query.after_id, page_size=query.page_size,
        types=query.types))
