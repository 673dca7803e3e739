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
