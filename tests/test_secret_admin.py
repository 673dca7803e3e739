"""Registration of the secret server's IdPs and resource servers: the admin API and its checks."""
from __future__ import annotations

import json
import warnings
from urllib.parse import quote

import pytest
from joserfc.jwk import ECKey, OctKey, RSAKey

from chalicelib.secrets.registry import IdpRegistration, Registry, ResourceServerRegistration
from chalicelib.settings import Settings
from katta_client.resource_server import ResourceServerKeys
from tests.conftest import bearer
from tests.support.kms import kms_key  # noqa: F401 — fixture
from tests.test_secret_fixtures import world  # noqa: F401 — fixture

ISSUER = "https://login.example.com/realms/acme"
JSON = {"Content-Type": "application/json"}


def _put(world, path: str, body: dict, headers: dict | None = None):
    return world.client.http.put(path, headers={**(headers or world.admin), **JSON}, body=json.dumps(body))


def _idp(**overrides) -> dict:
    body = {"issuer": ISSUER, "audience": "secret-server", "jwksUri": ISSUER + "/protocol/openid-connect/certs",
            "algorithms": ["RS256"]}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def test_an_idp_is_registered_read_listed_replaced_and_deleted_by_issuer(world):
    created = _put(world, "/secret-server/admin/idps", _idp())
    assert created.status_code == 201
    assert json.loads(created.body)["jwksUri"] == ISSUER + "/protocol/openid-connect/certs"
    one = world.client.http.get(f"/secret-server/admin/idps?issuer={quote(ISSUER, safe='')}", headers=world.admin)
    assert json.loads(one.body)["issuer"] == ISSUER and json.loads(one.body)["updatedBy"]
    assert ISSUER in [i["issuer"] for i in json.loads(world.client.http.get("/secret-server/admin/idps",
                                                                            headers=world.admin).body)]
    replaced = _put(world, "/secret-server/admin/idps", _idp(audience="other", algorithms=["ES256", "PS256"]))
    assert replaced.status_code == 200 and json.loads(replaced.body)["audience"] == "other"
    deleted = world.client.http.delete(f"/secret-server/admin/idps?issuer={quote(ISSUER, safe='')}",
                                       headers=world.admin)
    assert deleted.status_code == 204
    gone = world.client.http.get(f"/secret-server/admin/idps?issuer={quote(ISSUER, safe='')}", headers=world.admin)
    assert gone.status_code == 404
    again = world.client.http.delete(f"/secret-server/admin/idps?issuer={quote(ISSUER, safe='')}",
                                     headers=world.admin)
    assert again.status_code == 404
    kinds = [e["type"] for e in world.audit_events("SECRET_SERVER_IDP_REGISTER")]
    assert len(kinds) == 3  # the world's own IdP, then ours twice
    (removal,) = world.audit_events("SECRET_SERVER_IDP_DELETE")
    assert removal["issuer"] == ISSUER and removal["userId"]


def test_a_resource_server_is_registered_read_listed_and_deleted(world):
    keys = ResourceServerKeys.generate()
    created = _put(world, "/secret-server/admin/resource-servers/notes", {"jwks": keys.public_jwks(),
                                                                          "description": "notes app"})
    assert created.status_code == 201
    dto = json.loads(world.client.http.get("/secret-server/admin/resource-servers/notes", headers=world.admin).body)
    assert dto["clientId"] == "notes" and dto["jwks"] == keys.public_jwks() and dto["description"] == "notes app"
    listing = json.loads(world.client.http.get("/secret-server/admin/resource-servers", headers=world.admin).body)
    assert [r["clientId"] for r in listing] == ["notes"]
    by_url = _put(world, "/secret-server/admin/resource-servers/notes", {"jwksUri": "https://notes.test/jwks"})
    assert by_url.status_code == 200 and json.loads(by_url.body)["jwksUri"] == "https://notes.test/jwks"
    assert world.client.http.delete("/secret-server/admin/resource-servers/notes",
                                    headers=world.admin).status_code == 204
    assert world.client.http.get("/secret-server/admin/resource-servers/notes",
                                 headers=world.admin).status_code == 404
    assert [e["clientId"] for e in world.audit_events("SECRET_SERVER_RESOURCE_SERVER_DELETE")] == ["notes"]


def test_a_deleted_resource_server_is_refused_at_once(world):
    backend = world.register("short-lived")
    assert backend.release(world.user_token())
    world.client.http.delete("/secret-server/admin/resource-servers/short-lived", headers=world.admin)
    response = world.exchange(world.form(backend, world.user_token()))
    assert response.status_code == 401 and json.loads(response.body)["error"] == "invalid_client"


