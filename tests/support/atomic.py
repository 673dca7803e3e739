"""Threads racing the way Lambda instances do, against moto made atomic per request.

``atomic_items`` gives moto's DynamoDB the per-request atomicity of the real
service (devstack.moto_atomic) for one test; ``race`` releases calls together.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import pytest

from chalicelib.web import to_api_error
from devstack.moto_atomic import serialise_dynamodb


@pytest.fixture
def atomic_items(aws, monkeypatch):
    serialise_dynamodb(monkeypatch.setattr)


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
