"""DynamoDB's per-item atomicity for moto, whose backend does not lock.

Real DynamoDB applies each request to its items atomically. moto's backend is
shared by the threads of its server (or of a test), and one of its writes can
interleave with another: a transaction copies the whole table while another
thread writes to it, and moto answers 500 ("dictionary changed size"). Every
DynamoDB operation we use therefore runs under one lock — and nothing more: a
service's read-decide-write steps still interleave between requests, as they do
against real DynamoDB. Used by the local stack's moto server, the live test
stack and the in-process race tests.
"""
from __future__ import annotations

import sys
import threading
from typing import Any, Callable

from moto.dynamodb.models import DynamoDBBackend

OPERATIONS = ("get_item", "put_item", "update_item", "delete_item", "transact_write_items",
              "transact_get_items", "batch_get_item", "batch_write_item", "query", "scan")


def serialise_dynamodb(set_attribute: Callable[[Any, str, Any], None] = setattr) -> None:
    """Puts every operation of moto's DynamoDB backend under one lock (``set_attribute``
    lets a test use ``monkeypatch.setattr`` and have it undone)."""
    lock = threading.RLock()
    for name in OPERATIONS:
        original = getattr(DynamoDBBackend, name)

        def serialised(self, *args, _original=original, **kwargs):
            with lock:
                return _original(self, *args, **kwargs)
        set_attribute(DynamoDBBackend, name, serialised)


def main(argv: list[str] | None = None) -> None:
    """``python -m devstack.moto_atomic <moto.server arguments>``: moto's server, atomic."""
    from moto.server import main as moto_server

    serialise_dynamodb()
    moto_server(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
