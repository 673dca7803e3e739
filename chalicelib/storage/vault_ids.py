"""Vault ids as they may appear in a token, a bucket name or a policy variable.

A vault id ends up inside ``${aws:PrincipalTag/Vault}`` of the access role's
policy. SeaweedFS treats ``*`` and ``?`` in a substituted value as wildcards and
compares case-insensitively, and AWS bucket names must be lower case, so only
one spelling of a UUID is accepted: the canonical, lower-case, hyphenated form
that ``str(uuid.UUID(...))`` produces. Anything else is refused, never repaired.
"""
from __future__ import annotations

import uuid

from chalicelib.errors import InvalidField

_REASON = "must be a lower-case hyphenated UUID (8-4-4-4-12 hex digits)"


def canonical_vault_id(value: str, *, field: str = "vault") -> str:
    """Return ``value`` unchanged if it is a canonical vault id; raise InvalidField otherwise."""
    if not isinstance(value, str):
        raise InvalidField([{"field": field, "reason": _REASON}])
    try:
        canonical = str(uuid.UUID(value))
    except ValueError:
        raise InvalidField([{"field": field, "reason": _REASON}]) from None
    if canonical != value:
        raise InvalidField([{"field": field, "reason": _REASON}])
    return value
