"""Emergency access flows: a vault's council, and the recovery of a vault when its owners are gone.

* **set up**: an owner splits the vault's recovery key into one share per council member
  (:func:`set_up_council`; ``katta vault create --council`` and ``katta emergency setup``).
* **start**: a council member opens a recovery process with a fresh process key and, usually, their
  own approval (:func:`start_recovery`).
* **approve**: each other member re-encrypts their share to the process key (:func:`approve_recovery`).
* **complete**: once the threshold approved, a member combines the shares, recovers the recovery key,
  and makes the change: a new owner (``CHANGE_PERMISSIONS``: the vault is re-keyed, the new owners and the
  members with keys get fresh access tokens) or a new council (``COUNCIL_CHANGE``); then the process is
  completed (:func:`complete_recovery`).

The server sees ciphertext only; nothing secret is written to disk.
"""
from __future__ import annotations

import json
import uuid
from typing import Any, Mapping, Optional, Sequence

from .crypto import VaultKeys, recovery_public_key_from_jwks, vault_uvf_origin
from .crypto.emergency import (combine_recovered_key, new_process_key, recover_share, sign_process_info,
                               split_recovery_key, verify_process_info)
from .crypto.errors import KattaCryptoError
from .crypto.keys import UserKeys
from .crypto.vault import decrypt_vault_metadata_with_recovery_key
from .http import KattaApi
from .http.models import RecoveredKeyShareDto, RecoveryProcessDto, RecoveryType, VaultDto
from .vaults import UnlockedVault, VaultError, find_authority

CHANGE_PERMISSIONS: RecoveryType = "CHANGE_PERMISSIONS"
COUNCIL_CHANGE: RecoveryType = "COUNCIL_CHANGE"


def council_keys(api: KattaApi, member_ids: Sequence[str]) -> dict[str, str]:
    """Council member id → ECDH public key; every member must have set up their keys."""
    found = {a["id"]: a for a in api.authorities(member_ids) if a.get("type") == "USER"}
    keys = {}
    for member in member_ids:
        public_key = (found.get(member) or {}).get("ecdhPublicKey")
        if not public_key:
            raise VaultError(f"council member {member} is no user with keys set up (they must run `katta init`)")
        keys[member] = str(public_key)
    return keys


def resolve_council(api: KattaApi, names: Sequence[str]) -> list[str]:
    """User ids of the named users (id, exact name or unique name prefix), in order, without repeats."""
    ids: list[str] = []
    for name in names:
        authority = find_authority(api, name)
        if authority.get("type") != "USER":
            raise VaultError(f"{name!r} is a group; a council seats users")
        if authority["id"] not in ids:
            ids.append(authority["id"])
    return ids


def _vault_update(vault: Mapping[str, Any], **changes: Any) -> VaultDto:
    """The PUT body that changes only ``changes`` (name and description are sent as they are)."""
    body = {k: vault[k] for k in ("id", "name", "description", "archived") if k in vault}
    return {**body, **changes}  # type: ignore[typeddict-item]


def set_up_council(api: KattaApi, unlocked: UnlockedVault, member_ids: Sequence[str], threshold: int) -> VaultDto:
    """Splits the vault's recovery key among the council (owners only: they hold the recovery key)."""
    recovery_key = unlocked.keys.recovery_private_key
    if recovery_key is None:
        raise VaultError("only an owner holds the vault's recovery key; ask an owner to set up emergency access")
    shares = split_recovery_key(recovery_key, threshold, council_keys(api, member_ids))
    api.put_vault(unlocked.id, _vault_update(unlocked.vault, emergencyKeyShares=shares,
                                             requiredEmergencyKeyShares=threshold))
    return api.get_vault(unlocked.id)


def _recoverable(api: KattaApi, vault_id: str) -> VaultDto:
    for vault in api.recoverable_vaults():
        if vault.get("id") == vault_id:
            return vault
    raise VaultError(f"you are not on the emergency council of vault {vault_id}")


def _process(api: KattaApi, process_id: str) -> RecoveryProcessDto:
    for process in api.recovery_processes():
        if process.get("id") == process_id:
            return process
    raise VaultError(f"no open recovery process {process_id} of a council you sit on")


