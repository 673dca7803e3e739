"""Identity: bearer verification, account resolution, roles (DESIGN §3)."""
from __future__ import annotations

from chalice.app import Request

from chalicelib import deps
from chalicelib.auth.accounts import Principal
from chalicelib.auth.bearer import parse_authorization
from chalicelib.errors import Unauthorized

__all__ = ["Principal", "authenticate", "authenticate_optional"]


def authenticate(request: Request) -> Principal:
    """The caller of ``request``; 401 without a valid token, 403 for a disabled account."""
    principal = authenticate_optional(request)
    if principal is None:
        raise Unauthorized("a bearer token is required", error=None)
    return principal


def authenticate_optional(request: Request) -> Principal | None:
    token = parse_authorization(request.headers.get("authorization"))
    if token is None:
        return None
    verified = deps.bearer_verifier().verify(token)
    return deps.accounts().resolve(verified)
