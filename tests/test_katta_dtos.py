"""The OpenAPI operations of the Katta routes: every route has one, every answer of the authorization
matrix's hub fits it, and its models keep the contract's names.

The matrix (tests/test_katta_authz.py) checks answers against Katta's contract; here the same calls
are checked against what we document (chalicelib/katta/dtos.py), through the JSON Schema pydantic
generates — the schema the served document and schemathesis will use.
"""
from __future__ import annotations

import datetime as dt
import functools
import inspect
import json
import re
from dataclasses import dataclass
from typing import Any, get_args

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from pydantic import BaseModel, TypeAdapter

from chalicelib import apidoc
from chalicelib.audit import catalogue
from chalicelib.katta import dtos
from tests.support import katta_world
from tests.support.katta_contract import contract, our_path
from tests.test_katta_authz import ROUTES, Hub, Route, _call, _Ids, hub  # noqa: F401 — hub is the fixture



@functools.lru_cache(maxsize=None)
def _validator(response_type: Any) -> Draft202012Validator:
    schema = TypeAdapter(response_type).json_schema(mode="serialization")
    return Draft202012Validator(schema, format_checker=FormatChecker())


def _schema_errors(response_type: Any, instance: Any) -> list[str]:
    """Every complaint, including why each member of a oneOf (the audit event union) refused."""
    found, pending = [], list(_validator(response_type).iter_errors(instance))
    while pending:
        error = pending.pop()
        found.append(f"{error.message} at {list(error.absolute_path)}")
        pending += error.context or []
    return found


def _katta_routes() -> list[tuple[str, str]]:
    import app
    return [(path, method) for path, entries in app.app.routes.items() for method, entry in entries.items()
            if entry.view_function.__module__.startswith("chalicelib.katta.")]


def _operation(route: Route) -> apidoc.Operation:
    import app  # noqa: F401 — importing the app registers the operations
    return apidoc.resolved(apidoc.OPERATIONS[(our_path(route.template), route.method)])


def _success_callers(route: Route) -> list[str]:
    return [c for c in katta_world.CALLERS if 200 <= route.status_for(c) < 300]


# --- (a) every route is documented ---------------------------------------------------------------

def test_every_katta_route_has_an_operation():
    routes = _katta_routes()
    assert len(routes) > 60  # the blueprint really was found
    assert [r for r in routes if r not in apidoc.OPERATIONS] == []


def test_every_operation_names_its_success_statuses_and_tags():
    for key in _katta_routes():
        operation = apidoc.OPERATIONS[key]
        assert operation.tags, key
        assert operation.summary and operation.summary == operation.summary.strip(), key
        if "Out of scope" in operation.tags:
            assert (operation.responses, operation.error_statuses, operation.security) == ({}, (501,), "public"), key
        else:
            assert operation.responses and all(200 <= s < 300 for s in operation.responses), key


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path(_Ids)}")
def test_the_matrix_requests_are_what_the_operation_describes(route):
    """The query parameters, body and credential the matrix sends are the documented ones."""
    operation = _operation(route)
    query = re.findall(r"[?&]([^=&]+)=", route.path(_Ids))
    documented = set(operation.query.model_fields) if operation.query else set()
    assert set(query) <= documented
    if route.body is None:
        assert operation.body is None
    else:
        assert (operation.body is not None, operation.body_media_type) == (True, route.content_type)
    assert operation.security == ("public" if route.public else "bearer")


def _contract_query(path: str, method: str) -> dict[str, bool]:
    parameters = contract()["paths"][path][method.lower()].get("parameters", [])
    return {p["name"]: bool(p.get("required")) for p in parameters if p["in"] == "query"}


# Query parameters of the contract this service does not read.
IGNORED_QUERY = {("/api/vaults/{vaultId}", "PUT"): ({"minio", "aws"}, "bucket creation is PUT /api/storage/{vaultId}")}
# Ours only: parameters real clients send that the contract does not name.
_PAGES = ({"pageSize": False, "paginationToken": False}, "lists long enough to pass Lambda's 6 MB come in pages")
ADDED_QUERY = {("/api/users/me", "GET"): ({"withLastAccess": False}, "Hub's web client asks for the devices' last use"),
               ("/api/users", "GET"): _PAGES, ("/api/vaults/{vaultId}/members", "GET"): _PAGES}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path(_Ids)}")
