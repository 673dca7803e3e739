"""RFC 7644 §4 discovery: what this SCIM server supports, for IdPs that ask before they push.

Okta's and Entra ID's provisioning checks read ``/ServiceProviderConfig`` (and some tools
``/ResourceTypes`` and ``/Schemas``) to decide which requests to send; answering only what the
Users and Groups routes really accept keeps them from sending a bulk request or a sort we would
refuse. The schemas list only the attributes we keep: everything else is accepted and dropped.
"""
from __future__ import annotations

from typing import Any

from chalicelib import errors
from chalicelib.scim import BASE_PATH, GROUP_SCHEMA, LIST_SCHEMA, USER_SCHEMA
from chalicelib.scim.formats import MAX_COUNT

CONFIG_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"


def _attribute(name: str, kind: str = "string", description: str = "", *, required: bool = False,
               multi: bool = False, uniqueness: str = "none", mutability: str = "readWrite",
               sub: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    attribute = {"name": name, "type": kind, "multiValued": multi, "description": description,
                 "required": required, "caseExact": False, "mutability": mutability,
                 "returned": "default", "uniqueness": uniqueness}
    if sub is not None:
        attribute["subAttributes"] = sub
    return attribute


_SCHEMAS = {
    USER_SCHEMA: ("User", "A person who may sign in; keys come only from their own first sign-in", [
        _attribute("userName", description="unique across users; found by the filter userName eq", required=True,
                   uniqueness="server"),
        _attribute("displayName", description="the name other users see"),
        _attribute("name", "complex", "used for the shown name when displayName is absent", sub=[
            _attribute("formatted"), _attribute("givenName"), _attribute("familyName")]),
        _attribute("emails", "complex", "the primary (or first) address is kept", multi=True, sub=[
            _attribute("value"), _attribute("primary", "boolean")]),
        _attribute("active", "boolean", "false disables the account on every surface"),
    ]),
    GROUP_SCHEMA: ("Group", "A group of users that vaults can be shared with", [
        _attribute("displayName", description="the group's name", required=True),
        _attribute("members", "complex", "users (by id); groups of groups are not kept", multi=True, sub=[
            _attribute("value", mutability="immutable"),
            _attribute("$ref", "reference", mutability="immutable"),
        ]),
    ]),
}
_RESOURCE_TYPES = {"User": ("/Users", USER_SCHEMA), "Group": ("/Groups", GROUP_SCHEMA)}


def service_provider_config(base_url: str) -> dict[str, Any]:
    return {
        "schemas": [CONFIG_SCHEMA],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_COUNT},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [{
            "type": "oauthbearertoken", "name": "Bearer token", "primary": True,
            "description": "the provisioning secret whose SHA-256 is KATTA_SCIM_TOKEN_SHA256, or an admin's token",
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base_url}{BASE_PATH}/ServiceProviderConfig"},
    }


def resource_types(base_url: str) -> dict[str, Any]:
    return _list([resource_type(base_url, name) for name in _RESOURCE_TYPES])


def resource_type(base_url: str, name: str) -> dict[str, Any]:
    if name not in _RESOURCE_TYPES:
        raise errors.NotFound(f"there is no resource type {name!r} (User, Group)")
    endpoint, schema = _RESOURCE_TYPES[name]
    return {"schemas": [RESOURCE_TYPE_SCHEMA], "id": name, "name": name, "endpoint": endpoint,
            "description": _SCHEMAS[schema][1], "schema": schema,
            "meta": {"resourceType": "ResourceType", "location": f"{base_url}{BASE_PATH}/ResourceTypes/{name}"}}


def schemas(base_url: str) -> dict[str, Any]:
    return _list([schema(base_url, uri) for uri in _SCHEMAS])


def schema(base_url: str, uri: str) -> dict[str, Any]:
    if uri not in _SCHEMAS:
        raise errors.NotFound(f"there is no schema {uri!r} ({', '.join(_SCHEMAS)})")
    name, description, attributes = _SCHEMAS[uri]
    return {"schemas": [SCHEMA_SCHEMA], "id": uri, "name": name, "description": description,
            "attributes": attributes,
            "meta": {"resourceType": "Schema", "location": f"{base_url}{BASE_PATH}/Schemas/{uri}"}}


def _list(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schemas": [LIST_SCHEMA], "totalResults": len(resources), "startIndex": 1,
            "itemsPerPage": len(resources), "Resources": resources}
