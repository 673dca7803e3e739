"""The error boundary: problem JSON for every failure, nothing internal leaks."""
import json
import logging

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from chalice import Blueprint, Chalice
from pydantic import BaseModel, Field

from chalicelib import aws, errors
from chalicelib.web import parse_body, route
from tests.support.app_client import app_client

bp = Blueprint(__name__)


class Thing(BaseModel):
    name: str = Field(pattern=r"^[a-z]+$")
    size: int


@route(bp, "/boom")
def boom():
    raise RuntimeError("secret internal detail /var/task/chalicelib")


class FailingClient:
    """A boto3 client whose every call fails with ``error``, as botocore raises it."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def call(self, **_):
        raise self.error


def call_failing(error: Exception) -> None:
    aws.translating(FailingClient(error)).call()


@route(bp, "/throttled")
def throttled():
    call_failing(ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded for arn:aws:kms:..."}}, "Decrypt"))


@route(bp, "/offline")
def offline():
    call_failing(EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"))


@route(bp, "/access-denied")
def access_denied():
    call_failing(ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "User arn:aws:iam::1 is not"}}, "GetItem"))


@route(bp, "/things", methods=("POST",))
def things():
    return parse_body(bp.current_request, Thing).model_dump()


@route(bp, "/gone")
def gone():
    raise errors.Gone("the vault is archived")


app = Chalice("errors-test")
app.register_blueprint(bp)


@pytest.fixture
def test_client():
    with app_client(app) as client:
        yield client


def problem(response):
    assert response.headers["Content-Type"] == "application/problem+json"
    return json.loads(response.body)


def test_unexpected_exception_is_a_500_with_a_request_id_and_no_trace(test_client, caplog):
    with caplog.at_level(logging.ERROR, logger="katta"):
        response = test_client.http.get("/boom")
    body = problem(response)
    assert response.status_code == 500
    assert body["requestId"]
    assert "secret" not in response.body.decode() and "Traceback" not in response.body.decode()
    assert any(record.exc_info for record in caplog.records), "the traceback belongs in the log"


@pytest.mark.parametrize("path", ["/throttled", "/offline"])
def test_aws_unavailable_is_a_503_with_retry_after(test_client, path):
    response = test_client.http.get(path)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "arn:aws" not in response.body.decode() and "amazonaws" not in response.body.decode()


def test_an_aws_error_that_is_no_outage_reaches_the_adapter_unchanged():
    """The adapter that made the call decides what a refusal or a failed condition means."""
    refusal = ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": "no"}}, "PutItem")
    with pytest.raises(ClientError) as raised:
        call_failing(refusal)
    assert raised.value is refusal


def test_other_aws_errors_do_not_leak_their_text(test_client):
    response = test_client.http.get("/access-denied")
    assert response.status_code == 500
    assert "arn:aws" not in response.body.decode()


def test_validation_error_names_the_field(test_client):
    response = test_client.http.post("/things", body=json.dumps({"name": "ABC", "size": 1}),
                                     headers={"Content-Type": "application/json"})
    body = problem(response)
    assert response.status_code == 400
    assert body["errors"][0]["field"] == "name"
    assert body["detail"].startswith("name:")


@pytest.mark.parametrize("raw", ["{", "", "[1]"])
def test_bad_json_is_a_400(test_client, raw):
    response = test_client.http.post("/things", body=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_api_errors_keep_their_status(test_client):
    response = test_client.http.get("/gone")
    assert response.status_code == 410 and problem(response)["detail"] == "the vault is archived"


def test_chalice_own_errors_become_problems(client):
    response = client.http.post("/api/config")
    assert response.status_code == 405
    assert problem(response)["status"] == 405
    assert response.headers["Allow"] == "GET"
