"""SCIM request bodies. IdPs send many attributes we do not keep (phone numbers, titles, the
enterprise extension): they are ignored rather than refused, or provisioning would stop at them."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

_IGNORING = ConfigDict(extra="ignore", defer_build=True)
MAX_COUNT = 200  # a list page's most resources (ServiceProviderConfig's filter.maxResults)


class ScimName(BaseModel):
    model_config = _IGNORING

    formatted: StrictStr | None = None
    givenName: StrictStr | None = None
    familyName: StrictStr | None = None


class ScimEmail(BaseModel):
    model_config = _IGNORING

    value: StrictStr = Field(max_length=320)
    primary: StrictBool = False


class ScimUserInput(BaseModel):
    model_config = _IGNORING

    userName: StrictStr = Field(min_length=1, max_length=255)
    externalId: StrictStr | None = Field(default=None, min_length=1, max_length=255)
    displayName: StrictStr | None = Field(default=None, max_length=255)
    name: ScimName | None = None
    emails: list[ScimEmail] = Field(default=[], max_length=20)
    active: StrictBool = True


class ScimMemberRef(BaseModel):
    model_config = _IGNORING

    value: StrictStr = Field(min_length=1, max_length=255)


class ScimGroupInput(BaseModel):
    model_config = _IGNORING

    displayName: StrictStr = Field(min_length=1, max_length=255)
    members: list[ScimMemberRef] = Field(default=[], max_length=1000)


class ScimPatchOperation(BaseModel):
    model_config = _IGNORING

    op: StrictStr = Field(pattern=r"(?i)^(add|replace|remove)$")
    path: StrictStr | None = Field(default=None, max_length=512)
    value: Any = None


class ScimPatchInput(BaseModel):
    model_config = _IGNORING

    Operations: list[ScimPatchOperation] = Field(min_length=1, max_length=100)


class ScimListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    filter: str | None = Field(default=None, max_length=1024)
    startIndex: int = Field(default=1, ge=1)
    count: int = Field(default=100, ge=0, le=MAX_COUNT)
    excludedAttributes: str | None = Field(default=None, max_length=256)


class ScimError(BaseModel):
    """RFC 7644 §3.12: every refusal of a SCIM route."""
    model_config = ConfigDict(defer_build=True)

    schemas: list[str]
    status: str
    detail: str
    scimType: str | None = None
