"""Hub-wide settings (``/api/settings``): web-of-trust depth and automatic access grants."""
from __future__ import annotations

import uuid
from typing import Any

from chalicelib import audit, deps
from chalicelib.auth import Principal
from chalicelib.katta import events
from chalicelib.katta.formats import HubSettingsInput
from chalicelib.settings import get_settings
from chalicelib.store.table import Transaction

_STORED = ("wotMaxDepth", "wotIdVerifyLen", "enableAutomaticAccessGrant", "automaticAccessGrantTrustThreshold",
           "allowAutomaticAccessGrantOverride")


def current() -> dict[str, Any]:
    settings = get_settings()
    stored = deps.hub_settings().get()
    defaults = HubSettingsInput(emergencyCouncilMemberIds=[]).model_dump()
    values = {k: stored.get(k, defaults[k]) for k in _STORED}
    return {"hubId": settings.installation_id or str(uuid.uuid5(uuid.NAMESPACE_URL, settings.public_base_url)),
            **{k: int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
               for k, v in values.items()},
            # Emergency access is out of scope: never enabled, no council.
            "enableEmergencyAccess": False, "emergencyCouncilMemberIds": []}


def update(principal: Principal, dto: HubSettingsInput) -> None:
    values = {k: getattr(dto, k) for k in _STORED}
    transaction = deps.hub_settings().put(Transaction(), values)
    audit.record(transaction, events.SETTING_WOT_UPDATE, updatedBy=principal.user_id,
                 wotMaxDepth=dto.wotMaxDepth, wotIdVerifyLen=dto.wotIdVerifyLen)
    deps.table().commit(transaction)
