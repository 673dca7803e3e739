"""The SCIM routes: authenticate the provisioning client, parse, one service call, answer in SCIM JSON.

An IdP authenticates with the provisioning secret (a long-lived bearer, since Entra ID and Okta
cannot refresh an OIDC token); an admin's own token works as well, for a one-off import by hand.
Refusals are RFC 7644 §3.12 errors, never problem JSON: IdPs show their ``detail`` to the operator.
"""
from __future__ import annotations

import functools
import json
from typing import Any, Callable

from chalice import Response
from chalice.app import Request

from chalicelib import deps, errors
from chalicelib.apidoc import JSON, Operation
from chalicelib.auth import Principal
from chalicelib.scim import BASE_PATH, ERROR_SCHEMA, SCIM_JSON, discovery, scim_type_of
from chalicelib.scim.blueprint import bp
from chalicelib.scim.formats import ScimGroupInput, ScimListQuery, ScimPatchInput, ScimUserInput
from chalicelib.settings import get_settings
from chalicelib.web import authenticate_optional, error_response, parse_body, route, to_api_error

USERS = BASE_PATH + "/Users"
GROUPS = BASE_PATH + "/Groups"
SERVICE_PROVIDER_CONFIG = BASE_PATH + "/ServiceProviderConfig"
RESOURCE_TYPES = BASE_PATH + "/ResourceTypes"
SCHEMAS = BASE_PATH + "/Schemas"
_RESOURCE = dict[str, Any]


def scim_error_response(exc: Exception, request: Request | None) -> Response:
    error = to_api_error(exc)
    if error is None or error.status >= 500:
        return _as_scim(error_response(exc, request))
    body = {"schemas": [ERROR_SCHEMA], "status": str(error.status), "detail": error.detail}
    if scim_type_of(error):
        body["scimType"] = scim_type_of(error)
    return Response(body=json.dumps(body), status_code=error.status,
                    headers={**error.headers, "Content-Type": SCIM_JSON})


def _as_scim(problem: Response) -> Response:
    """A 5xx problem (its request id, its Retry-After kept) in SCIM's error shape."""
    detail = json.loads(problem.body)
    body = {"schemas": [ERROR_SCHEMA], "status": str(problem.status_code),
            "detail": f"{detail['detail']} (request id {detail.get('requestId', '')})"}
    headers = {k: v for k, v in problem.headers.items() if k.lower() != "content-type"}
    return Response(body=json.dumps(body), status_code=problem.status_code,
                    headers={**headers, "Content-Type": SCIM_JSON})


def _caller(request: Request) -> Principal:
    # Imported here, as web.authenticate_optional does: public routes never load token verification.
    from chalicelib.auth.bearer import parse_authorization
    from chalicelib.scim.service import PROVISIONING_CLIENT
    token = parse_authorization(request.headers.get("authorization"))
    if token is None:
        raise errors.Unauthorized("the SCIM provisioning secret or an admin's bearer token is required", error=None)
    if deps.scim_service().is_provisioning_secret(token):
        return PROVISIONING_CLIENT
    principal = authenticate_optional(request, "admin")
    assert principal is not None  # a token was sent
    return principal


