"""The POP blueprint: published keys (JWKS) and the admin endpoints of key management."""
from chalicelib.pop import http_admin, http_public  # noqa: F401 — registers routes
from chalicelib.pop.blueprint import bp
from chalicelib.pop.schedule import rotate_pop_keys

__all__ = ["bp", "rotate_pop_keys"]
