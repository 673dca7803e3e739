"""The thin HTTP layer shared by every blueprint.

``route`` registers a handler and wraps it so that every failure becomes an
RFC 9457 problem response: service errors keep their status, invalid input is a
400 naming the field, dependency outages are a 503 with Retry-After, and
anything unexpected is a 500 carrying only a request id (the traceback goes to
the log). Handlers stay parse → authorize → call one service → serialize; the
role a route needs is declared on it (``route(..., role="user")``).
"""
from __future__ import annotations

import functools
import json
import logging
import re
import uuid
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeVar
from urllib.parse import urlencode

from chalice import Blueprint, Response
from chalice.app import Request
from pydantic import BaseModel, ValidationError

from chalicelib import apidoc, errors
from chalicelib.settings import get_settings

if TYPE_CHECKING:
    from chalicelib.auth import Principal

log = logging.getLogger("katta")

PROBLEM_JSON = "application/problem+json"
Model = TypeVar("Model", bound=BaseModel)

_BODYLESS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})

# Lambda refuses an answer over 6 MB (6,291,456 bytes for the whole proxy answer: headers, and JSON
# escaping of the body): a list's body stays below this, what does not fit goes to its next page.
MAX_RESPONSE_BYTES = 5 * 1024 * 1024
MAX_PAGE_SIZE = 1000
PAGE_SIZE, PAGE_TOKEN = "pageSize", "paginationToken"
# read(limit, after): up to ``limit`` (dto, position) pairs in list order, after the position ``after``.
ListReader = Callable[[int, "str | None"], list[tuple[dict[str, Any], str]]]


def route(bp: Blueprint, path: str, methods: tuple[str, ...] = ("GET",), *,
          role: apidoc.Role | None = None, doc: apidoc.Operation | None = None,
          on_error: Callable[[Exception, Request | None], Response] | None = None,
          errors_style: apidoc.ErrorStyle = "problem", **options: Any):
    """Registers ``fn`` on ``bp`` with the project's error handling.

    ``role`` is who may call the route: the caller's bearer token is verified and
    its account must hold that role (or one of them, given a tuple) before
    ``fn`` runs; ``fn`` then gets the caller (a ``Principal``) as its first
    argument. ``doc`` is what the route promises in the OpenAPI document, the
    role included; ``on_error`` replaces the problem-JSON mapping (the OAuth
    endpoints answer RFC 6749)."""
    handle = on_error or error_response
    if doc is not None:
        apidoc.register(path, methods, doc, errors_style, role)
    takes_no_body = set(methods) <= _BODYLESS or (doc is not None and doc.body is None)
    if takes_no_body and "content_types" not in options:
        # No body, so no media type to check: some clients send a Content-Type on every request.
        options = {**options, "content_types": ["*/*"]}

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def view(**kwargs: Any) -> Any:
            try:
                if role is None:
                    return fn(**kwargs)
                return fn(_caller_with(bp.current_request, role), **kwargs)
            except Exception as exc:  # noqa: BLE001 — this is the boundary that must never leak
                return handle(exc, bp.current_request)
        bp.route(path, methods=list(methods), **options)(view)
        return fn
    return decorator


def _caller_with(request: Request, role: apidoc.Role) -> Principal:
    principal = authenticate_optional(request, role)
    if principal is None:
        raise errors.Unauthorized("a bearer token is required", error=None)
    return principal


def authenticate_optional(request: Request, role: apidoc.Role | None = None) -> Principal | None:
    """The caller of ``request``, None without a token; 401 for an invalid one, 403 for a disabled
    account or — given ``role`` — a token without it (then no account is read or provisioned)."""
    # Imported here: verifying tokens loads JOSE, which public routes never need.
    from chalicelib import deps
    from chalicelib.auth.bearer import parse_authorization
    token = parse_authorization(request.headers.get("authorization"))
    if token is None:
        return None
    return deps.accounts().resolve(deps.bearer_verifier().verify(token), role)


def to_api_error(exc: Exception) -> errors.ApiError | None:
    """Maps an exception to the error a client may see, or None if it is a bug."""
    if isinstance(exc, errors.ApiError):
        return exc
    if isinstance(exc, ValidationError):
        return errors.InvalidField(validation_errors(exc))
    if isinstance(exc, RecursionError):
        # json.loads on a hostile body (thousands of nested brackets) ends here.
        return errors.InvalidField([{"field": "body", "reason": "nested too deeply"}])
    from chalicelib.db.table import ConditionFailed
    if isinstance(exc, ConditionFailed):
        # A conditional write lost a race no service rule resolved: a conflict, never a bug.
        return errors.Conflict("the data changed while this request was processed; reload and retry")
    # AWS's outages were translated where the call was made (chalicelib.aws); any other AWS error
    # left untranslated is a bug.
    return None


