"""The OpenAPI 3.1 document of the app, generated from its route table and ``apidoc.OPERATIONS``.

Paths and methods come from what Chalice actually routes, so the document can
never list a route that does not exist; what each one reads and answers comes
from the ``Operation`` it was registered with. Every type becomes JSON Schema
through pydantic in one pass, so a model used by several operations is one
entry of ``components/schemas`` that they ``$ref``. The error responses are
the same for every operation of an error style (RFC 9457 problems, or RFC 6749
errors on the OAuth token endpoints) and are written once, under
``components/responses``.

Building it imports and compiles every model, which is what the import of
``app`` must not pay for (architecture §13): ``document`` builds it on the first
request that wants it and keeps it for the life of the process.
"""
from __future__ import annotations

import functools
import http
import re
from collections import Counter
from typing import Any, Iterator

from chalice import Chalice
from pydantic import BaseModel, ConfigDict, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from chalicelib import apidoc
from chalicelib.oauth import OAUTH_JSON
from chalicelib.scim import SCIM_JSON
from chalicelib.scim.formats import ScimError
from chalicelib.secrets import TOKEN_PATH
from chalicelib.settings import get_settings
from chalicelib.web import PROBLEM_JSON

OPENAPI_VERSION = "3.1.0"
_REF = "#/components/schemas/{model}"
_PATH_PARAMETER = re.compile(r"\{([^}]+)\}")
# Katta's "Retry With" has no entry in http.HTTPStatus.
_REASONS = {449: "Retry With"}

BEARER = "bearer"
CLIENT_ASSERTION = "clientAssertion"
_SECURITY_SCHEMES = {
    BEARER: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
             "description": "An access token of a trusted OIDC issuer (the Authorization header)."},
    # OpenAPI has no scheme for a client assertion in the form body; oauth2 is the nearest.
    CLIENT_ASSERTION: {
        "type": "oauth2",
        "description": "A registered resource server authenticates with private_key_jwt (RFC 7523): "
                       "client_assertion_type urn:ietf:params:oauth:client-assertion-type:jwt-bearer "
                       "and a client_assertion signed by a key of its registered JWKS, in the form "
                       "body of the RFC 8693 token exchange.",
        "flows": {"clientCredentials": {"tokenUrl": TOKEN_PATH, "scopes": {}}},
    },
}
# apidoc.Security -> the operation's security requirement (an empty one: no credential needed).
_SECURITY = {
    "public": [],
    "bearer": [{BEARER: []}],
    "optional_bearer": [{BEARER: []}, {}],
    "client_assertion": [{CLIENT_ASSERTION: []}],
}


class FieldError(BaseModel):
    model_config = ConfigDict(defer_build=True)

    field: str
    reason: str


class Problem(BaseModel):
    """An RFC 9457 problem; extension members beyond these may follow."""

    model_config = ConfigDict(defer_build=True)

    type: str
    title: str
    status: int
    detail: str
    requestId: str | None = None
    errors: list[FieldError] | None = None


class OAuthError(BaseModel):
    """An RFC 6749 §5.2 error of a token endpoint."""

    model_config = ConfigDict(defer_build=True)

    error: str
    error_description: str | None = None


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "required": True, "schema": {"type": "string"}}


_RETRY_AFTER = _header("seconds to wait before retrying")
_CHALLENGE = _header("the RFC 6750 challenge (private_key_jwt for a refused client assertion)")
# Status -> the headers every answer with it carries.
_ERROR_HEADERS = {401: {"WWW-Authenticate": _CHALLENGE}, 503: {"Retry-After": _RETRY_AFTER}}


@functools.cache
def document(app: Chalice) -> dict[str, Any]:
    """The document of ``app``, built once per process on first use."""
    return build(app)


def undocumented(app: Chalice) -> list[tuple[str, str]]:
    """(path, METHOD) of every route of ``app`` registered without an ``Operation``."""
    return [key for key in _routes(app) if key not in apidoc.OPERATIONS]


def build(app: Chalice) -> dict[str, Any]:
    operations = [(path, method, apidoc.resolved(apidoc.OPERATIONS[(path, method)]), app.routes[path][method].view_function)
                  for path, method in _routes(app) if (path, method) in apidoc.OPERATIONS]
    schemas = _Schemas([kind_and_mode for _p, _m, operation, _v in operations
                        for kind_and_mode in _types(operation)])
    paths: dict[str, dict[str, Any]] = {}
    error_responses: set[tuple[apidoc.ErrorStyle, int]] = set()
    names = Counter(_view_name(view) for _p, _m, _o, view in operations)
    for path, method, operation, view in operations:
        statuses = _error_statuses(operation)
        error_responses.update((operation.errors, status) for status in statuses)
        # One handler may serve several methods; its name alone would then not be unique.
        operation_id = _view_name(view) + ("." + method.lower() if names[_view_name(view)] > 1 else "")
        paths.setdefault(path, {})[method.lower()] = _operation(path, operation, operation_id, statuses, schemas)
    settings = get_settings()
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Katta Serverless", "version": settings.hub_version,
                 "description": "The Katta hub API, the token service, the secret server, the POP key "
                                "service and device-linking rendezvous. Errors are RFC 9457 problems, "
                                "except on the OAuth token endpoints (RFC 6749 §5.2)."},
        "servers": [{"url": settings.public_base_url}],
        "paths": paths,
        "components": {
            "schemas": schemas.definitions,
            "responses": {_response_name(style, status): _error_response(style, status, schemas)
                          for style, status in sorted(error_responses)},
            "securitySchemes": _SECURITY_SCHEMES,
        },
    }


