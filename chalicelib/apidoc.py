"""What each route promises: the source of the OpenAPI document the app serves.

Every handler is registered with an ``Operation`` naming the pydantic types it
reads and writes, so the document is generated from the same models that
validate requests, and a route without one is caught by the test suite rather
than silently missing from the document. Types are kept as given (a model,
``list[Model]``, ``dict[str, str]`` …) and turned into JSON Schema only when the
document is built, so registering them costs nothing at import. A type given as
a string (``"list[VaultDto]"``) names the Katta response and query models of
``MODELS_MODULE``, and ``"module:expression"`` (``"chalicelib.storage.formats:ProfileInput"``) the
models of another module; they are imported only by ``resolved``, when the document is built, and
by the handler that validates with them: building their classes cost every cold start about 30 ms
for a document few requests ask for.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Mapping

# How a caller proves who it is: no credential, an OIDC/our own bearer token,
# a bearer token that is taken into account when present (an anonymous caller
# gets the same operation), or a resource server's private_key_jwt client
# assertion (RFC 7523).
Security = Literal["public", "bearer", "optional_bearer", "client_assertion"]

# Who may call a route: a role of ours, or any one of several.
Role = str | tuple[str, ...]

# The shape of error bodies: RFC 9457 problems, RFC 6749 OAuth errors, or RFC 7644 SCIM errors.
ErrorStyle = Literal["problem", "oauth", "scim"]

JSON = "application/json"
MODELS_MODULE = "chalicelib.katta.dtos"


@dataclass(frozen=True)
class Operation:
    """One method on one path, as the OpenAPI document describes it.

    ``responses`` maps each success status to the type of its body (``None`` for
    no body); error statuses are the same for every operation of an error style
    and are added by the document builder. ``body`` is the type the handler
    validates the request body with; ``query`` is a model whose fields are the
    query parameters. ``error_statuses`` names the errors only this operation
    answers (a 410 for an archived vault, 501 for a route out of scope), beyond
    those the builder adds to every operation. ``body_required=False`` lets the
    body be empty; ``other_bodies`` maps further media types the same request may
    arrive in to their types (a compact JWE is a ``str``). ``role`` is set by
    ``web.route`` from the route's declaration, never by hand.
    """
    summary: str
    security: Security
    responses: Mapping[int, Any]
    body: Any = None
    body_media_type: str = JSON
    query: Any = None
    response_media_type: str = JSON
    tags: tuple[str, ...] = ()
    errors: ErrorStyle = "problem"
    error_statuses: tuple[int, ...] = ()
    body_required: bool = True
    other_bodies: Mapping[str, Any] = field(default_factory=dict)
    role: Role | None = None


# (path, METHOD) -> Operation, filled as blueprints are imported.
OPERATIONS: dict[tuple[str, str], Operation] = {}


def register(path: str, methods: tuple[str, ...], operation: Operation, errors: ErrorStyle,
             role: Role | None = None) -> None:
    if role is not None and operation.security != "bearer":
        raise ValueError(f"{path}: a role is checked on a bearer token, not on {operation.security}")
    operation = replace(operation, errors=errors, role=role)
    for method in methods:
        key = (path, method.upper())
        if key in OPERATIONS:
            raise ValueError(f"{method} {path} is documented twice")
        OPERATIONS[key] = operation


def resolved(operation: Operation) -> Operation:
    """``operation`` with its string types (see the module's doc) replaced by the types they name."""
    def kind(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        module, _colon, expression = value.rpartition(":")
        # Only this source's own Operation declarations are evaluated here, never request input.
        return eval(expression, vars(importlib.import_module(module or MODELS_MODULE)))  # noqa: S307

    return replace(operation, responses={s: kind(k) for s, k in operation.responses.items()},
                   body=kind(operation.body), query=kind(operation.query),
                   other_bodies={m: kind(k) for m, k in operation.other_bodies.items()})
