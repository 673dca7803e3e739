"""``POST /secret-server/token-exchange``: RFC 8693 token exchange, answered in RFC 6749 JSON."""
from __future__ import annotations

from typing import Literal

from typing_extensions import NotRequired, TypedDict

from chalicelib import deps
from chalicelib.apidoc import Operation
from chalicelib.oauth import FORM, SubjectTokenType, TokenResponse
from chalicelib.oauth.http import oauth_response, oauth_route
from chalicelib.secrets import TOKEN_PATH
from chalicelib.secrets.blueprint import bp
from chalicelib.secrets.form import parse_exchange

# Other media types are accepted by the route only to be refused in OAuth's words.
_CONTENT_TYPES = [FORM, "application/json", "text/plain", "multipart/form-data"]


class SecretExchangeForm(TypedDict):
    """RFC 8693 §2.1 with the resource server's RFC 7523 client assertion; ``audience`` is that server."""

    grant_type: Literal["urn:ietf:params:oauth:grant-type:token-exchange"]
    subject_token: str
    subject_token_type: SubjectTokenType
    requested_token_type: NotRequired[Literal["urn:ietf:params:oauth:token-type:jwt"]]
    audience: str
    client_assertion_type: Literal["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]
    client_assertion: str
    client_id: NotRequired[str]


@oauth_route(bp, TOKEN_PATH, methods=("POST",), content_types=_CONTENT_TYPES, doc=Operation(
    "Releases the user's secret to a registered resource server, sealed to that server's key", "client_assertion",
    {200: TokenResponse}, body=SecretExchangeForm, body_media_type=FORM, tags=("secret server",)))
def token_exchange():
    request = bp.current_request
    exchange = parse_exchange(request.headers.get("content-type"), request.raw_body)
    return oauth_response(deps.secret_server().exchange(exchange))
