"""``POST /oauth2/token``: RFC 8693 token exchange, answered in RFC 6749 JSON (chalicelib/secrets/oauth.py)."""
from __future__ import annotations

from chalicelib.apidoc import Operation
from chalicelib.secrets.oauth import oauth_response, oauth_route
from chalicelib.tokens import exchange, names
from chalicelib.tokens.blueprint import bp
from chalicelib.tokens.schemas import TokenExchangeForm, TokenResponse

FORM = "application/x-www-form-urlencoded"


# JSON is routed too, so that it gets an invalid_request rather than a 415 problem.
@oauth_route(bp, names.TOKEN_PATH, methods=("POST",), content_types=[FORM, "application/json"], doc=Operation(
    "RFC 8693 token exchange: a trusted IdP's token for one of ours with a narrower audience and scope",
    "public", {200: TokenResponse}, body=TokenExchangeForm, body_media_type=FORM, tags=("tokens",)))
def token():
    request = bp.current_request
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    answer = exchange.exchange(exchange.parse(request.raw_body or b"", content_type))
    return oauth_response(answer)
