"""The secret server (DESIGN §8): token exchange for registered resource servers, and its admin API."""
from chalicelib.secrets import http_admin, http_exchange  # noqa: F401 — registers routes
from chalicelib.secrets.blueprint import bp

__all__ = ["bp"]
