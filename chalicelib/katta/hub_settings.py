"""Hub-wide settings (``/api/settings``): web-of-trust depth, automatic access grants, emergency access."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.audit import catalogue
from chalicelib.auth import Principal
from chalicelib.errors import BadRequest
from chalicelib.katta.formats import HubSettingsInput
from chalicelib.db.table import Transaction

if TYPE_CHECKING:
    from chalicelib.audit import AuditLog
    from chalicelib.settings import Settings
    from chalicelib.db.hub_settings import HubSettingsRepository
    from chalicelib.db.table import Transactions
    from chalicelib.db.users import UserRepository

_EMERGENCY = ("enableEmergencyAccess", "defaultRequiredEmergencyKeyShares", "defaultMinMembers",
              "allowChoosingEmergencyCouncil", "emergencyCouncilMemberIds")
_STORED = ("wotMaxDepth", "wotIdVerifyLen", "enableAutomaticAccessGrant", "automaticAccessGrantTrustThreshold",
           "allowAutomaticAccessGrantOverride", *_EMERGENCY)
# A threshold of one would hand the vault to any single council member.
MIN_EMERGENCY_KEY_SHARES = 2


class HubSettingsService:
    def __init__(self, hub_settings: HubSettingsRepository, users: UserRepository, audit: AuditLog,
                 transactions: Transactions, settings: Settings) -> None:
        self._hub_settings = hub_settings
        self._users = users
        self._audit = audit
        self._transactions = transactions
        self._settings = settings

    def _values(self) -> dict[str, Any]:
        stored = self._hub_settings.get()
        defaults = HubSettingsInput().model_dump()
        return {k: stored.get(k, defaults[k]) for k in _STORED}

    def current(self) -> dict[str, Any]:
        values = self._values()
        return {"hubId": self._settings.hub_id, **values,
                "defaultRequiredEmergencyKeyShares": int(values["defaultRequiredEmergencyKeyShares"]),
                "defaultMinMembers": int(values["defaultMinMembers"]),
                "emergencyCouncilMemberIds": list(values["emergencyCouncilMemberIds"])}

    def update(self, principal: Principal, dto: HubSettingsInput) -> None:
        """Stores the fields the body names; those it leaves out keep their values (Hub's web-of-trust
        form sends only its own two)."""
        before = self._values()
        values = {**before, **{k: getattr(dto, k) for k in dto.model_fields_set if k in _STORED}}
        values["emergencyCouncilMemberIds"] = list(dict.fromkeys(values["emergencyCouncilMemberIds"]))
        self._check_emergency(values)
        transaction = self._hub_settings.put(Transaction(), values)
        self._audit.record(transaction, catalogue.SETTING_WOT_UPDATE, updatedBy=principal.user_id,
                           wotMaxDepth=values["wotMaxDepth"], wotIdVerifyLen=values["wotIdVerifyLen"])
        if any(values[k] != before[k] for k in _EMERGENCY):
            self._audit.record(transaction, catalogue.EMERGENCY_ACCESS_SETTINGS_UPDATED, adminId=principal.user_id,
                               councilMemberIds=",".join(values["emergencyCouncilMemberIds"]),
                               requiredKeyShares=values["defaultRequiredEmergencyKeyShares"],
                               allowChoosingCouncil=values["allowChoosingEmergencyCouncil"])
        self._transactions.commit(transaction)

    def _check_emergency(self, values: dict[str, Any]) -> None:
        council = values["emergencyCouncilMemberIds"]
        found = {u["id"] for u in self._users.get_many(council)}
        unknown = [u for u in council if u not in found]
        if unknown:
            raise BadRequest(f"emergencyCouncilMemberIds: no such user: {unknown[0]}")
        if not values["enableEmergencyAccess"]:
            return
        required = values["defaultRequiredEmergencyKeyShares"]
        if required < MIN_EMERGENCY_KEY_SHARES:
            raise BadRequest(f"defaultRequiredEmergencyKeyShares: must be at least {MIN_EMERGENCY_KEY_SHARES} "
                             "while emergency access is enabled")
        if not values["allowChoosingEmergencyCouncil"] and len(council) < required:
            raise BadRequest("emergencyCouncilMemberIds: the council must have at least "
                             "defaultRequiredEmergencyKeyShares members while owners cannot choose their own")
