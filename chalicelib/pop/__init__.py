"""Key management's HTTP side: published keys (JWKS, the POP document), the admin endpoints, the schedule."""
