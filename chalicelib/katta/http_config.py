from chalicelib.apidoc import Operation
from chalicelib.katta import config
from chalicelib.katta.blueprint import bp
from chalicelib.katta.dtos import ConfigDto, VersionDto
from chalicelib.settings import get_settings
from chalicelib.web import json_response, route


@route(bp, "/api/config", doc=Operation(
    "what a client needs before it logs in: identity provider endpoints, API level", "public", {200: ConfigDto},
    tags=("Config Resource",)))
def get_config():
    return json_response(config.client_config(get_settings()))


@route(bp, "/api/version", doc=Operation(
    "the hub version", "public", {200: VersionDto}, tags=("Version Resource",)))
def get_version():
    return json_response(config.version(get_settings()))
