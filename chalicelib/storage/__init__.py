"""Storage: profiles, vault bucket creation, canonical vault ids (DESIGN §7)."""
from chalicelib.storage import http  # noqa: F401 — registers routes
from chalicelib.storage.blueprint import bp

__all__ = ["bp"]
