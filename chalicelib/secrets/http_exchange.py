"""``POST /secret-server/token-exchange``: RFC 8693 token exchange, answered in RFC 6749 JSON."""
from __future__ import annotations

from chalicelib import deps
from chalicelib.secrets.blueprint import bp
from chalicelib.secrets.form import FORM, parse_exchange
from chalicelib.secrets.oauth import oauth_response, oauth_route
from chalicelib.secrets.service import TOKEN_PATH

# Other media types are accepted by the route only to be refused in OAuth's words.
_CONTENT_TYPES = [FORM, "application/json", "text/plain", "multipart/form-data"]


@oauth_route(bp, TOKEN_PATH, methods=("POST",), content_types=_CONTENT_TYPES)
def token_exchange():
    request = bp.current_request
    exchange = parse_exchange(request.headers.get("content-type"), request.raw_body)
    return oauth_response(deps.secret_server().exchange(exchange))
