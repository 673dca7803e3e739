"""Claim paths: how a setting names a value inside a token's claims.

Two forms. A dotted path (``realm_access.roles``) is what the settings have always taken. A JSON
Pointer (RFC 6901, it starts with ``/``) can name any claim, including Auth0's namespaced ones
(``/https:~1~1katta.example~1roles``), whose dots and slashes a dotted path cannot express.
"""
from __future__ import annotations

from typing import Any


def check(path: str) -> str:
    """``path`` if it is a usable claim path; ValueError saying why not."""
    if not path:
        raise ValueError("a claim path may not be empty")
    if path.startswith("/"):
        for token in path[1:].split("/"):
            if token.replace("~0", "").replace("~1", "").count("~"):
                raise ValueError(f"{path!r} is not a JSON Pointer: '~' must be followed by 0 or 1 (RFC 6901)")
    elif "" in path.split("."):
        raise ValueError(f"{path!r} has an empty segment; a claim whose name contains dots needs a JSON Pointer")
    return path


def segments(path: str) -> list[str]:
    """The names along ``path``; the first is the top-level claim."""
    if path.startswith("/"):
        # ~1 before ~0 (RFC 6901 §4): "~01" is the name "~1", not "/".
        return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]
    return path.split(".")


def value(claims: dict[str, Any], path: str | None) -> Any:
    """The value ``path`` names in ``claims``, None where there is none."""
    if not path:
        return None
    found: Any = claims
    for segment in segments(path):
        if isinstance(found, dict) and segment in found:
            found = found[segment]
        elif isinstance(found, list) and segment.isdigit() and int(segment) < len(found):
            found = found[int(segment)]
        else:
            return None
    return found


def strings(found: Any) -> list[str]:
    """A string is one value, a list its string members; anything else none."""
    if isinstance(found, str):
        return [found]
    if isinstance(found, list):
        return [v for v in found if isinstance(v, str)]
    return []
