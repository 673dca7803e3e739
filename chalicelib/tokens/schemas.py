"""What the token service's routes read and answer, as the OpenAPI document describes them.

Form bodies and query parameters are TypedDicts: the handlers parse them
themselves (forms with RFC 6749 wording for every refusal), so these only
describe them, and cost nothing at import.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict
from typing_extensions import NotRequired, TypedDict

from chalicelib.oauth import SubjectTokenType

class OpenIdConfiguration(BaseModel):
    """The members of our OIDC discovery document that STS and SeaweedFS read."""

    model_config = ConfigDict(defer_build=True)

    issuer: str
    jwks_uri: str
    token_endpoint: str
    grant_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    response_types_supported: list[str]
    subject_types_supported: list[str]
    id_token_signing_alg_values_supported: list[str]
    claims_supported: list[str]


class VaultQuery(TypedDict):
    vault: str


class TokenExchangeForm(TypedDict):
    """RFC 8693 §2.1, as ``POST /oauth2/token`` takes it; ``audience``/``resource`` name the target."""

    grant_type: Literal["urn:ietf:params:oauth:grant-type:token-exchange"]
    subject_token: str
    subject_token_type: SubjectTokenType
    requested_token_type: NotRequired[SubjectTokenType]
    audience: NotRequired[str]
    resource: NotRequired[str]
    scope: NotRequired[str]
