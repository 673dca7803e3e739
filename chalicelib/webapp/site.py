"""The web app's files and the headers they are served with.

The build (``web/`` → ``npm run build``) lands in ``chalicelib/webapp/dist`` (gitignored), so
``chalice package`` carries it into the Lambda package. Only files the build wrote are served:
a request names an entry of the ``assets`` listing, never a path, so nothing outside it can be
reached. Every client-side route of the app gets ``index.html``; the router in the browser
draws the page.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import urlsplit

from chalicelib import errors
from chalicelib.settings import Settings

BUILD = Path(__file__).resolve().parent / "dist"

# Text only: API Gateway would need binaryMediaTypes for anything else, and the build has none.
CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".svg": "image/svg+xml; charset=utf-8"}
# The names of the app's pages (vue-router paths) and of what a page is about (a vault id).
PAGE = re.compile(r"[a-z][a-z0-9-]{0,63}")
ITEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# The page oidc-client-ts loads in a hidden iframe of the app itself to renew tokens (prompt=none).
SILENT_RENEW_PAGE = "silent-renew"
# Vite names assets <name>-<hash>.<ext>: a new build is a new name, so an old one never changes.
IMMUTABLE = "public, max-age=31536000, immutable"
COMMON_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


class WebApp:
    def __init__(self, settings: Settings, build: Path = BUILD,
                 storage_endpoints: Callable[[], Iterable[str]] = tuple) -> None:
        self._settings = settings
        self._build = build
        # Read for every page: an admin's new storage profile is reachable from the next page load.
        self._storage_endpoints = storage_endpoints

    def page(self, page: str | None = None, item: str | None = None) -> tuple[str, dict[str, str]]:
        """``index.html`` for the client-side route ``/app/<page>/<item>``; 404 for what is no route."""
        if (page is not None and not PAGE.fullmatch(page)) or (item is not None and not ITEM.fullmatch(item)):
            raise errors.NotFound("no such page")
        framed_by = "'self'" if page == SILENT_RENEW_PAGE and item is None else "'none'"
        return self._index(), {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
                               "Content-Security-Policy": self.content_security_policy(framed_by),
                               **COMMON_HEADERS}

    def asset(self, name: str) -> tuple[str, dict[str, str]]:
        content_type = CONTENT_TYPES.get(Path(name).suffix)
        if content_type is None or name not in self._assets():
            raise errors.NotFound("no such asset")
        body = (self._build / "assets" / name).read_text(encoding="utf-8")
        return body, {"Content-Type": content_type, "Cache-Control": IMMUTABLE, **COMMON_HEADERS}

    def content_security_policy(self, framed_by: str = "'none'") -> str:
        idp_origins = self.idp_origins()
        idp = " ".join(idp_origins)
        with_idp = f"'self' {idp}".rstrip()
        # A new vault's bucket is made through STS from the browser (as Katta's web client does).
        connect = " ".join(("'self'", *_origins((*idp_origins, *self._storage_endpoints()))))
        # oidc-client-ts renews tokens in a hidden iframe when the IdP gave no refresh token.
        frames = idp or "'none'"
        return "; ".join((
            "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
            f"connect-src {connect}",
            f"frame-src {frames}",
            f"frame-ancestors {framed_by}", "base-uri 'none'", f"form-action {with_idp}",
            "object-src 'none'"))

    def idp_origins(self) -> list[str]:
        """The origins of the trusted issuers' endpoints a browser talks to (discovery, token, …)."""
        return _origins(url for issuer in self._settings.trusted_issuers
                        for url in (issuer.issuer, issuer.authorization_endpoint, issuer.token_endpoint,
                                    issuer.userinfo_endpoint, issuer.jwks_uri))

    def _index(self) -> str:
        try:
            return _read(self._build / "index.html")
        except FileNotFoundError:
            raise errors.NotFound("the web app is not built on this deployment (scripts/bootstrap-web)") from None

    def _assets(self) -> frozenset[str]:
        return _listing(self._build / "assets")


@functools.lru_cache(maxsize=4)
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@functools.lru_cache(maxsize=4)
def _listing(folder: Path) -> frozenset[str]:
    try:
        return frozenset(p.name for p in folder.iterdir() if p.is_file())
    except FileNotFoundError:
        return frozenset()


def _origins(urls: Iterable[str | None]) -> list[str]:
    """The distinct origins of ``urls``, in order."""
    origins: list[str] = []
    for url in urls:
        if url:
            parts = urlsplit(url)
            origin = f"{parts.scheme}://{parts.netloc}"
            if origin not in origins:
                origins.append(origin)
    return origins
