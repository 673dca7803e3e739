"""The Katta hub API's routes: importing this module registers every handler on ``bp``."""
from chalicelib.katta import (  # noqa: F401 — registers routes
    http_config, http_devices, http_emergency, http_groups, http_hub, http_out_of_scope, http_users, http_vaults,
)
from chalicelib.katta.blueprint import bp

__all__ = ["bp"]
