from chalice import Response

from chalicelib import deps
from chalicelib.auth import authenticate
from chalicelib.katta import params, users, vaults
from chalicelib.katta.blueprint import bp
from chalicelib.katta.formats import UserKeysInput
from chalicelib.web import bool_param, json_response, parse_body, route


@route(bp, "/api/users/me")
def get_me():
    principal = authenticate(bp.current_request)
    with_devices = bool_param(bp.current_request, "withDevices")
    return json_response(users.me(deps.users(), principal, with_devices))


@route(bp, "/api/users/me", methods=("PUT",))
def put_me():
    principal = authenticate(bp.current_request)
    principal.require_role("user")
    users.update_me(principal, parse_body(bp.current_request, UserKeysInput))
    return Response(body="", status_code=201)


@route(bp, "/api/users/me/reset", methods=("POST",))
def post_reset():
    principal = authenticate(bp.current_request)
    principal.require_role("user")
    users.reset(principal)
    return Response(body="", status_code=204)


@route(bp, "/api/users/me/access-tokens", methods=("POST",))
def post_my_access_tokens():
    principal = authenticate(bp.current_request)
    principal.require_role("user")
    vaults.grant_own(principal, params.tokens_by_vault(bp.current_request))
    return Response(body="", status_code=200, headers={"Content-Type": "text/plain"})


@route(bp, "/api/users")
def get_users():
    principal = authenticate(bp.current_request)
    principal.require_role("admin")
    return json_response(users.all_users())


@route(bp, "/api/users/{id}/enabled", methods=("PUT",), content_types=["text/plain"])
def put_user_enabled(id):  # noqa: A002 - the contract's path parameter name
    principal = authenticate(bp.current_request)
    principal.require_role("admin")
    users.set_enabled(principal, params.authority_id(id, "id"), params.boolean_body(bp.current_request))
    return Response(body="", status_code=204)
