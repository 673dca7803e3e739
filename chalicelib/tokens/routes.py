"""The token service's routes: importing this module registers every handler on ``bp``."""
from chalicelib.tokens import http, http_exchange  # noqa: F401 — registers routes
from chalicelib.tokens.blueprint import bp

__all__ = ["bp"]
