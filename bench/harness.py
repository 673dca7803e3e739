"""The app in-process under moto, with an AWS call counter and real client keys.

Benchmarks drive the same code Lambda runs (``chalice.test.Client`` over the
real app, moto behind boto3) and count every botocore API call by service and
operation — figures that do not depend on the machine's speed.
"""
from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import time
import uuid
from typing import Any, Iterator
from urllib.parse import urlencode, urlsplit

ISSUER = "https://idp.bench/realms/katta"
BASE_URL = "https://katta.bench"
# The audience the bench IdP's tokens carry when they are meant for the secret server.
SECRET_AUDIENCE = "secret-server"

# The bench's environment, set on import (a test that imports the bench sets it again, and gives
# its own back after).
ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
    "KATTA_STAGE": "test", "KATTA_TABLE_NAME": "katta-bench", "KATTA_PUBLIC_BASE_URL": BASE_URL,
    "KATTA_TRUSTED_ISSUERS": json.dumps([{"issuer": ISSUER, "audience": "katta",
                                          "jwks_uri": ISSUER + "/protocol/openid-connect/certs"}]),
}
os.environ.update(ENVIRONMENT)
os.environ.pop("AWS_ENDPOINT_URL", None)


class CallCounter:
    """Counts botocore API calls (service, operation) while active."""

    def __init__(self) -> None:
        self.calls: collections.Counter[tuple[str, str]] = collections.Counter()
        self.cpu_in_calls = 0.0  # process time spent inside AWS calls (moto, when emulated in-process)
        self.items_scanned = 0  # items DynamoDB read for Queries and Scans (what their read units pay for)
        self.limits: list[int | None] = []  # each Query's Limit, in order
        self._original = None

    def __enter__(self) -> "CallCounter":
        from botocore.client import BaseClient

        self._original = original = BaseClient._make_api_call
        counter = self

        def counting(client, operation_name, api_params):
            counter.calls[(client.meta.service_model.service_name, operation_name)] += 1
            if operation_name == "Query":
                counter.limits.append(api_params.get("Limit"))
            started = time.process_time()
            try:
                response = original(client, operation_name, api_params)
            finally:
                counter.cpu_in_calls += time.process_time() - started
            counter.items_scanned += response.get("ScannedCount", 0)
            return response

        BaseClient._make_api_call = counting
        return self

    def __exit__(self, *exc_info: Any) -> None:
        from botocore.client import BaseClient
        BaseClient._make_api_call = self._original

    def reset(self) -> None:
        self.calls.clear()
        self.cpu_in_calls = 0.0
        self.items_scanned = 0
        self.limits.clear()

    def by_service(self, service: str) -> int:
        return sum(n for (svc, _op), n in self.calls.items() if svc == service)

    def summary(self) -> dict[str, int]:
        return {f"{svc}:{op}": n for (svc, op), n in sorted(self.calls.items())}


class ReplayedAws:
    """Answers AWS calls from responses recorded from moto, as a remote DynamoDB would: no CPU of ours.

    In-process moto runs between the app's steps (its deep copies and table scans evict the caches
    the app's code then misses in), so code measured beside it costs more than it does in Lambda,
    where DynamoDB is another machine. The first call of each request shape goes to moto and its
    response is recorded; later calls of that shape get a copy of the recording. Reads are told
    apart by their exact parameters (the same keys give the same items); writes by their structure,
    since their values (ids, times, tokens) are new on every request — a conditional write recorded
    as a success is answered as one again, without writing. ``recorded`` counts the calls that went
    to moto.
    """

    _READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})

    def __init__(self) -> None:
        self.recordings: dict[Any, dict[str, Any]] = {}
        self.recorded = 0
        self._original = None

    def __enter__(self) -> "ReplayedAws":
        from botocore.client import BaseClient

        self._original = original = BaseClient._make_api_call
        replay = self

        def replaying(client, operation_name, api_params):
            key = (client.meta.service_model.service_name, operation_name,
                   repr(api_params) if operation_name in replay._READS else _shape(api_params))
            if key not in replay.recordings:
                replay.recordings[key] = original(client, operation_name, api_params)
                replay.recorded += 1
            return _copied(replay.recordings[key])

        BaseClient._make_api_call = replaying
        return self

    def __exit__(self, *exc_info: Any) -> None:
        from botocore.client import BaseClient
        BaseClient._make_api_call = self._original


