"""The token-exchange request (RFC 8693 §2.1 with RFC 7523 client authentication), parsed strictly."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from chalicelib.secrets.oauth import INVALID_CLIENT, INVALID_REQUEST, INVALID_TARGET, UNSUPPORTED_GRANT_TYPE, OAuthError

FORM = "application/x-www-form-urlencoded"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SUBJECT_TOKEN_TYPES = frozenset({JWT_TOKEN_TYPE, ACCESS_TOKEN_TYPE})
MAX_PARAMETER_CHARS = 8192
MAX_FORM_BYTES = 32 * 1024


@dataclass(frozen=True)
class ExchangeRequest:
    subject_token: str
    audience: str
    client_assertion: str
    client_id: str | None


def parse_exchange(content_type: str | None, body: bytes | None) -> ExchangeRequest:
    """The request of a token-exchange POST; OAuthError says which parameter is wrong."""
    if (content_type or "").split(";")[0].strip().lower() != FORM:
        raise OAuthError(INVALID_REQUEST, f"the request must be {FORM}")
    raw = body or b""
    if len(raw) > MAX_FORM_BYTES:
        raise OAuthError(INVALID_REQUEST, f"the request body exceeds {MAX_FORM_BYTES} bytes")
    try:
        pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, strict_parsing=bool(raw),
                          max_num_fields=32)
    except (UnicodeDecodeError, ValueError):
        raise OAuthError(INVALID_REQUEST, "the request body is not a valid form") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise OAuthError(INVALID_REQUEST, f"parameter {name[:64]!r} is repeated")
        if len(value) > MAX_PARAMETER_CHARS:
            raise OAuthError(INVALID_REQUEST, f"parameter {name[:64]!r} is too long")
        params[name] = value

    grant_type = _required(params, "grant_type")
    if grant_type != TOKEN_EXCHANGE:
        raise OAuthError(UNSUPPORTED_GRANT_TYPE, f"only {TOKEN_EXCHANGE} is supported")
    if params.get("client_assertion_type") != JWT_BEARER_ASSERTION or not params.get("client_assertion"):
        raise OAuthError(INVALID_CLIENT, "client authentication is required: client_assertion_type "
                                         f"{JWT_BEARER_ASSERTION} with a client_assertion (private_key_jwt)")
    if "client_secret" in params:
        raise OAuthError(INVALID_CLIENT, "client secrets are not accepted; authenticate with private_key_jwt")
    subject_token = _required(params, "subject_token")
    if _required(params, "subject_token_type") not in SUBJECT_TOKEN_TYPES:
        raise OAuthError(INVALID_REQUEST, "subject_token_type must be "
                                          f"{JWT_TOKEN_TYPE} or {ACCESS_TOKEN_TYPE}")
    requested = params.get("requested_token_type")
    if requested is not None and requested != JWT_TOKEN_TYPE:
        raise OAuthError(INVALID_REQUEST, f"requested_token_type: only {JWT_TOKEN_TYPE} can be issued")
    if "actor_token" in params or "actor_token_type" in params:
        raise OAuthError(INVALID_REQUEST, "delegation (actor_token) is not supported")
    if "resource" in params:
        raise OAuthError(INVALID_TARGET, "resource is not supported; name the resource server in audience")
    return ExchangeRequest(subject_token=subject_token, audience=_required(params, "audience"),
                           client_assertion=params["client_assertion"], client_id=params.get("client_id"))


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise OAuthError(INVALID_REQUEST, f"parameter {name} is required")
    return value
