"""What a deployment without a licence answers (``/api/license/user-info``, ``/api/billing``).

Katta Serverless has no licence: no seat limit, no expiry, nothing to buy. Hub's
web client still asks on every vault page and aborts without an answer, so the
contract's DTOs say exactly that — the seat count as high as an int32 goes, no
expiry dates, no licence key — and the licence and billing *changes* stay a 501.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.db.users import UserRepository
    from chalicelib.settings import Settings

UNLIMITED_SEATS = 2**31 - 1  # the contract's int32: "no limit" in a number a client compares with


class LicenceService:
    def __init__(self, users: UserRepository, settings: Settings) -> None:
        self._users = users
        self._settings = settings

    def user_info(self) -> dict[str, Any]:
        return {"licensedSeats": UNLIMITED_SEATS, "usedSeats": self._users.count()}

    def billing(self) -> dict[str, Any]:
        return {"hubId": self._settings.hub_id, "licensedSeats": UNLIMITED_SEATS, "usedSeats": self._users.count(),
                "managedInstance": False}
