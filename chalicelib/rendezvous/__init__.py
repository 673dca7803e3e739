"""Rendezvous sessions for device linking (DESIGN §9, docs/rendezvous.md)."""