def _scim_route(path: str, methods: tuple[str, ...], summary: str, responses: dict[int, Any],
                body: Any = None, query: Any = None) -> Callable:
    doc = Operation(summary=summary + " (the SCIM provisioning secret or an admin's token)", security="bearer",
                    responses=responses, body=body, body_media_type=SCIM_JSON,
                    other_bodies={JSON: body} if body is not None else {}, query=query,
                    response_media_type=SCIM_JSON, tags=("scim",), error_statuses=(501,))
    options = {"content_types": [SCIM_JSON, JSON]} if body is not None else {}

    def decorator(fn: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(fn)
        def handler(**kwargs: Any) -> Response:
            return fn(_caller(bp.current_request), **kwargs)
        route(bp, path, methods, doc=doc, on_error=scim_error_response, errors_style="scim", **options)(handler)
        return fn
    return decorator


def _body(model):
    return parse_body(bp.current_request, model)


def _query() -> ScimListQuery:
    return ScimListQuery.model_validate(bp.current_request.query_params or {})


def _answer(resource: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=json.dumps(resource, separators=(",", ":")), status_code=status,
                    headers={"Content-Type": SCIM_JSON, **(headers or {})})


def _without_members(query: ScimListQuery) -> bool:
    return "members" in (query.excludedAttributes or "").split(",")


@_scim_route(USERS, ("POST",), "Provision a user", {201: _RESOURCE}, body=ScimUserInput)
def create_user(caller: Principal) -> Response:
    user = deps.scim_service().create_user(caller, _body(ScimUserInput))
    return _answer(user, 201, {"Location": user["meta"]["location"]})


@_scim_route(USERS, ("GET",), "List or find provisioned users", {200: _RESOURCE}, query=ScimListQuery)
def list_users(caller: Principal) -> Response:
    query = _query()
    return _answer(deps.scim_service().list_users(query.filter, query.startIndex, query.count))


@_scim_route(USERS + "/{userId}", ("GET",), "A provisioned user", {200: _RESOURCE})
def get_user(caller: Principal, userId: str) -> Response:
    return _answer(deps.scim_service().get_user(userId))


@_scim_route(USERS + "/{userId}", ("PUT",), "Replace a user's attributes", {200: _RESOURCE}, body=ScimUserInput)
def replace_user(caller: Principal, userId: str) -> Response:
    return _answer(deps.scim_service().replace_user(caller, userId, _body(ScimUserInput)))


@_scim_route(USERS + "/{userId}", ("PATCH",), "Change a user's attributes", {200: _RESOURCE}, body=ScimPatchInput)
def patch_user(caller: Principal, userId: str) -> Response:
    return _answer(deps.scim_service().patch_user(caller, userId, _body(ScimPatchInput)))


@_scim_route(USERS + "/{userId}", ("DELETE",), "Deprovision a user (disabled, user name released)", {204: None})
def delete_user(caller: Principal, userId: str) -> Response:
    deps.scim_service().delete_user(caller, userId)
    return Response(body="", status_code=204)


@_scim_route(GROUPS, ("POST",), "Provision a group", {201: _RESOURCE}, body=ScimGroupInput)
def create_group(caller: Principal) -> Response:
    group = deps.scim_service().create_group(_body(ScimGroupInput))
    return _answer(group, 201, {"Location": group["meta"]["location"]})


@_scim_route(GROUPS, ("GET",), "List or find groups", {200: _RESOURCE}, query=ScimListQuery)
def list_groups(caller: Principal) -> Response:
    query = _query()
    return _answer(deps.scim_service().list_groups(query.filter, query.startIndex, query.count,
                                                   not _without_members(query)))


@_scim_route(GROUPS + "/{groupId}", ("GET",), "A group and its members", {200: _RESOURCE}, query=ScimListQuery)
def get_group(caller: Principal, groupId: str) -> Response:
    return _answer(deps.scim_service().get_group(groupId, not _without_members(_query())))


@_scim_route(GROUPS + "/{groupId}", ("PUT",), "Replace a group's name and members", {200: _RESOURCE},
             body=ScimGroupInput)
def replace_group(caller: Principal, groupId: str) -> Response:
    return _answer(deps.scim_service().replace_group(groupId, _body(ScimGroupInput)))


@_scim_route(GROUPS + "/{groupId}", ("PATCH",), "Rename a group, add or remove members", {200: _RESOURCE},
             body=ScimPatchInput)
def patch_group(caller: Principal, groupId: str) -> Response:
    return _answer(deps.scim_service().patch_group(groupId, _body(ScimPatchInput)))


@_scim_route(GROUPS + "/{groupId}", ("DELETE",), "Delete a group (its vault memberships too)", {204: None})
def delete_group(caller: Principal, groupId: str) -> Response:
    deps.scim_service().delete_group(caller, groupId)
    return Response(body="", status_code=204)


# -- discovery (RFC 7644 §4): what an IdP may send -----------------------------------------------

def _base_url() -> str:
    return get_settings().public_base_url


@_scim_route(SERVICE_PROVIDER_CONFIG, ("GET",), "What this SCIM server supports", {200: _RESOURCE})
def get_service_provider_config(caller: Principal) -> Response:
    return _answer(discovery.service_provider_config(_base_url()))


@_scim_route(RESOURCE_TYPES, ("GET",), "The resource types: User and Group", {200: _RESOURCE})
def list_resource_types(caller: Principal) -> Response:
    return _answer(discovery.resource_types(_base_url()))


@_scim_route(RESOURCE_TYPES + "/{name}", ("GET",), "One resource type", {200: _RESOURCE})
def get_resource_type(caller: Principal, name: str) -> Response:
    return _answer(discovery.resource_type(_base_url(), name))


@_scim_route(SCHEMAS, ("GET",), "The User and Group schemas, with the attributes kept", {200: _RESOURCE})
def list_schemas(caller: Principal) -> Response:
    return _answer(discovery.schemas(_base_url()))


@_scim_route(SCHEMAS + "/{uri}", ("GET",), "One schema", {200: _RESOURCE})
def get_schema(caller: Principal, uri: str) -> Response:
    return _answer(discovery.schema(_base_url(), uri))
