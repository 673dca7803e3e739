"""Storage: profiles, vault bucket creation, canonical vault ids (architecture §7)."""