def test_query_parameters_are_the_contracts(route):
    operation = _operation(route)
    ours = {name: field.is_required() for name, field in operation.query.model_fields.items()} \
        if operation.query else {}
    theirs = _contract_query(route.template, route.method)
    ignored, _why = IGNORED_QUERY.get((route.template, route.method), (set(), ""))
    # The audit log needs both dates (the contract marks none of its parameters required).
    required_here = {"startDate", "endDate"} if route.template == "/api/auditlog" else set()
    added, _why = ADDED_QUERY.get((route.template, route.method), ({}, ""))
    assert ours == {**{name: required or name in required_here for name, required in theirs.items()
                       if name not in ignored}, **added}


# --- (b) every answer of the matrix fits its operation -------------------------------------------

def _check_answer(operation: apidoc.Operation, response) -> list[str]:
    status = response.status_code
    if status not in operation.responses:
        return [f"status {status} not documented ({sorted(operation.responses)})"]
    body = response.body.decode() if isinstance(response.body, bytes) else response.body
    response_type = operation.responses[status]
    if response_type is None:
        return [] if body == "" else [f"{status} documents no body, got {body[:80]!r}"]
    media = (response.headers.get("Content-Type") or "").split(";")[0].strip()
    if media != operation.response_media_type:
        return [f"content type {media!r}, documented {operation.response_media_type!r}"]
    instance = body if response_type is str else json.loads(body)
    return _schema_errors(response_type, instance)


def _audit_log(hub: Hub) -> list[dict]:
    # Since yesterday: each month of the period costs the service one Query.
    since = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    admin = Route("GET", "/api/auditlog", lambda w: (
        f"/api/auditlog?startDate={since}&endDate=2100-01-01T00:00:00Z&pageSize=100"), {})
    response = _call(hub, admin, "admin")
    assert response.status_code == 200, response.body
    log = json.loads(response.body)
    assert len(log) < 100  # a full page could hide events
    return log


def test_every_success_of_the_matrix_fits_its_operation(hub):
    """Each route, for each caller it answers 2xx, as the matrix calls it; after each change, the
    audit log fits the event union too, and by the end every Katta event type has turned up.

    One test rather than one per route: the hub is restored after every change, and reading the
    log before each restore is what lets the changes' events be checked at all."""
    problems, seen = [], set()

    def check_log(after: str) -> None:
        log = _audit_log(hub)
        problems.extend(f"audit log after {after}: {p}" for p in _schema_errors(list[dtos.AuditEvent], log))
        seen.update(event["type"] for event in log)

    check_log("building the hub")
    for route in ROUTES:
        operation = _operation(route)
        for caller in _success_callers(route):
            response = _call(hub, route, caller)
            name = f"{route.method} {route.path(_Ids)} as {caller}"
            if response.status_code != route.status_for(caller):
                problems.append(f"{name}: {response.status_code}, the matrix expects {route.status_for(caller)}")
                continue
            problems += [f"{name}: {p}" for p in _check_answer(operation, response)]
            if route.method != "GET" or route.template.endswith("/access-token"):  # a key retrieval is audited
                check_log(name)
            if route.method != "GET":
                hub.restore()
    assert problems == []
    assert seen == catalogue.KATTA_TYPES


@pytest.mark.parametrize(("event", "mistake"), [
    ({"type": "VAULT_CREATE", "createdBy": "alice", "vaultName": "V"}, "'vaultId' is a required property"),
    ({"type": "VAULT_CREATE", "createdBy": "alice", "vaultId": "not-a-uuid", "vaultName": "V"}, "does not match"),
    ({"type": "VAULT_KEY_RETRIEVE", "retrievedBy": "a", "vaultId": "7e57c0de-0000-4000-8000-000000000001",
      "result": "MAYBE"}, "is not one of"),
    ({"type": "DEVICE_REMOVE", "removedBy": "a", "deviceId": "D", "secret": "x"}, "Additional properties"),
    ({"type": "SOMETHING_NEW", "by": "a"}, "is not valid under any of the given schemas"),
])
def test_the_audit_event_union_refuses_what_the_service_does_not_write(event, mistake):
    errors = _schema_errors(list[dtos.AuditEvent], [{"id": 1, "timestamp": "2026-01-01T00:00:00.000000Z", **event}])
    assert any(mistake in e for e in errors), errors


def test_the_audit_event_union_is_the_catalogue():
    """/api/auditlog answers Katta's events, each typed with the catalogue's fields; the other parts'
    events are the service log's (/api/admin/auditlog), typed by name."""
    union = get_args(get_args(dtos.AuditEvent)[0])
    tags = [tag for member in union for tag in get_args(member.model_fields["type"].annotation)]
    assert len(tags) == len(set(tags))
    assert set(tags) == catalogue.KATTA_TYPES
    for member in union:
        (tag,) = get_args(member.model_fields["type"].annotation)
        assert set(member.model_fields) - {"id", "timestamp", "type"} == catalogue.ALL[tag].fields, tag
    assert set(get_args(dtos.ServiceEventDto.model_fields["type"].annotation)) == set(catalogue.SERVICE_TYPES)


