"""Server-side key management (DESIGN §6): KMS envelope key rings, POP keys, JOSE helpers."""
