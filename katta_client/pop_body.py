"""Seal a JSON request body to the server's active POP ``enc`` key (``Content-Type: application/jose``).

``PUT /api/storage/{vaultId}`` carries temporary storage credentials; sealed like this, no
proxy, gateway log or server log between the client and the key service sees them (architecture §6).
"""
from __future__ import annotations

import json
from typing import Any, Mapping

#: What the server's POP encryption keys use (architecture §6); anything else is refused, not guessed.
ALLOWED_ALGORITHMS = frozenset({"ECDH-ES+A256KW", "RSA-OAEP-256"})
CONTENT_ENCRYPTION = "A256GCM"


class PopKeyUnavailable(Exception):
    """The server's ``/pop`` document names no usable encryption key."""


def active_enc_key(pop_document: Mapping[str, Any]) -> dict[str, Any]:
    """The public JWK the document marks active for ``enc``."""
    kid = (pop_document.get("active") or {}).get("enc")
    keys = pop_document.get("keys") or []
    key = next((k for k in keys if isinstance(k, Mapping) and k.get("kid") == kid), None) if kid else None
    if key is None:
        raise PopKeyUnavailable("the server publishes no active POP encryption key")
    if key.get("alg") not in ALLOWED_ALGORITHMS or key.get("use", "enc") != "enc":
        raise PopKeyUnavailable(f"the server's POP encryption key uses an unexpected algorithm ({key.get('alg')})")
    if any(member in key for member in ("d", "p", "q", "k")):
        raise PopKeyUnavailable("the server's POP document carries private key material; refusing to use it")
    return dict(key)


def seal_json(pop_document: Mapping[str, Any], body: Any) -> str:
    """``body`` as JSON in a compact JWE to the active POP ``enc`` key."""
    from joserfc import jwe
    from joserfc.jwk import JWKRegistry

    public = active_enc_key(pop_document)
    protected = {"alg": public["alg"], "enc": CONTENT_ENCRYPTION, "kid": public["kid"], "cty": "json"}
    plaintext = json.dumps(body, separators=(",", ":")).encode()
    return jwe.encrypt_compact(protected, plaintext, JWKRegistry.import_key(public),
                               algorithms=[protected["alg"], CONTENT_ENCRYPTION])
