"""Published POP keys. Cacheable for exactly the JWKS-cache lifetime the rotation assumes."""
from typing import Any

from pydantic import BaseModel, ConfigDict

from chalicelib import deps
from chalicelib.apidoc import Operation
from chalicelib.pop.blueprint import bp
from chalicelib.settings import get_settings
from chalicelib.web import json_response, route


class Jwks(BaseModel):
    """RFC 7517 §5: the public keys, as JWKs."""

    model_config = ConfigDict(defer_build=True)

    keys: list[dict[str, Any]]


class PopDocument(Jwks):
    """The JWKS and the kid of the active key of each use (what clients encrypt to)."""

    active: dict[str, str]


def _cache_headers() -> dict[str, str]:
    return {"Cache-Control": f"public, max-age={get_settings().pop_jwks_cache_seconds}"}


@route(bp, "/.well-known/jwks.json", doc=Operation(
    "The POP signing and encryption keys (our issuer's JWKS)", "public", {200: Jwks}, tags=("pop",)))
def jwks():
    return json_response(deps.pop_keys().jwks(), headers=_cache_headers())


@route(bp, "/pop", doc=Operation(
    "The POP keys and which one of each use is active", "public", {200: PopDocument}, tags=("pop",)))
def pop():
    return json_response(deps.pop_keys().pop_document(), headers=_cache_headers())
