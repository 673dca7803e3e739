"""``/api/devices…``: the caller's devices."""
from chalice import Response

from chalicelib.apidoc import Operation
from chalicelib import deps
from chalicelib.katta import params
from chalicelib.katta.blueprint import bp
from chalicelib.katta.formats import DeviceInput
from chalicelib.web import json_response, parse_body, route

TAGS = ("Device Resource",)


@route(bp, "/api/devices", role="user", doc=Operation(
    "the caller's devices among the given ids (an admin's: anybody's)", "bearer", {200: "list[DeviceDto]"},
    query="AuthorityIdsQuery", tags=TAGS))
def get_devices(principal):
    ids = [params.authority_id(d, "ids") for d in params.id_list(bp.current_request)]
    return json_response(deps.device_service().find(principal, ids))


@route(bp, "/api/devices/{deviceId}", role="user", doc=Operation(
    "one of the caller's devices; 404 for a device of somebody else", "bearer", {200: "DeviceDto"}, tags=TAGS))
def get_device(principal, deviceId):
    return json_response(deps.device_service().get(principal, params.authority_id(deviceId, "deviceId")))


@route(bp, "/api/devices/{deviceId}", methods=("PUT",), role="user", doc=Operation(
    "registers the caller's device (its id is the SHA-256 of its public key) or renames it", "bearer",
    {201: None}, body=DeviceInput, tags=TAGS))
def put_device(principal, deviceId):
    device_id = params.authority_id(deviceId, "deviceId")
    deps.device_service().register(principal, device_id, parse_body(bp.current_request, DeviceInput))
    return Response(body="", status_code=201)


@route(bp, "/api/devices/{deviceId}", methods=("DELETE",), role="user", doc=Operation(
    "removes one of the caller's devices", "bearer", {204: None}, tags=TAGS))
def delete_device(principal, deviceId):
    deps.device_service().remove(principal, params.authority_id(deviceId, "deviceId"))
    return Response(body="", status_code=204)
