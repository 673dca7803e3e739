"""Hub-wide settings (``/api/settings``): web-of-trust depth and automatic access grants."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.audit import catalogue
from chalicelib.auth import Principal
from chalicelib.katta.formats import HubSettingsInput
from chalicelib.db.table import Transaction

if TYPE_CHECKING:
    from chalicelib.audit import AuditLog
    from chalicelib.settings import Settings
    from chalicelib.db.hub_settings import HubSettingsRepository
    from chalicelib.db.table import Transactions

_STORED = ("wotMaxDepth", "wotIdVerifyLen", "enableAutomaticAccessGrant", "automaticAccessGrantTrustThreshold",
           "allowAutomaticAccessGrantOverride")


class HubSettingsService:
    def __init__(self, hub_settings: HubSettingsRepository, audit: AuditLog, transactions: Transactions,
                 settings: Settings) -> None:
        self._hub_settings = hub_settings
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
                # Emergency access is out of scope: never enabled, no council.
                "enableEmergencyAccess": False, "emergencyCouncilMemberIds": []}

    def update(self, principal: Principal, dto: HubSettingsInput) -> None:
        """Stores the fields the body names; those it leaves out keep their values (Hub's web-of-trust
        form sends only its own two)."""
        values = {**self._values(), **{k: getattr(dto, k) for k in dto.model_fields_set if k in _STORED}}
        transaction = self._hub_settings.put(Transaction(), values)
        self._audit.record(transaction, catalogue.SETTING_WOT_UPDATE, updatedBy=principal.user_id,
                           wotMaxDepth=values["wotMaxDepth"], wotIdVerifyLen=values["wotIdVerifyLen"])
        self._transactions.commit(transaction)
