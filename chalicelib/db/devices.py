"""Devices: an item in the owner's partition plus a claim on the device id.

The device id is derived from the device's public key, so the claim item
(``DEVICE#<deviceId>``) makes a key registered by one user unusable by another
and lets a device be found by id alone.
"""
from __future__ import annotations

from typing import Any, Iterable

from chalicelib.db import keys
from chalicelib.db.table import ConditionFailed, Table, Transaction, record
from chalicelib.db.updates import set_or_remove

class DeviceRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self, user_id: str, device_id: str) -> dict[str, Any] | None:
        item = self.table.get(*keys.device(user_id, device_id))
        return record(item) if item else None

    def of_user(self, user_id: str) -> list[dict[str, Any]]:
        pk, _ = keys.device(user_id, "")
        return [record(i) for i in self.table.query_all(pk, keys.DEVICE_PREFIX)]

    def owners(self, device_ids: Iterable[str]) -> dict[str, str]:
        """Device id → owner id, for the ids that exist."""
        items = self.table.batch_get(keys.device_claim(d) for d in device_ids)
        return {i["pk"].removeprefix(keys.DEVICE_PREFIX): i["owner"] for i in items}

    def find(self, device_ids: Iterable[str]) -> list[dict[str, Any]]:
        owners = self.owners(device_ids)
        if not owners:
            return []
        items = self.table.batch_get(keys.device(owner, d) for d, owner in owners.items())
        return [record(i) for i in items]

    def save(self, transaction: Transaction, device: dict[str, Any], *, new: bool) -> Transaction:
        """Adds the device to ``transaction``; the id claim fails if another user holds the key."""
        owner, device_id = device["owner"], device["id"]
        claim_pk, claim_sk = keys.device_claim(device_id)
        if new:
            transaction.put({"pk": claim_pk, "sk": claim_sk, "owner": owner},
                            condition="attribute_not_exists(pk) OR #owner = :owner",
                            values={":owner": owner}, names={"#owner": "owner"})
            transaction.put({"pk": keys.device(owner, device_id)[0], "sk": keys.device(owner, device_id)[1], **device},
                            condition="attribute_not_exists(pk)")
        else:
            pk, sk = keys.device(owner, device_id)
            transaction.update(pk, sk, "SET #name = :name, #type = :type, userPrivateKey = :upk",
                               values={":name": device["name"], ":type": device["type"],
                                       ":upk": device["userPrivateKey"]},
                               names={"#name": "name", "#type": "type"}, condition="attribute_exists(pk)")
        return transaction

    def record_use(self, user_id: str, device_id: str, at: str, ip_address: str | None, *,
                   seen: str | None) -> None:
        """Stores the device's last use unless another request stored a newer one since ``seen``."""
        expression, names, values = set_or_remove({"lastAccessTime": at, "lastIpAddress": ip_address})
        condition = "attribute_exists(pk) AND " + (
            "lastAccessTime = :seen" if seen else "attribute_not_exists(lastAccessTime)")
        if seen:
            values = {**(values or {}), ":seen": seen}
        try:
            self.table.update(*keys.device(user_id, device_id), expression, values=values, names=names,
                              condition=condition)
        except ConditionFailed:
            return  # another request recorded a use since: theirs is as fresh

    def remove(self, transaction: Transaction, user_id: str, device_id: str) -> Transaction:
        transaction.delete(*keys.device(user_id, device_id), condition="attribute_exists(pk)")
        transaction.delete(*keys.device_claim(device_id))
        return transaction
