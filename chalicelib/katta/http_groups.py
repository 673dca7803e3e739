"""``/api/groups…`` (admin) and ``/api/authorities…`` (any user)."""
from chalice import Response

from chalicelib.apidoc import Operation
from chalicelib.auth import authenticate
from chalicelib.errors import InvalidField
from chalicelib.katta import groups, params
from chalicelib.katta.blueprint import bp
from chalicelib.katta.dtos import (
    AuthorityDto, AuthorityIdsQuery, AuthoritySearchQuery, GroupDetailsDto, GroupDto, UserDto,
)
from chalicelib.katta.formats import GroupInput
from chalicelib.web import bool_param, json_response, parse_body, query_param, route

GROUPS = ("Groups Resource",)
AUTHORITIES = ("Authority Resource",)


def _admin():
    principal = authenticate(bp.current_request)
    principal.require_role("admin")
    return principal


def _group_id(value: str) -> str:
    return params.authority_id(value, "groupId")


@route(bp, "/api/groups", doc=Operation(
    "every admin-managed group (admin)", "bearer", {200: list[GroupDto]}, tags=GROUPS))
def get_groups():
    _admin()
    return json_response(groups.all_groups())


@route(bp, "/api/groups", methods=("POST",), doc=Operation(
    "creates a group; its id is derived from its name (admin)", "bearer", {201: GroupDto}, body=GroupInput,
    tags=GROUPS))
def post_group():
    _admin()
    return json_response(groups.create(parse_body(bp.current_request, GroupInput)), status=201)


@route(bp, "/api/groups/{groupId}", doc=Operation(
    "a group with its members and its vaults (admin)", "bearer", {200: GroupDetailsDto}, tags=GROUPS))
def get_group(groupId):
    _admin()
    return json_response(groups.details(_group_id(groupId)))


@route(bp, "/api/groups/{groupId}", methods=("PUT",), doc=Operation(
    "renames a group or changes its picture (admin)", "bearer", {200: GroupDto}, body=GroupInput, tags=GROUPS))
def put_group(groupId):
    _admin()
    group_id = _group_id(groupId)
    return json_response(groups.update(group_id, parse_body(bp.current_request, GroupInput)))


@route(bp, "/api/groups/{groupId}", methods=("DELETE",), doc=Operation(
    "removes a group, its memberships and its vault memberships (admin)", "bearer", {204: None}, tags=GROUPS))
def delete_group(groupId):
    principal = _admin()
    groups.delete(principal, _group_id(groupId))
    return Response(body="", status_code=204)


@route(bp, "/api/groups/{groupId}/effective-members", doc=Operation(
    "the users of a group (admin)", "bearer", {200: list[UserDto]}, tags=GROUPS))
def get_effective_members(groupId):
    _admin()
    return json_response(groups.effective_members(_group_id(groupId)))


@route(bp, "/api/groups/{groupId}/members/{userId}", methods=("POST",), doc=Operation(
    "adds a user to a group (admin)", "bearer", {204: None}, tags=GROUPS))
def post_group_member(groupId, userId):
    principal = _admin()
    groups.add_member(principal, _group_id(groupId), params.authority_id(userId, "userId"))
    return Response(body="", status_code=204)


@route(bp, "/api/groups/{groupId}/members/{userId}", methods=("DELETE",), doc=Operation(
    "removes a user from a group (admin)", "bearer", {204: None}, tags=GROUPS))
def delete_group_member(groupId, userId):
    principal = _admin()
    groups.remove_member(principal, _group_id(groupId), params.authority_id(userId, "userId"))
    return Response(body="", status_code=204)


@route(bp, "/api/authorities", doc=Operation(
    "the users and groups with the given ids", "bearer", {200: list[AuthorityDto]}, query=AuthorityIdsQuery,
    tags=AUTHORITIES))
def get_authorities():
    principal = authenticate(bp.current_request)
    principal.require_role("user")
    ids = [params.authority_id(a, "ids") for a in params.id_list(bp.current_request)]
    return json_response(groups.authorities(ids))


@route(bp, "/api/authorities/search", doc=Operation(
    "users and groups whose name starts with the query (case-insensitive, at most 50)", "bearer",
    {200: list[AuthorityDto]}, query=AuthoritySearchQuery, tags=AUTHORITIES))
def search_authorities():
    principal = authenticate(bp.current_request)
    principal.require_role("user")
    query = (query_param(bp.current_request, "query") or "").strip()
    if not query or len(query) > 255:
        raise InvalidField([{"field": "query", "reason": "must hold 1 to 255 non-blank characters"}])
    return json_response(groups.search(query, bool_param(bp.current_request, "withMemberSize")))
