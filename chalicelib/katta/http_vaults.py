"""``/api/vaults…``: parse, authenticate, call the vault service, serialize."""
from chalice import Response

from chalicelib.auth import authenticate
from chalicelib.katta import params, vaults
from chalicelib.katta.blueprint import bp
from chalicelib.katta.formats import VaultInput
from chalicelib.web import bool_param, json_response, parse_body, route

TEXT_PLAIN = "text/plain"


def _caller():
    principal = authenticate(bp.current_request)
    principal.require_role("user")
    return principal


def _admin():
    principal = authenticate(bp.current_request)
    principal.require_role("admin")
    return principal


def _empty(status: int) -> Response:
    return Response(body="", status_code=status)


@route(bp, "/api/vaults/accessible")
def get_accessible():
    principal = _caller()
    return json_response(vaults.accessible(principal, params.role(bp.current_request, default=None)))


@route(bp, "/api/vaults/all")
def get_all():
    _admin()
    return json_response(vaults.all_vaults())


@route(bp, "/api/vaults/some")
def get_some():
    _admin()
    ids = [params.vault_id(v) for v in params.id_list(bp.current_request)]
    return json_response(vaults.some(ids))


@route(bp, "/api/vaults/users-requiring-access-grant")
def get_pending_grants():
    principal = _caller()
    wait = params.non_negative_int(bp.current_request, "wait", default=25)
    return json_response(vaults.pending_grants(principal, wait))


@route(bp, "/api/vaults/{vaultId}")
def get_vault(vaultId):
    principal = _caller()
    return json_response(vaults.get(principal, params.vault_id(vaultId)))


@route(bp, "/api/vaults/{vaultId}", methods=("PUT",))
def put_vault(vaultId):
    principal = _caller()
    vault_id = params.vault_id(vaultId)
    dto = parse_body(bp.current_request, VaultInput)
    body, created = vaults.put(principal, vault_id, dto)
    return json_response(body, status=201 if created else 200)


@route(bp, "/api/vaults/{vaultId}", methods=("DELETE",))
def delete_vault(vaultId):
    principal = _caller()
    vaults.delete(principal, params.vault_id(vaultId))
    return _empty(204)


@route(bp, "/api/vaults/{vaultId}/archived", methods=("PUT",), content_types=[TEXT_PLAIN])
def put_archived(vaultId):
    principal = _caller()
    vault_id = params.vault_id(vaultId)
    archived = params.boolean_body(bp.current_request)
    return json_response(vaults.set_archived(principal, vault_id, archived))


@route(bp, "/api/vaults/{vaultId}/members")
def get_members(vaultId):
    principal = _caller()
    return json_response(vaults.members(principal, params.vault_id(vaultId)))


@route(bp, "/api/vaults/{vaultId}/members", methods=("PUT",))
def put_members(vaultId):
    principal = _caller()
    vault_id = params.vault_id(vaultId)
    vaults.set_members(principal, vault_id, params.roles_by_authority(bp.current_request))
    return _empty(204)


@route(bp, "/api/vaults/{vaultId}/users/{userId}", methods=("PUT",))
def put_user_member(vaultId, userId):
    principal = _caller()
    vault_id, user_id = params.vault_id(vaultId), params.authority_id(userId, "userId")
    role = params.role(bp.current_request)
    created = vaults.put_member(principal, vault_id, user_id, vaults.USER, role)
    return json_response({}, status=201 if created else 200)


@route(bp, "/api/vaults/{vaultId}/groups/{groupId}", methods=("PUT",))
def put_group_member(vaultId, groupId):
    principal = _caller()
    vault_id, group_id = params.vault_id(vaultId), params.authority_id(groupId, "groupId")
    role = params.role(bp.current_request)
    created = vaults.put_member(principal, vault_id, group_id, vaults.GROUP, role)
    return json_response({}, status=201 if created else 200)


@route(bp, "/api/vaults/{vaultId}/authority/{authorityId}", methods=("DELETE",))
def delete_member(vaultId, authorityId):
    principal = _caller()
    vault_id, authority_id = params.vault_id(vaultId), params.authority_id(authorityId, "authorityId")
    vaults.remove_member(principal, vault_id, authority_id)
    return _empty(204)


@route(bp, "/api/vaults/{vaultId}/access-token")
def get_access_token(vaultId):
    principal = _caller()
    request = bp.current_request
    vault_id = params.vault_id(vaultId)
    source_ip = ((request.context or {}).get("identity") or {}).get("sourceIp")
    token = vaults.retrieve_token(principal, vault_id, bool_param(request, "evenIfArchived"), source_ip)
    return Response(body=token, status_code=200, headers={"Content-Type": TEXT_PLAIN})


@route(bp, "/api/vaults/{vaultId}/access-tokens", methods=("POST",))
def post_access_tokens(vaultId):
    principal = _caller()
    vault_id = params.vault_id(vaultId)
    vaults.grant(principal, vault_id, params.tokens_by_user(bp.current_request))
    return json_response({})


@route(bp, "/api/vaults/{vaultId}/access-tokens/auto", methods=("POST",))
def post_access_tokens_auto(vaultId):
    principal = _caller()
    vault_id = params.vault_id(vaultId)
    vaults.grant_automatically(principal, vault_id, params.tokens_by_user(bp.current_request))
    return json_response({})


@route(bp, "/api/vaults/{vaultId}/users-requiring-access-grant")
def get_users_requiring_grant(vaultId):
    principal = _caller()
    return json_response(vaults.users_requiring_grant(principal, params.vault_id(vaultId)))


@route(bp, "/api/vaults/{vaultId}/uvf/vault.uvf")
def get_vault_uvf(vaultId):
    principal = _caller()
    document = vaults.metadata(principal, params.vault_id(vaultId), "uvfMetadataFile")
    return Response(body=document, status_code=200, headers={"Content-Type": "application/json"})


@route(bp, "/api/vaults/{vaultId}/uvf/jwks.json")
def get_vault_jwks(vaultId):
    principal = _caller()
    document = vaults.metadata(principal, params.vault_id(vaultId), "uvfKeySet")
    return Response(body=document, status_code=200, headers={"Content-Type": "application/json"})
