"""schemathesis against the app's own OpenAPI document, over real HTTP, with valid credentials.

The app serves itself on loopback (chalice.local's server, moto in-process);
the document is the one it serves at ``/openapi.json``. Every generated
request carries what its operation's ``security`` asks for: a user's bearer
token, an admin's on the admin routes, and on the secret server's token
endpoint a fresh client assertion of a registered resource server (with a
subject token of a registered IdP, so that the exchange can succeed). Positive
and negative cases are generated; every answer must be no 5xx, a documented
status, the documented content type, a body that matches its schema and the
headers the document says are required.

``KATTA_FUZZ_EXAMPLES`` sets the examples per operation (default 5, which
keeps this module well under 90 s on 2 cores); docs/openapi.md has the longer run.
"""
from __future__ import annotations

import os
import threading
import uuid
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    content_type_conformance, not_a_server_error, response_headers_conformance, response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from katta_client.resource_server import ResourceServer, ResourceServerKeys
from tests.support.app_server import threaded_app_server
from tests.support.kms import create_management_key
from tests.support.tokens import TokenIssuer

pytestmark = pytest.mark.slow  # a live stack, a subprocess or a long run: not in the fast lane

EXAMPLES = int(os.environ.get("KATTA_FUZZ_EXAMPLES", "5"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
HOST = "127.0.0.1"
SECRET_AUDIENCE = "secret-server"
EXCHANGE_AUDIENCE = "https://backend.test"


class World:
    """The running app and the credentials a legitimate caller of each operation holds."""

    def __init__(self, url: str, idp: TokenIssuer, backend: ResourceServer) -> None:
        self.url = url
        self.idp = idp
        self.backend = backend

    def headers(self, case: schemathesis.Case) -> dict[str, str]:
        security = case.operation.definition.raw.get("security", [])
        if not any("bearer" in requirement for requirement in security):
            return {}
        roles = ["user", "admin"] if _is_admin_operation(case) else ["user", "create-vaults"]
        return {"Authorization": "Bearer " + self.idp.token("fuzz-" + roles[-1], realm_access={"roles": roles})}

    def credentials_in_body(self, case: schemathesis.Case) -> None:
        """Valid credentials in the token endpoints' forms, the other fields as generated."""
        if not isinstance(case.body, dict):
            return
        if case.path == "/secret-server/token-exchange":
            if "client_assertion" in case.body:
                case.body["client_assertion"] = self.backend.client_assertion()
            if "subject_token" in case.body:
                case.body["subject_token"] = self.idp.token("fuzz-subject", aud=SECRET_AUDIENCE)
        elif case.path == "/oauth2/token" and "subject_token" in case.body:
            case.body["subject_token"] = self.idp.token("fuzz-subject")


def _is_admin_operation(case: schemathesis.Case) -> bool:
    return "/admin/" in case.path or (case.path.startswith("/api/storageprofile") and case.method != "GET")


@pytest.fixture(scope="module")
def world():
    from moto import mock_aws

    from chalicelib import deps
    from chalicelib.db.schema import create_table

    server, attach = threaded_app_server(HOST)
    url = f"http://{HOST}:{server.server_address[1]}"
    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        patch.setenv("KATTA_PUBLIC_BASE_URL", url)
        patch.setenv("KATTA_TABLE_NAME", "katta-fuzz")
        patch.setenv("KATTA_TOKEN_EXCHANGE_AUDIENCES", f'["{EXCHANGE_AUDIENCE}"]')
        deps.reset()
        import boto3
        create_table(boto3.client("dynamodb"), "katta-fuzz")
        create_management_key()
        idp = TokenIssuer().trust(patch)
        deps.pop_keys().run_schedule()  # an active key of each use, as the hourly job leaves it
        backend = _register_secret_server_parties(idp, url)
        import app
        attach(app.app)
        threading.Thread(target=server.serve_forever, name="katta-fuzz-api", daemon=True).start()
        try:
            served = requests.get(url + "/openapi.json", timeout=30)
            assert served.status_code == 200 and served.json() == DOCUMENT, served.text[:500]
            yield World(url, idp, backend)
        finally:
            server.shutdown()
            server.server_close()
    deps.reset()  # after the patches are undone: the real settings again


def _register_secret_server_parties(idp: TokenIssuer, url: str) -> ResourceServer:
    from chalicelib import deps
    from chalicelib.secrets.registry import IdpRegistration, ResourceServerRegistration

    registry = deps.secret_server_registry()
    registry.put_idp(IdpRegistration(issuer=idp.issuer, audience=SECRET_AUDIENCE, jwks=idp.jwks()), "fuzz-admin")
    keys = ResourceServerKeys.generate()
    client_id = f"fuzz-backend-{uuid.uuid4().hex[:8]}"
    registry.put_resource_server(client_id, ResourceServerRegistration(jwks=keys.public_jwks()), "fuzz-admin")
    return ResourceServer(client_id, url, keys)


@schemathesis.serializer("application/jose")
def _compact_jwe(_context: schemathesis.SerializationContext, value: Any) -> dict[str, Any]:
    """A JWE body is a string on the wire; schemathesis knows no serializer for application/jose."""
    return {"data": str(value).encode("utf-8")}


def _document() -> dict[str, Any]:
    """What ``GET /openapi.json`` answers; the ``world`` fixture checks that the server serves exactly this.

    schemathesis needs the operations when the module is collected, before any server runs.
    """
    import app
    from chalicelib import openapi

    return openapi.document(app.app)


DOCUMENT = _document()
# The coverage phase (every boundary value of every schema, whatever the example count) runs only when
# KATTA_FUZZ_COVERAGE=1: it costs minutes. Shrinking is left to the long run too.
COVERAGE = os.environ.get("KATTA_FUZZ_COVERAGE") == "1"
schema = schemathesis.openapi.from_dict(DOCUMENT, config=SchemathesisConfig.from_dict({
    "generation": {"mode": "all"},
    "phases": {"coverage": {
        "enabled": COVERAGE,
        # chalice.local's server has no TRACE or QUERY (a 501 of its own); API Gateway answers those itself.
        "unexpected-methods": ["get", "put", "post", "delete", "options", "patch"]}},
}))


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          phases=[Phase.explicit, Phase.generate] + ([Phase.shrink] if COVERAGE else []),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_every_answer_is_documented_and_none_is_a_server_error(case: schemathesis.Case, world: World) -> None:
    world.credentials_in_body(case)
    not_implemented = "501" in case.operation.definition.raw["responses"]
    # A route out of scope answers 501 by design, and documents it; any other 5xx still fails.
    checks = [check for check in CHECKS if not (not_implemented and check is not_a_server_error)]
    response = case.call_and_validate(base_url=world.url, headers=world.headers(case), checks=checks, timeout=30)
    assert response.status_code < 500 or (not_implemented and response.status_code == 501), response.text
