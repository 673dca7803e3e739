"""``/api/groups…`` (admin) and ``/api/authorities…`` (any user)."""
from chalice import Response

from chalicelib.apidoc import Operation
from chalicelib.errors import InvalidField
from chalicelib import deps
from chalicelib.katta import params
from chalicelib.katta.blueprint import bp
from chalicelib.katta.formats import GroupInput
from chalicelib.web import bool_param, json_response, parse_body, query_param, route

GROUPS = ("Groups Resource",)
AUTHORITIES = ("Authority Resource",)


def _group_id(value: str) -> str:
    return params.authority_id(value, "groupId")


@route(bp, "/api/groups", role="admin", doc=Operation(
    "every admin-managed group (admin)", "bearer", {200: "list[GroupDto]"}, tags=GROUPS))
def get_groups(principal):
    return json_response(deps.group_service().all_groups())


@route(bp, "/api/groups", methods=("POST",), role="admin", doc=Operation(
    "creates a group; its id is derived from its name (admin)", "bearer", {201: "GroupDto"}, body=GroupInput,
    tags=GROUPS))
def post_group(principal):
    return json_response(deps.group_service().create(parse_body(bp.current_request, GroupInput)), status=201)


@route(bp, "/api/groups/{groupId}", role="admin", doc=Operation(
    "a group with its members and its vaults (admin)", "bearer", {200: "GroupDetailsDto"}, tags=GROUPS))
def get_group(principal, groupId):
    return json_response(deps.group_service().details(_group_id(groupId)))


@route(bp, "/api/groups/{groupId}", methods=("PUT",), role="admin", doc=Operation(
    "renames a group or changes its picture (admin)", "bearer", {200: "GroupDto"}, body=GroupInput, tags=GROUPS))
def put_group(principal, groupId):
    group_id = _group_id(groupId)
    return json_response(deps.group_service().update(group_id, parse_body(bp.current_request, GroupInput)))


@route(bp, "/api/groups/{groupId}", methods=("DELETE",), role="admin", doc=Operation(
    "removes a group, its memberships and its vault memberships (admin)", "bearer", {204: None}, tags=GROUPS))
def delete_group(principal, groupId):
    deps.group_service().delete(principal, _group_id(groupId))
    return Response(body="", status_code=204)


@route(bp, "/api/groups/{groupId}/effective-members", role="admin", doc=Operation(
    "the users of a group (admin)", "bearer", {200: "list[UserDto]"}, tags=GROUPS))
def get_effective_members(principal, groupId):
    return json_response(deps.group_service().effective_members(_group_id(groupId)))


@route(bp, "/api/groups/{groupId}/members/{userId}", methods=("POST",), role="admin", doc=Operation(
    "adds a user to a group (admin)", "bearer", {204: None}, tags=GROUPS))
def post_group_member(principal, groupId, userId):
    deps.group_service().add_member(principal, _group_id(groupId), params.authority_id(userId, "userId"))
    return Response(body="", status_code=204)


@route(bp, "/api/groups/{groupId}/members/{userId}", methods=("DELETE",), role="admin", doc=Operation(
    "removes a user from a group (admin)", "bearer", {204: None}, tags=GROUPS))
def delete_group_member(principal, groupId, userId):
    deps.group_service().remove_member(principal, _group_id(groupId), params.authority_id(userId, "userId"))
    return Response(body="", status_code=204)


@route(bp, "/api/authorities", role="user", doc=Operation(
    "the users and groups with the given ids", "bearer", {200: "list[AuthorityDto]"}, query="AuthorityIdsQuery",
    tags=AUTHORITIES))
def get_authorities(principal):
    ids = [params.authority_id(a, "ids") for a in params.id_list(bp.current_request)]
    return json_response(deps.group_service().authorities(ids))


@route(bp, "/api/authorities/search", role="user", doc=Operation(
    "users and groups whose name starts with the query, and users whose e-mail is the query "
    "(case-insensitive, at most 50)", "bearer",
    {200: "list[AuthorityDto]"}, query="AuthoritySearchQuery", tags=AUTHORITIES))
def search_authorities(principal):
    query = (query_param(bp.current_request, "query") or "").strip()
    if not query or len(query) > 255:
        raise InvalidField([{"field": "query", "reason": "must hold 1 to 255 non-blank characters"}])
    return json_response(deps.group_service().search(query, bool_param(bp.current_request, "withMemberSize")))
