"""DynamoDB's per-item atomicity for moto, so threads can race the way Lambda instances do.

Real DynamoDB applies each write (and each transaction) to its items
atomically; moto does not lock, so two threads can interleave inside one moto
write. The fixture gives every moto write the same atomicity — and nothing
more: our read-decide-write steps still interleave between calls.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import pytest
from moto.dynamodb.models import DynamoDBBackend

from chalicelib.web import to_api_error


@pytest.fixture
def atomic_items(aws, monkeypatch):
    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "transact_write_items", "get_item"):
        original = getattr(DynamoDBBackend, name)

        def serialised(self, *args, _original=original, **kwargs):
            with lock:
                return _original(self, *args, **kwargs)
        monkeypatch.setattr(DynamoDBBackend, name, serialised)


def race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Runs the calls together (released at once); returns each one's result, or the error a client
    would get (``web.to_api_error``: a lost condition is a 409); a bug still raises."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 — sorted like the HTTP boundary does
            error = to_api_error(exc)
            if error is None:
                raise
            return error

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))
