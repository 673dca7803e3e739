"""The KMS side of the tests: the management key in moto and a KMS call counter."""
from __future__ import annotations

from collections import Counter

import pytest

MANAGEMENT_ALIAS = "alias/katta-management"


def create_management_key(alias: str = MANAGEMENT_ALIAS) -> str:
    """A symmetric customer-managed key with ``alias``; returns its ARN."""
    from chalicelib import aws

    kms = aws.session().client("kms")
    arn = kms.create_key(Description="katta management key (test)")["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName=alias, TargetKeyId=arn)
    return arn


class AwsCalls:
    """Counts the API calls our clients make (botocore ``before-call`` events)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def watch(self, service: str) -> "AwsCalls":
        from chalicelib import aws

        aws.client(service).meta.events.register(f"before-call.{service}.*", self._count)
        return self

    def _count(self, event_name: str, **_kwargs) -> None:
        _before, service, operation = event_name.split(".", 2)
        self.calls[f"{service}.{operation}"] += 1

    def of(self, service: str) -> int:
        return sum(n for name, n in self.calls.items() if name.startswith(service + "."))

    def reset(self) -> None:
        self.calls.clear()


@pytest.fixture
def kms_key(aws):
    """The management key (``alias/katta-management``) in the moto account of ``aws``.

    Also loads the test settings now: chalice.test.Client runs handlers with the
    'dev' stage's environment from .chalice/config.json, so settings first read
    inside a handler would name the dev table and key.
    """
    from chalicelib.settings import get_settings

    get_settings()
    return create_management_key()


@pytest.fixture
def calls(aws):
    return AwsCalls()
