"""``/api/emergency-access…``: recovery processes of a vault's emergency council."""
from chalice import Response

from chalicelib import deps
from chalicelib.apidoc import Operation
from chalicelib.katta import params
from chalicelib.katta.blueprint import bp
from chalicelib.katta.formats import RecoveredKeyShareInput, RecoveryProcessInput
from chalicelib.web import json_response, parse_body, route

TAGS = ("Emergency Access Resource",)
# One path for both: Hub names its variable processId for PUT and vaultId for GET.
_ONE = "/api/emergency-access/{id}"


def _empty() -> Response:
    return Response(body="", status_code=204)


@route(bp, "/api/emergency-access", role="user", doc=Operation(
    "the open recovery processes of the vaults whose emergency council the caller sits on", "bearer",
    {200: "list[RecoveryProcessDto]"}, tags=TAGS))
def get_processes(principal):
    return json_response(deps.emergency_access_service().processes(principal))


@route(bp, _ONE, role="user", doc=Operation(
    "the open recovery processes of a vault that the caller is a council member of (the id is the vault's)",
    "bearer", {200: "list[RecoveryProcessDto]"}, tags=TAGS))
def get_vault_processes(principal, id):
    return json_response(deps.emergency_access_service().processes(principal, params.vault_id(id)))


@route(bp, _ONE, methods=("PUT",), role="user", doc=Operation(
    "starts a recovery process (a member of the vault's emergency council; the id is the process's); the same"
    " start twice answers 204 again", "bearer", {204: None}, body=RecoveryProcessInput, error_statuses=(409,),
    tags=TAGS))
def put_process(principal, id):
    process_id = params.vault_id(id, "processId")
    dto = parse_body(bp.current_request, RecoveryProcessInput)
    deps.emergency_access_service().start(principal, process_id, dto, params.source_ip(bp.current_request))
    return _empty()


@route(bp, "/api/emergency-access/{processId}/recovered-key-shares", methods=("POST",), role="user", doc=Operation(
    "adds the caller's key share, re-encrypted to the process key (once per council member)", "bearer",
    {204: None}, body=RecoveredKeyShareInput, tags=TAGS))
def post_recovered_key_share(principal, processId):
    process_id = params.vault_id(processId, "processId")
    dto = parse_body(bp.current_request, RecoveredKeyShareInput)
    deps.emergency_access_service().approve(principal, process_id, dto, params.source_ip(bp.current_request))
    return _empty()


@route(bp, "/api/emergency-access/{processId}/complete", methods=("DELETE",), role="user", doc=Operation(
    "completes a recovery process its threshold of council members approved", "bearer", {204: None},
    tags=TAGS))
def complete_process(principal, processId):
    deps.emergency_access_service().complete(principal, params.vault_id(processId, "processId"))
    return _empty()


@route(bp, "/api/emergency-access/{processId}/abort", methods=("DELETE",), role="user", doc=Operation(
    "aborts a recovery process", "bearer", {204: None}, tags=TAGS))
def abort_process(principal, processId):
    deps.emergency_access_service().abort(principal, params.vault_id(processId, "processId"))
    return _empty()
