"""The storage routes: importing this module registers every handler on ``bp``."""
from chalicelib.storage import http  # noqa: F401 — registers routes
from chalicelib.storage.blueprint import bp

__all__ = ["bp"]
