"""Request bodies that may arrive encrypted to a POP ``enc`` key (``Content-Type: application/jose``).

A route opts in by registering ``content_types=ACCEPTED_CONTENT_TYPES`` and
parsing with ``parse_body`` from here; a compact JWE body is decrypted with the
POP key its ``kid`` names, then validated like a JSON body. No proxy, gateway
log or Lambda log ever sees the plaintext.
"""
from __future__ import annotations

from chalice.app import Request

from chalicelib import deps, errors, web

JOSE = "application/jose"
ACCEPTED_CONTENT_TYPES = ["application/json", JOSE]
_JSON_CONTENT_TYPES = frozenset({"json", "application/json"})


def parse_body(request: Request, model: type[web.Model]) -> web.Model:
    """``model`` from a JSON body or from a compact JWE whose plaintext is that JSON."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type != JOSE:
        return web.parse_body(request, model)
    raw = web.raw_body(request)
    try:
        compact = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise errors.InvalidField([{"field": "body", "reason": "not a compact JWE"}]) from None
    header, plaintext = deps.pop_keys().decrypt(compact)
    if "cty" in header and str(header["cty"]).lower() not in _JSON_CONTENT_TYPES:
        raise errors.InvalidField([{"field": "body", "reason": "the JWE must carry JSON (cty json)"}])
    return web.validate_json(plaintext, model, "the decrypted JWE is not valid JSON")
