"""The audit routes of this service's own log: importing this module registers every handler on ``bp``."""
from chalicelib.audit import http  # noqa: F401 — registers routes
from chalicelib.audit.blueprint import bp

__all__ = ["bp"]
