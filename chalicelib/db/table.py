"""The one DynamoDB table: a lazily created client and the few operations we use.

Repositories build items (from ``db.keys``); this module only speaks DynamoDB,
and it is where DynamoDB's own failures become ours: a failed condition is
``ConditionFailed``, keys left unprocessed or a transaction cancelled by a
conflict are ``errors.ServiceUnavailable`` (AWS's outages already are, through
``chalicelib.aws``). There is deliberately no ``scan``: every request path is
GetItem, Query or BatchGetItem.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import secrets
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, TypeVar

from chalicelib import aws, errors

TTL_ATTRIBUTE = "expires_at"
GSI1 = "gsi1"

def to_dynamo(item: dict[str, Any]) -> dict[str, Any]:
    """Plain values as DynamoDB's typed attributes (top-level Nones left out), encoded here for the same
    reason ``from_dynamo`` decodes: boto3's TypeSerializer's cost. Floats are refused, as boto3 does:
    DynamoDB numbers are exact."""
    return {k: _encode(v) for k, v in item.items() if v is not None}


def _encode(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, Decimal)):
        return {"N": str(value)}
    if isinstance(value, (bytes, bytearray)):
        return {"B": bytes(value)}
    if value is None:
        return {"NULL": True}
    if isinstance(value, dict):
        return {"M": {k: _encode(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"L": [_encode(v) for v in value]}
    if isinstance(value, (set, frozenset)) and value:
        if all(isinstance(v, str) for v in value):
            return {"SS": list(value)}
        if all(isinstance(v, (int, Decimal)) and not isinstance(v, bool) for v in value):
            return {"NS": [str(v) for v in value]}
        if all(isinstance(v, (bytes, bytearray)) for v in value):
            return {"BS": [bytes(v) for v in value]}
    raise TypeError(f"no DynamoDB type for {type(value).__name__} {value!r:.40}")


def from_dynamo(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB's typed attributes as plain values. Decoded here rather than by boto3's
    TypeDeserializer (a fifth of a warm request's CPU): numbers become int (every number we store is
    an integer: ids, counters, epochs, versions, settings) or, with a fractional part, float, so JSON
    can write them; binary values are bytes."""
    return {k: _decode(v) for k, v in item.items()}


def _decode(attribute: dict[str, Any]) -> Any:
    (kind, value), = attribute.items()
    if kind == "S" or kind == "B" or kind == "BOOL":
        return value
    if kind == "N":
        return _number(value)
    if kind == "M":
        return {k: _decode(v) for k, v in value.items()}
    if kind == "L":
        return [_decode(v) for v in value]
    if kind == "NULL":
        return None
    if kind == "SS" or kind == "BS":
        return set(value)
    if kind == "NS":
        return {_number(v) for v in value}
    raise TypeError(f"unknown DynamoDB type {kind}")


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        number = Decimal(text)
        return int(number) if number == number.to_integral_value() else float(number)


_KEY_ATTRIBUTES = frozenset({"pk", "sk", "gsi1pk", "gsi1sk"})


def record(item: dict[str, Any]) -> dict[str, Any]:
    """An item without its key attributes: what a repository hands the layer above."""
    return {k: v for k, v in item.items() if k not in _KEY_ATTRIBUTES}


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def is_expired(item: dict[str, Any] | None, now: float | None = None) -> bool:
    """DynamoDB reaps expired items lazily (hours later); reads must not see them."""
    if item is None or TTL_ATTRIBUTE not in item:
        return False
    return int(item[TTL_ATTRIBUTE]) <= (now if now is not None else time.time())


class ConditionFailed(Exception):
    """A conditional write found the item in another state than it required."""


class Contended(errors.ServiceUnavailable):
    """A transaction was cancelled by a concurrent one on the same items; nothing of it was applied."""


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_key: dict[str, Any] | None


def _key_names(index: str | None) -> tuple[str, ...]:
    return ("pk", "sk", "gsi1pk", "gsi1sk") if index == GSI1 else ("pk", "sk")


