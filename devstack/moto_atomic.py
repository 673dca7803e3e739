"""DynamoDB's per-item atomicity for moto, whose backend does not lock.

Real DynamoDB applies each request to its items atomically. moto's backend is
shared by the threads of its server (or of a test), and one of its writes can
interleave with another: a transaction copies the whole table while another
thread writes to it, and moto answers 500 ("dictionary changed size"). Each
DynamoDB request is therefore handled under one lock — and nothing more: a
service's read-decide-write steps still interleave between requests, as they do
against real DynamoDB. moto also ignores a transaction's ``ClientRequestToken``; here a
token already applied is answered success without applying it twice, as DynamoDB does, for
10 minutes. Used by the local stack's
moto server, the live test stack and the in-process race tests.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable

from moto.core.responses import ActionResult
from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
from moto.dynamodb.responses import DynamoHandler

TOKEN_SECONDS = 600  # how long DynamoDB remembers a ClientRequestToken


def serialise_dynamodb(set_attribute: Callable[[Any, str, Any], None] = setattr) -> None:
    """Handles one DynamoDB request at a time, from parsing to the serialised answer: moto's
    backend hands out live items that its response layer reads after the backend call returns
    (``set_attribute`` lets a test use ``monkeypatch.setattr`` and have it undone)."""
    lock = threading.RLock()
    original = DynamoHandler.call_action
    original_transact = DynamoHandler.transact_write_items
    # ClientRequestToken → (when, the parameters applied with it), oldest first.
    applied: dict[str, tuple[float, dict[str, Any]]] = {}

    def call_action(self, *args, **kwargs):
        with lock:
            return original(self, *args, **kwargs)

    def transact_write_items(self):
        """As DynamoDB: a token already applied is answered success without applying again (a retry
        after a lost answer); the same token with other parameters is refused."""
        params = dict(self.body)
        token = params.pop("ClientRequestToken", None)
        now = time.monotonic()
        while applied and next(iter(applied.values()))[0] < now - TOKEN_SECONDS:
            applied.pop(next(iter(applied)))
        if token in applied:
            if applied[token][1] != params:
                raise DynamodbException(ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException",
                                        "the client request token was used with other parameters")
            return ActionResult({})
        result = original_transact(self)
        if token is not None:
            applied[token] = (now, params)
        return result
    set_attribute(DynamoHandler, "call_action", call_action)
    set_attribute(DynamoHandler, "transact_write_items", transact_write_items)


def main(argv: list[str] | None = None) -> None:
    """``python -m devstack.moto_atomic <moto.server arguments>``: moto's server, atomic."""
    from moto.server import main as moto_server

    serialise_dynamodb()
    moto_server(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
