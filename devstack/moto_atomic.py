"""DynamoDB's per-item atomicity for moto, whose backend does not lock.

Real DynamoDB applies each request to its items atomically. moto's backend is
shared by the threads of its server (or of a test), and one of its writes can
interleave with another: a transaction copies the whole table while another
thread writes to it, and moto answers 500 ("dictionary changed size"). Each
DynamoDB request is therefore handled under one lock — and nothing more: a
service's read-decide-write steps still interleave between requests, as they do
against real DynamoDB. Used by the local stack's moto server, the live test
stack and the in-process race tests.
"""
from __future__ import annotations

import sys
import threading
from typing import Any, Callable

from moto.dynamodb.responses import DynamoHandler


def serialise_dynamodb(set_attribute: Callable[[Any, str, Any], None] = setattr) -> None:
    """Handles one DynamoDB request at a time, from parsing to the serialised answer: moto's
    backend hands out live items that its response layer reads after the backend call returns
    (``set_attribute`` lets a test use ``monkeypatch.setattr`` and have it undone)."""
    lock = threading.RLock()
    original = DynamoHandler.call_action

    def call_action(self, *args, **kwargs):
        with lock:
            return original(self, *args, **kwargs)
    set_attribute(DynamoHandler, "call_action", call_action)


def main(argv: list[str] | None = None) -> None:
    """``python -m devstack.moto_atomic <moto.server arguments>``: moto's server, atomic."""
    from moto.server import main as moto_server

    serialise_dynamodb()
    moto_server(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
