"""The key sets of registered IdPs and resource servers: inline, or fetched and cached.

Fetched sets go through the shared ``JwksCache`` (timeouts, size cap, cache
lifetime, refetch on an unknown ``kid`` at most once per cooldown), keyed by
their URL, so a changed registration never sees the old URL's keys. Inline
sets are parsed once per distinct document.
"""
from __future__ import annotations

import threading
from typing import Any

from chalicelib.auth.jwks import JwksCache, JwksUnavailable
from chalicelib.secrets import keysets

_INLINE_CACHE_SIZE = 256


class RegisteredKeys:
    def __init__(self, cache: JwksCache) -> None:
        self._cache = cache
        self._inline: dict[str, Any] = {}
        self._fetched: dict[str, tuple[Any, Any]] = {}
        self._lock = threading.Lock()

    def key_set(self, registration: dict[str, Any], kid: str | None = None):
        """The registration's keys; JwksUnavailable if a fetched set cannot be had or used."""
        inline = registration.get("jwks")
        if inline:
            return self._parsed(inline)
        uri = registration["jwks_uri"]
        fetched = self._cache.key_set(_cache_name(uri), lambda: uri, kid)
        checked = self._fetched.get(uri)
        if checked is not None and checked[0] is fetched:
            return checked[1]
        try:
            # The cache parsed the document; our rules (public, asymmetric) apply to it too.
            usable = keysets.import_public(fetched.as_dict(private=False))
        except keysets.UnusableKeySet as reason:
            raise JwksUnavailable(f"the key set at {uri} is not usable: {reason}") from None
        with self._lock:
            self._fetched[uri] = (fetched, usable)
        return usable

    def current(self, registration: dict[str, Any]):
        """The registration's keys as parsed now, never fetched (None if not yet): a new object after
        each change of the registration or refresh of its fetched set."""
        inline = registration.get("jwks")
        if inline:
            return self._inline.get(inline)
        uri = registration["jwks_uri"]
        checked = self._fetched.get(uri)
        return checked[1] if checked is not None and checked[0] is self._cache.cached(_cache_name(uri)) else None

    def _parsed(self, text: str):
        cached = self._inline.get(text)
        if cached is None:
            cached = keysets.parse_inline(text)
            with self._lock:
                if len(self._inline) >= _INLINE_CACHE_SIZE:
                    self._inline.clear()
                self._inline[text] = cached
        return cached


def _cache_name(uri: str) -> str:
    return f"jwks:{uri}"
