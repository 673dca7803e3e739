from chalice import Response

from chalicelib import deps
from chalicelib.apidoc import Operation
from chalicelib.katta import params
from chalicelib.katta.blueprint import bp
from chalicelib.katta.formats import UserKeysInput
from chalicelib.katta.params import TokensByVault
from chalicelib.web import bool_param, json_response, list_response, parse_body, raw_body, route

TAGS = ("Users Resource",)


@route(bp, "/api/users/me", role="user", doc=Operation(
    "the caller's account, with its devices if asked", "bearer", {200: "UserDto"}, query="WithDevicesQuery", tags=TAGS))
def get_me(principal):
    with_devices = bool_param(bp.current_request, "withDevices")
    with_last_access = bool_param(bp.current_request, "withLastAccess")
    return json_response(deps.user_service().me(principal, with_devices, with_last_access))


@route(bp, "/api/users/me", methods=("PUT",), role="user", doc=Operation(
    "stores the caller's public keys, wrapped private keys, setup code or language (null clears one); no body"
    " only takes name, e-mail and picture from the token", "bearer", {201: None}, body=UserKeysInput,
    body_required=False, tags=TAGS))
def put_me(principal):
    # Hub's web client sends no body on every sign-in, meaning "take name, e-mail and picture from the
    # token": resolving the caller did that already, so there is nothing more to store.
    request = bp.current_request
    dto = parse_body(request, UserKeysInput) if raw_body(request) else UserKeysInput()
    deps.user_service().update_me(principal, dto)
    return Response(body="", status_code=201)


@route(bp, "/api/users/me/reset", methods=("POST",), role="user", doc=Operation(
    "removes the caller's keys, devices, access tokens and trust signatures", "bearer", {204: None}, tags=TAGS))
def post_reset(principal):
    deps.user_service().reset(principal)
    return Response(body="", status_code=204)


@route(bp, "/api/users/me/access-tokens", methods=("POST",), role="user", doc=Operation(
    "stores the caller's own access tokens (vault id to JWE) for vaults they are a member of", "bearer",
    {200: None}, body=TokensByVault, tags=TAGS))
def post_my_access_tokens(principal):
    deps.vault_service().grant_own(principal, params.tokens_by_vault(bp.current_request))
    return Response(body="", status_code=200, headers={"Content-Type": "text/plain"})


@route(bp, "/api/users", role="admin", doc=Operation(
    "every account (admin), in name order; pages when asked (pageSize, paginationToken; Link rel=next)",
    "bearer", {200: "list[UserDto]"}, query="PageQuery", tags=TAGS))
def get_users(principal):
    return list_response(bp.current_request, deps.user_service().users_page)


@route(bp, "/api/users/{id}/enabled", methods=("PUT",), role="admin", content_types=["text/plain"], doc=Operation(
    "enables (true) or disables (false) an account (admin)", "bearer", {204: None}, body=str,
    body_media_type="text/plain", tags=TAGS))
def put_user_enabled(principal, id):  # noqa: A002 - the contract's path parameter name
    deps.user_service().set_enabled(principal, params.authority_id(id, "id"), params.boolean_body(bp.current_request))
    return Response(body="", status_code=204)
