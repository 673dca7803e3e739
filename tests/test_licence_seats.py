"""The used seats of ``/api/license/user-info`` and ``/api/billing`` (issue 20): counted at most once a
minute per instance, not on every call (Hub's web client asks on every vault page)."""
from __future__ import annotations

from chalicelib.katta.licence import SEAT_COUNT_SECONDS, UNLIMITED_SEATS, LicenceService
from tests.support.clock import FakeClock


class CountedUsers:
    def __init__(self, accounts: int) -> None:
        self.accounts = accounts
        self.counts = 0

    def count(self) -> int:
        self.counts += 1
        return self.accounts


class HubSettings:
    hub_id = "hub-under-test"


def test_the_seats_are_counted_once_a_minute_and_then_again():
    users, clock = CountedUsers(3), FakeClock()
    service = LicenceService(users, HubSettings(), clock=clock)
    assert service.user_info() == {"licensedSeats": UNLIMITED_SEATS, "usedSeats": 3}
    users.accounts = 4  # an account provisioned meanwhile
    clock.advance(SEAT_COUNT_SECONDS - 1)
    assert service.user_info()["usedSeats"] == 3
    assert service.billing()["usedSeats"] == 3
    assert users.counts == 1
    clock.advance(1)
    assert service.user_info()["usedSeats"] == 4
    assert service.billing() == {"hubId": "hub-under-test", "licensedSeats": UNLIMITED_SEATS, "usedSeats": 4,
                                 "managedInstance": False}
    assert users.counts == 2
