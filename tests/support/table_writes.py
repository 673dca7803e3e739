"""Undoes the app's writes to the table item by item, so a module-wide hub is fresh for every request.

Scanning the whole table after each request costs a third of a second on moto;
recording the keys the app's DynamoDB client writes and putting back only
those items costs a few milliseconds. Only writes through ``chalicelib.aws``'s
client are seen — the app makes every write there; a test's own writes are
its own business.
"""
from __future__ import annotations

import json
from typing import Any

import boto3

from chalicelib import aws

Key = tuple[str, str]


def _key(item: dict[str, Any]) -> Key:
    return json.dumps(item["pk"], sort_keys=True), json.dumps(item["sk"], sort_keys=True)


class TableWrites:
    def __init__(self, table_name: str, items: list[dict[str, Any]]) -> None:
        """``items``: the table as it must stay, in DynamoDB JSON (a Scan's ``Items``)."""
        self.table_name = table_name
        self.keep(items)
        self.written: dict[Key, dict[str, Any]] = {}  # key → the key attributes

    def keep(self, items: list[dict[str, Any]]) -> None:
        """From now on, ``undo`` puts the table back to ``items``."""
        self.snapshot = {_key(item): item for item in items}

    def watch(self) -> "TableWrites":
        events = aws.client("dynamodb").meta.events
        for operation in ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"):
            events.register(f"before-parameter-build.dynamodb.{operation}", self._record)
        return self

    def unwatch(self) -> None:
        events = aws.client("dynamodb").meta.events
        for operation in ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"):
            events.unregister(f"before-parameter-build.dynamodb.{operation}", self._record)

    def undo(self) -> bool:
        """Puts every written item back as it was (or removes it); True if there was anything to undo."""
        if not self.written:
            return False
        dynamodb = boto3.client("dynamodb")  # not the watched client: undoing is no write of the app's
        for key, attributes in self.written.items():
            before = self.snapshot.get(key)
            if before is None:
                dynamodb.delete_item(TableName=self.table_name, Key=attributes)
            else:
                dynamodb.put_item(TableName=self.table_name, Item=before)
        self.written.clear()
        return True

    def _record(self, params: dict[str, Any], **_kwargs: Any) -> None:
        for table, key in _written_keys(params):
            if table == self.table_name:
                self.written[_key(key)] = {"pk": key["pk"], "sk": key["sk"]}


def _written_keys(params: dict[str, Any]):
    """(table, item or key) of every item a write call names."""
    if "TransactItems" in params:
        for entry in params["TransactItems"]:
            for kind, action in entry.items():
                if kind != "ConditionCheck":
                    yield action["TableName"], action.get("Item") or action["Key"]
    elif "RequestItems" in params:
        for table, requests in params["RequestItems"].items():
            for request in requests:
                action = request.get("PutRequest") or request["DeleteRequest"]
                yield table, action.get("Item") or action["Key"]
    else:
        yield params["TableName"], params.get("Item") or params["Key"]