def _routes(app: Chalice) -> Iterator[tuple[str, str]]:
    for path in sorted(app.routes):
        for method in sorted(app.routes[path]):
            yield path, method


def _view_name(view: Any) -> str:
    return f"{view.__module__.removeprefix('chalicelib.')}.{view.__name__}"


def _types(operation: apidoc.Operation) -> Iterator[tuple[Any, JsonSchemaMode]]:
    """Every type ``operation`` names, with the direction it travels in."""
    if operation.query is not None:
        yield operation.query, "validation"
    for kind in _bodies(operation).values():
        yield kind, "validation"
    for kind in operation.responses.values():
        if kind is not None:
            yield kind, "serialization"


def _bodies(operation: apidoc.Operation) -> dict[str, Any]:
    bodies = {operation.body_media_type: operation.body} if operation.body is not None else {}
    return {**bodies, **operation.other_bodies}


def _error_statuses(operation: apidoc.Operation) -> list[int]:
    if operation.errors == "oauth":
        # Refusals of the request are all invalid_request (400); only a client assertion is a 401.
        common = {400, 415, 500, 503} | ({401} if operation.security == "client_assertion" else set())
    else:
        common = {400, 403, 404, 409, 415, 500, 503} | ({401} if operation.security != "public" else set())
    if _bodies(operation):
        common.add(413)
    return sorted(common | set(operation.error_statuses))


def _operation(path: str, operation: apidoc.Operation, operation_id: str, error_statuses: list[int],
               schemas: "_Schemas") -> dict[str, Any]:
    described: dict[str, Any] = {
        "operationId": operation_id,
        "summary": operation.summary,
        "security": _SECURITY[operation.security],
    }
    if operation.role is not None:
        roles = [operation.role] if isinstance(operation.role, str) else list(operation.role)
        # An extension, since OpenAPI's security requirement names scopes, not an IdP's roles.
        described["x-katta-roles"] = roles
        described["description"] = "Needs the role " + " or ".join(f"`{r}`" for r in roles) + "."
    if operation.tags:
        described["tags"] = list(operation.tags)
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in _PATH_PARAMETER.findall(path)]
    if operation.query is not None:
        properties, required = schemas.object_of(operation.query)
        parameters += [{"name": name, "in": "query", "required": name in required, "schema": schema}
                       for name, schema in properties.items()]
    if parameters:
        described["parameters"] = parameters
    bodies = _bodies(operation)
    if bodies:
        described["requestBody"] = {
            "required": operation.body_required,
            "content": {media: {"schema": schemas.of(kind, "validation")} for media, kind in bodies.items()}}
    responses: dict[str, Any] = {}
    for status, kind in sorted(operation.responses.items()):
        responses[str(status)] = {"description": _reason(status)}
        if kind is not None:
            responses[str(status)]["content"] = {
                operation.response_media_type: {"schema": schemas.of(kind, "serialization")}}
    for status in error_statuses:
        responses[str(status)] = {"$ref": f"#/components/responses/{_response_name(operation.errors, status)}"}
    described["responses"] = responses
    return described


class _Schemas:
    """The JSON Schema of every type, generated in one pass so that models are shared definitions."""

    def __init__(self, types: list[tuple[Any, JsonSchemaMode]]) -> None:
        types = [(Problem, "serialization"), (OAuthError, "serialization"), (ScimError, "serialization"), *types]
        keys = list(dict.fromkeys((id(kind), mode) for kind, mode in types))
        kinds = {id(kind): kind for kind, _mode in types}
        generated, definitions = TypeAdapter.json_schemas(
            [(key, key[1], TypeAdapter(kinds[key[0]])) for key in keys], ref_template=_REF)
        self._by_key = {key: schema for (key, _mode), schema in generated.items()}
        self.definitions: dict[str, Any] = definitions.get("$defs", {})

    def of(self, kind: Any, mode: JsonSchemaMode) -> dict[str, Any]:
        return self._by_key[(id(kind), mode)]

    def object_of(self, model: Any) -> tuple[dict[str, Any], list[str]]:
        """The properties and required names of a query model.

        A query parameter is absent or a string, never null: ``X | None`` of an
        optional field is documented as ``X``."""
        schema = self.of(model, "validation")
        while "$ref" in schema:
            schema = self.definitions[schema["$ref"].rsplit("/", 1)[-1]]
        required = schema.get("required", [])
        return {name: _without_null(prop) for name, prop in schema.get("properties", {}).items()}, required


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    choices = [choice for choice in schema.get("anyOf", ()) if choice != {"type": "null"}]
    if len(choices) == len(schema.get("anyOf", ())):
        return schema
    rest = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
    return {**rest, **choices[0]} if len(choices) == 1 else {**rest, "anyOf": choices}


def _response_name(style: apidoc.ErrorStyle, status: int) -> str:
    return f"{style}-{status}"


def _error_response(style: apidoc.ErrorStyle, status: int, schemas: _Schemas) -> dict[str, Any]:
    # Chalice refuses a media type before the handler runs, so that answer is a problem on every route.
    if style == "oauth" and status != 415:
        media, schema = OAUTH_JSON, schemas.of(OAuthError, "serialization")
    elif style == "scim" and status != 415:
        media, schema = SCIM_JSON, schemas.of(ScimError, "serialization")
    else:
        media, schema = PROBLEM_JSON, schemas.of(Problem, "serialization")
    answer: dict[str, Any] = {"description": _reason(status), "content": {media: {"schema": schema}}}
    if status in _ERROR_HEADERS:
        answer["headers"] = _ERROR_HEADERS[status]
    return answer


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return _REASONS.get(status, str(status))
