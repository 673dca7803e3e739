"""Lazily created boto3 clients, one per service and process.

Created on first use, not at import, so a cold start only pays for the
services a request touches. ``AWS_ENDPOINT_URL`` (honoured by botocore) points
them at the moto server locally.

This is also the one place where AWS's failures meet our error taxonomy: every
call through a client from here that fails because AWS throttled, erred or
could not be reached raises ``errors.ServiceUnavailable``; any other AWS error
(a failed condition, a missing bucket, a refusal) reaches the adapter that made
the call, which knows what it means.
"""
from __future__ import annotations

import functools
import threading
from typing import Any

from chalicelib import errors

_clients: dict[str, object] = {}
_lock = threading.Lock()


def client(service: str):
    existing = _clients.get(service)
    if existing is not None:
        return existing
    with _lock:
        if service not in _clients:
            _clients[service] = translating(session().client(service, config=config()))
        return _clients[service]


def config():
    """Timeouts and retries of a request-serving Lambda (``KATTA_AWS_*``): a stalled or shedding
    dependency becomes a 503 within ``aws_call_budget_seconds`` instead of holding the request."""
    from botocore.config import Config

    from chalicelib.settings import get_settings
    settings = get_settings()
    return Config(connect_timeout=settings.aws_connect_timeout_seconds,
                  read_timeout=settings.aws_read_timeout_seconds,
                  retries={"total_max_attempts": settings.aws_max_attempts, "mode": settings.aws_retry_mode})


def session():
    """A new boto3 session that shares this process's service models.

    A session of its own per client (credentials and region resolved afresh), but botocore's
    JSON models and endpoint rules are read from disk and parsed once per process, not once per
    client: that parse is most of what a client costs."""
    import boto3
    import botocore.session
    core = botocore.session.Session()
    core.register_component("data_loader", _loader())
    return boto3.session.Session(botocore_session=core)


@functools.lru_cache(maxsize=1)
def _loader():
    from botocore.loaders import create_loader
    return create_loader()


# Error codes AWS answers with when it sheds load or is briefly unavailable.
_RETRYABLE_CODES = frozenset({
    "ThrottlingException", "Throttling", "ProvisionedThroughputExceededException",
    "RequestLimitExceeded", "InternalServerError", "InternalFailure", "ServiceUnavailable",
    "ServiceUnavailableException", "KMSInternalException", "DependencyTimeoutException",
    "KeyUnavailableException", "LimitExceededException", "TransactionInProgressException",
    "SlowDown", "RequestTimeout",
})


def error_code(error: Exception) -> str:
    """The AWS error code of a ``ClientError`` ("" for anything else).

    By code, not by class: each botocore client builds its own exception classes, so a class
    taken from one client instance does not catch the same error raised through another."""
    response = getattr(error, "response", None) or {}
    return response.get("Error", {}).get("Code", "")


def error_status(error: Exception) -> int:
    response = getattr(error, "response", None) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def is_unavailable(error: Exception) -> bool:
    """AWS throttled, failed on its side, or could not be reached: the caller may retry."""
    from botocore.exceptions import BotoCoreError, ClientError
    if isinstance(error, ClientError):
        status = error_status(error)
        return error_code(error) in _RETRYABLE_CODES or status >= 500 or status == 429
    return isinstance(error, BotoCoreError)


class _Translating:
    """A boto3 client whose calls raise ``errors.ServiceUnavailable`` when AWS is unavailable."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name.startswith("_") or not callable(attribute) or name in ("get_paginator", "get_waiter"):
            return attribute

        @functools.wraps(attribute)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attribute(*args, **kwargs)
            except Exception as error:
                if is_unavailable(error):
                    raise errors.ServiceUnavailable() from None
                raise
        self.__dict__[name] = call  # built once per operation: __getattr__ is not asked again
        return call


def translating(client: Any) -> Any:
    """``client`` (made here, or for one request with its own credentials) with AWS's outages translated."""
    return _Translating(client)


def reset() -> None:
    """Forgets every client (tests switch AWS mocks between cases)."""
    with _lock:
        _clients.clear()
