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


# --- storage profiles ----------------------------------------------------------------------------
STORAGE_PROFILES = "STORAGEPROFILE"


def storage_profile(profile_id: str) -> tuple[str, str]:
    return STORAGE_PROFILES, profile_id


# --- rendezvous ----------------------------------------------------------------------------------
_SESSION_PREFIX = "RDV#"
RENDEZVOUS_SLOT_PREFIX = "SLOT#"


def rendezvous_session(session_id: str) -> tuple[str, str]:
    return _SESSION_PREFIX + session_id, "SESSION"


def rendezvous_session_id(pk: str) -> str:
    return pk.removeprefix(_SESSION_PREFIX)


def rendezvous_slots_of(owner: str) -> str:
    """pk of a user's session slots (their open sessions are one Query)."""
    return f"RDVUSER#{owner}"


def rendezvous_slot(owner: str, slot: int) -> tuple[str, str]:
    return rendezvous_slots_of(owner), f"{RENDEZVOUS_SLOT_PREFIX}{slot}"


def rendezvous_slot_number(sk: str) -> int:
    return int(sk.removeprefix(RENDEZVOUS_SLOT_PREFIX))


def rendezvous_rate(source: str, window_start: int) -> tuple[str, str]:
    """The anonymous creations counted for ``source`` in the window starting at ``window_start``."""
    return f"RDVRATE#{source}", str(window_start)
