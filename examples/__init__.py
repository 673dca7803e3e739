"""Runnable examples of using Katta from a backend (never deployed)."""
