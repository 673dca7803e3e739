"""Request bodies sent as a compact JWE to a POP enc key (Content-Type: application/jose)."""
from __future__ import annotations

import json

import pytest
from chalice import Blueprint, Chalice
from pydantic import BaseModel

from chalicelib import deps
from chalicelib.pop.bodies import ACCEPTED_CONTENT_TYPES, parse_body
from chalicelib.web import json_response, route
from tests.support.app_client import app_client
from tests.support.kms import kms_key  # noqa: F401 — fixture
from tests.support.pop import encrypt_to

bp = Blueprint(__name__)


class Credentials(BaseModel):
    accessKeyId: str
    secretKey: str


@route(bp, "/echo", methods=("PUT",), content_types=ACCEPTED_CONTENT_TYPES)
def echo():
    body = parse_body(bp.current_request, Credentials)
    return json_response({"accessKeyId": body.accessKeyId})


app = Chalice(app_name="jose-body-test")
app.register_blueprint(bp)


@pytest.fixture
def echo_client(aws, kms_key):
    with app_client(app) as client:
        yield client


@pytest.fixture
def enc_key(echo_client):
    keys = deps.pop_keys()
    kid = keys.active("enc").kid
    return next(k for k in keys.jwks()["keys"] if k["kid"] == kid)


CREDENTIALS = json.dumps({"accessKeyId": "AKIA-TEST", "secretKey": "s3cr3t"}).encode()
JOSE = {"Content-Type": "application/jose"}


def put(client, body, headers=JOSE):
    response = client.http.put("/echo", headers=headers, body=body)
    return response.status_code, json.loads(response.body)


def test_an_encrypted_body_is_decrypted_and_validated(echo_client, enc_key):
    status, body = put(echo_client, encrypt_to(enc_key, CREDENTIALS, cty="json"))
    assert (status, body) == (200, {"accessKeyId": "AKIA-TEST"})


def test_a_plain_json_body_still_works(echo_client):
    status, body = put(echo_client, CREDENTIALS, {"Content-Type": "application/json"})
    assert (status, body) == (200, {"accessKeyId": "AKIA-TEST"})


def test_refusals_are_client_errors_that_leak_nothing(echo_client, enc_key):
    good = encrypt_to(enc_key, CREDENTIALS)
    cases = {
        "tampered": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        "garbage": "not a jwe",
        "plaintext is not JSON": encrypt_to(enc_key, b"not json"),
        "plaintext fails the model": encrypt_to(enc_key, b'{"accessKeyId": 1}'),
        "cty is not JSON": encrypt_to(enc_key, CREDENTIALS, cty="text/plain"),
        "not ASCII": "é".encode() * 10,
    }
    for name, body in cases.items():
        status, problem = put(echo_client, body)
        assert status == 400, name
        assert "s3cr3t" not in json.dumps(problem)


def test_oversize_bodies_are_refused_before_decryption(echo_client, enc_key, monkeypatch):
    from chalicelib.settings import get_settings
    monkeypatch.setattr(get_settings(), "max_body_bytes", 100)
    status, problem = put(echo_client, encrypt_to(enc_key, CREDENTIALS))
    assert status == 413
