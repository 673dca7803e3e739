"""Audit event types (Cryptomator Hub's names) and the one helper that commits a change with them."""
from __future__ import annotations

import datetime as dt
from typing import Callable

from chalicelib import deps
from chalicelib.store.table import Transaction

DEVICE_REGISTER = "DEVICE_REGISTER"
DEVICE_REMOVE = "DEVICE_REMOVE"
USER_KEYS_CHANGE = "USER_KEYS_CHANGE"
USER_SETUP_CODE_CHANGE = "USER_SETUP_CODE_CHANGE"
USER_ACCOUNT_RESET = "USER_ACCOUNT_RESET"
# Hub leaves enabling accounts to Keycloak; ours is recorded under our own event type.
USER_ENABLED_CHANGE = "USER_ENABLED_CHANGE"
VAULT_CREATE = "VAULT_CREATE"
VAULT_UPDATE = "VAULT_UPDATE"
# Katta's contract can delete a vault; Hub has no event for it, so this one is ours.
VAULT_DELETE = "VAULT_DELETE"
VAULT_MEMBER_ADD = "VAULT_MEMBER_ADD"
VAULT_MEMBER_REMOVE = "VAULT_MEMBER_REMOVE"
VAULT_MEMBER_UPDATE = "VAULT_MEMBER_UPDATE"
VAULT_ACCESS_GRANT = "VAULT_ACCESS_GRANT"
VAULT_KEY_RETRIEVE = "VAULT_KEY_RETRIEVE"
SIGN_WOT_ID = "SIGN_WOT_ID"
SETTING_WOT_UPDATE = "SETTING_WOT_UPDATE"

ALL_TYPES = frozenset({
    DEVICE_REGISTER, DEVICE_REMOVE, USER_KEYS_CHANGE, USER_SETUP_CODE_CHANGE, USER_ACCOUNT_RESET, USER_ENABLED_CHANGE,
    VAULT_CREATE,
    VAULT_UPDATE, VAULT_DELETE, VAULT_MEMBER_ADD, VAULT_MEMBER_REMOVE, VAULT_MEMBER_UPDATE, VAULT_ACCESS_GRANT,
    VAULT_KEY_RETRIEVE, SIGN_WOT_ID, SETTING_WOT_UPDATE,
})

# DynamoDB transactions hold at most 100 items.
_MAX_TRANSACTION_ITEMS = 100


def commit_bulk(steps: list[Callable[[Transaction], object]], final: Transaction) -> None:
    """Applies ``steps``, then ``final`` (the change and its audit event) — in ONE transaction when
    they fit, so that a failure leaves nothing half-done.

    Changes larger than one transaction (deleting a vault or a group, an account
    reset, with many items) go in chunks: a failure part-way leaves only steps
    done that a retry repeats harmlessly, and the audit event is written once
    everything is.
    """
    chunks = [Transaction()]
    for step in steps:
        scratch = Transaction()
        step(scratch)
        if len(chunks[-1].ops) + len(scratch.ops) > _MAX_TRANSACTION_ITEMS:
            chunks.append(Transaction())
        chunks[-1].ops.extend(scratch.ops)
    if len(chunks[-1].ops) + len(final.ops) <= _MAX_TRANSACTION_ITEMS:
        chunks[-1].ops.extend(final.ops)
    else:
        chunks.append(final)
    table = deps.table()
    for chunk in chunks:
        table.commit(chunk)


def instant(moment: dt.datetime | None = None) -> str:
    """The contract's Instant: ISO 8601 UTC with a ``Z``."""
    moment = moment or dt.datetime.now(dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
