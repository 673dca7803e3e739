"""Published POP keys. Cacheable for exactly the JWKS-cache lifetime the rotation assumes."""
from chalicelib import deps
from chalicelib.pop.blueprint import bp
from chalicelib.settings import get_settings
from chalicelib.web import json_response, route


def _cache_headers() -> dict[str, str]:
    return {"Cache-Control": f"public, max-age={get_settings().pop_jwks_cache_seconds}"}


@route(bp, "/.well-known/jwks.json")
def jwks():
    return json_response(deps.pop_keys().jwks(), headers=_cache_headers())


@route(bp, "/pop")
def pop():
    return json_response(deps.pop_keys().pop_document(), headers=_cache_headers())