@pytest.mark.parametrize("who, status", [("nobody", 401), ("user", 403)])
@pytest.mark.parametrize("method, path", [
    ("GET", "/secret-server/admin/idps"), ("PUT", "/secret-server/admin/idps"),
    ("DELETE", "/secret-server/admin/idps?issuer=x"), ("GET", "/secret-server/admin/resource-servers"),
    ("GET", "/secret-server/admin/resource-servers/notes"), ("PUT", "/secret-server/admin/resource-servers/notes"),
    ("DELETE", "/secret-server/admin/resource-servers/notes"),
])
def test_only_admins_may_register(world, issuer, who, status, method, path):
    headers = {} if who == "nobody" else bearer(issuer.token("mallory"))
    body = json.dumps({"jwks": ResourceServerKeys.generate().public_jwks()} if "resource" in path else _idp())
    response = world.client.http.request(method, path, headers={**headers, **JSON}, body=body.encode())
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"


def _rs(keys: list[dict]) -> dict:
    return {"jwks": {"keys": keys}}


_SIG = ECKey.generate_key("P-256", parameters={"use": "sig", "kid": "s"})
_ENC = ECKey.generate_key("P-256", parameters={"use": "enc", "kid": "e"})
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    _WEAK_RSA = RSAKey.generate_key(1024, parameters={"use": "enc", "kid": "weak"}).as_dict(private=False)


@pytest.mark.filterwarnings("ignore:Key size should be")
@pytest.mark.parametrize("path, body, field", [
    ("/secret-server/admin/idps", _idp(algorithms=["HS256"]), "algorithms"),
    ("/secret-server/admin/idps", _idp(algorithms=["none"]), "algorithms"),
    ("/secret-server/admin/idps", _idp(algorithms=[]), "algorithms"),
    ("/secret-server/admin/idps", _idp(jwks={"keys": [_SIG.as_dict(private=False)]}), "body"),
    ("/secret-server/admin/idps", _idp(jwksUri=None), "body"),
    ("/secret-server/admin/idps", _idp(jwksUri="file:///etc/passwd"), "jwksUri"),
    ("/secret-server/admin/idps", _idp(issuer="https://katta.test"), "issuer"),
    ("/secret-server/admin/idps", _idp(issuer="https://katta.test/"), "issuer"),
    ("/secret-server/admin/idps", _idp(issuer="https://idp.test/realms/a#b"), "issuer"),
    ("/secret-server/admin/idps", _idp(issuer="not a url"), "issuer"),
    ("/secret-server/admin/idps", _idp(jwksUri=None, jwks={"keys": [_SIG.as_dict(private=True)]}), "jwks"),
    ("/secret-server/admin/idps", _idp(jwksUri=None, jwks={"keys": [OctKey.generate_key(256).as_dict()]}), "jwks"),
    ("/secret-server/admin/idps", _idp(unknown=1), "unknown"),
    ("/secret-server/admin/resource-servers/notes", _rs([_SIG.as_dict(private=False)]), "jwks"),
    ("/secret-server/admin/resource-servers/notes", _rs([_ENC.as_dict(private=False)]), "jwks"),
    ("/secret-server/admin/resource-servers/notes", _rs([_SIG.as_dict(private=False),
                                                         {**_ENC.as_dict(private=False), "kid": None}]), "jwks"),
    ("/secret-server/admin/resource-servers/notes", _rs([_SIG.as_dict(private=False), _ENC.as_dict(private=True)]),
     "jwks"),
    ("/secret-server/admin/resource-servers/notes", _rs([_SIG.as_dict(private=False), _WEAK_RSA]), "jwks"),
    ("/secret-server/admin/resource-servers/notes", _rs([_SIG.as_dict(private=False),
                                                         {**_ENC.as_dict(private=False), "y": _ENC.as_dict()["x"]}]),
     "jwks"),
    ("/secret-server/admin/resource-servers/not%20ok", {"jwksUri": "https://notes.test/jwks"}, "clientId"),
])
def test_bad_registrations_are_400s_naming_the_field(world, path, body, field):
    response = _put(world, path, body)
    assert response.status_code == 400, response.body
    assert json.loads(response.body)["errors"][0]["field"] == field


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_deployed_stages_refuse_plain_http_and_loopback_registrations(aws, stage):
    from chalicelib import deps
    from chalicelib.errors import InvalidField
    from chalicelib.db.secrets import SecretServerRepository

    registry = Registry(SecretServerRepository(deps.table()), deps.transactions(), deps.audit_log(),
                        Settings(stage=stage, public_base_url="https://k.test"))
    for body, field in [
        (IdpRegistration(**_idp(issuer="http://idp.example.com/realms/x")), "issuer"),
        (IdpRegistration(**_idp(issuer="https://127.0.0.1/realms/x")), "issuer"),
        (IdpRegistration(**_idp(jwksUri="http://idp.example.com/certs")), "jwksUri"),
    ]:
        with pytest.raises(InvalidField) as refused:
            registry.put_idp(body, "admin")
        assert refused.value.extra["errors"][0]["field"] == field
    with pytest.raises(InvalidField):
        registry.put_resource_server("notes", ResourceServerRegistration(jwksUri="http://localhost:8300/jwks"), "a")
    registry.put_resource_server("notes", ResourceServerRegistration(jwksUri="https://notes.example.com/jwks"), "a")
