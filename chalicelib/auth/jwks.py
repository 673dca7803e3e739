"""JWKS of the trusted issuers (and of anything else we fetch keys of), cached per process.

A token with an unknown ``kid`` may mean the issuer rotated its keys, so it
triggers a refetch — but at most one per cooldown, or a stream of tokens with
random kids would turn us into a request amplifier against the IdP.
"""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from joserfc.jwk import KeySet

    from chalicelib.settings import Settings, TrustedIssuer

Fetch = Callable[[str], Any]


class JwksUnavailable(Exception):
    """The issuer's keys could not be obtained."""


class _Entry:
    __slots__ = ("keys", "fetched_at", "attempted_at", "fetching")

    def __init__(self) -> None:
        self.keys: KeySet | None = None
        self.fetched_at = 0.0
        self.attempted_at = float("-inf")
        # Held while a fetch may happen: a first request arriving meanwhile (chalice local serves
        # threads) waits for that fetch's keys instead of finding the cooldown and no keys.
        self.fetching = threading.Lock()


class JwksCache:
    def __init__(self, settings: Settings, fetch: Fetch | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._fetch = fetch or (lambda url: _fetch_json(url, settings))
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._jwks_uris: dict[str, str] = {}
        self._lock = threading.Lock()

    def key_for(self, issuer: TrustedIssuer, kid: str | None) -> Any | None:
        """The issuer's key with ``kid``, or None if the issuer does not have it."""
        return _find(self.key_set(issuer.issuer, lambda: self._jwks_uri(issuer), kid), kid)

    def current(self, issuer: TrustedIssuer) -> KeySet | None:
        """The issuer's key set as cached now, never fetched: a new object after each refresh."""
        return self.cached(issuer.issuer)

    def cached(self, name: str) -> KeySet | None:
        """The key set cached under ``name`` now, never fetched: a new object after each refresh."""
        entry = self._entries.get(name)
        return entry.keys if entry else None

    def key_set(self, name: str, locate: Callable[[], str], kid: str | None = None) -> KeySet:
        """The key set cached under ``name``, fetched from the URL ``locate()`` returns.

        A set without the key ``kid`` names is refetched — at most once per cooldown — because
        its owner may have rotated. JwksUnavailable if no set was ever obtained.
        """
        with self._lock:
            entry = self._entries.setdefault(name, _Entry())
        if not self._stale(entry, self._clock()) and _find(entry.keys, kid) is not None:
            return entry.keys
        # With no keys yet, wait for a fetch under way; with keys, never queue behind one (an
        # unreachable IdP would hold every request for its timeout): serve the keys we have.
        if not entry.fetching.acquire(blocking=entry.keys is None):
            return entry.keys
        try:
            now = self._clock()
            stale = self._stale(entry, now)
            if stale and self._may_fetch(entry, now):
                self._refresh(locate, entry, now)
            if _find(entry.keys, kid) is None and not stale and self._may_fetch(entry, now):
                self._refresh(locate, entry, now)
            if entry.keys is None:
                raise JwksUnavailable(f"the keys of {name} are unavailable")
            return entry.keys
        finally:
            entry.fetching.release()

    def _stale(self, entry: _Entry, now: float) -> bool:
        return entry.keys is None or now - entry.fetched_at >= self._settings.jwks_cache_seconds

    def _may_fetch(self, entry: _Entry, now: float) -> bool:
        with self._lock:
            if now - entry.attempted_at < self._settings.jwks_refetch_cooldown_seconds:
                return False
            entry.attempted_at = now
            return True

    def _refresh(self, locate: Callable[[], str], entry: _Entry, now: float) -> None:
        # joserfc brings cryptography (~50 ms of import); only a request that needs keys pays it.
        from joserfc.jwk import KeySet

        try:
            document = self._fetch(locate())
            keys = KeySet.import_key_set(document)
        except Exception:  # noqa: BLE001
            # Keep serving the keys we had; a bad fetch must not lock everybody out.
            return
        entry.keys, entry.fetched_at = keys, now

    def _jwks_uri(self, issuer: TrustedIssuer) -> str:
        if issuer.jwks_uri:
            return issuer.jwks_uri
        if issuer.issuer not in self._jwks_uris:
            discovery = self._fetch(issuer.discovery_uri)
            uri = discovery.get("jwks_uri") if isinstance(discovery, dict) else None
            if not isinstance(uri, str) or discovery.get("issuer") != issuer.issuer:
                raise JwksUnavailable(f"the discovery document of {issuer.issuer} is not usable")
            self._jwks_uris[issuer.issuer] = uri
        return self._jwks_uris[issuer.issuer]


def _fetch_json(url: str, settings: Settings) -> Any:
    # chalicelib.fetch brings urllib.request: paid by the first fetch, not at import.
    from chalicelib.fetch import fetch_json

    return fetch_json(url, timeout=settings.http_timeout_seconds, max_bytes=settings.http_max_response_bytes)


def _find(keys: KeySet | None, kid: str | None) -> Any | None:
    if keys is None:
        return None
    if kid is None:
        # Without a kid only an unambiguous single-key set can be used.
        return keys.keys[0] if len(keys.keys) == 1 else None
    for key in keys.keys:
        if key.kid == kid:
            return key
    return None
