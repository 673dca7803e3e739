"""The web app's routes: importing this module registers every handler on ``bp``."""
from chalicelib.webapp import http  # noqa: F401 — registers routes
from chalicelib.webapp.blueprint import bp

__all__ = ["bp"]
