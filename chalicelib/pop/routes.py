"""The POP routes: importing this module registers every handler on ``bp``."""
from chalicelib.pop import http_admin, http_public  # noqa: F401 — registers routes
from chalicelib.pop.blueprint import bp

__all__ = ["bp"]
