"""The SCIM routes: importing this module registers every handler on ``bp``."""
from chalicelib.scim import http  # noqa: F401 — registers routes
from chalicelib.scim.blueprint import bp

__all__ = ["bp"]
