"""Devices of the caller (``/api/devices…``).

A device's id is the uppercase hex SHA-256 of its SPKI public key, so a client
can find itself by its key alone; another user's device answers 404, which
tells the client to ask for the account key instead.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

from chalicelib.audit import catalogue
from chalicelib.auth import Principal
from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.katta.formats import DeviceInput, device_id_of, instant
from chalicelib.db.table import ConditionFailed, Transaction

if TYPE_CHECKING:
    from chalicelib.audit import AuditLog
    from chalicelib.db.devices import DeviceRepository
    from chalicelib.db.table import Transactions

_DTO_FIELDS = ("id", "name", "type", "publicKey", "userPrivateKey", "owner", "creationTime")
_LAST_ACCESS_FIELDS = ("lastAccessTime", "lastIpAddress")


def device_dto(device: dict[str, Any], *, with_last_access: bool = False) -> dict[str, Any]:
    fields = (*_DTO_FIELDS, *_LAST_ACCESS_FIELDS) if with_last_access else _DTO_FIELDS
    return {field: device[field] for field in fields if device.get(field) is not None}


class DeviceService:
    def __init__(self, devices: DeviceRepository, audit: AuditLog, transactions: Transactions,
                 clock: Callable[[], float] = time.time) -> None:
        self._devices = devices
        self._audit = audit
        self._transactions = transactions
        self._clock = clock

    def register(self, principal: Principal, device_id: str, dto: DeviceInput) -> None:
        """Creates the caller's device or updates its name and wrapped user keys."""
        if dto.id is not None and dto.id != device_id:
            raise BadRequest("id: must equal the device id in the path")
        if device_id_of(dto.publicKey) != device_id:
            raise BadRequest("deviceId: must be the uppercase hex SHA-256 of the device's public key")
        existing = self._devices.get(principal.user_id, device_id)
        device = {"id": device_id, "owner": principal.user_id, "name": dto.name, "type": dto.type.value,
                  "publicKey": dto.publicKey, "userPrivateKey": dto.userPrivateKey,
                  "creationTime": existing["creationTime"] if existing else instant(self._clock())}
        transaction = self._devices.save(Transaction(), device, new=existing is None)
        if existing is None:
            self._audit.record(transaction, catalogue.DEVICE_REGISTER, registeredBy=principal.user_id,
                               deviceId=device_id, deviceName=dto.name, deviceType=dto.type.value)
        try:
            self._transactions.commit(transaction)
        except ConditionFailed:
            raise Conflict("a device with this public key is already registered") from None

    def get(self, principal: Principal, device_id: str) -> dict[str, Any]:
        device = self._devices.get(principal.user_id, device_id)
        if device is None:
            raise NotFound("you have no device with this id")
        return device_dto(device)

    def find(self, principal: Principal, device_ids: list[str]) -> list[dict[str, Any]]:
        """Devices by id: the caller's own; an admin's view covers everybody's (audit log)."""
        if principal.has_role("admin"):
            found = self._devices.find(device_ids)
        else:
            own = {d["id"]: d for d in self._devices.of_user(principal.user_id)}
            found = [own[d] for d in dict.fromkeys(device_ids) if d in own]
        return [device_dto(d) for d in found]

    def remove(self, principal: Principal, device_id: str) -> None:
        transaction = self._devices.remove(Transaction(), principal.user_id, device_id)
        self._audit.record(transaction, catalogue.DEVICE_REMOVE, removedBy=principal.user_id, deviceId=device_id)
        try:
            self._transactions.commit(transaction)
        except ConditionFailed:
            raise NotFound("you have no device with this id") from None
