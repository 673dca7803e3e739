"""OAuth (RFC 6749 §5, RFC 8693): its names, its errors and the form both token endpoints read.

``POST /oauth2/token`` (chalicelib/tokens) and the secret server's token
exchange (chalicelib/secrets) read their form with ``read_form`` — one media
type check, one size limit, one strict parser — and keep only their own
grant's parameter rules. Services raise ``OAuthError``; ``oauth.http`` turns
it, and every other failure, into the RFC 6749 JSON both endpoints answer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict

# The exact media type of RFC 6749's examples; the app's middleware lets it through
# (Chalice's own errors are plain "application/json" and still become problem JSON).
OAUTH_JSON = "application/json;charset=UTF-8"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
FORM = "application/x-www-form-urlencoded"

GRANT_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
TOKEN_TYPE_ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
TOKEN_TYPE_JWT = "urn:ietf:params:oauth:token-type:jwt"
JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

INVALID_REQUEST = "invalid_request"
INVALID_CLIENT = "invalid_client"
INVALID_GRANT = "invalid_grant"
INVALID_SCOPE = "invalid_scope"
INVALID_TARGET = "invalid_target"
UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"

_MAX_FIELDS = 32

SubjectTokenType = Literal["urn:ietf:params:oauth:token-type:access_token", "urn:ietf:params:oauth:token-type:jwt"]


class TokenResponse(BaseModel):
    """An RFC 8693 §2.2.1 token response (also the shape of ``POST /api/storage/s3-token``)."""

    model_config = ConfigDict(defer_build=True)

    access_token: str
    issued_token_type: str
    # "N_A" where the token is no bearer token for any API of ours (RFC 8693 §2.2.1).
    token_type: str
    expires_in: int
    scope: str | None = None


class OAuthError(Exception):
    """A refusal of a token endpoint; ``description`` is shown to the client."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description

    @property
    def status(self) -> int:
        return 401 if self.error == INVALID_CLIENT else 400

    def headers(self) -> dict[str, str]:
        if self.error != INVALID_CLIENT:
            return {}
        return {"WWW-Authenticate": f'private_key_jwt realm="katta-secret-server", error="{self.error}", '
                                    f'error_description="{_quote(self.description)}"'}


def invalid_request(description: str) -> OAuthError:
    return OAuthError(INVALID_REQUEST, description)


# -- the form ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class FormRules:
    """How strictly an endpoint reads its form.

    ``single`` names the parameters that may appear at most once (None: every
    parameter); ``max_parameter_chars`` bounds every value (None: only the body
    size does).
    """

    max_bytes: int
    encoding: str = "ascii"
    single: frozenset[str] | None = None
    max_parameter_chars: int | None = None


class Form:
    """The parameters of a form body, in the order they came."""

    def __init__(self, values: dict[str, list[str]]) -> None:
        self._values = values

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def get(self, name: str) -> str | None:
        values = self._values.get(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return list(self._values.get(name, []))


def read_form(content_type: str | None, body: bytes | None, rules: FormRules) -> Form:
    """The form of a token request (RFC 6749 §3.2: form-encoded); OAuthError says what is wrong."""
    if (content_type or "").split(";")[0].strip().lower() != FORM:
        raise invalid_request(f"the request must be {FORM}")
    raw = body or b""
    if len(raw) > rules.max_bytes:
        raise invalid_request(f"the request body exceeds {rules.max_bytes} bytes")
    try:
        pairs = parse_qsl(raw.decode(rules.encoding), keep_blank_values=True, strict_parsing=bool(raw),
                          max_num_fields=_MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise invalid_request("the request body is not a valid form") from None
    values: dict[str, list[str]] = {}
    for name, value in pairs:
        if name in values and (rules.single is None or name in rules.single):
            raise invalid_request(f"parameter {name[:64]!r} is repeated")
        if rules.max_parameter_chars is not None and len(value) > rules.max_parameter_chars:
            raise invalid_request(f"parameter {name[:64]!r} is too long")
        values.setdefault(name, []).append(value)
    return Form(values)


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', "'")
