"""Why a sealed record or a client JWE could not be opened.

Each refusal has its own class so callers (and tests) can tell a retired
version from a tampered record; the messages name versions and rings, never
material.
"""
from __future__ import annotations

from chalicelib import errors


class RecordError(errors.ApiError):
    """A sealed record cannot be opened; the server's own data is at fault, not the client."""

    status = 500
    title = "Internal Server Error"


class VersionRetired(RecordError):
    """The record was sealed under a ring version below the ring's ``min_decryption_version``."""

    status = 410
    title = "Gone"

    def __init__(self, ring: str, version: int, floor: int) -> None:
        super().__init__(f"key ring '{ring}': the record was sealed under version {version}, "
                         f"below the minimum decryption version {floor}")
        self.version = version
        self.floor = floor


class TamperedRecord(RecordError):
    """Authentication failed: the record was altered, moved to another identity, or sealed elsewhere."""

    def __init__(self, ring: str, reason: str = "authentication failed") -> None:
        super().__init__(f"key ring '{ring}': the record cannot be opened ({reason})")


class UnknownRing(errors.NotFound):
    def __init__(self, ring: str) -> None:
        super().__init__(f"there is no key ring '{ring}'")


class RingConflict(errors.Conflict):
    """The ring changed under us (a concurrent rotation or floor change); nothing was written."""


class InvalidJwe(errors.BadRequest):
    """A client-sent JWE is malformed, uses a refused algorithm, or does not decrypt."""
