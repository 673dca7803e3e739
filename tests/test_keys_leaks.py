"""No private key and no ring key ever appears in the clear: not in a response, a log line or an item.

The raw items are read with a Scan — here, in the test only; production code never scans.
"""
from __future__ import annotations

import base64
import io
import json
import logging
import os
import time

import boto3

from chalicelib import aws, deps, logs
from tests.conftest import bearer
from tests.support.kms import kms_key  # noqa: F401 — fixture
from tests.support.pop import encrypt_to
from tests.support.sealed import sealed_item

PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")


def _forms(secret: bytes) -> list[bytes]:
    return [secret, base64.b64encode(secret), base64.urlsafe_b64encode(secret).rstrip(b"="), secret.hex().encode()]


def _raw_items() -> list[dict]:
    client = boto3.client("dynamodb")
    items, start = [], {}
    while True:
        page = client.scan(TableName=os.environ["KATTA_TABLE_NAME"], **start)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def _flatten(value) -> bytes:
    """Every string and binary inside a raw DynamoDB item, concatenated with separators."""
    if isinstance(value, dict):
        return b"\x00".join(_flatten(v) for v in value.values())
    if isinstance(value, list):
        return b"\x00".join(_flatten(v) for v in value)
    if isinstance(value, bytes):
        return value + b"\x00" + base64.b64encode(value)
    return str(value).encode()


def test_key_material_never_appears_in_the_clear(client, issuer, kms_key):
    data_keys: list[bytes] = []

    def remember_plaintext(parsed, **_kwargs):
        if "Plaintext" in parsed:
            data_keys.append(parsed["Plaintext"])

    kms = aws.client("kms")
    kms.meta.events.register("after-call.kms.GenerateDataKey", remember_plaintext)
    kms.meta.events.register("after-call.kms.Decrypt", remember_plaintext)
    log_lines = io.StringIO()
    handler = logging.StreamHandler(log_lines)
    handler.setFormatter(logs.JsonFormatter())
    logging.getLogger("katta").addHandler(handler)
    try:
        admin = bearer(issuer.token("root", realm_access={"roles": ["admin"]}))
        json_admin = {**admin, "Content-Type": "application/json"}
        responses = [client.http.get("/.well-known/jwks.json"), client.http.get("/pop")]
        deps.table().put(sealed_item(deps.key_rings(), "secrets", "TEST#leak", "S", b"user secret",
                                     "iss|sub|purpose"))
        for method, path, body in [
            ("post", "/api/admin/keys/pop/sig/rotate", None), ("post", "/api/admin/keys/pop/enc/rotate", None),
            ("post", "/api/admin/keys/rings/secrets/rotate", None), ("post", "/api/admin/keys/rings/pop/rotate", None),
            ("post", "/api/admin/keys/rings/secrets/rewrap", None), ("post", "/api/admin/keys/rings/pop/rewrap", None),
            ("post", "/api/admin/keys/rings/secrets/rewrap-versions", None), ("post", "/api/admin/keys/rings/pop/trim", None),
            ("put", "/api/admin/keys/rings/secrets/min-decryption-version", {"version": 2}),  # refused: too soon
            ("get", "/api/admin/keys", None),
        ]:
            kwargs = {"body": json.dumps(body)} if body else {}
            responses.append(getattr(client.http, method)(path, headers=json_admin, **kwargs))
        pop = deps.pop_keys()
        pop.sign_jwt({"sub": "x", "exp": int(time.time()) + 60})
        enc = next(k for k in pop.jwks()["keys"] if k["kid"] == pop.active("enc").kid)
        pop.decrypt(encrypt_to(enc, b"{}"))
        responses.append(client.http.get("/pop"))
    finally:
        logging.getLogger("katta").removeHandler(handler)

    private_members = []
    for use in ("sig", "enc"):
        for item in deps.table().query_all(f"POP#{use}", "KEY#"):
            private = json.loads(deps.key_rings().open("pop", bytes(item["sealed"]), f"pop:{use}:{item['kid']}"))
            private_members += [private[m].encode() for m in PRIVATE_MEMBERS if m in private]
    assert len(private_members) >= 4 and len(data_keys) >= 4

    secrets = [form for key in data_keys for form in _forms(key)] + private_members
    exposed = {
        "responses": b"\x00".join(r.body + json.dumps(dict(r.headers)).encode() for r in responses),
        "logs": log_lines.getvalue().encode(),
        "items": b"\x00".join(_flatten(item) for item in _raw_items()),
    }
    assert log_lines.getvalue(), "the log capture saw nothing: the check would be vacuous"
    for where, text in exposed.items():
        for secret in secrets:
            assert secret not in text, f"key material found in {where}"
