"""Every item key of the table, built in this one module (the layout is in ``db/__init__``).

Repositories build their keys from these functions and nothing else does: a
service names what it wants (a user, a vault's member) and never a ``pk``.
"""
from __future__ import annotations

import datetime as dt

# --- audit events --------------------------------------------------------------------------------
# The sort key is the event id × 1000, zero-padded: ids were once microseconds × 1000 plus a random
# tail of three digits (19 digits, beyond 2^53), and such an item keeps its key; its id now reads as
# its microsecond (the key // 1000). Both kinds thus sort as their ids do, in one range per query.
_EVENT_ID_WIDTH = 20
_EVENT_SK_SCALE = 1000


_AUDIT_LOG_PREFIXES = {"hub": "AUDIT", "service": "SVCAUDIT"}


def audit_partition(log: str, moment: dt.datetime) -> str:
    """One partition per log and month: ``hub`` (Katta's event types, ``GET /api/auditlog``) or
    ``service`` (this service's own parts)."""
    return f"{_AUDIT_LOG_PREFIXES[log]}#{moment:%Y-%m}"


def audit_type_partition(log: str, event_type: str, moment: dt.datetime) -> str:
    """gsi1pk of a log's events of one type in one month: a filter by type reads only those."""
    return f"{_AUDIT_LOG_PREFIXES[log]}TYPE#{event_type}#{moment:%Y-%m}"


def audit_event_sk(event_id: int) -> str:
    return str(event_id * _EVENT_SK_SCALE).zfill(_EVENT_ID_WIDTH)


def audit_event_sk_range(first_id: int, last_id: int) -> tuple[str, str]:
    """The sort keys of the events with ids in [first_id, last_id] (ids ≥ 0)."""
    return audit_event_sk(first_id), str(last_id * _EVENT_SK_SCALE + _EVENT_SK_SCALE - 1).zfill(_EVENT_ID_WIDTH)


def audit_event_id(sk: str) -> int:
    return int(sk) // _EVENT_SK_SCALE


# --- users, their devices and trust signatures ---------------------------------------------------
AUTHORITIES = "AUTHORITIES"  # gsi1pk of users and groups, sorted by name for the search


