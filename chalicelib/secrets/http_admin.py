"""Admin API of the secret server (role ``admin``): registered IdPs and resource servers.

IdPs are keyed by their issuer, a URL with slashes: it travels in the body of
a PUT and in the ``issuer`` query parameter (URL-encoded) of a GET or DELETE.
"""
from __future__ import annotations

import re
from typing import Any

from chalice import Response
from pydantic import BaseModel, ConfigDict
from typing_extensions import NotRequired, TypedDict

from chalicelib import deps, errors
from chalicelib.apidoc import Operation
from chalicelib.secrets.blueprint import bp
from chalicelib.web import json_response, parse_body, query_param, route

_ADMIN = "/secret-server/admin"
_TAGS = ("secret server admin",)


class _KeySourceDto(BaseModel):
    """Exactly one of the two: where the keys are fetched, or the keys themselves."""

    model_config = ConfigDict(defer_build=True)

    jwksUri: str | None = None
    jwks: dict[str, Any] | None = None
    updatedAt: int
    updatedBy: str | None


class IdpDto(_KeySourceDto):
    issuer: str
    audience: str
    audienceClaim: str
    algorithms: list[str]


class ResourceServerDto(_KeySourceDto):
    clientId: str
    description: str | None = None


class IssuerQuery(TypedDict):
    """Without ``issuer`` the GET lists every registered IdP."""

    issuer: NotRequired[str]


class RequiredIssuerQuery(TypedDict):
    issuer: str


# The registry (its input models) loads with the first admin request, not at cold start (see apidoc).
_REGISTRY = "chalicelib.secrets.registry:"


def _client_id(value: str) -> str:
    from chalicelib.secrets.registry import CLIENT_ID_PATTERN

    if not re.fullmatch(CLIENT_ID_PATTERN, value):
        raise errors.InvalidField([{"field": "clientId", "reason": "must be 1 to 128 of [-_.a-zA-Z0-9]"}])
    return value


@route(bp, _ADMIN + "/idps", role="admin", doc=Operation(
    "The registered identity providers, or the one whose issuer is given", "bearer",
    {200: IdpDto | list[IdpDto]}, query=IssuerQuery, tags=_TAGS))
def idps(principal):
    issuer = query_param(bp.current_request, "issuer")
    if issuer is None:
        return json_response(deps.secret_server_registry().idps())
    if not issuer:  # DynamoDB refuses an empty key: that was a 500 (found by schemathesis)
        raise errors.InvalidField([{"field": "issuer", "reason": "must not be empty"}])
    return json_response(deps.secret_server_registry().idp(issuer))


@route(bp, _ADMIN + "/idps", methods=("PUT",), role="admin", doc=Operation(
    "Registers (201) or replaces (200) the identity provider of an issuer", "bearer",
    {200: IdpDto, 201: IdpDto}, body=_REGISTRY + "IdpRegistration", tags=_TAGS))
def put_idp(principal):
    from chalicelib.secrets.registry import IdpRegistration

    body = parse_body(bp.current_request, IdpRegistration)
    dto, created = deps.secret_server_registry().put_idp(body, principal.user_id)
    return json_response(dto, status=201 if created else 200)


@route(bp, _ADMIN + "/idps", methods=("DELETE",), role="admin", doc=Operation(
    "Removes the identity provider of an issuer", "bearer", {204: None}, query=RequiredIssuerQuery, tags=_TAGS))
def delete_idp(principal):
    issuer = query_param(bp.current_request, "issuer")
    if not issuer:
        raise errors.InvalidField([{"field": "issuer", "reason": "the issuer to delete is required"}])
    deps.secret_server_registry().delete_idp(issuer, principal.user_id)
    return Response(body="", status_code=204)


@route(bp, _ADMIN + "/resource-servers", role="admin", doc=Operation(
    "The registered resource servers", "bearer", {200: list[ResourceServerDto]}, tags=_TAGS))
def resource_servers(principal):
    return json_response(deps.secret_server_registry().resource_servers())


@route(bp, _ADMIN + "/resource-servers/{client_id}", role="admin", doc=Operation(
    "One registered resource server", "bearer", {200: ResourceServerDto}, tags=_TAGS))
def resource_server(principal, client_id: str):
    return json_response(deps.secret_server_registry().resource_server(_client_id(client_id)))


@route(bp, _ADMIN + "/resource-servers/{client_id}", methods=("PUT",), role="admin", doc=Operation(
    "Registers (201) or replaces (200) a resource server and its keys", "bearer",
    {200: ResourceServerDto, 201: ResourceServerDto}, body=_REGISTRY + "ResourceServerRegistration", tags=_TAGS))
def put_resource_server(principal, client_id: str):
    from chalicelib.secrets.registry import ResourceServerRegistration

    body = parse_body(bp.current_request, ResourceServerRegistration)
    dto, created = deps.secret_server_registry().put_resource_server(_client_id(client_id), body, principal.user_id)
    return json_response(dto, status=201 if created else 200)


@route(bp, _ADMIN + "/resource-servers/{client_id}", methods=("DELETE",), role="admin", doc=Operation(
    "Removes a resource server", "bearer", {204: None}, tags=_TAGS))
def delete_resource_server(principal, client_id: str):
    deps.secret_server_registry().delete_resource_server(_client_id(client_id), principal.user_id)
    return Response(body="", status_code=204)
