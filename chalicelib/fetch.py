"""Outbound HTTP for small JSON documents (discovery, JWKS, userinfo).

Bounded in time and size: a slow or hostile endpoint must not hold a Lambda
invocation or fill its memory.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class FetchError(Exception):
    """The document could not be fetched or was not the JSON we expected."""


def fetch_json(url: str, *, timeout: float, max_bytes: int, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - URLs come from settings
            body = response.read(max_bytes + 1)
    except urllib.error.HTTPError as error:
        raise FetchError(f"{url} answered HTTP {error.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise FetchError(f"{url} could not be reached ({type(error).__name__})") from None
    if len(body) > max_bytes:
        raise FetchError(f"{url} answered more than {max_bytes} bytes")
    try:
        return json.loads(body)
    except ValueError:
        raise FetchError(f"{url} did not answer JSON") from None
