"""The token service: issuer discovery, vault-scoped STS tokens and RFC 8693 token exchange (DESIGN §7)."""
from chalicelib.tokens import http, http_exchange  # noqa: F401 — registers routes
from chalicelib.tokens.blueprint import bp

__all__ = ["bp"]
