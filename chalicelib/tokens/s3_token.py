"""``POST /api/storage/s3-token``: a short-lived web-identity token for one vault's bucket.

STS (AWS or SeaweedFS) trusts our issuer, and the access-bucket role grants S3
on ``<bucketPrefix>${aws:PrincipalTag/Vault}``. So the token's Vault tag is
the whole authorization: it is minted only for a member of a live vault, and
only from a canonical vault id — ``*`` or ``?`` in a tag would be a wildcard
in the policy, and the comparison there ignores case.
"""
from __future__ import annotations

import time
import uuid
from typing import Any, Callable

from chalicelib import audit, deps
from chalicelib.auth import Principal
from chalicelib.errors import Forbidden, Gone
from chalicelib.settings import get_settings
from chalicelib.storage.vault_ids import canonical_vault_id
from chalicelib.tokens import names

EVENT = "STORAGE_TOKEN_ISSUE"


def vault_claims(user_id: str, vault_id: str, now: int, lifetime: int) -> dict[str, Any]:
    settings = get_settings()
    return {
        "iss": settings.public_base_url,
        "sub": user_id,
        # One string, never a list: SeaweedFS sets oidc:aud only from a string aud.
        "aud": settings.sts_audience,
        "iat": now,
        "exp": now + lifetime,
        "jti": str(uuid.uuid4()),
        "scope": vault_id,
        names.AWS_TAGS_CLAIM: {"principal_tags": {names.VAULT_TAG: [vault_id]},
                               "transitive_tag_keys": [names.VAULT_TAG]},
        names.FLAT_PRINCIPAL_TAGS_CLAIM: {names.VAULT_TAG: [vault_id]},
    }


def issue(principal: Principal, vault_id: str, *, source_ip: str | None = None,
          clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """The RFC 8693-shaped answer holding a token for ``vault_id``; 403 non-member, 404 unknown, 410 archived."""
    vault_id = canonical_vault_id(vault_id, field="vault")
    vault, role = deps.vault_access().vault_and_role(principal, vault_id)
    if role is None:
        _audit(principal, vault_id, "UNAUTHORIZED", source_ip)
        raise Forbidden("you are not a member of this vault")
    if vault.get("archived"):
        raise Gone("the vault is archived")
    lifetime = get_settings().s3_token_lifetime_seconds
    claims = vault_claims(principal.user_id, vault_id, int(clock()), lifetime)
    token = deps.pop_keys().sign_jwt(claims)
    # Written before the token leaves: an issuance that cannot be audited does not happen.
    _audit(principal, vault_id, "SUCCESS", source_ip, jti=claims["jti"], expiresAt=claims["exp"])
    return {"access_token": token, "issued_token_type": names.TOKEN_TYPE_JWT,
            # Not a bearer token for any API of ours: it is presented to STS only (RFC 8693 §2.2.1).
            "token_type": "N_A", "expires_in": lifetime, "scope": vault_id}


def _audit(principal: Principal, vault_id: str, result: str, source_ip: str | None, **details: Any) -> None:
    fields = {"issuedTo": principal.user_id, "vaultId": vault_id, "result": result, "ipAddress": source_ip,
              **details}
    deps.table().put(audit.event_item(EVENT, {k: v for k, v in fields.items() if v is not None}))