def _copied(value: Any) -> Any:
    """A copy of a botocore response, whose leaves (str, bytes, numbers, datetimes) are immutable:
    a fraction of ``copy.deepcopy``'s work, so that the replay itself disturbs little."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    return value


def _shape(value: Any) -> Any:
    """``value``'s structure: its keys and nesting, each leaf replaced by its type."""
    if isinstance(value, dict):
        return tuple(sorted((k, _shape(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_shape(v) for v in value)
    return type(value).__name__


def lambda_event(method: str, path: str, resource: str, path_parameters: dict[str, str] | None,
                 headers: dict[str, str], body: str | None = None) -> dict[str, Any]:
    """An API Gateway proxy event as Lambda hands it to the app (no chalice.test translation)."""
    headers = {"host": "katta.bench", **{k.lower(): v for k, v in headers.items()}}
    return {"resource": resource, "path": path, "httpMethod": method, "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": None,
            "multiValueQueryStringParameters": None, "pathParameters": path_parameters, "stageVariables": None,
            "requestContext": {"resourcePath": resource, "httpMethod": method, "requestId": uuid.uuid4().hex,
                               "path": path, "identity": {"sourceIp": "127.0.0.1"}},
            "body": body, "isBase64Encoded": False}


class Bench:
    """A moto account, the app's test client and a token issuer."""

    def __init__(self) -> None:
        from devstack.idp.provider import DevIdP

        self.idp = DevIdP(ISSUER)

    @contextlib.contextmanager
    def running(self) -> Iterator["Bench"]:
        import boto3
        from chalice.test import Client
        from moto import mock_aws

        from chalicelib import deps
        from chalicelib.auth.jwks import JwksCache
        from chalicelib.settings import get_settings
        from chalicelib.db.schema import create_table
        from devstack.bootstrap_aws import ensure_management_key

        with mock_aws():
            deps.reset()
            create_table(boto3.client("dynamodb"), os.environ["KATTA_TABLE_NAME"])
            ensure_management_key(boto3.client("kms"), get_settings().kms_key_id)
            cache = JwksCache(get_settings(), fetch=lambda url: self.idp.jwks())
            original_jwks = deps.jwks
            deps.jwks = lambda: cache
            try:
                import app
                with Client(app.app) as self.client:
                    yield self
            finally:
                deps.jwks = original_jwks
                deps.reset()

    def user(self, username: str, roles: tuple[str, ...] = ("user", "create-vaults")) -> "BenchUser":
        if username not in {u.username for u in self.idp.users()}:
            self.idp.add_user(username, roles=list(roles))
        return BenchUser(self, username)

    def secret_backend(self) -> "BenchBackend":
        """A resource server registered with the secret server, which trusts the bench IdP's users."""
        from katta_client.resource_server import ResourceServerKeys

        admin = self.user("bench-admin", roles=("user", "admin"))
        registered = admin.request("PUT", "/secret-server/admin/idps", {
            "issuer": ISSUER, "audience": SECRET_AUDIENCE, "jwks": self.idp.jwks(), "algorithms": [self.idp.alg]})
        assert registered.status_code in (200, 201), registered.body
        client_id = f"backend-{uuid.uuid4().hex[:8]}"
        keys = ResourceServerKeys.generate()
        registered = admin.request("PUT", f"/secret-server/admin/resource-servers/{client_id}",
                                   {"jwks": keys.public_jwks()})
        assert registered.status_code in (200, 201), registered.body
        return BenchBackend(self, client_id, keys)


class BenchUser:
    def __init__(self, bench: Bench, username: str) -> None:
        from katta_client.crypto import UserKeys

        self.bench = bench
        self.username = username
        self.token = bench.idp.mint(username, lifetime=3600)
        self.keys = UserKeys.create()
        self.id = self.request("GET", "/api/users/me").json()["id"]

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json"):
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": content_type}
        raw = body if isinstance(body, str) else (json.dumps(body) if body is not None else b"")
        response = self.bench.client.http.request(method, path, headers=headers, body=raw)
        response.json = lambda: json.loads(response.body)  # type: ignore[attr-defined]
        return response

    def set_up_keys(self) -> None:
        from katta_client.crypto import generate_account_key

        response = self.request("PUT", "/api/users/me", {
            "id": self.id, "name": self.username, "type": "USER",
            "ecdhPublicKey": self.keys.encoded_ecdh_public_key,
            "ecdsaPublicKey": self.keys.encoded_ecdsa_public_key,
            "privateKeys": self.keys.encrypt_with_account_key(generate_account_key(), iterations=1000),
        })
        assert response.status_code == 201, response.body

    def create_vault(self) -> str:
        """A vault owned by this user, with this user's own access token."""
        from katta_client.crypto import encrypt_access_token

        vault_id = str(uuid.uuid4())
        response = self.request("PUT", f"/api/vaults/{vault_id}", {"id": vault_id, "name": f"vault {vault_id[:8]}"})
        assert response.status_code == 201, response.body
        token = encrypt_access_token(self.keys.ecdh_public_key, os.urandom(32))
        granted = self.request("POST", f"/api/vaults/{vault_id}/access-tokens", {self.id: token})
        assert granted.status_code == 200, granted.body
        return vault_id


class BenchBackend:
    """A backend of the secret server (``katta_client.resource_server``) talking to the in-process app.

    It is its own transport, so it can tell the app's share of an exchange from its own:
    ``server_cpu`` is the process time spent inside the app's answers (assertions are signed
    and release tokens opened outside it).
    """

    def __init__(self, bench: Bench, client_id: str, keys: Any) -> None:
        from katta_client.resource_server import ResourceServer

        self.bench = bench
        self.keys = keys
        self.server = ResourceServer(client_id, BASE_URL, keys, transport=self)
        self.last_response: Any = None
        self.server_cpu = 0.0

    def subject_token(self, username: str) -> str:
        """The user's IdP token for the secret server (the exchange's ``subject_token``)."""
        if username not in {u.username for u in self.bench.idp.users()}:
            self.bench.idp.add_user(username, roles=["user"])
        return self.bench.idp.mint(username, lifetime=3600, aud=SECRET_AUDIENCE)

    def exchange(self, subject_token: str):
        """One ``POST /secret-server/token-exchange``; the app's response (SecretServerError unless 200)."""
        self.server.exchange(subject_token)
        return self.last_response

    def post_form(self, url: str, form: dict[str, str]) -> tuple[int, Any]:
        started = time.process_time()
        response = self.bench.client.http.post(urlsplit(url).path, body=urlencode(form),
                                               headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.server_cpu += time.process_time() - started
        self.last_response = response
        return response.status_code, json.loads(response.body)

    def get_json(self, url: str) -> Any:
        return json.loads(self.bench.client.http.get(urlsplit(url).path).body)


@contextlib.contextmanager
def served_stack() -> Iterator[tuple[dict[str, str], Any]]:
    """A moto server and the dev IdP over HTTP on loopback: (environment for an app process, the IdP).

    For cold starts measured in a fresh process: all the AWS and IdP work happens in this
    process, so the child's CPU time is the app's alone.
    """
    import boto3
    from moto.server import ThreadedMotoServer

    from chalicelib.settings import get_settings
    from chalicelib.db.schema import create_table
    from devstack.bootstrap_aws import ensure_management_key
    from devstack.idp import DevIdP

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server would log every call
    idp = DevIdP()
    idp_server = idp.serve("127.0.0.1", 0)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        env = {"PATH": "/usr/bin:/bin", "AWS_ENDPOINT_URL": f"http://{host}:{port}",
               **{k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")},
               "KATTA_STAGE": "test", "KATTA_TABLE_NAME": os.environ["KATTA_TABLE_NAME"],
               "KATTA_PUBLIC_BASE_URL": BASE_URL,
               "KATTA_TRUSTED_ISSUERS": json.dumps([{"issuer": idp.issuer, "audience": "katta"}])}
        create_table(boto3.client("dynamodb", endpoint_url=env["AWS_ENDPOINT_URL"]), env["KATTA_TABLE_NAME"])
        ensure_management_key(boto3.client("kms", endpoint_url=env["AWS_ENDPOINT_URL"]), get_settings().kms_key_id)
        yield env, idp
    finally:
        moto.stop()
        idp_server.stop()
