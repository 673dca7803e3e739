"""What a deployment without a licence answers (``/api/license/user-info``, ``/api/billing``).

Katta Serverless has no licence: no seat limit, no expiry, nothing to buy. Hub's
web client still asks on every vault page and aborts without an answer, so the
contract's DTOs say exactly that — the seat count as high as an int32 goes, no
expiry dates, no licence key — and the licence and billing *changes* stay a 501.

The used seats are the number of accounts, which only a read of every user gives: an instance
counts them at most once a minute (``SEAT_COUNT_SECONDS``), so the count may lag new or removed
accounts by that long. Nothing is decided on it: no limit is ever enforced.
"""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from chalicelib.db.users import UserRepository
    from chalicelib.settings import Settings

UNLIMITED_SEATS = 2**31 - 1  # the contract's int32: "no limit" in a number a client compares with
SEAT_COUNT_SECONDS = 60


class LicenceService:
    def __init__(self, users: UserRepository, settings: Settings,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._users = users
        self._settings = settings
        self._clock = clock
        self._counted: tuple[float, int] | None = None  # (when, accounts)
        self._lock = threading.Lock()

    def user_info(self) -> dict[str, Any]:
        return {"licensedSeats": UNLIMITED_SEATS, "usedSeats": self._used_seats()}

    def billing(self) -> dict[str, Any]:
        return {"hubId": self._settings.hub_id, "licensedSeats": UNLIMITED_SEATS, "usedSeats": self._used_seats(),
                "managedInstance": False}

    def _used_seats(self) -> int:
        # Hub's web client asks on every vault page; counting reads every user (10,000 users: 12 Queries).
        now = self._clock()
        with self._lock:
            counted = self._counted
        if counted is None or now - counted[0] >= SEAT_COUNT_SECONDS:
            counted = (now, self._users.count())
            with self._lock:
                self._counted = counted
        return counted[1]
