"""The Katta hub API (wire-compatible with katta-openapi.json)."""
from chalicelib.katta import (  # noqa: F401 — registers routes
    http_config, http_devices, http_groups, http_hub, http_out_of_scope, http_users, http_vaults,
)
from chalicelib.katta.blueprint import bp

__all__ = ["bp"]
