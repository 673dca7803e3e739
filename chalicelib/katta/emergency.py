"""Emergency access: recovery processes of a vault's emergency council (``/api/emergency-access``).

A vault's recovery key is split by its owner's client into key shares, one per council member, each
a JWE to that member (``emergencyKeyShares``, written with the vault). To recover the vault, a council
member starts a process with a fresh process key pair: the public key in the clear, the private key
encrypted to every member. Each member who approves re-encrypts their share to the process key. Once
``requiredKeyShares`` members approved, any of them combines the shares in their client and acts for
the vault's owners in the process's change only (``recovering``: the members and vault.uvf for
``CHANGE_PERMISSIONS``, the council for ``COUNCIL_CHANGE``) until the process is completed or aborted. A
vault has at most one open process of each type.

The server relays ciphertext and counts approvals; it never sees a share, a key or the secret. Refusals
of a process's state (closed, already approved, too few approvals, another process of the type open) are
403s: the contract lists no 409 for these routes, and Hub's clients read 403 as "not allowed".
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chalicelib.audit import catalogue
from chalicelib.auth import Principal
from chalicelib.db.recoveries import OPEN
from chalicelib.db.table import ConditionFailed, Transaction
from chalicelib.errors import BadRequest, Conflict, Forbidden, NotFound
from chalicelib.katta.formats import RecoveredKeyShareInput, RecoveryProcessInput

if TYPE_CHECKING:
    from chalicelib.audit import AuditLog
    from chalicelib.db.recoveries import RecoveryRepository
    from chalicelib.db.table import Transactions
    from chalicelib.db.vaults import VaultContents, VaultRepository
    from chalicelib.katta.hub_settings import HubSettingsService

COMPLETED, ABORTED = "COMPLETED", "ABORTED"
CHANGE_PERMISSIONS, COUNCIL_CHANGE = "CHANGE_PERMISSIONS", "COUNCIL_CHANGE"
# What a start stores of each member's part; the approval adds recoveredKeyShare and signedProcessInfo.
_START_FIELDS = ("processPrivateKey", "unrecoveredKeyShare", "recoveredKeyShare", "signedProcessInfo")


def approvals(process: dict[str, Any]) -> int:
    return sum(1 for share in process["recoveredKeyShares"].values() if share.get("recoveredKeyShare"))


def recovering(contents: VaultContents, user_id: str, process_type: str | None = None) -> bool:
    """Whether the user is a member of an open process of the vault (of ``process_type``, if given) that
    enough members approved."""
    return any(p["status"] == OPEN and user_id in p["recoveredKeyShares"] and process_type in (None, p["type"])
               and approvals(p) >= int(p["requiredKeyShares"]) for p in contents.recoveries.values())


def process_dto(process: dict[str, Any]) -> dict[str, Any]:
    dto = {k: process[k] for k in ("id", "vaultId", "type", "processPublicKey") if process.get(k)}
    if "details" in process:  # empty details too: approvals sign them as they were sent
        dto["details"] = process["details"]
    if process.get("detailsAsObject"):
        dto["details"] = json.loads(process["details"])
    dto["requiredKeyShares"] = int(process["requiredKeyShares"])
    dto["recoveredKeyShares"] = {m: dict(share) for m, share in process["recoveredKeyShares"].items()}
    return dto


def _share(dto: RecoveredKeyShareInput, fields: tuple[str, ...]) -> dict[str, str]:
    return {k: getattr(dto, k) for k in fields if getattr(dto, k) is not None}


class EmergencyAccessService:
    def __init__(self, recoveries: RecoveryRepository, vaults: VaultRepository, hub_settings: HubSettingsService,
                 audit: AuditLog, transactions: Transactions) -> None:
        self._recoveries = recoveries
        self._vaults = vaults
        self._hub_settings = hub_settings
        self._audit = audit
        self._transactions = transactions

    # --- reading ---------------------------------------------------------------------------------

    def processes(self, principal: Principal, vault_id: str | None = None) -> list[dict[str, Any]]:
        """The open processes the caller is a council member of: of one vault, or of every vault whose
        council they sit on."""
        vault_ids = [vault_id] if vault_id else self._vaults.council_vault_ids(principal.user_id)
        found = []
        for each in vault_ids:
            for process in self._vaults.contents(each).recoveries.values():
                if process["status"] == OPEN and principal.user_id in process["recoveredKeyShares"]:
                    found.append(process_dto(process))
        return sorted(found, key=lambda p: p["id"])

    def _process(self, principal: Principal, process_id: str) -> dict[str, Any]:
        vault_id = self._recoveries.vault_of(process_id)
        process = self._recoveries.get(vault_id, process_id) if vault_id else None
        if process is None:
            raise NotFound("no such recovery process")
        if principal.user_id not in process["recoveredKeyShares"]:
            raise Forbidden("only a council member of this recovery process may do this")
        return process

    # --- starting and approving ------------------------------------------------------------------

    def start(self, principal: Principal, process_id: str, dto: RecoveryProcessInput,
              ip_address: str | None = None) -> None:
        if dto.id is not None and dto.id.lower() != process_id:
            raise BadRequest("id: must equal the process id in the path")
        contents = self._vaults.contents(dto.vaultId.lower())
        process = self._new_process(principal, process_id, dto, contents)
        transaction = self._recoveries.create(Transaction(), process)
        self._audit.record(transaction, catalogue.EMERGENCY_ACCESS_RECOVERY_STARTED, vaultId=process["vaultId"],
                           processId=process_id, councilMemberId=principal.user_id, processType=process["type"],
                           details=process.get("details") or "")
        if process["recoveredKeyShares"][principal.user_id].get("recoveredKeyShare"):
            # The member who starts a process usually approves it at once (Hub's web client does).
            self._record_approval(transaction, principal, process_id, ip_address)
        try:
            self._transactions.commit(transaction)
        except ConditionFailed:
            stored = self._recoveries.get(process["vaultId"], process_id)
            if stored is not None and stored["status"] == OPEN and stored == process:
                return  # the same start twice: it is there, as asked
            if stored is None:
                # Another start of this type came first.
                self._refuse_second(self._vaults.contents(process["vaultId"]), process)
            raise Conflict("a recovery process with this id exists already") from None

    def _new_process(self, principal: Principal, process_id: str, dto: RecoveryProcessInput,
                     contents: VaultContents) -> dict[str, Any]:
        if contents.vault is None:
            raise NotFound("no such vault")
        if not self._hub_settings.current()["enableEmergencyAccess"]:
            raise Forbidden("emergency access is not enabled on this hub")
        if principal.user_id not in contents.council:
            raise Forbidden("only a member of the vault's emergency council may start its recovery")
        required = int(contents.vault.get("requiredEmergencyKeyShares", 0))
        if dto.requiredKeyShares is not None and dto.requiredKeyShares != required:
            raise BadRequest(f"requiredKeyShares: the vault requires {required} key shares")
        members = set(dto.recoveredKeyShares)
        strangers = sorted(members - contents.council)
        if strangers:
            raise BadRequest(f"recoveredKeyShares: {strangers[0]} is not on the vault's emergency council")
        if principal.user_id not in members:
            raise BadRequest("recoveredKeyShares: must include the caller")
        if len(members) < required:
            raise BadRequest(f"recoveredKeyShares: at least {required} council members are needed")
        shares = {}
        for member, share in dto.recoveredKeyShares.items():
            if not share.processPrivateKey:
                raise BadRequest(f"recoveredKeyShares.{member}.processPrivateKey: required")
            if member != principal.user_id and (share.recoveredKeyShare or share.signedProcessInfo):
                raise BadRequest(f"recoveredKeyShares.{member}: only that member can approve for themselves")
            shares[member] = _share(share, _START_FIELDS)
        self._refuse_second(contents, {"id": process_id, "type": dto.type.value})
        process = {"id": process_id, "vaultId": dto.vaultId.lower(), "type": dto.type.value,
                   "requiredKeyShares": required, "processPublicKey": dto.processPublicKey,
                   "recoveredKeyShares": shares, "initiator": principal.user_id, "status": OPEN}
        if isinstance(dto.details, dict):
            process.update(details=json.dumps(dto.details, separators=(",", ":")), detailsAsObject=True)
        elif dto.details is not None:
            process["details"] = dto.details
        return process

    @staticmethod
    def _refuse_second(contents: VaultContents, process: dict[str, Any]) -> None:
        """One open process per vault and type: a second would ask the council to approve two changes at once."""
        for other in contents.recoveries.values():
            if other["status"] == OPEN and other["type"] == process["type"] and other["id"] != process["id"]:
                raise Forbidden(f"type: a {process['type']} recovery of this vault is open already ({other['id']}): "
                                "complete or abort it first")

    def approve(self, principal: Principal, process_id: str, dto: RecoveredKeyShareInput,
                ip_address: str | None = None) -> None:
        """Adds the caller's key share, re-encrypted to the process key: once per member."""
        if not dto.recoveredKeyShare:
            raise BadRequest("recoveredKeyShare: required")
        process = self._process(principal, process_id)
        share = _share(dto, ("recoveredKeyShare", "signedProcessInfo"))
        transaction = self._recoveries.approve(Transaction(), process["vaultId"], process_id, principal.user_id,
                                               share)
        self._record_approval(transaction, principal, process_id, ip_address)
        try:
            self._transactions.commit(transaction)
        except ConditionFailed:
            stored = self._recoveries.get(process["vaultId"], process_id) or process
            if stored["status"] != OPEN:
                raise Forbidden(f"the recovery process is {stored['status'].lower()}: it accepts nothing more") from None
            mine = stored["recoveredKeyShares"].get(principal.user_id, {})
            if mine.get("recoveredKeyShare") != dto.recoveredKeyShare:
                raise Forbidden("you have submitted your key share to this process already") from None
            # The same approval twice: it is there, as asked.

    def _record_approval(self, transaction: Transaction, principal: Principal, process_id: str,
                         ip_address: str | None) -> None:
        details = {"processId": process_id, "councilMemberId": principal.user_id, "ipAddress": ip_address}
        self._audit.record(transaction, catalogue.EMERGENCY_ACCESS_RECOVERY_APPROVED,
                           **{k: v for k, v in details.items() if v})

    # --- closing ---------------------------------------------------------------------------------

    def complete(self, principal: Principal, process_id: str) -> None:
        """Ends a process whose change is made; only once enough members approved."""
        process = self._process(principal, process_id)
        if process["status"] == OPEN and approvals(process) < int(process["requiredKeyShares"]):
            raise Forbidden(f"the recovery process has {approvals(process)} of the "
                           f"{int(process['requiredKeyShares'])} approvals it needs")
        self._close(principal, process, COMPLETED, catalogue.EMERGENCY_ACCESS_RECOVERY_COMPLETED)

    def abort(self, principal: Principal, process_id: str) -> None:
        self._close(principal, self._process(principal, process_id), ABORTED,
                    catalogue.EMERGENCY_ACCESS_RECOVERY_ABORTED)

    def _close(self, principal: Principal, process: dict[str, Any], status: str, event: catalogue.EventType) -> None:
        if process["status"] == status:
            return  # the same request twice
        if process["status"] != OPEN:
            raise Forbidden(f"the recovery process is {process['status'].lower()}: it accepts nothing more")
        transaction = self._recoveries.close(Transaction(), process["vaultId"], process, status, principal.user_id)
        self._audit.record(transaction, event, processId=process["id"], councilMemberId=principal.user_id)
        try:
            self._transactions.commit(transaction)
        except ConditionFailed:
            current = self._process(principal, process["id"])["status"]
            if current == status:
                return  # closed the same way meanwhile: as if this request came second
            if current != OPEN:
                raise Forbidden(f"the recovery process is {current.lower()}: it accepts nothing more") from None
            raise Conflict("the recovery process changed meanwhile; retry") from None
