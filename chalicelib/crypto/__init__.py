"""Server-side key management (architecture §6): KMS envelope key rings, POP keys, JOSE helpers."""
