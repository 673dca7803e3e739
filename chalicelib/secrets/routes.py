"""The secret server's routes: importing this module registers every handler on ``bp``."""
from chalicelib.secrets import http_admin, http_exchange  # noqa: F401 — registers routes
from chalicelib.secrets.blueprint import bp

__all__ = ["bp"]
