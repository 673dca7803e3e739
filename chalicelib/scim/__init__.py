"""SCIM 2.0 provisioning (RFC 7643 / 7644): the Users and Groups subset Entra ID and Okta push.

An identity provider makes users and groups known before anybody signs in. A provisioned user is
the hub account their first sign-in resolves to: its id is the SCIM issuer's ``user_id_prefix``
plus the user's ``externalId``, which must be the value that issuer's ``subject_claim`` carries.
Keys still come only from the user's own first sign-in.
"""
from __future__ import annotations

from chalicelib import errors

SCIM_JSON = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
BASE_PATH = "/scim/v2"


class ScimBadRequest(errors.BadRequest):
    """A 400 with the RFC 7644 §3.12 ``scimType`` an IdP shows its operator."""

    def __init__(self, detail: str, scim_type: str) -> None:
        super().__init__(detail)
        self.scim_type = scim_type


def scim_type_of(error: errors.ApiError) -> str | None:
    if isinstance(error, ScimBadRequest):
        return error.scim_type
    if isinstance(error, errors.Conflict):
        return "uniqueness"
    if isinstance(error, errors.BadRequest):
        return "invalidValue"
    return None
