"""What `chalice package` does not create, and the deploy command (scripts/deploy)."""
