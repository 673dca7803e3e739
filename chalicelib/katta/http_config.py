from chalicelib.katta import config
from chalicelib.katta.blueprint import bp
from chalicelib.settings import get_settings
from chalicelib.web import json_response, route


@route(bp, "/api/config")
def get_config():
    return json_response(config.client_config(get_settings()))


@route(bp, "/api/version")
def get_version():
    return json_response(config.version(get_settings()))
