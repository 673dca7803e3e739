"""Rendezvous sessions for device linking (DESIGN §9, docs/rendezvous.md)."""
from chalicelib.rendezvous.http import bp

__all__ = ["bp"]