def user(user_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", "PROFILE"


def authority_by_name(kind: str, name: str, authority_id: str = "") -> str:
    """gsi1sk of a user (``kind`` USER) or group (GROUP) under ``AUTHORITIES``; without an id, a name's prefix."""
    return f"{kind}#{name.lower()}#{authority_id}" if authority_id else f"{kind}#{name.lower()}"


def authorities_named(kind: str, name: str) -> str:
    """The gsi1sk prefix of every user or group with exactly this name (any case)."""
    return f"{kind}#{name.lower()}#"


def user_name(name: str) -> tuple[str, str]:
    """A SCIM userName's claim, naming the account it belongs to (SCIM compares user names in any case)."""
    return f"USERNAME#{name.lower()}", "USERNAME"


def user_email(email: str, user_id: str) -> tuple[str, str]:
    """A user's e-mail in the exact-address search (any case); an address may be several users'."""
    return f"EMAIL#{email.lower()}", f"USER#{user_id}"


def users_with_email(email: str) -> str:
    """The partition of every user an e-mail address was indexed for."""
    return f"EMAIL#{email.lower()}"


DEVICE_PREFIX = "DEVICE#"


def device(user_id: str, device_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", f"{DEVICE_PREFIX}{device_id}"


def device_claim(device_id: str) -> tuple[str, str]:
    return f"{DEVICE_PREFIX}{device_id}", "OWNER"


TRUST_PREFIX = "TRUST#"


def trust_signature(signer_id: str, user_id: str) -> tuple[str, str]:
    return f"USER#{signer_id}", f"{TRUST_PREFIX}{user_id}"


MEMBER_PREFIX = "MEMBER#"


# --- groups --------------------------------------------------------------------------------------

def group(group_id: str) -> tuple[str, str]:
    return f"GROUP#{group_id}", "PROFILE"


def group_member(group_id: str, user_id: str) -> tuple[str, str]:
    return f"GROUP#{group_id}", f"{MEMBER_PREFIX}{user_id}"


def memberships_of(authority_id: str) -> str:
    """gsi1pk of the group and vault memberships of a user or group."""
    return f"AUTH#{authority_id}"


# --- vaults --------------------------------------------------------------------------------------
VAULTS = "VAULTS"  # gsi1pk of every vault (the admin listing)
TOKEN_PREFIX = "TOKEN#"
PROFILE = "PROFILE"


def vault(vault_id: str) -> tuple[str, str]:
    return f"VAULT#{vault_id}", PROFILE


def vault_member(vault_id: str, authority_id: str) -> tuple[str, str]:
    return f"VAULT#{vault_id}", f"{MEMBER_PREFIX}{authority_id}"


def vault_token(vault_id: str, user_id: str) -> tuple[str, str]:
    return f"VAULT#{vault_id}", f"{TOKEN_PREFIX}{user_id}"


COUNCIL_PREFIX = "COUNCIL#"
RECOVERY_PREFIX = "RECOVERY#"


def council_member(vault_id: str, user_id: str) -> tuple[str, str]:
    """A user's seat on a vault's emergency council (their key share is in the vault item)."""
    return f"VAULT#{vault_id}", f"{COUNCIL_PREFIX}{user_id}"


def councils_of(user_id: str) -> str:
    """gsi1pk of the council seats of a user (the vaults they can help recover)."""
    return f"COUNCILS#{user_id}"


def recovery(vault_id: str, process_id: str) -> tuple[str, str]:
    return f"VAULT#{vault_id}", f"{RECOVERY_PREFIX}{process_id}"


def open_recovery(vault_id: str, process_type: str) -> tuple[str, str]:
    """The one open recovery process of a vault and type: held from its start until it is closed."""
    return f"VAULT#{vault_id}", f"OPEN_RECOVERY#{process_type}"


def recovery_vault(process_id: str) -> tuple[str, str]:
    """Which vault a recovery process belongs to (its routes name only the process)."""
    return f"{RECOVERY_PREFIX}{process_id}", "VAULT"


def tokens_of(user_id: str) -> str:
    """gsi1pk of a user's access tokens."""
    return f"TOKENS#{user_id}"


def vault_index(vault_id: str = "") -> str:
    """gsi1sk of a vault's items under ``VAULTS``, ``AUTH#…`` and ``TOKENS#…`` (no id: every vault's)."""
    return f"VAULT#{vault_id}"


def group_index(group_id: str = "") -> str:
    """gsi1sk of a group membership under ``AUTH#<userId>`` (no id: every group's)."""
    return f"GROUP#{group_id}"


# --- the access epoch (db/epoch.py) -------------------------------------------------------------
ACCESS_EPOCH = ("EPOCH", "ACCESS")


def vault_epoch(vault_id: str) -> tuple[str, str]:
    return "EPOCH", vault(vault_id)[0]


def vault_id_of(pk: str) -> str | None:
    """The vault whose items live under ``pk``, None for any other partition."""
    return pk[len("VAULT#"):] if pk.startswith("VAULT#") else None


def changes_access(pk: str, sk: str) -> bool:
    """Whether writing this item changes who may open which vault, or who awaits a grant."""
    return (pk.startswith("VAULT#") or (pk.startswith("GROUP#") and sk.startswith(MEMBER_PREFIX))
            or (pk.startswith("USER#") and sk == PROFILE))


def people_of(pk: str, sk: str) -> tuple[str, ...]:
    """The users and groups whose change writing this item (one that ``changes_access``) is: a user's
    profile, a group's membership (the group and the user); none for a vault's items."""
    if pk.startswith("USER#"):
        return (pk[len("USER#"):],)
    if pk.startswith("GROUP#"):
        return pk[len("GROUP#"):], sk[len(MEMBER_PREFIX):]
    return ()


# The last changes of people are recorded in this many slots, the n-th in slot n modulo it: a reader
# that is at most this many changes behind learns whom they touched; one further behind derives anew.
PEOPLE_CHANGE_SLOTS = 64


def people_change(n: int) -> tuple[str, str]:
    return "EPOCH", f"PEOPLE#{n % PEOPLE_CHANGE_SLOTS}"


# --- hub settings --------------------------------------------------------------------------------
HUB_SETTINGS = ("SETTINGS", "HUB")


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


# --- storage profiles ----------------------------------------------------------------------------
STORAGE_PROFILES = "STORAGEPROFILE"


def storage_profile(profile_id: str) -> tuple[str, str]:
    return STORAGE_PROFILES, profile_id


def vault_bucket(bucket: str) -> tuple[str, str]:
    return f"BUCKET#{bucket}", "CREATED"


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