def start_recovery(api: KattaApi, user_keys: UserKeys, my_id: str, vault_id: str, *,
                   kind: RecoveryType = CHANGE_PERMISSIONS, details: Optional[Mapping[str, Any]] = None) -> RecoveryProcessDto:
    """Opens a recovery process for the vault's whole council and approves it: the others approve only a
    process a council member approved (see :func:`check_approvals`)."""
    vault = _recoverable(api, vault_id)
    council = list(vault.get("emergencyKeyShares") or {})
    public_key, private_keys = new_process_key(council_keys(api, council))
    # Each member's share travels with the process too: Hub's web client approves from there.
    shares: dict[str, RecoveredKeyShareDto] = {
        m: {"processPrivateKey": private_keys[m], "unrecoveredKeyShare": vault["emergencyKeyShares"][m]} for m in council}
    process: RecoveryProcessDto = {
        "id": str(uuid.uuid4()), "vaultId": vault_id, "type": kind,
        "requiredKeyShares": int(vault.get("requiredEmergencyKeyShares", 0)), "processPublicKey": public_key,
        "recoveredKeyShares": shares}
    if details:
        # Hub's shape, not the contract's text: Hub's web client reads details only as an object.
        process["details"] = dict(details)
    shares[my_id].update(_approval(user_keys, my_id, process, vault["emergencyKeyShares"][my_id]))
    api.start_recovery(process)
    return process


def _approval(user_keys: UserKeys, my_id: str, process: RecoveryProcessDto, share: str) -> RecoveredKeyShareDto:
    return {"recoveredKeyShare": recover_share(share, user_keys.ecdh_private_key, process["processPublicKey"]),
            "signedProcessInfo": sign_process_info(user_keys, my_id, process)}


def check_approvals(api: KattaApi, process: RecoveryProcessDto) -> None:
    """Refuses a process a hostile server may have made or altered to harvest key shares, as Hub's web client
    does before it approves or completes, and more: every approval signed by its member for this very change
    (no unsigned shape is taken: a server can fabricate one with a key pair of its own), each signature that
    names the process key naming this one, and at least one approval (the starter's, made with the start: a
    process without one is what a server can make alone)."""
    approved = {m: s for m, s in process["recoveredKeyShares"].items() if s.get("recoveredKeyShare")}
    if not approved:
        raise VaultError("no council member has approved the process: its starter approves it as they start it, "
                         "so it may not be theirs; abort it and start a new one")
    unsigned = sorted(m for m, s in approved.items() if not s.get("signedProcessInfo"))
    if unsigned:
        raise VaultError(f"the approval of council member {unsigned[0]} is not signed: the process may have "
                         "been tampered with; abort it and start a new one")
    keys = {a["id"]: a.get("ecdsaPublicKey") for a in api.authorities(list(approved)) if a.get("type") == "USER"}
    for member, share in approved.items():
        if not keys.get(member):
            raise VaultError(f"council member {member} who approved the process has no signing key")
        try:
            verify_process_info(share["signedProcessInfo"], keys[member], member, process)
        except KattaCryptoError as err:
            raise VaultError(f"the process may have been tampered with: {err}; abort it and start a new one") from None


def approve_recovery(api: KattaApi, user_keys: UserKeys, my_id: str, process_id: str) -> None:
    """Adds the caller's key share, re-encrypted to the process key, and their signature of the change."""
    process = _process(api, process_id)
    check_approvals(api, process)
    vault = _recoverable(api, process["vaultId"])
    share = (vault.get("emergencyKeyShares") or {}).get(my_id)
    if not share:
        raise VaultError("the vault holds no key share of yours")
    api.add_recovered_key_share(process_id, _approval(user_keys, my_id, process, share))


def recover_vault_keys(api: KattaApi, user_keys: UserKeys, my_id: str,
                       process: RecoveryProcessDto) -> tuple[VaultDto, VaultKeys]:
    """Combines the approved shares: the vault (as the council sees it) and its re-keyed keys, the
    recovery key recovered and a fresh member key (the old one is not recoverable from the recovery key)."""
    shares = [s["recoveredKeyShare"] for s in process["recoveredKeyShares"].values() if s.get("recoveredKeyShare")]
    if len(shares) < int(process.get("requiredKeyShares", 0)):
        raise VaultError(f"the process has {len(shares)} of the {process.get('requiredKeyShares')} approvals it needs")
    vault_id = process["vaultId"]
    vault = api.get_vault(vault_id)
    recovery_public = recovery_public_key_from_jwks(vault.get("uvfKeySet") or api.vault_jwks(vault_id))
    mine = process["recoveredKeyShares"][my_id]["processPrivateKey"]
    recovery_key = combine_recovered_key(shares, mine, user_keys.ecdh_private_key, recovery_public)
    fresh = VaultKeys.create()
    return vault, VaultKeys(fresh.member_key, recovery_public, recovery_key)


