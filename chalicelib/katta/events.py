"""Audit event types (Cryptomator Hub's names) and the one helper that commits a change with them."""
from __future__ import annotations

import datetime as dt
from typing import Callable

from chalicelib import deps
from chalicelib.store.table import Transaction

from chalicelib.audit.catalogue import (  # noqa: E402,F401 — transitional: writers move to the catalogue
    DEVICE_REGISTER, DEVICE_REMOVE, KATTA_TYPES as ALL_TYPES, SETTING_WOT_UPDATE, SIGN_WOT_ID,
    USER_ACCOUNT_RESET, USER_ENABLED_CHANGE, USER_KEYS_CHANGE, USER_SETUP_CODE_CHANGE, VAULT_ACCESS_GRANT,
    VAULT_CREATE, VAULT_DELETE, VAULT_KEY_RETRIEVE, VAULT_MEMBER_ADD, VAULT_MEMBER_REMOVE, VAULT_MEMBER_UPDATE,
    VAULT_UPDATE,
)


def commit_bulk(steps: list[Callable[[Transaction], object]], final: Transaction) -> None:
    deps.transactions().commit_chunked(steps, final)


def instant(moment: dt.datetime | None = None) -> str:
    """The contract's Instant: ISO 8601 UTC with a ``Z``."""
    moment = moment or dt.datetime.now(dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
