"""The Katta services built by hand: their collaborators are what a test gives them, not ``deps``."""
from __future__ import annotations

import datetime as dt

import pytest

from chalicelib import deps
from chalicelib.audit import AuditLog
from chalicelib.auth import Principal
from chalicelib.errors import Conflict
from chalicelib.katta.devices import DeviceService
from chalicelib.katta.formats import DeviceInput, HubSettingsInput
from chalicelib.katta.hub_settings import HubSettingsService
from chalicelib.settings import get_settings
from chalicelib.db.audit import AuditEventRepository
from chalicelib.db.devices import DeviceRepository
from chalicelib.db.table import Transaction, Transactions
from tests.support.katta_keys import DeviceKeys

UTC = dt.timezone.utc
STOPPED = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def caller(user_id: str, *roles: str) -> Principal:
    return Principal(user_id, "https://idp.test", user_id, frozenset(roles or ("user",)), frozenset(), user_id, None)


def test_a_device_service_over_moto_repositories_and_a_stopped_clock(aws):
    table = deps.table()
    audit = AuditLog(AuditEventRepository(table), clock=STOPPED.timestamp)
    devices = DeviceService(DeviceRepository(table), audit, Transactions(table), clock=STOPPED.timestamp)
    device = DeviceKeys.generate()

    devices.register(caller("alice"), device.id, DeviceInput(**device.dto()))
    with pytest.raises(Conflict):  # the same public key for somebody else
        devices.register(caller("mallory"), device.id, DeviceInput(**device.dto()))

    stored = devices.get(caller("alice"), device.id)
    assert (stored["owner"], stored["creationTime"]) == ("alice", "2026-03-04T05:06:07Z")
    (event,) = audit.events(STOPPED, STOPPED + dt.timedelta(seconds=1))
    assert (event["type"], event["registeredBy"], event["timestamp"]) == (
        "DEVICE_REGISTER", "alice", "2026-03-04T05:06:07.000000Z")


class _Settings:
    """The hub-settings item, in memory."""

    def __init__(self) -> None:
        self.item: dict = {}

    def get(self) -> dict:
        return dict(self.item)

    def put(self, transaction: Transaction, values: dict) -> Transaction:
        self.item = dict(values)
        return transaction


class _Users:
    def get_many(self, user_ids) -> list[dict]:
        return [{"id": u} for u in user_ids]


class _Transactions:
    def __init__(self) -> None:
        self.committed: list[Transaction] = []

    def commit(self, transaction: Transaction) -> None:
        self.committed.append(transaction)


class _Audit:
    def __init__(self) -> None:
        self.recorded: list[tuple[str, dict]] = []

    def record(self, transaction: Transaction, event, **details) -> Transaction:
        self.recorded.append((event.name, details))
        return transaction


def test_the_hub_settings_service_needs_no_table():
    audit, transactions = _Audit(), _Transactions()
    settings = get_settings().model_copy(update={"installation_id": "hub-under-test"})
    service = HubSettingsService(_Settings(), _Users(), audit, transactions, settings)
    assert service.current()["wotMaxDepth"] == HubSettingsInput().wotMaxDepth

    service.update(caller("ada", "user", "admin"), HubSettingsInput(wotMaxDepth=5, wotIdVerifyLen=4))

    assert service.current()["hubId"] == "hub-under-test"
    assert (service.current()["wotMaxDepth"], service.current()["wotIdVerifyLen"]) == (5, 4)
    assert audit.recorded == [("SETTING_WOT_UPDATE", {"updatedBy": "ada", "wotMaxDepth": 5, "wotIdVerifyLen": 4})]
    assert len(transactions.committed) == 1
