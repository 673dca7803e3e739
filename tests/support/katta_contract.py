"""Checks responses against the Katta contract (tests/reference/katta-openapi.json) with jsonschema."""
from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker

CONTRACT_PATH = Path(__file__).resolve().parents[1] / "reference" / "katta-openapi.json"
# Storage is another part of the project (architecture §4 lists it; this API's issue leaves it out).
STORAGE_PREFIXES = ("/api/storageprofile", "/api/storage/")


# The contract's path → the app's, where one route serves two of its templates (a path has one variable
# name; Hub names it processId for PUT and vaultId for GET).
OUR_PATH = {"/api/emergency-access/{vaultId}": "/api/emergency-access/{id}",
            "/api/emergency-access/{processId}": "/api/emergency-access/{id}"}


def our_path(template: str) -> str:
    return OUR_PATH.get(template, template)


@functools.lru_cache(maxsize=1)
def contract() -> dict:
    return json.loads(CONTRACT_PATH.read_text())


@functools.lru_cache(maxsize=1)
def _components() -> dict:
    components = copy.deepcopy(contract()["components"])
    # jsonschema ignores OpenAPI's discriminator; every member of AuthorityDto has only
    # optional properties, so oneOf would always match several. The discriminator means anyOf.
    authority = components["schemas"]["AuthorityDto"]
    authority["anyOf"] = authority.pop("oneOf")
    return components


def operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every contract operation outside storage."""
    return [(method.upper(), path) for path, item in contract()["paths"].items() for method in item
            if method != "parameters" and not path.startswith(STORAGE_PREFIXES)]


def check_response(method: str, path: str, status: int, content_type: str | None, body: str) -> None:
    """Raises AssertionError unless the response is one the contract describes."""
    operation = contract()["paths"][path][method.lower()]
    responses = operation["responses"]
    assert str(status) in responses, f"{method} {path}: status {status} is not in the contract ({sorted(responses)})"
    content = responses[str(status)].get("content")
    if not content:
        return
    media = (content_type or "").split(";")[0].strip()
    assert media in content, f"{method} {path} {status}: content type {media!r}, contract has {sorted(content)}"
    schema = content[media].get("schema")
    if not schema:
        return
    if media == "text/plain" or schema == {"type": "string"}:
        # Hub writes these strings raw (vault.uvf and the JWKS are JSON text sent as is).
        instance = body
    else:
        instance = json.loads(body)
    validator = Draft202012Validator({**schema, "components": _components()}, format_checker=FormatChecker())
    errors = sorted(validator.iter_errors(instance), key=lambda e: e.path)
    assert not errors, f"{method} {path} {status}: {errors[0].message} at {list(errors[0].path)}"
