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
from typing import TYPE_CHECKING, Any, Callable

from chalicelib.audit import catalogue
from chalicelib.errors import Forbidden, Gone
from chalicelib.oauth import TOKEN_TYPE_JWT
from chalicelib.storage.vault_ids import canonical_vault_id
from chalicelib.tokens import names

if TYPE_CHECKING:
    from chalicelib.audit import AuditLog
    from chalicelib.auth import Principal
    from chalicelib.crypto.pop import PopKeys
    from chalicelib.katta.access import VaultAccess
    from chalicelib.settings import Settings


def vault_claims(settings: Settings, user_id: str, vault_id: str, now: int, lifetime: int) -> dict[str, Any]:
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


class StorageTokens:
    def __init__(self, access: VaultAccess, pop: PopKeys, audit_log: AuditLog, settings: Settings,
                 clock: Callable[[], float] = time.time) -> None:
        self._access = access
        self._pop = pop
        self._audit = audit_log
        self._settings = settings
        self._clock = clock

    def issue(self, principal: Principal, vault_id: str, *, source_ip: str | None = None) -> dict[str, Any]:
        """The RFC 8693-shaped answer holding a token for ``vault_id``; 403 non-member, 404 unknown, 410 archived."""
        vault_id = canonical_vault_id(vault_id, field="vault")
        vault, role = self._access.vault_and_role(principal, vault_id)
        if role is None:
            self._record(principal, vault_id, "UNAUTHORIZED", source_ip)
            raise Forbidden("you are not a member of this vault")
        if vault.get("archived"):
            raise Gone("the vault is archived")
        lifetime = self._settings.s3_token_lifetime_seconds
        claims = vault_claims(self._settings, principal.user_id, vault_id, int(self._clock()), lifetime)
        token = self._pop.sign_jwt(claims)
        # Written before the token leaves: an issuance that cannot be audited does not happen.
        self._record(principal, vault_id, "SUCCESS", source_ip, jti=claims["jti"], expiresAt=claims["exp"])
        return {"access_token": token, "issued_token_type": TOKEN_TYPE_JWT,
                # Not a bearer token for any API of ours: it is presented to STS only (RFC 8693 §2.2.1).
                "token_type": "N_A", "expires_in": lifetime, "scope": vault_id}

    def _record(self, principal: Principal, vault_id: str, result: str, source_ip: str | None,
                **details: Any) -> None:
        fields = {"issuedTo": principal.user_id, "vaultId": vault_id, "result": result, "ipAddress": source_ip,
                  **details}
        self._audit.write(catalogue.STORAGE_TOKEN_ISSUE, **{k: v for k, v in fields.items() if v is not None})
