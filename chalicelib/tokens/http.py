"""Routes of the token service: issuer discovery and vault-scoped STS tokens.

``/.well-known/jwks.json`` is served by chalicelib/pop (the POP signing keys).
"""
from __future__ import annotations

from chalicelib import deps, web
from chalicelib.apidoc import Operation
from chalicelib.errors import InvalidField
from chalicelib.settings import get_settings
from chalicelib.oauth import NO_STORE, TokenResponse
from chalicelib.tokens import names
from chalicelib.tokens.blueprint import bp
from chalicelib.tokens.schemas import OpenIdConfiguration, VaultQuery


@web.route(bp, names.DISCOVERY_PATH, doc=Operation(
    "Our OIDC issuer's discovery document", "public", {200: OpenIdConfiguration}, tags=("tokens",)))
def openid_configuration():
    document = deps.discovery_service().document()
    return web.json_response(document, headers={
        "Cache-Control": f"public, max-age={get_settings().pop_jwks_cache_seconds}"})


@web.route(bp, "/api/storage/s3-token", methods=("POST",), role="user", content_types=["*/*"], doc=Operation(
    "A short-lived web-identity token for one vault's bucket (presented to STS)", "bearer",
    {200: TokenResponse}, query=VaultQuery, error_statuses=(410,), tags=("tokens",)))
def storage_token(principal):
    request = bp.current_request
    vault_id = web.query_param(request, "vault")
    if vault_id is None:
        raise InvalidField([{"field": "vault", "reason": "is required"}])
    source_ip = ((request.context or {}).get("identity") or {}).get("sourceIp")
    return web.json_response(deps.storage_token_service().issue(principal, vault_id, source_ip=source_ip),
                             headers=NO_STORE)
