"""The rendezvous routes: importing this module registers every handler on ``bp``."""
from chalicelib.rendezvous import http  # noqa: F401 — registers routes
from chalicelib.rendezvous.blueprint import bp

__all__ = ["bp"]
