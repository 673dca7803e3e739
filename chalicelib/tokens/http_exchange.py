"""``POST /oauth2/token``: RFC 8693 token exchange, answered in RFC 6749 JSON (chalicelib/oauth/http.py)."""
from __future__ import annotations

from chalicelib import deps
from chalicelib.apidoc import Operation
from chalicelib.oauth import FORM, TokenResponse
from chalicelib.oauth.http import oauth_response, oauth_route
from chalicelib.settings import get_settings
from chalicelib.tokens import names
from chalicelib.tokens.blueprint import bp
from chalicelib.tokens.schemas import TokenExchangeForm


# JSON is routed too, so that it gets an invalid_request rather than a 415 problem.
@oauth_route(bp, names.TOKEN_PATH, methods=("POST",), content_types=[FORM, "application/json"], doc=Operation(
    "RFC 8693 token exchange: a trusted IdP's token for one of ours with a narrower audience and scope",
    "public", {200: TokenResponse}, body=TokenExchangeForm, body_media_type=FORM, tags=("tokens",)))
def token():
    from chalicelib.tokens import exchange  # with the service, on first use: not at cold start

    request = bp.current_request
    parsed = exchange.parse(request.headers.get("content-type"), request.raw_body, get_settings())
    return oauth_response(deps.token_exchange_service().exchange(parsed))
