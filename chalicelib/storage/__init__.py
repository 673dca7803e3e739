"""Storage: profiles, vault bucket creation, canonical vault ids (DESIGN §7)."""
