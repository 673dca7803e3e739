"""Test wiring: moto for DynamoDB/KMS, a test issuer, the Chalice test client."""
from __future__ import annotations

import json
import os

import pytest

from tests.support.tokens import AUDIENCE, ISSUER, TokenIssuer

os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
    "KATTA_STAGE": "test", "KATTA_TABLE_NAME": "katta-test",
    "KATTA_PUBLIC_BASE_URL": "https://katta.test",
    "KATTA_TRUSTED_ISSUERS": json.dumps([{"issuer": ISSUER, "audience": AUDIENCE,
                                          "jwks_uri": ISSUER + "/protocol/openid-connect/certs"}]),
})
os.environ.pop("AWS_ENDPOINT_URL", None)


@pytest.fixture
def aws():
    """A fresh moto account with the table created."""
    from moto import mock_aws

    from chalicelib import deps
    from chalicelib.db.schema import create_table

    with mock_aws():
        deps.reset()
        from chalicelib import aws as aws_clients
        create_table(aws_clients.session().client("dynamodb"), os.environ["KATTA_TABLE_NAME"])
        yield
        deps.reset()


@pytest.fixture
def issuer(aws, monkeypatch):
    """The trusted test issuer; its JWKS fetches are counted in ``issuer.fetches``."""
    return TokenIssuer().trust(monkeypatch)


@pytest.fixture
def client(aws):
    from tests.support.app_client import app_client

    import app
    with app_client(app.app) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
