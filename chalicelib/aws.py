"""Lazily created boto3 clients, one per service and process.

Created on first use, not at import, so a cold start only pays for the
services a request touches. ``AWS_ENDPOINT_URL`` (honoured by botocore) points
them at the moto server locally.
"""
from __future__ import annotations

import threading

_clients: dict[str, object] = {}
_lock = threading.Lock()


def client(service: str):
    existing = _clients.get(service)
    if existing is not None:
        return existing
    with _lock:
        if service not in _clients:
            import boto3
            from botocore.config import Config

            config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})
            _clients[service] = boto3.session.Session().client(service, config=config)
        return _clients[service]


def reset() -> None:
    """Forgets every client (tests switch AWS mocks between cases)."""
    with _lock:
        _clients.clear()
