"""Rendezvous sessions for device linking (architecture §9, docs/rendezvous.md)."""