def error_response(exc: Exception, request: Request | None) -> Response:
    api_error = to_api_error(exc)
    request_id = request_id_of(request)
    if api_error is None:
        log.error("unhandled exception", exc_info=exc, extra={"request_id": request_id})
        api_error = errors.ApiError("an unexpected error occurred; quote the request id when reporting it")
    elif api_error.status >= 500:
        log.warning("dependency failure: %s", type(exc).__name__, extra={"request_id": request_id})
    return problem_response(api_error, request_id)


def problem_response(error: errors.ApiError, request_id: str | None = None) -> Response:
    body = error.problem()
    if request_id:
        body["requestId"] = request_id
    headers = {"Content-Type": PROBLEM_JSON, **error.headers}
    return Response(body=json.dumps(body), status_code=error.status, headers=headers)


def validation_errors(exc: ValidationError) -> list[dict[str, str]]:
    result = []
    for item in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in item["loc"]) or "body"
        result.append({"field": field, "reason": item["msg"]})
    return result


def request_id_of(request: Request | None) -> str:
    if request is not None:
        context = request.context or {}
        if context.get("requestId"):
            return str(context["requestId"])
        cached = getattr(request, "_katta_request_id", None)
        if cached:
            return cached
        generated = str(uuid.uuid4())
        request._katta_request_id = generated
        return generated
    return str(uuid.uuid4())


def parse_body(request: Request, model: type[Model]) -> Model:
    """Validates a JSON body against ``model``; 400 names the failing field."""
    raw = raw_body(request)
    if not raw:
        raise errors.InvalidField([{"field": "body", "reason": "a JSON body is required"}])
    return validate_json(raw, model, "not valid JSON")


def raw_body(request: Request) -> bytes:
    """The body, refused with 413 before anything parses it when it is over the limit."""
    raw = request.raw_body or b""
    limit = get_settings().max_body_bytes
    if len(raw) > limit:
        raise errors.PayloadTooLarge(f"the body exceeds {limit} bytes")
    return raw


def validate_json(text: bytes, model: type[Model], not_json: str) -> Model:
    """``model`` from JSON ``text``; ``not_json`` is the reason given when it is not JSON at all."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise errors.InvalidField([{"field": "body", "reason": not_json}]) from None
    return model.model_validate(data)


def query_param(request: Request, name: str, default: str | None = None) -> str | None:
    params = request.query_params or {}
    return params.get(name, default)


def bool_param(request: Request, name: str, default: bool = False) -> bool:
    value = query_param(request, name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise errors.InvalidField([{"field": name, "reason": "must be true or false"}])


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=json.dumps(body, separators=(",", ":")), status_code=status,
                    headers={"Content-Type": "application/json", **(headers or {})})


def list_response(request: Request, read: ListReader) -> Response:
    """A list in the contract's shape, a JSON array: all of it unless the request asks for a page
    (``pageSize`` 1–1000, then ``paginationToken``). An answer that stops before the list's end (a
    page, or a list too long for ``MAX_RESPONSE_BYTES``) names its continuation in a
    ``Link: <?pageSize=…&paginationToken=…>; rel="next"`` header (RFC 8288)."""
    page_size = _page_size(request)
    batch = min(page_size or MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    texts: list[str] = []
    size, last, more = 2, None, False
    for dto, position in _entries(read, query_param(request, PAGE_TOKEN), batch):
        text = json.dumps(dto, separators=(",", ":"))
        # One DynamoDB item (≤ 400 KB) makes one entry, so the first entry always fits.
        if size + len(text) + 1 > MAX_RESPONSE_BYTES:
            more = True
            break
        texts.append(text)
        size, last = size + len(text) + 1, position
        if len(texts) == page_size:
            more = True
            break
    headers = {"Content-Type": "application/json"}
    if more:
        query = urlencode({PAGE_SIZE: page_size or batch, PAGE_TOKEN: last})
        headers["Link"] = f'<?{query}>; rel="next"'
    return Response(body="[" + ",".join(texts) + "]", status_code=200, headers=headers)


def _page_size(request: Request) -> int | None:
    value = query_param(request, PAGE_SIZE)
    if value is None:
        return None
    if not re.fullmatch(r"[0-9]{1,4}", value) or not 1 <= int(value) <= MAX_PAGE_SIZE:
        raise errors.InvalidField([{"field": PAGE_SIZE, "reason": f"must be an integer from 1 to {MAX_PAGE_SIZE}"}])
    return int(value)


def _entries(read: ListReader, after: str | None, batch: int) -> Iterator[tuple[dict[str, Any], str]]:
    """Every entry from ``after`` on, read ``batch`` at a time. A full batch may be the last one: then
    the answer still names a next page, which is empty (reading one entry more to know would cost a
    page's reads a second BatchGetItem)."""
    while True:
        entries = read(batch, after)
        yield from entries
        if len(entries) < batch:
            return
        after = entries[-1][1]
