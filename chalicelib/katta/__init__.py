"""The Katta hub API (wire-compatible with katta-openapi.json)."""
