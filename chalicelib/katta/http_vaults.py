"""``/api/vaults…``: parse, authenticate, call the vault service, serialize."""
from chalice import Response

from chalicelib.apidoc import Operation
from chalicelib import deps
from chalicelib.katta import params
from chalicelib.katta.blueprint import bp
from chalicelib.katta.formats import AuthorityType, VaultInput
from chalicelib.katta.params import RolesByAuthority, TokensByUser
from chalicelib.web import bool_param, json_response, list_response, parse_body, route

TEXT_PLAIN = "text/plain"
DEVICE_HEADER = "Hub-Device-ID"  # Hub's clients name the device asking for a key
TAGS = ("Vault Resource",)


def _empty(status: int) -> Response:
    return Response(body="", status_code=status)


@route(bp, "/api/vaults/accessible", role="user", doc=Operation(
    "the vaults shared with the caller, directly or through a group", "bearer", {200: "list[VaultDto]"},
    query="RoleFilterQuery", tags=TAGS))
def get_accessible(principal):
    return json_response(deps.vault_service().accessible(principal, params.role(bp.current_request, default=None)))


@route(bp, "/api/vaults/all", role="admin", doc=Operation(
    "every vault (admin)", "bearer", {200: "list[VaultDto]"}, tags=TAGS))
def get_all(principal):
    return json_response(deps.vault_service().all_vaults())


@route(bp, "/api/vaults/some", role="admin", doc=Operation(
    "the vaults with the given ids (admin)", "bearer", {200: "list[VaultDto]"}, query="VaultIdsQuery", tags=TAGS))
def get_some(principal):
    ids = [params.vault_id(v) for v in params.id_list(bp.current_request)]
    return json_response(deps.vault_service().some(ids))


@route(bp, "/api/vaults/recoverable", role="user", doc=Operation(
    "the vaults whose emergency council the caller sits on, with their key shares", "bearer",
    {200: "list[VaultDto]"}, tags=TAGS))
def get_recoverable(principal):
    return json_response(deps.vault_service().recoverable(principal))


@route(bp, "/api/vaults/users-requiring-access-grant", role="user", doc=Operation(
    "users awaiting an access grant, by vault, over the vaults the caller holds a token for (a long poll)",
    "bearer", {200: "PendingGrants"}, query="GrantWaitQuery", tags=TAGS))
def get_pending_grants(principal):
    wait = params.non_negative_int(bp.current_request, "wait", default=25)
    return json_response(deps.vault_service().pending_grants(principal, wait))


@route(bp, "/api/vaults/{vaultId}", role="user", doc=Operation(
    "a vault, with its vault.uvf and JWKS (members and admins)", "bearer", {200: "VaultDto"}, tags=TAGS))
def get_vault(principal, vaultId):
    return json_response(deps.vault_service().get(principal, params.vault_id(vaultId)))


@route(bp, "/api/vaults/{vaultId}", methods=("PUT",), role="user", doc=Operation(
    "creates a vault (201; role create-vaults, the creator becomes OWNER) or renames it (200; owners); an"
    " archived field archives or restores it (owners, or admins when nothing else changes); emergencyKeyShares"
    " and requiredEmergencyKeyShares set its emergency council (owners)", "bearer",
    {200: "VaultDto", 201: "VaultDto"}, body=VaultInput, tags=TAGS))
def put_vault(principal, vaultId):
    vault_id = params.vault_id(vaultId)
    dto = parse_body(bp.current_request, VaultInput)
    body, created = deps.vault_service().put(principal, vault_id, dto, params.source_ip(bp.current_request))
    return json_response(body, status=201 if created else 200)


@route(bp, "/api/vaults/{vaultId}", methods=("DELETE",), role="user", doc=Operation(
    "deletes a vault with its members and access tokens (owners)", "bearer", {204: None}, tags=TAGS))
def delete_vault(principal, vaultId):
    deps.vault_service().delete(principal, params.vault_id(vaultId))
    return _empty(204)


@route(bp, "/api/vaults/{vaultId}/archived", methods=("PUT",), role="user", content_types=[TEXT_PLAIN], doc=Operation(
    "archives (true) or restores (false) a vault (owners and admins)", "bearer", {200: "VaultDto"}, body=str,
    body_media_type=TEXT_PLAIN, tags=TAGS))
def put_archived(principal, vaultId):
    vault_id = params.vault_id(vaultId)
    archived = params.boolean_body(bp.current_request)
    return json_response(deps.vault_service().set_archived(principal, vault_id, archived))


@route(bp, "/api/vaults/{vaultId}/members", role="user", doc=Operation(
    "the direct members of a vault (owners); pages when asked (pageSize, paginationToken; Link rel=next)",
    "bearer", {200: "list[MemberDto]"}, query="PageQuery", tags=TAGS))
def get_members(principal, vaultId):
    return list_response(bp.current_request, deps.vault_service().member_pages(principal, params.vault_id(vaultId)))


@route(bp, "/api/vaults/{vaultId}/members", methods=("PUT",), role="user", doc=Operation(
    "replaces the direct members of a vault (authority id to role; owners)", "bearer", {204: None},
    body=RolesByAuthority, tags=TAGS))
