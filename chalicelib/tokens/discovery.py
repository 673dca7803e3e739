"""Our OIDC issuer's discovery document: what AWS IAM (or SeaweedFS) reads to trust our tokens.

The issuer is the API's public base URL; the keys are the POP signing keys that
``/.well-known/jwks.json`` (chalicelib/pop) publishes. There is no
authorization endpoint: tokens come only from the token endpoint and from
``POST /api/storage/s3-token``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.oauth import GRANT_TOKEN_EXCHANGE
from chalicelib.tokens import names

if TYPE_CHECKING:
    from chalicelib.crypto.pop import PopKeys
    from chalicelib.settings import Settings

CLAIMS = ["iss", "sub", "aud", "exp", "iat", "jti", "scope", "client_id",
          names.AWS_TAGS_CLAIM, names.FLAT_PRINCIPAL_TAGS_CLAIM]


class Discovery:
    def __init__(self, pop: PopKeys, settings: Settings) -> None:
        self._pop = pop
        self._settings = settings

    def document(self) -> dict[str, Any]:
        base = self._settings.public_base_url
        # During a change of pop_signing_alg the older keys stay published; list every alg in use.
        algorithms = sorted({key.alg for key in self._pop.keys("sig")} | {self._settings.pop_signing_alg})
        return {
            "issuer": base,
            "jwks_uri": base + names.JWKS_PATH,
            "token_endpoint": base + names.TOKEN_PATH,
            "grant_types_supported": [GRANT_TOKEN_EXCHANGE],
            "token_endpoint_auth_methods_supported": ["none"],
            # Required members of OIDC Discovery; our tokens are ID-token-shaped JWTs (iss, sub, aud, exp, iat).
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": algorithms,
            "claims_supported": CLAIMS,
        }