def process_details(process: RecoveryProcessDto) -> dict[str, Any]:
    """``details`` as JSON text (Katta's contract) or the object Hub's web client sends; {} for free text."""
    details: Any = process.get("details") or {}
    if isinstance(details, str):
        try:
            details = json.loads(details)
        except ValueError:
            return {}
    return details if isinstance(details, dict) else {}


def council_change_details(new_council: Sequence[str], new_threshold: int) -> dict[str, Any]:
    """A COUNCIL_CHANGE's details in Hub's names: the council the approvers agree to seat."""
    return {"newCouncilMemberIds": list(new_council), "newRequiredKeyShares": new_threshold}


def complete_recovery(api: KattaApi, user_keys: UserKeys, my_id: str, process_id: str, *,
                      new_owners: Sequence[str] = (), new_council: Sequence[str] = (),
                      new_threshold: int = 0) -> RecoveryProcessDto:
    """Carries out the process's change with the recovered key, then completes the process. It makes the
    changes its start named, which the approvers signed: the new owners (``new_owners`` only for a start
    that named none) or the new council (``new_council`` likewise)."""
    process = _process(api, process_id)
    check_approvals(api, process)
    vault_id = process["vaultId"]
    named = process_details(process)
    if process["type"] != COUNCIL_CHANGE and named.get("newOwnerIds"):
        if new_owners and set(new_owners) != set(named["newOwnerIds"]):
            raise VaultError("the recovery was approved for other new owners: complete it without --new-owner, "
                             "or start a new one")
        new_owners = named["newOwnerIds"]
    if process["type"] == COUNCIL_CHANGE:
        if named.get("newCouncilMemberIds"):
            wanted = council_change_details(new_council, new_threshold)
            if new_council and wanted != {k: named.get(k) for k in wanted}:
                raise VaultError("the council change was approved for another council: complete it without "
                                 "--new-council, or start a new one")
            new_council, new_threshold = named["newCouncilMemberIds"], int(named.get("newRequiredKeyShares") or 0)
    vault, keys = recover_vault_keys(api, user_keys, my_id, process)
    if process["type"] == COUNCIL_CHANGE:
        if not new_council or new_threshold < 2:
            raise VaultError("a council change needs the new council and its threshold (2 or more)")
        shares = split_recovery_key(keys.recovery_private_key, new_threshold, council_keys(api, new_council))  # type: ignore[arg-type]
        api.put_vault(vault_id, _vault_update(vault, emergencyKeyShares=shares, requiredEmergencyKeyShares=new_threshold))
    else:
        if not new_owners:
            raise VaultError("name the new owner(s) of the vault")
        _rekey(api, vault, keys, new_owners)
    api.complete_recovery(process_id)
    return process


def _rekey(api: KattaApi, vault: VaultDto, keys: VaultKeys, new_owners: Sequence[str]) -> None:
    """vault.uvf under a fresh member key; the new owners get owner tokens, the members with keys member ones."""
    vault_id = str(vault["id"])
    metadata = decrypt_vault_metadata_with_recovery_key(vault.get("uvfMetadataFile") or api.vault_uvf(vault_id),
                                                        keys.recovery_private_key)  # type: ignore[arg-type]
    document = keys.encrypt_metadata(metadata, origin=vault_uvf_origin(api.base_url + "/api", vault_id))
    api.put_vault(vault_id, _vault_update(vault, uvfMetadataFile=document))
    for owner in new_owners:
        api.add_user(vault_id, owner, "OWNER")
    members = {m["id"]: m for m in api.members(vault_id) if m.get("type") == "USER" and m.get("ecdhPublicKey")}
    tokens = {user_id: keys.encrypt_for_user(m["ecdhPublicKey"], owner=m.get("role") == "OWNER")
              for user_id, m in members.items()}
    if tokens:
        api.grant_access(vault_id, tokens)
