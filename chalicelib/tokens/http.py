"""Routes of the token service: issuer discovery and vault-scoped STS tokens.

``/.well-known/jwks.json`` is served by chalicelib/pop (the POP signing keys).
"""
from __future__ import annotations

from chalicelib import deps, web
from chalicelib.apidoc import Operation
from chalicelib.errors import InvalidField
from chalicelib.settings import get_settings
from chalicelib.tokens import discovery, names, s3_token
from chalicelib.tokens.schemas import OpenIdConfiguration, TokenResponse, VaultQuery
from chalicelib.tokens.blueprint import bp

# RFC 6749 §5.1: token responses must not be cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@web.route(bp, names.DISCOVERY_PATH, doc=Operation(
    "Our OIDC issuer's discovery document", "public", {200: OpenIdConfiguration}, tags=("tokens",)))
def openid_configuration():
    document = discovery.document(get_settings(), deps.pop_keys())
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
    return web.json_response(s3_token.issue(principal, vault_id, source_ip=source_ip), headers=NO_STORE)