def test_a_response_that_strays_from_its_dto_is_caught():
    """The checks above can fail: an undocumented property, a missing one, a wrong kind of value."""
    vault = {"id": "7e57c0de-0000-4000-8000-000000000001", "name": "V", "archived": False,
             "creationTime": "2026-01-01T00:00:00Z", "requiredEmergencyKeyShares": 0}
    assert _schema_errors(dtos.VaultDto, vault) == []
    assert _schema_errors(dtos.VaultDto, {**vault, "masterkey": "AAAA"})
    assert _schema_errors(dtos.VaultDto, {k: v for k, v in vault.items() if k != "archived"})
    assert _schema_errors(dtos.VaultDto, {**vault, "description": None})
    assert _schema_errors(list[dtos.AuthorityDto], [{"id": "team", "type": "MEMBER", "name": "Team"}])


# --- (c) the models keep the contract's names -----------------------------------------------------

ALWAYS_SENT = "always sent by this service; the contract leaves it optional"
LEGACY = "legacy vaults (format 8) are out of scope: never stored, never sent"


@dataclass(frozen=True)
class Difference:
    kind: str  # "left_out" (contract property we never send), "added" (ours only), "required" (ours only)
    properties: frozenset[str]
    why: str


def differs(kind: str, properties: str, why: str) -> Difference:
    return Difference(kind, frozenset(properties.split()), why)


# Our name → the contract's, where the contract's name says little.
CONTRACT_NAME = {"GroupDetailsDto": "WithDetails"}

DIFFERENCES: dict[str, list[Difference]] = {
    "UserDto": [differs("left_out", "publicKey privateKey", LEGACY),
                differs("required", "id type name enabled", ALWAYS_SENT)],
    "DeviceDto": [differs("left_out", "legacyDevice", LEGACY),
                  differs("required", "id type owner creationTime", ALWAYS_SENT)],
    "GroupDto": [differs("required", "id type name vaultCount", ALWAYS_SENT)],
    "GroupDetailsDto": [differs("required", "id type name memberSize vaultCount members vaults", ALWAYS_SENT)],
    "MemberDto": [differs("required", "id type name vaultRole role", ALWAYS_SENT),
                  differs("added", "role", "Hub's web client reads the member's role by this name")],
    "TrustedUserDto": [differs("required", "trustedUserId signatureChain", ALWAYS_SENT)],
    "VaultDto": [differs("left_out", "masterkey iterations salt authPublicKey authPrivateKey", LEGACY),
                 differs("required", "archived creationTime requiredEmergencyKeyShares", ALWAYS_SENT)],
    "VaultDtoWithRole": [differs("required", "id name archived creationTime role", ALWAYS_SENT)],
    "LicenseUserInfoDto": [differs("left_out", "expiresAt gracePeriodEndsAt", "no licence: nothing expires"),
                           differs("required", "licensedSeats usedSeats", ALWAYS_SENT)],
    "BillingDto": [differs("left_out", "email issuedAt expiresAt licenseKey", "no licence: nothing issued or bought"),
                   differs("required", "hubId licensedSeats usedSeats managedInstance", ALWAYS_SENT)],
    "ConfigDto": [differs("left_out", "entitlements billingUrl licenseApiUrl", "licences do not exist here"),
                  differs("required", "serverTime apiLevel licenseSetupRequired", ALWAYS_SENT),
                  differs("added", "clientScope authorizationParams oidcIssuer oidcWebClientId",
                          "the scope and parameters a client must ask the IdP for (Entra ID, Auth0), and the "
                          "issuer and client the web app signs in with by discovery")],
    "VersionDto": [differs("required", "hubVersion keycloakVersion", ALWAYS_SENT)],
    "SettingsDto": [differs("required", "hubId wotMaxDepth wotIdVerifyLen enableEmergencyAccess "
                                        "enableAutomaticAccessGrant automaticAccessGrantTrustThreshold "
                                        "allowAutomaticAccessGrantOverride defaultRequiredEmergencyKeyShares "
                                        "defaultMinMembers allowChoosingEmergencyCouncil", ALWAYS_SENT)],
    "RecoveryProcessDto": [differs("required", "requiredKeyShares", ALWAYS_SENT)],
    "AuditEventDto": [differs("required", "id timestamp", ALWAYS_SENT)],
}

