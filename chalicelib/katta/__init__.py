"""The Katta hub API (wire-compatible with katta-openapi.json)."""
from chalicelib.katta import http_config, http_devices, http_users, http_vaults  # noqa: F401 — registers routes
from chalicelib.katta.blueprint import bp

__all__ = ["bp"]
