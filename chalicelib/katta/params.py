"""Path, query and plain-text inputs of the Katta API, validated like the JSON bodies."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated

from chalice.app import Request
from pydantic import ConfigDict, Field, RootModel

from chalicelib.audit import HUB, LOG_TYPES, MAX_PAGE_SIZE
from chalicelib.errors import InvalidField
from chalicelib.katta.formats import MAX_TOKENS_PER_REQUEST, AuthorityId, Jwe, Role, VaultId, is_authority_id, is_uuid
from chalicelib.web import parse_body, query_param, raw_body

MAX_IDS_PER_QUERY = 100


def invalid(field: str, reason: str) -> InvalidField:
    return InvalidField([{"field": field, "reason": reason}])


def vault_id(value: str, field: str = "vaultId") -> str:
    """Vault (and recovery process) ids are canonical lower-case UUIDs once inside."""
    if not is_uuid(value):
        raise invalid(field, "must be a UUID")
    return value.lower()


def source_ip(request: Request) -> str | None:
    """The caller's address as API Gateway saw it, for the audit events that record one."""
    return ((request.context or {}).get("identity") or {}).get("sourceIp")


def authority_id(value: str, field: str) -> str:
    if not is_authority_id(value):
        raise invalid(field, "must match [-_.a-zA-Z0-9]{1,255}")
    return value


def role(request: Request, default: str | None = Role.MEMBER.value) -> str | None:
    value = query_param(request, "role")
    if value is None:
        return default
    if value not in (Role.MEMBER.value, Role.OWNER.value):
        raise invalid("role", "must be MEMBER or OWNER")
    return value


def id_list(request: Request, name: str = "ids") -> list[str]:
    params = request.query_params
    values = params.getlist(name) if params and name in params else []
    if len(values) > MAX_IDS_PER_QUERY:
        raise invalid(name, f"at most {MAX_IDS_PER_QUERY} ids")
    return values


def non_negative_int(request: Request, name: str, default: int) -> int:
    value = query_param(request, name)
    if value is None:
        return default
    # ASCII digits only (isdigit() also takes '²'), and int32 as in the contract.
    if not re.fullmatch(r"[0-9]{1,9}", value):
        raise invalid(name, "must be a non-negative integer below 10^9")
    return int(value)


@dataclass(frozen=True)
class AuditLogQuery:
    """``GET /api/auditlog``'s filters, checked."""

    start: dt.datetime
    end: dt.datetime
    descending: bool
    page_size: int
    after_id: int | None
    types: frozenset[str]


def audit_log_query(request: Request, log: str = HUB) -> AuditLogQuery:
    start, end = _instant(request, "startDate"), _instant(request, "endDate")
    if start > end:
        raise invalid("startDate", "must not be after endDate")
    order = query_param(request, "order") or "desc"
    if order not in ("asc", "desc"):
        raise invalid("order", "must be asc or desc")
    size = _integer(request, "pageSize", 20)
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise invalid("pageSize", f"must be between 1 and {MAX_PAGE_SIZE}")
    after = _integer(request, "paginationId", None)
    # The contract's int64: every id we send is a safe integer, but any int64 is a valid cursor.
    if after is not None and not -2 ** 63 <= after < 2 ** 63:
        raise invalid("paginationId", "must be a 64-bit integer")
    types = request.query_params.getlist("type") if request.query_params and "type" in request.query_params else []
    unknown = sorted(set(types) - LOG_TYPES[log])
    if unknown:
        raise invalid("type", f"unknown event type {unknown[0]}")
    return AuditLogQuery(start, end, order == "desc", size, after, frozenset(types))


def _instant(request: Request, name: str) -> dt.datetime:
    value = query_param(request, name)
    if not value:
        raise invalid(name, "is required (ISO 8601 date-time)")
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(name, "must be an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise invalid(name, "must carry a time zone (e.g. Z)")
    return moment.astimezone(dt.timezone.utc)


def _integer(request: Request, name: str, default: int | None) -> int | None:
    value = query_param(request, name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise invalid(name, "must be an integer") from None


def text_body(request: Request, field: str = "body") -> str:
    try:
        text = raw_body(request).decode("utf-8").strip()
    except UnicodeDecodeError:
        raise invalid(field, "must be UTF-8 text") from None
    if not text:
        raise invalid(field, "must not be empty")
    return text


def boolean_body(request: Request) -> bool:
    text = text_body(request).lower()
    if text not in ("true", "false"):
        raise invalid("body", "must be true or false")
    return text == "true"


class TokensByUser(RootModel[dict[AuthorityId, Jwe]]):
    model_config = ConfigDict(defer_build=True)  # built by its first request, not at import
    root: Annotated[dict[AuthorityId, Jwe], Field(min_length=1)]


class TokensByVault(RootModel[dict[VaultId, Jwe]]):
    model_config = ConfigDict(defer_build=True)  # built by its first request, not at import
    root: Annotated[dict[VaultId, Jwe], Field(max_length=MAX_TOKENS_PER_REQUEST)]


class RolesByAuthority(RootModel[dict[AuthorityId, Role]]):
    model_config = ConfigDict(defer_build=True)  # built by its first request, not at import
    root: Annotated[dict[AuthorityId, Role], Field(min_length=1)]


def tokens_by_user(request: Request) -> dict[str, str]:
    return parse_body(request, TokensByUser).root


def tokens_by_vault(request: Request) -> dict[str, str]:
    return {v.lower(): t for v, t in parse_body(request, TokensByVault).root.items()}


def roles_by_authority(request: Request) -> dict[str, str]:
    return {a: r.value for a, r in parse_body(request, RolesByAuthority).root.items()}