def put_members(principal, vaultId):
    vault_id = params.vault_id(vaultId)
    deps.vault_service().set_members(principal, vault_id, params.roles_by_authority(bp.current_request))
    return _empty(204)


@route(bp, "/api/vaults/{vaultId}/users/{userId}", methods=("PUT",), role="user", doc=Operation(
    "adds a user to a vault (201) or changes their role (200) (owners)", "bearer",
    {200: "EmptyDto", 201: "EmptyDto"}, query="MemberRoleQuery", tags=TAGS))
def put_user_member(principal, vaultId, userId):
    vault_id, user_id = params.vault_id(vaultId), params.authority_id(userId, "userId")
    role = params.role(bp.current_request)
    created = deps.vault_service().put_member(principal, vault_id, user_id, AuthorityType.USER.value, role)
    return json_response({}, status=201 if created else 200)


@route(bp, "/api/vaults/{vaultId}/groups/{groupId}", methods=("PUT",), role="user", doc=Operation(
    "adds a group to a vault (201) or changes its role (200) (owners)", "bearer",
    {200: "EmptyDto", 201: "EmptyDto"}, query="MemberRoleQuery", tags=TAGS))
def put_group_member(principal, vaultId, groupId):
    vault_id, group_id = params.vault_id(vaultId), params.authority_id(groupId, "groupId")
    role = params.role(bp.current_request)
    created = deps.vault_service().put_member(principal, vault_id, group_id, AuthorityType.GROUP.value, role)
    return json_response({}, status=201 if created else 200)


@route(bp, "/api/vaults/{vaultId}/authority/{authorityId}", methods=("DELETE",), role="user", doc=Operation(
    "removes a user or group from a vault; nothing to do if it is not a member (owners)", "bearer",
    {204: None}, tags=TAGS))
def delete_member(principal, vaultId, authorityId):
    vault_id, authority_id = params.vault_id(vaultId), params.authority_id(authorityId, "authorityId")
    deps.vault_service().remove_member(principal, vault_id, authority_id)
    return _empty(204)


@route(bp, "/api/vaults/{vaultId}/access-token", role="user", doc=Operation(
    "the caller's access token to a vault (a JWE): 410 if the vault is archived, 449 until the caller has set up"
    " their keys", "bearer", {200: str}, query="KeyRetrievalQuery", response_media_type=TEXT_PLAIN,
    error_statuses=(410, 449), tags=TAGS))
def get_access_token(principal, vaultId):
    request = bp.current_request
    vault_id = params.vault_id(vaultId)
    source_ip = params.source_ip(request)
    device = request.headers.get(DEVICE_HEADER)
    device_id = params.authority_id(device, DEVICE_HEADER) if device else None
    token = deps.vault_service().retrieve_token(principal, vault_id, bool_param(request, "evenIfArchived"), source_ip,
                                                device_id)
    return Response(body=token, status_code=200, headers={"Content-Type": TEXT_PLAIN})


@route(bp, "/api/vaults/{vaultId}/access-tokens", methods=("POST",), role="user", doc=Operation(
    "stores access tokens (user id to JWE) for users of a vault (owners)", "bearer", {200: "EmptyDto"},
    body=TokensByUser, tags=TAGS))
def post_access_tokens(principal, vaultId):
    vault_id = params.vault_id(vaultId)
    deps.vault_service().grant(principal, vault_id, params.tokens_by_user(bp.current_request))
    return json_response({})


@route(bp, "/api/vaults/{vaultId}/access-tokens/auto", methods=("POST",), role="user", doc=Operation(
    "a member holding a token grants access to members awaiting one; never overwrites a token", "bearer",
    {200: "EmptyDto"}, body=TokensByUser, tags=TAGS))
def post_access_tokens_auto(principal, vaultId):
    vault_id = params.vault_id(vaultId)
    deps.vault_service().grant_automatically(principal, vault_id, params.tokens_by_user(bp.current_request))
    return json_response({})


@route(bp, "/api/vaults/{vaultId}/users-requiring-access-grant", role="user", doc=Operation(
    "the members with keys and no access token yet, directly or through a group (owners)", "bearer",
    {200: "list[MemberDto]"}, tags=TAGS))
def get_users_requiring_grant(principal, vaultId):
    return json_response(deps.vault_service().users_requiring_grant(principal, params.vault_id(vaultId)))


@route(bp, "/api/vaults/{vaultId}/uvf/vault.uvf", role="user", doc=Operation(
    "the vault's vault.uvf, as its creator stored it (members)", "bearer", {200: "JsonObject"}, tags=TAGS))
def get_vault_uvf(principal, vaultId):
    document = deps.vault_service().metadata(principal, params.vault_id(vaultId), "uvfMetadataFile")
    return Response(body=document, status_code=200, headers={"Content-Type": "application/json"})


@route(bp, "/api/vaults/{vaultId}/uvf/jwks.json", role="user", doc=Operation(
    "the vault's public keys (JWKS), as its creator stored them (members)", "bearer", {200: "JsonObject"},
    tags=TAGS))
def get_vault_jwks(principal, vaultId):
    document = deps.vault_service().metadata(principal, params.vault_id(vaultId), "uvfKeySet")
    return Response(body=document, status_code=200, headers={"Content-Type": "application/json"})
