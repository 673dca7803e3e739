"""The decrypted ``vault.uvf`` payload: seeds, KDF and the vault's settings.

``kdf(seed, n, context)`` = HKDF-SHA512 (RFC 5869) with salt = ``kdfSalt`` and info = the ASCII
context, ``n`` bytes out. Seed ids are 4-byte big-endian integers, base64url-encoded in the JSON.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ._encoding import b64url_decode, b64url_encode
from .errors import InvalidFormat

__all__ = [
    "FILE_FORMAT",
    "NAME_FORMAT",
    "KDF_ALGORITHM",
    "AUTOMATIC_ACCESS_GRANT",
    "KATTA_STORAGE",
    "VaultMetadata",
    "encode_seed_id",
    "decode_seed_id",
]

FILE_FORMAT = "AES-256-GCM-32k"
NAME_FORMAT = "AES-SIV-512-B64URL"
KDF_ALGORITHM = "HKDF-SHA512"
AUTOMATIC_ACCESS_GRANT = "org.cryptomator.automaticAccessGrant"
KATTA_STORAGE = "cloud.katta.storage"

_SEED_LEN = 32
_MAX_SEEDS = 1024
_KNOWN = ("fileFormat", "nameFormat", "seeds", "initialSeed", "latestSeed", "kdf", "kdfSalt")


def encode_seed_id(seed_id: int) -> str:
    return b64url_encode(seed_id.to_bytes(4, "big"))


def decode_seed_id(value: object) -> int:
    raw = b64url_decode(value, "seed id")
    if len(raw) != 4:
        raise InvalidFormat("seed id must be 4 bytes")
    return int.from_bytes(raw, "big")


@dataclass(frozen=True)
class VaultMetadata:
    """Seeds and settings of a UVF vault (the decrypted ``vault.uvf`` payload).

    ``extra`` keeps every other payload member (``org.cryptomator.automaticAccessGrant``,
    ``cloud.katta.storage``, ...) unchanged, so a read–modify–write round trip loses nothing.
    """

    seeds: Mapping[int, bytes] = field(repr=False)
    initial_seed_id: int
    latest_seed_id: int
    kdf_salt: bytes = field(repr=False)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.seeds or len(self.seeds) > _MAX_SEEDS:
            raise InvalidFormat("vault metadata must have between 1 and 1024 seeds")
        for seed_id, seed in self.seeds.items():
            if not isinstance(seed_id, int) or not 0 <= seed_id < 2**32:
                raise InvalidFormat("seed ids must be 32-bit unsigned integers")
            if not isinstance(seed, bytes) or len(seed) < 16:
                raise InvalidFormat("seeds must be at least 16 bytes")
        if self.initial_seed_id not in self.seeds:
            raise InvalidFormat("initialSeed is not among the seeds")
        if self.latest_seed_id not in self.seeds:
            raise InvalidFormat("latestSeed is not among the seeds")
        if not isinstance(self.kdf_salt, bytes):
            raise InvalidFormat("kdfSalt must be bytes")

    def __repr__(self) -> str:
        return (f"VaultMetadata(seeds=<{len(self.seeds)} hidden>, initial_seed_id={self.initial_seed_id}, "
                f"latest_seed_id={self.latest_seed_id})")

    @classmethod
    def create(cls, automatic_access_grant: Optional[Mapping[str, Any]] = None,
               storage: Optional[Mapping[str, Any]] = None, **extra: Any) -> "VaultMetadata":
        """A new vault: one random 32-byte seed with a random 4-byte id, a random 32-byte salt."""
        seed_id = int.from_bytes(os.urandom(4), "big")
        members: dict[str, Any] = {
            AUTOMATIC_ACCESS_GRANT: dict(automatic_access_grant or {"enabled": False, "maxWotDepth": -1}),
        }
        if storage is not None:
            members[KATTA_STORAGE] = dict(storage)
        members.update(extra)
        return cls({seed_id: os.urandom(_SEED_LEN)}, seed_id, seed_id, os.urandom(32), members)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> "VaultMetadata":
        """Validate and load a decrypted ``vault.uvf`` payload."""
        if not isinstance(payload, Mapping):
            raise InvalidFormat("vault metadata must be a JSON object")
        if payload.get("fileFormat") != FILE_FORMAT:
            raise InvalidFormat(f"unsupported fileFormat (expected {FILE_FORMAT})")
        if payload.get("nameFormat") != NAME_FORMAT:
            raise InvalidFormat(f"unsupported nameFormat (expected {NAME_FORMAT})")
        if payload.get("kdf") != KDF_ALGORITHM:
            raise InvalidFormat(f"unsupported kdf (expected {KDF_ALGORITHM})")
        raw_seeds = payload.get("seeds")
        if not isinstance(raw_seeds, Mapping):
            raise InvalidFormat("seeds must be an object")
        seeds: dict[int, bytes] = {}
        for key, value in raw_seeds.items():
            seed_id = decode_seed_id(key)
            if seed_id in seeds:
                raise InvalidFormat("duplicate seed id")
            seeds[seed_id] = b64url_decode(value, "seed")
        extra = {k: v for k, v in payload.items() if k not in _KNOWN}
        return cls(seeds, decode_seed_id(payload.get("initialSeed")), decode_seed_id(payload.get("latestSeed")),
                   b64url_decode(payload.get("kdfSalt"), "kdfSalt"), extra)

    def to_payload(self) -> dict[str, Any]:
        """The ``vault.uvf`` payload, in the member order Katta writes."""
        payload: dict[str, Any] = {
            "fileFormat": FILE_FORMAT,
            "nameFormat": NAME_FORMAT,
            "seeds": {encode_seed_id(k): b64url_encode(v) for k, v in self.seeds.items()},
            "initialSeed": encode_seed_id(self.initial_seed_id),
            "latestSeed": encode_seed_id(self.latest_seed_id),
            "kdf": KDF_ALGORITHM,
            "kdfSalt": b64url_encode(self.kdf_salt),
        }
        payload.update(self.extra)
        return payload

    def seed(self, seed_id: int) -> bytes:
        try:
            return self.seeds[seed_id]
        except KeyError:
            raise InvalidFormat("unknown seed id") from None

    def kdf(self, seed_id: int, length: int, context: str) -> bytes:
        """HKDF-SHA512(seed, salt=kdfSalt, info=context) → ``length`` bytes."""
        return HKDF(algorithm=hashes.SHA512(), length=length, salt=self.kdf_salt,
                    info=context.encode("ascii")).derive(self.seed(seed_id))

    @property
    def automatic_access_grant(self) -> Optional[Mapping[str, Any]]:
        return self.extra.get(AUTOMATIC_ACCESS_GRANT)

    @property
    def storage(self) -> Optional[Mapping[str, Any]]:
        return self.extra.get(KATTA_STORAGE)
