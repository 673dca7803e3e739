"""Every item key of the table, built in this one module (the layout is in ``store/__init__``).

Repositories build their keys from these functions and nothing else does: a
service names what it wants (a user, a vault's member) and never a ``pk``.
"""
from __future__ import annotations

import datetime as dt

# --- audit events --------------------------------------------------------------------------------
_EVENT_ID_WIDTH = 20


def audit_partition(moment: dt.datetime) -> str:
    return f"AUDIT#{moment:%Y-%m}"


def audit_event_sk(event_id: int) -> str:
    """Zero-padded, so the sort key orders as the id does."""
    return str(event_id).zfill(_EVENT_ID_WIDTH)


# --- key rings -----------------------------------------------------------------------------------
RING_HEAD_SK = "HEAD"
RINGS_INDEX = "RINGS"
RING_VERSION_SK_PREFIX = "V#"
_VERSION_WIDTH = 10


def ring_pk(ring: str) -> str:
    return f"RING#{ring}"


def ring_version_sk(version: int) -> str:
    return f"{RING_VERSION_SK_PREFIX}{version:0{_VERSION_WIDTH}d}"


def sealed_index_pk(ring: str) -> str:
    return f"SEALED#{ring}"


def sealed_index_sk(version: int, pk: str, sk: str) -> str:
    return f"{version:0{_VERSION_WIDTH}d}#{pk}#{sk}"


def sealed_index_below(version: int) -> tuple[str, str]:
    """The ``gsi1sk`` range of the records sealed under a version lower than ``version`` (> 1)."""
    return "0", f"{version - 1:0{_VERSION_WIDTH}d}$"  # '$' sorts right after the '#' separator


# --- POP keys ------------------------------------------------------------------------------------
POP_HEAD_SK = "HEAD"
POP_KEY_SK_PREFIX = "KEY#"


def pop_pk(use: str) -> str:
    return f"POP#{use}"


def pop_key_sk(kid: str) -> str:
    return POP_KEY_SK_PREFIX + kid


# --- locks ---------------------------------------------------------------------------------------
LOCK_SK = "LOCK"


def lock_pk(name: str) -> str:
    return f"LOCK#{name}"


# --- the secret server ---------------------------------------------------------------------------
IDP_PK = "SSIDP"
RESOURCE_SERVER_PK = "SSRS"


def secret_key(issuer: str, subject: str, purpose: str) -> tuple[str, str]:
    # Registered issuers never contain '#' (checked at registration), so the key is unambiguous.
    return f"SECRET#{issuer}#{subject}", purpose


def jti_key(client_id: str, jti: str) -> tuple[str, str]:
    return f"JTI#{client_id}", jti
