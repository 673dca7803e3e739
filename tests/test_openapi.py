"""The OpenAPI document the app serves: complete, valid OpenAPI 3.1, public, and built only when asked for."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from chalice import Blueprint, Chalice
from openapi_spec_validator import validate
from pydantic import BaseModel, ConfigDict
from typing_extensions import NotRequired, TypedDict

from chalicelib import apidoc, openapi
from chalicelib.web import json_response, route
from tests.conftest import bearer

ROOT = Path(__file__).resolve().parents[1]


def _app():
    import app
    return app.app


def test_every_route_has_an_operation():
    missing = [f"{method} {path}" for path, method in openapi.undocumented(_app())]
    assert missing == [], f"routes without doc=Operation(...) on their route decorator: {missing}"


def test_the_served_document_is_valid_openapi_3_1_and_needs_no_token(client):
    answer = client.http.get("/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    document = json.loads(answer.body)
    assert document["openapi"].startswith("3.1")
    validate(document)
    assert document["paths"]["/openapi.json"]["get"]["security"] == []
    assert document == openapi.document(_app())


def test_every_documented_route_is_in_the_document_with_its_path_parameters():
    document = openapi.document(_app())
    for (path, method), _operation in apidoc.OPERATIONS.items():
        if path not in _app().routes:
            continue  # a blueprint this app does not register (a test's own)
        described = document["paths"][path][method.lower()]
        path_parameters = {p["name"] for p in described.get("parameters", []) if p["in"] == "path"}
        assert path_parameters == set(openapi._PATH_PARAMETER.findall(path)), f"{method} {path}"


def test_errors_are_problems_except_on_the_oauth_endpoints():
    document = openapi.document(_app())
    responses = document["components"]["responses"]

    def error(path: str, method: str, status: str) -> dict[str, Any]:
        reference = document["paths"][path][method]["responses"][status]["$ref"]
        return responses[reference.rsplit("/", 1)[-1]]

    problem = error("/api/rendezvous/{session_id}", "put", "409")
    assert list(problem["content"]) == ["application/problem+json"]
    assert problem["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    refused = error("/secret-server/token-exchange", "post", "401")
    assert list(refused["content"]) == ["application/json;charset=UTF-8"]
    assert refused["content"]["application/json;charset=UTF-8"]["schema"] == {"$ref": "#/components/schemas/OAuthError"}
    assert refused["headers"]["WWW-Authenticate"]["required"] is True
    # Chalice refuses an unrouted media type before the OAuth handler runs: that one is a problem.
    assert list(error("/secret-server/token-exchange", "post", "415")["content"]) == ["application/problem+json"]
    assert error("/api/storage/s3-token", "post", "503")["headers"]["Retry-After"]["required"] is True
    assert "401" not in document["paths"]["/health"]["get"]["responses"]
    assert "413" not in document["paths"]["/health"]["get"]["responses"]


def test_security_follows_the_operation():
    paths = openapi.document(_app())["paths"]
    assert paths["/api/storage/s3-token"]["post"]["security"] == [{"bearer": []}]
    assert paths["/api/rendezvous"]["post"]["security"] == [{"bearer": []}, {}]
    assert paths["/secret-server/token-exchange"]["post"]["security"] == [{"clientAssertion": []}]
    assert paths["/pop"]["get"]["security"] == []
    schemes = openapi.document(_app())["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                 "description": schemes["bearer"]["description"]}


class _Thing(BaseModel):
    model_config = ConfigDict(defer_build=True)

    name: str


class _Filter(TypedDict):
    limit: NotRequired[int]


class _NullableFilter(BaseModel):
    model_config = ConfigDict(defer_build=True)

    q: str
    after: str | None = None


def _tiny_app(*operations: tuple[str, tuple[str, ...], apidoc.Operation | None]) -> Chalice:
    """An app of its own, so the builder is tested on routes made for the test."""
    bp = Blueprint(__name__)
    for path, methods, operation in operations:
        route(bp, path, methods, doc=operation)(lambda **_: json_response({}))
    tiny = Chalice("tiny")
    tiny.register_blueprint(bp)
    return tiny


def test_models_are_shared_components_and_query_models_become_parameters(monkeypatch):
    monkeypatch.setattr(apidoc, "OPERATIONS", {})
    prefix = "/tiny-shared"
    tiny = _tiny_app(
        (prefix + "/things", ("GET",), apidoc.Operation("list", "bearer", {200: list[_Thing]}, query=_Filter)),
        (prefix + "/things/{name}", ("PUT",), apidoc.Operation("put", "bearer", {200: _Thing, 201: _Thing},
                                                               body=_Thing, query=_NullableFilter)),
        (prefix + "/things/{name}", ("DELETE",), None))
    document = openapi.build(tiny)
    validate(document)
    assert openapi.undocumented(tiny) == [(prefix + "/things/{name}", "DELETE")]
    listed = document["paths"][prefix + "/things"]["get"]
    assert listed["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": "array", "items": {"$ref": "#/components/schemas/_Thing"}}
    assert listed["parameters"] == [{"name": "limit", "in": "query", "required": False,
                                     "schema": {"title": "Limit", "type": "integer"}}]
    put = document["paths"][prefix + "/things/{name}"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/_Thing"}
    assert put["responses"]["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/_Thing"}
    parameters = {p["name"]: p for p in put["parameters"]}
    assert parameters["name"]["in"] == "path"
    assert parameters["q"] == {"name": "q", "in": "query", "required": True, "schema": {"title": "Q", "type": "string"}}
    # A query parameter is absent or a string, never null.
    assert parameters["after"] == {"name": "after", "in": "query", "required": False,
                                   "schema": {"title": "After", "type": "string"}}
    assert "delete" not in document["paths"][prefix + "/things/{name}"]


def test_the_document_is_built_on_first_request_never_at_import():
    script = ("import sys, app\n"
              "from chalicelib.health import Health\n"
              "assert 'chalicelib.openapi' not in sys.modules, 'the document builder was imported with the app'\n"
              "assert not Health.__pydantic_complete__, 'a response model was built at import'\n")
    finished = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr[-2000:]


def test_every_model_of_the_documented_routes_defers_its_build():
    """Import time of ``app`` is budgeted (architecture §13); models that exist only for the document must not cost it."""
    eager = sorted({f"{model.__module__}.{model.__qualname__}"
                    for operation in apidoc.OPERATIONS.values()
                    for model in _models(list(operation.responses.values()))
                    if not model.model_config.get("defer_build")})
    assert eager == []


def _models(kinds: list[Any]) -> set[type[BaseModel]]:
    found: set[type[BaseModel]] = set()
    while kinds:
        kind = kinds.pop()
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            found.add(kind)
        kinds.extend(getattr(kind, "__args__", ()))
        kinds.extend(getattr(kind, "__metadata__", ()))
    return found


# -- findings of the fuzz (tests/test_openapi_fuzz.py), pinned where they were fixed --------------

def test_an_empty_issuer_is_a_400_not_a_dynamodb_error(client, issuer):
    admin = issuer.token("ada", realm_access={"roles": ["user", "admin"]})
    answer = client.http.get("/secret-server/admin/idps?issuer=", headers=bearer(admin))
    assert answer.status_code == 400
    assert json.loads(answer.body)["errors"] == [{"field": "issuer", "reason": "must not be empty"}]
