from chalicelib import deps
from chalicelib.auth import authenticate
from chalicelib.katta import users
from chalicelib.katta.blueprint import bp
from chalicelib.web import json_response, route


@route(bp, "/api/users/me")
def get_me():
    principal = authenticate(bp.current_request)
    return json_response(users.me(deps.users(), principal))
