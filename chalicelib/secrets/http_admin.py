"""Admin API of the secret server (role ``admin``): registered IdPs and resource servers.

IdPs are keyed by their issuer, a URL with slashes: it travels in the body of
a PUT and in the ``issuer`` query parameter (URL-encoded) of a GET or DELETE.
"""
from __future__ import annotations

import re

from chalice import Response

from chalicelib import deps, errors
from chalicelib.auth import authenticate
from chalicelib.secrets.blueprint import bp
from chalicelib.secrets.registry import CLIENT_ID_PATTERN, IdpRegistration, ResourceServerRegistration
from chalicelib.web import json_response, parse_body, query_param, route

_ADMIN = "/secret-server/admin"


def _admin() -> str:
    principal = authenticate(bp.current_request)
    principal.require_role("admin")
    return principal.user_id


def _client_id(value: str) -> str:
    if not re.fullmatch(CLIENT_ID_PATTERN, value):
        raise errors.InvalidField([{"field": "clientId", "reason": "must be 1 to 128 of [-_.a-zA-Z0-9]"}])
    return value


@route(bp, _ADMIN + "/idps")
def idps():
    _admin()
    issuer = query_param(bp.current_request, "issuer")
    if issuer is not None:
        return json_response(deps.secret_server_registry().idp(issuer))
    return json_response(deps.secret_server_registry().idps())


@route(bp, _ADMIN + "/idps", methods=("PUT",))
def put_idp():
    actor = _admin()
    body = parse_body(bp.current_request, IdpRegistration)
    dto, created = deps.secret_server_registry().put_idp(body, actor)
    return json_response(dto, status=201 if created else 200)


@route(bp, _ADMIN + "/idps", methods=("DELETE",))
def delete_idp():
    actor = _admin()
    issuer = query_param(bp.current_request, "issuer")
    if not issuer:
        raise errors.InvalidField([{"field": "issuer", "reason": "the issuer to delete is required"}])
    deps.secret_server_registry().delete_idp(issuer, actor)
    return Response(body="", status_code=204)


@route(bp, _ADMIN + "/resource-servers")
def resource_servers():
    _admin()
    return json_response(deps.secret_server_registry().resource_servers())


@route(bp, _ADMIN + "/resource-servers/{client_id}")
def resource_server(client_id: str):
    _admin()
    return json_response(deps.secret_server_registry().resource_server(_client_id(client_id)))


@route(bp, _ADMIN + "/resource-servers/{client_id}", methods=("PUT",))
def put_resource_server(client_id: str):
    actor = _admin()
    body = parse_body(bp.current_request, ResourceServerRegistration)
    dto, created = deps.secret_server_registry().put_resource_server(_client_id(client_id), body, actor)
    return json_response(dto, status=201 if created else 200)


@route(bp, _ADMIN + "/resource-servers/{client_id}", methods=("DELETE",))
def delete_resource_server(client_id: str):
    actor = _admin()
    deps.secret_server_registry().delete_resource_server(_client_id(client_id), actor)
    return Response(body="", status_code=204)
