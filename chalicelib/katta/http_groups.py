"""``/api/groups…`` (admin) and ``/api/authorities…`` (any user)."""
from chalice import Response

from chalicelib.auth import authenticate
from chalicelib.errors import InvalidField
from chalicelib.katta import groups, params
from chalicelib.katta.blueprint import bp
from chalicelib.katta.formats import GroupInput
from chalicelib.web import bool_param, json_response, parse_body, query_param, route


def _admin():
    principal = authenticate(bp.current_request)
    principal.require_role("admin")
    return principal


def _group_id(value: str) -> str:
    return params.authority_id(value, "groupId")


@route(bp, "/api/groups")
def get_groups():
    _admin()
    return json_response(groups.all_groups())


@route(bp, "/api/groups", methods=("POST",))
def post_group():
    _admin()
    return json_response(groups.create(parse_body(bp.current_request, GroupInput)), status=201)


@route(bp, "/api/groups/{groupId}")
def get_group(groupId):
    _admin()
    return json_response(groups.details(_group_id(groupId)))


@route(bp, "/api/groups/{groupId}", methods=("PUT",))
def put_group(groupId):
    _admin()
    group_id = _group_id(groupId)
    return json_response(groups.update(group_id, parse_body(bp.current_request, GroupInput)))


@route(bp, "/api/groups/{groupId}", methods=("DELETE",))
def delete_group(groupId):
    principal = _admin()
    groups.delete(principal, _group_id(groupId))
    return Response(body="", status_code=204)


@route(bp, "/api/groups/{groupId}/effective-members")
def get_effective_members(groupId):
    _admin()
    return json_response(groups.effective_members(_group_id(groupId)))


@route(bp, "/api/groups/{groupId}/members/{userId}", methods=("POST",))
def post_group_member(groupId, userId):
    principal = _admin()
    groups.add_member(principal, _group_id(groupId), params.authority_id(userId, "userId"))
    return Response(body="", status_code=204)


@route(bp, "/api/groups/{groupId}/members/{userId}", methods=("DELETE",))
def delete_group_member(groupId, userId):
    principal = _admin()
    groups.remove_member(principal, _group_id(groupId), params.authority_id(userId, "userId"))
    return Response(body="", status_code=204)


@route(bp, "/api/authorities")
def get_authorities():
    principal = authenticate(bp.current_request)
    principal.require_role("user")
    ids = [params.authority_id(a, "ids") for a in params.id_list(bp.current_request)]
    return json_response(groups.authorities(ids))


@route(bp, "/api/authorities/search")
def search_authorities():
    principal = authenticate(bp.current_request)
    principal.require_role("user")
    query = (query_param(bp.current_request, "query") or "").strip()
    if not query or len(query) > 255:
        raise InvalidField([{"field": "query", "reason": "must hold 1 to 255 non-blank characters"}])
    return json_response(groups.search(query, bool_param(bp.current_request, "withMemberSize")))
