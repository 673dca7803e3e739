"""The token service: issuer discovery, vault-scoped STS tokens and RFC 8693 token exchange (architecture §7)."""