# Models the contract has no schema for, and why.
OURS_ONLY = {
    "EmptyDto": "the contract writes {} inline",
    "ServiceEventDto": "events of the parts of this service that Katta does not have",
    # Hub's event subtypes (VaultCreatedEventDto …) are left out of the published contract; each
    # extends its AuditEventDto, which test_every_event_type_extends_the_contracts_audit_event checks.
    **{m.__name__: "an audit event subtype" for m in get_args(get_args(dtos.AuditEvent)[0])},
}


def _dtos() -> list[type[BaseModel]]:
    """The response models: the query models describe parameters, not schemas."""
    return [m for name, m in vars(dtos).items() if inspect.isclass(m) and issubclass(m, BaseModel)
            and m.__module__ == dtos.__name__ and not name.startswith("_") and "[" not in name
            and not name.endswith("Query")]


def _contract_schema(name: str) -> dict:
    return contract()["components"]["schemas"][CONTRACT_NAME.get(name, name)]


def _resolve(schema: dict, definitions: dict) -> dict:
    while "$ref" in schema:
        schema = definitions[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _kind_mismatches(ours: dict, theirs: dict, our_defs: dict) -> list[str]:
    """Properties both name must be the same JSON type, and our enum values the contract's."""
    schemas = contract()["components"]["schemas"]
    found = []
    for name in set(ours["properties"]) & set(theirs.get("properties", {})):
        mine, its = _resolve(ours["properties"][name], our_defs), _resolve(theirs["properties"][name], schemas)
        if "type" in mine and "type" in its and mine["type"] != its["type"]:
            found.append(f"{name}: {mine['type']} vs {its['type']}")
        values = mine.get("enum", [mine["const"]] if "const" in mine else None)
        if values is not None and "enum" in its and not set(values) <= set(its["enum"]):
            found.append(f"{name}: {values} not in {its['enum']}")
    return found


@pytest.mark.parametrize("model", _dtos(), ids=lambda m: m.__name__)
def test_each_dto_keeps_the_contracts_properties(model):
    name = model.__name__
    if name in OURS_ONLY:
        assert CONTRACT_NAME.get(name, name) not in contract()["components"]["schemas"]
        return
    schema = model.model_json_schema(mode="serialization")
    theirs = _contract_schema(name)
    if "properties" not in schema:
        return  # a union: test_authority_dto_is_the_contracts_union_without_members
    ours, contract_properties = set(schema["properties"]), set(theirs.get("properties", {}))
    required, contract_required = set(schema.get("required", [])), set(theirs.get("required", []))
    listed = DIFFERENCES.get(name, [])

    def declared(kind: str) -> set[str]:
        return {p for d in listed if d.kind == kind for p in d.properties}

    assert contract_properties - ours == declared("left_out")
    assert ours - contract_properties == declared("added")
    assert required - contract_required == declared("required")
    # Never a weaker promise than Katta's: a client relying on a required property must get it.
    assert contract_required - required == set()
    assert _kind_mismatches(schema, theirs, schema.get("$defs", {})) == []


def test_every_event_type_extends_the_contracts_audit_event():
    base = set(_contract_schema("AuditEventDto")["properties"])
    for event in get_args(get_args(dtos.AuditEvent)[0]):
        schema = event.model_json_schema(mode="serialization")
        assert base <= set(schema["required"]), event.__name__
        assert "type" in schema["required"], event.__name__


def test_authority_dto_is_the_contracts_union_without_members():
    """/api/authorities… answer users and groups; vault members are listed by /members as MemberDto."""
    ours = dtos.AuthorityDto.model_json_schema(mode="serialization")
    theirs = _contract_schema("AuthorityDto")
    assert ours["discriminator"]["propertyName"] == theirs["discriminator"]["propertyName"] == "type"
    assert set(ours["discriminator"]["mapping"]) == set(theirs["discriminator"]["mapping"]) - {"MEMBER"}
    assert {ref.rsplit("/", 1)[-1] for ref in ours["discriminator"]["mapping"].values()} == {"UserDto", "GroupDto"}


def test_every_dto_defers_building_its_validator():
    """Importing app is budgeted (architecture §13): the document builds them when it is asked for."""
    models = _dtos() + [m for m in vars(dtos).values() if inspect.isclass(m) and issubclass(m, BaseModel)
                        and m.__module__ == dtos.__name__ and m.__name__.endswith("Query")]
    assert [m.__name__ for m in models if not m.model_config.get("defer_build")] == []