def position(item: dict[str, Any], index: str | None = None) -> str:
    """An opaque pagination token meaning "after this item" in a Query of ``index``: its keys."""
    text = json.dumps([item[name] for name in _key_names(index)], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def _start_key(token: str, pk: str, sk_prefix: str | None, index: str | None) -> dict[str, Any]:
    """The ExclusiveStartKey a ``position`` token names, if it lies in the Query's own range: a client's
    token must neither turn into DynamoDB's ValidationException (a 500) nor leave the partition."""
    names = _key_names(index)
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        values = None
    start = dict(zip(names, values)) if isinstance(values, list) and len(values) == len(names) else {}
    partition, sort = names[-2:] if index == GSI1 else names
    if not (all(isinstance(v, str) and v for v in start.values()) and start and start[partition] == pk
            and start[sort].startswith(sk_prefix or "")):
        raise errors.InvalidField([{"field": "paginationToken", "reason": "is not a token this list handed out"}])
    return {name: {"S": value} for name, value in start.items()}


# Builds a fresh item for a put whose randomly drawn key another item holds. A put's own earlier
# attempt (a retry after a lost answer) is told apart by the item it finds: its own.
Renew = Callable[[], dict[str, Any]]
_RENEW = "renew"
# A renewed key collides again with the chance of the first collision, squared.
_RENEWALS = 3


def _own(found: dict[str, Any] | None, wanted: dict[str, Any]) -> bool:
    return found is not None and from_dynamo(found) == from_dynamo(wanted)


@dataclass
class Transaction:
    """Collects writes that must land together or not at all (max 100 items)."""

    ops: list[dict[str, Any]] = field(default_factory=list)
    # Seeds the ClientRequestToken of each send (see ``request_token``).
    seed: str = field(default_factory=lambda: secrets.token_hex(16), repr=False)

    def request_token(self, items: list[dict[str, Any]]) -> str:
        """DynamoDB applies a TransactWriteItems once per token (for 10 minutes) and answers a repeat
        with success: a send whose answer was lost, sent again, neither lands twice nor fails on its
        own conditions. The token is this transaction's and these items': a renewed item is another
        request (the same token with other items would be refused as a mismatch), and two
        transactions with equal items are two changes."""
        digest = hashlib.sha256(self.seed.encode())
        digest.update(json.dumps(items, sort_keys=True, separators=(",", ":"), default=bytes.hex).encode())
        return digest.hexdigest()[:36]

    def keys(self) -> Iterator[tuple[str, str]]:
        """(pk, sk) of every item the transaction writes or checks."""
        for op in self.ops:
            (kind, body), = ((k, v) for k, v in op.items() if k != _RENEW)
            item = body["Item"] if kind == "Put" else body["Key"]
            yield item["pk"]["S"], item["sk"]["S"]

    def put(self, item: dict[str, Any], condition: str | None = None,
            values: dict[str, Any] | None = None, names: dict[str, str] | None = None,
            renew: Renew | None = None) -> "Transaction":
        """``renew``: see ``Table.put``; the commit retries with every failed renewable put renewed."""
        op: dict[str, Any] = {"Item": to_dynamo(item)}
        self._condition(op, condition, values, names)
        if renew:
            op["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        self.ops.append({"Put": op, _RENEW: renew} if renew else {"Put": op})
        return self

    def update(self, pk: str, sk: str, expression: str, values: dict[str, Any] | None = None,
               names: dict[str, str] | None = None, condition: str | None = None) -> "Transaction":
        op: dict[str, Any] = {"Key": key(pk, sk), "UpdateExpression": expression}
        self._condition(op, condition, values, names)
        self.ops.append({"Update": op})
        return self

    def delete(self, pk: str, sk: str, condition: str | None = None,
               values: dict[str, Any] | None = None, names: dict[str, str] | None = None) -> "Transaction":
        op: dict[str, Any] = {"Key": key(pk, sk)}
        self._condition(op, condition, values, names)
        self.ops.append({"Delete": op})
        return self

    def check(self, pk: str, sk: str, condition: str, values: dict[str, Any] | None = None,
              names: dict[str, str] | None = None) -> "Transaction":
        op: dict[str, Any] = {"Key": key(pk, sk)}
        self._condition(op, condition, values, names)
        self.ops.append({"ConditionCheck": op})
        return self

    @staticmethod
    def _condition(op: dict[str, Any], condition: str | None, values: dict[str, Any] | None,
                   names: dict[str, str] | None) -> None:
        if condition:
            op["ConditionExpression"] = condition
        if values:
            op["ExpressionAttributeValues"] = to_dynamo(values)
        if names:
            op["ExpressionAttributeNames"] = names


class Table:
    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def client(self):
        return aws.client("dynamodb")

    def get(self, pk: str, sk: str, consistent: bool = False) -> dict[str, Any] | None:
        response = self.client.get_item(TableName=self.name, Key=key(pk, sk), ConsistentRead=consistent)
        item = response.get("Item")
        if item is None:
            return None
        decoded = from_dynamo(item)
        return None if is_expired(decoded) else decoded

    def batch_get(self, keys: Iterable[tuple[str, str]], consistent: bool = False) -> list[dict[str, Any]]:
        wanted = list(dict.fromkeys(keys))
        found: list[dict[str, Any]] = []
        for start in range(0, len(wanted), 100):
            pending: dict[str, Any] = {self.name: {"Keys": [key(pk, sk) for pk, sk in wanted[start:start + 100]],
                                                   **({"ConsistentRead": True} if consistent else {})}}
            for _attempt in range(5):
                response = self.client.batch_get_item(RequestItems=pending)
                found.extend(from_dynamo(i) for i in response.get("Responses", {}).get(self.name, []))
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
            if pending:
                raise errors.ServiceUnavailable()
        return [item for item in found if not is_expired(item)]

    def query(self, pk: str, sk_prefix: str | None = None, *, index: str | None = None,
              forward: bool = True, limit: int | None = None, start_key: dict[str, Any] | None = None,
              sk_between: tuple[str, str] | None = None, consistent: bool = False) -> Page:
        pk_name, sk_name = ("gsi1pk", "gsi1sk") if index == GSI1 else ("pk", "sk")
        expression = "#pk = :pk"
        names = {"#pk": pk_name}
        values: dict[str, Any] = {":pk": pk}
        if sk_prefix is not None:
            expression += " AND begins_with(#sk, :prefix)"
            names["#sk"] = sk_name
            values[":prefix"] = sk_prefix
        elif sk_between is not None:
            expression += " AND #sk BETWEEN :low AND :high"
            names["#sk"] = sk_name
            values[":low"], values[":high"] = sk_between
        params: dict[str, Any] = {
            "TableName": self.name, "KeyConditionExpression": expression,
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": to_dynamo(values),
            "ScanIndexForward": forward,
        }
        if index:
            params["IndexName"] = index
        if consistent:
            params["ConsistentRead"] = True
        if limit:
            params["Limit"] = limit
        if start_key:
            params["ExclusiveStartKey"] = start_key
        response = self.client.query(**params)
        items = [from_dynamo(i) for i in response.get("Items", [])]
        return Page([i for i in items if not is_expired(i)], response.get("LastEvaluatedKey"))

    def page(self, pk: str, sk_prefix: str | None = None, *, index: str | None = None, limit: int,
             after: str | None = None) -> list[tuple[dict[str, Any], str]]:
        """Up to ``limit`` items after the ``position`` token ``after``, each with its own position."""
        start = _start_key(after, pk, sk_prefix, index) if after else None
        items = self.query(pk, sk_prefix, index=index, limit=limit, start_key=start).items
        return [(item, position(item, index)) for item in items]

    def query_all(self, pk: str, sk_prefix: str | None = None, **kwargs: Any) -> Iterator[dict[str, Any]]:
        start_key = None
        while True:
            page = self.query(pk, sk_prefix, start_key=start_key, **kwargs)
            yield from page.items
            if not page.next_key:
                return
            start_key = page.next_key

    def put(self, item: dict[str, Any], condition: str | None = None,
            values: dict[str, Any] | None = None, names: dict[str, str] | None = None,
            renew: Renew | None = None) -> None:
        """``renew``: when the condition fails, put ``renew()`` instead (a few times at most)."""
        if not renew:
            params: dict[str, Any] = {"TableName": self.name, "Item": to_dynamo(item)}
            Transaction._condition(params, condition, values, names)
            self._conditional(self.client.put_item, params)
            return
        from botocore.exceptions import ClientError
        for attempt in range(_RENEWALS + 1):
            params = {"TableName": self.name, "Item": to_dynamo(item), "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
            Transaction._condition(params, condition, values, names)
            try:
                self.client.put_item(**params)
                return
            except ClientError as exc:
                if aws.error_code(exc) != "ConditionalCheckFailedException":
                    raise
                if _own(exc.response.get("Item"), params["Item"]):
                    return
            if attempt == _RENEWALS:
                raise ConditionFailed()
            item = renew()

    def update(self, pk: str, sk: str, expression: str, values: dict[str, Any] | None = None,
               names: dict[str, str] | None = None, condition: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"TableName": self.name, "Key": key(pk, sk),
                                  "UpdateExpression": expression, "ReturnValues": "ALL_NEW"}
        Transaction._condition(params, condition, values, names)
        response = self._conditional(self.client.update_item, params)
        return from_dynamo(response.get("Attributes", {}))

    def delete(self, pk: str, sk: str, condition: str | None = None,
               values: dict[str, Any] | None = None, names: dict[str, str] | None = None) -> None:
        params: dict[str, Any] = {"TableName": self.name, "Key": key(pk, sk)}
        Transaction._condition(params, condition, values, names)
        self._conditional(self.client.delete_item, params)

    def commit(self, transaction: Transaction) -> None:
        """Writes all of ``transaction`` or nothing; ConditionFailed if a condition did not hold."""
        if not transaction.ops:
            return
        from botocore.exceptions import ClientError  # here: the client that raises it is created lazily too
        for attempt in range(_RENEWALS + 1):
            items = [{kind: {**body, "TableName": self.name}}
                     for op in transaction.ops for kind, body in op.items() if kind != _RENEW]
            try:
                self.client.transact_write_items(TransactItems=items, ClientRequestToken=transaction.request_token(items))
                return
            except ClientError as exc:
                if aws.error_code(exc) != "TransactionCanceledException":
                    raise
                cancelled = exc.response.get("CancellationReasons", [])
            reasons = [r.get("Code") for r in cancelled]
            failed = [(transaction.ops[i], r.get("Item")) for i, r in enumerate(cancelled)
                      if r.get("Code") == "ConditionalCheckFailed"]
            if not failed:
                if any(reason == "TransactionConflict" for reason in reasons):
                    raise Contended() from None
                raise errors.ServiceUnavailable() from None  # throttled or failed on AWS's side
            if all(_RENEW in op and _own(found, op["Put"]["Item"]) for op, found in failed):
                return  # an earlier attempt landed: a transaction lands whole
            if attempt == _RENEWALS or not all(_RENEW in op for op, _ in failed):
                raise ConditionFailed(reasons) from None
            for op, _ in failed:
                op["Put"]["Item"] = to_dynamo(op[_RENEW]())

    def _conditional(self, call, params: dict[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import ClientError
        try:
            return call(**params)
        except ClientError as exc:
            if aws.error_code(exc) == "ConditionalCheckFailedException":
                raise ConditionFailed() from None
            raise


# DynamoDB transactions hold at most 100 items.
MAX_TRANSACTION_ITEMS = 100
# A change that lost a race is decided again on a fresh read this many times in all; the pause
# before attempt n is drawn from [0, RACE_PAUSE_SECONDS × 2^n) so that the racers spread out.
RACE_ATTEMPTS = 6
RACE_PAUSE_SECONDS = 0.01
T = TypeVar("T")


class Transactions:
    """What a service commits its changes with: the table's transactions and nothing else of it."""

    def __init__(self, table: Table, sleep: Callable[[float], None] = time.sleep,
                 committed: Callable[[Transaction], None] | None = None) -> None:
        self._table = table
        self._sleep = sleep
        self._committed = committed  # told of every committed transaction (the access epoch)

    def commit(self, transaction: Transaction) -> None:
        self._table.commit(transaction)
        if self._committed:
            self._committed(transaction)

    def resolving_races(self, change: Callable[[], T]) -> T:
        """``change()`` — read, decide, commit — decided again on a fresh read when its commit lost a race
        (a condition on what it read, or a concurrent transaction), a few times with jittered pauses.

        A change of intent ("set this role") is not refused because another landed first: the re-read
        sees the other change and decides on it, and a real conflict (the last owner) is the rule's own
        refusal there. Only a race lost on every attempt still surfaces, as ConditionFailed (409) or
        Contended (503)."""
        for attempt in range(RACE_ATTEMPTS - 1):
            try:
                return change()
            except (ConditionFailed, Contended):
                self._sleep(random.uniform(0, RACE_PAUSE_SECONDS * 2 ** attempt))
        return change()

    def commit_chunked(self, steps: list[Callable[[Transaction], object]], final: Transaction) -> None:
        """Applies ``steps``, then ``final`` (the change and its audit event) — in ONE transaction when
        they fit, so that a failure leaves nothing half-done.

        Changes larger than one transaction (deleting a vault or a group, an account
        reset, with many items) go in chunks: a failure part-way leaves only steps
        done that a retry repeats harmlessly, and ``final`` is written once
        everything else is.
        """
        chunks = [Transaction()]
        for step in steps:
            scratch = Transaction()
            step(scratch)
            if len(chunks[-1].ops) + len(scratch.ops) > MAX_TRANSACTION_ITEMS:
                chunks.append(Transaction())
            chunks[-1].ops.extend(scratch.ops)
        if len(chunks[-1].ops) + len(final.ops) <= MAX_TRANSACTION_ITEMS:
            chunks[-1].ops.extend(final.ops)
        else:
            chunks.append(final)
        for chunk in chunks:
            self.commit(chunk)
