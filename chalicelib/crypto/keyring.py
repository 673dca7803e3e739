"""Key rings under the KMS management key (architecture §6), Vault-transit style.

A ring is a list of versions; each version is a 256-bit data key from KMS
``GenerateDataKey`` under the management key, stored only wrapped, with the
encryption context ``{"katta:ring": name, "katta:version": n}`` so KMS refuses
to unwrap it as any other ring or version. The newest version seals; versions
from ``min_decryption_version`` up open; versions below the floor are refused
(``VersionRetired``) and can be trimmed.

Per process, ring metadata is cached for ``key_ring_cache_seconds`` and
unwrapped versions for ``data_key_cache_seconds``: a warm request costs no KMS
call and no DynamoDB read. Another instance's change is seen after at most the
metadata lifetime, which is why raising the floor waits until every instance
must have stopped sealing under the versions it retires.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from chalicelib import aws
from chalicelib.audit import AuditLog, catalogue
from chalicelib.crypto import envelope
from chalicelib.crypto.errors import RecordError, RingConflict, TamperedRecord, UnknownRing, VersionRetired
from chalicelib.settings import Settings
from chalicelib.db.keyrings import KeyRingRepository, Ring, RingVersion, SealedRecordIndex
from chalicelib.db.table import ConditionFailed, Transaction, Transactions

log = logging.getLogger("katta")

# Transactions hold at most 100 items; one goes to the head and one to the audit event.
_TRIM_BATCH = 90
_UNWRAP_REFUSALS = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})


@dataclass(frozen=True)
class Sealed:
    record: bytes
    version: int


@dataclass(frozen=True)
class RewrapReport:
    rewrapped: int = 0
    retired: int = 0
    unreadable: int = 0
    conflicts: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"rewrapped": self.rewrapped, "retired": self.retired,
                "unreadable": self.unreadable, "conflicts": self.conflicts}


def encryption_context(ring: str, version: int) -> dict[str, str]:
    return {"katta:ring": ring, "katta:version": str(version)}


class KeyRings:
    def __init__(self, repository: KeyRingRepository, index: SealedRecordIndex, transactions: Transactions,
                 audit_log: AuditLog, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self._repository = repository
        self._index = index
        self._transactions = transactions
        self._audit = audit_log
        self._settings = settings
        self._clock = clock
        self._rings: dict[str, tuple[Ring, float]] = {}
        self._keys: dict[tuple[str, int], tuple[bytes, float]] = {}
        self._create_lock = threading.Lock()

    # -- records -----------------------------------------------------------------------------

    def seal(self, ring: str, plaintext: bytes, identity: str) -> Sealed:
        """Seals ``plaintext`` under the ring's newest version, binding ``identity``."""
        current = self._ring_for_sealing(ring)
        key = self._data_key(current, current.latest)
        return Sealed(envelope.seal(key, ring, current.latest, plaintext, identity), current.latest)

    def open(self, ring: str, record: bytes, identity: str) -> bytes:
        """The plaintext of ``record``; VersionRetired below the floor, TamperedRecord if not authentic."""
        version = envelope.version_of(ring, record)
        try:
            current = self._cached_ring(ring)
        except UnknownRing:
            raise TamperedRecord(ring, "the ring does not exist here") from None
        if version > current.latest:
            # Records are the server's own data, so a newer version is another instance's rotation
            # this copy predates, not a probe to ration: one consistent reload settles it.
            current = self._load(ring)
        if version < current.min_decryption_version:
            raise VersionRetired(ring, version, current.min_decryption_version)
        if version not in current.versions:
            raise TamperedRecord(ring, f"it names version {version}, which the ring does not have")
        return envelope.open_record(self._data_key(current, version), ring, record, identity)

    def rewrap(self, ring: str, record: bytes, identity: str) -> Sealed:
        """``record`` sealed under the newest version; the plaintext never leaves this call."""
        plaintext = self.open(ring, record, identity)
        return self.seal(ring, plaintext, identity)

    # -- ring operations (admin) -------------------------------------------------------------

    def names(self) -> list[str]:
        return self._repository.names()

    def describe(self, ring: str) -> dict[str, Any]:
        current = self._load(ring)
        return {
            "name": current.name, "latestVersion": current.latest,
            "minDecryptionVersion": current.min_decryption_version,
            "minAvailableVersion": current.min_available_version,
            "createdAt": current.created_at, "updatedAt": current.updated_at,
            "versions": [{"version": v.version, "kmsKey": v.kms_key, "createdAt": v.created_at}
                         for v in sorted(current.versions.values(), key=lambda v: v.version)],
        }

    def rotate(self, ring: str, actor: str | None = None) -> Ring:
        """Adds a version that becomes the sealing version at once."""
        current = self._load(ring)
        version = current.latest + 1
        key, wrapped = self._generate(ring, version)
        try:
            transaction = self._repository.add_version(Transaction(), ring, wrapped)
            self._commit(transaction, catalogue.KEY_RING_ROTATE, actor, ring=ring, version=version)
        except ConditionFailed:
            raise RingConflict(f"key ring '{ring}' was rotated concurrently; nothing was written") from None
        self._remember_key(ring, version, key)
        return self._load(ring)

    def set_min_decryption_version(self, ring: str, floor: int, actor: str | None = None) -> Ring:
        current = self._load(ring)
        if not current.min_available_version <= floor <= current.latest:
            raise RingConflict(f"key ring '{ring}': the minimum decryption version must lie between "
                               f"{current.min_available_version} and {current.latest}")
        if floor > current.min_decryption_version:
            # An instance seals under its cached latest version; wait until none can still
            # believe a version below the new floor is the newest.
            safe_at = current.versions[floor].created_at + self._settings.key_ring_cache_seconds
            now = int(self._clock())
            if now < safe_at:
                raise RingConflict(f"key ring '{ring}': version {floor} became the sealing version less than "
                                   f"{self._settings.key_ring_cache_seconds} s ago; other instances may still seal "
                                   f"under older versions — retry in {safe_at - now} s")
        try:
            transaction = self._repository.set_floor(Transaction(), ring, floor, int(self._clock()))
            self._commit(transaction, catalogue.KEY_RING_MIN_DECRYPTION_VERSION, actor, ring=ring,
                         minDecryptionVersion=floor)
        except ConditionFailed:
            raise RingConflict(f"key ring '{ring}' changed concurrently; nothing was written") from None
        return self._load(ring)

    def trim(self, ring: str, actor: str | None = None) -> list[int]:
        """Deletes the versions below the floor (for good: their records can never open again)."""
        current = self._load(ring)
        doomed = sorted(v for v in current.versions if v < current.min_decryption_version)[:_TRIM_BATCH]
        if not doomed:
            return []
        remaining = [v for v in current.versions if v > doomed[-1]]
        try:
            transaction = self._repository.trim(Transaction(), ring, doomed, min(remaining), int(self._clock()))
            self._commit(transaction, catalogue.KEY_RING_TRIM, actor, ring=ring, minAvailableVersion=min(remaining),
                         trimmed=len(doomed))
        except ConditionFailed:
            raise RingConflict(f"key ring '{ring}' changed concurrently; nothing was trimmed") from None
        for version in doomed:
            self._keys.pop((ring, version), None)
        self._load(ring)
        return doomed

    def rewrap_versions(self, ring: str, kms_key_id: str | None = None, actor: str | None = None) -> int:
        """Re-wraps every version under ``kms_key_id`` (default: the configured management key).

        Uses KMS ``ReEncrypt``: the data keys never appear in plaintext, here or anywhere.
        Each version item is swapped on its own; a half-done run leaves every version
        readable (under the old or the new key) and a second run finishes it.
        """
        destination = kms_key_id or self._settings.kms_key_id
        current = self._load(ring)
        kms = aws.client("kms")
        arn = destination
        for version in sorted(current.versions.values(), key=lambda v: v.version):
            context = encryption_context(ring, version.version)
            response = kms.re_encrypt(CiphertextBlob=version.wrapped, SourceKeyId=version.kms_key,
                                      SourceEncryptionContext=context, DestinationKeyId=destination,
                                      DestinationEncryptionContext=context)
            arn = response["KeyId"]
            try:
                self._repository.replace_wrapped(ring, version, RingVersion(
                    version.version, response["CiphertextBlob"], arn, version.created_at))
            except ConditionFailed:
                raise RingConflict(f"key ring '{ring}': version {version.version} changed concurrently") from None
        self._audit.write(catalogue.KEY_RING_REWRAP_VERSIONS, ring=ring, kmsKey=arn, versions=len(current.versions),
                          **_by(actor))
        self._load(ring)
        return len(current.versions)

    def rewrap_records(self, ring: str) -> RewrapReport:
        """Moves every record sealed under an older version to the newest one."""
        current = self._load(ring)
        counts = {"rewrapped": 0, "retired": 0, "unreadable": 0, "conflicts": 0}
        for item in self._index.below(ring, current.latest):
            try:
                sealed = self.rewrap(ring, bytes(item["sealed"]), item["sealed_identity"])
            except VersionRetired:
                counts["retired"] += 1
                continue
            except RecordError:
                counts["unreadable"] += 1
                log.warning("re-wrap: a record of key ring %s does not open", ring)
                continue
            try:
                self._index.replace(item, sealed.record, sealed.version)
                counts["rewrapped"] += 1
            except ConditionFailed:
                counts["conflicts"] += 1  # rewritten by its owner meanwhile: already current
        return RewrapReport(**counts)

    def _commit(self, transaction: Transaction, event: catalogue.EventType, actor: str | None,
                **details: Any) -> None:
        """Commits the change with its audit event; ConditionFailed if the ring moved meanwhile."""
        self._transactions.commit(self._audit.record(transaction, event, **details, **_by(actor)))

    # -- caches and KMS ----------------------------------------------------------------------

    def _cached_ring(self, ring: str) -> Ring:
        cached = self._rings.get(ring)
        if cached and self._clock() - cached[1] < self._settings.key_ring_cache_seconds:
            return cached[0]
        return self._load(ring)

    def _load(self, ring: str) -> Ring:
        loaded = self._repository.load(ring)
        if loaded is None:
            self._rings.pop(ring, None)
            raise UnknownRing(ring)
        self._rings[ring] = (loaded, self._clock())
        return loaded

    def _ring_for_sealing(self, ring: str) -> Ring:
        try:
            return self._cached_ring(ring)
        except UnknownRing:
            pass
        with self._create_lock:
            key, first = self._generate(ring, 1)
            try:
                transaction = self._repository.create(Transaction(), ring, first)
                self._commit(transaction, catalogue.KEY_RING_CREATE, None, ring=ring, version=first.version)
                self._remember_key(ring, 1, key)
            except ConditionFailed:
                pass  # another instance created it; its version 1 is the one that counts
            return self._load(ring)

    def _generate(self, ring: str, version: int) -> tuple[bytes, RingVersion]:
        response = aws.client("kms").generate_data_key(
            KeyId=self._settings.kms_key_id, KeySpec="AES_256", EncryptionContext=encryption_context(ring, version))
        wrapped = RingVersion(version, response["CiphertextBlob"], response["KeyId"], int(self._clock()))
        return response["Plaintext"], wrapped

    def _data_key(self, ring: Ring, version: int) -> bytes:
        cached = self._keys.get((ring.name, version))
        if cached and self._clock() - cached[1] < self._settings.data_key_cache_seconds:
            return cached[0]
        wrapped = ring.versions[version]
        kms = aws.client("kms")
        try:
            response = kms.decrypt(CiphertextBlob=wrapped.wrapped, KeyId=wrapped.kms_key,
                                   EncryptionContext=encryption_context(ring.name, version))
        except kms.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _UNWRAP_REFUSALS:
                raise RecordError(f"key ring '{ring.name}': KMS refuses to unwrap version {version}") from None
            raise
        key = response["Plaintext"]
        if len(key) != envelope.KEY_BYTES:
            raise RecordError(f"key ring '{ring.name}': version {version} is not a 256-bit key")
        self._remember_key(ring.name, version, key)
        return key

    def _remember_key(self, ring: str, version: int, key: bytes) -> None:
        self._keys[(ring, version)] = (key, self._clock())


def _by(actor: str | None) -> dict[str, str]:
    """Scheduled and first-use changes have no admin behind them."""
    return {"userId": actor} if actor else {}
