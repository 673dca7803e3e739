"""SCIM provisioning: the users and groups an IdP pushes, kept as hub accounts and admin-managed groups.

A SCIM user is a hub account of the SCIM issuer; its ``userName`` is claimed by an item of its own
so that ``userName eq "…"`` is one GetItem and two accounts never share one. ``DELETE`` does not
erase an account (its vault memberships and keys may still matter to an admin): it disables it
and releases its user name; the account is gone for SCIM until it is provisioned again.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import time
from typing import TYPE_CHECKING, Any, Callable

from chalicelib.audit import catalogue
from chalicelib.auth import Principal
from chalicelib.auth.accounts import USER_ID_PATTERN, account_id
from chalicelib.db.table import MAX_TRANSACTION_ITEMS, ConditionFailed, Transaction
from chalicelib.errors import Conflict, NotFound, NotImplementedYet
from chalicelib.katta.formats import GroupInput
from chalicelib.scim import (
    BASE_PATH, GROUP_SCHEMA, LIST_SCHEMA, USER_SCHEMA, ScimBadRequest,
)
from chalicelib.scim.formats import ScimGroupInput, ScimMemberRef, ScimPatchInput, ScimUserInput

if TYPE_CHECKING:
    from chalicelib.audit import AuditLog
    from chalicelib.db.groups import GroupRepository
    from chalicelib.db.table import Transactions
    from chalicelib.db.users import UserRepository
    from chalicelib.katta.groups import GroupService
    from chalicelib.settings import Settings

# The IdP's provisioning client, as audit events and group changes name it.
PROVISIONING_CLIENT = Principal("scim", "", "scim", frozenset({"admin"}), frozenset(), "SCIM provisioning", None)
MAX_MEMBER_CHANGES = MAX_TRANSACTION_ITEMS - 1
_FILTER = re.compile(r'^\s*(\w+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)
_MEMBER_FILTER = re.compile(r'^\s*members\s*\[\s*value\s+eq\s+"([^"]+)"\s*\]\s*$', re.IGNORECASE)


class ScimService:
    def __init__(self, settings: Settings, users: UserRepository, groups: GroupRepository,
                 group_service: GroupService, audit: AuditLog, transactions: Transactions,
                 clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._users = users
        self._groups = groups
        self._group_service = group_service
        self._audit = audit
        self._transactions = transactions
        self._clock = clock

    # --- who may provision --------------------------------------------------------------------------

    def is_provisioning_secret(self, token: str) -> bool:
        """Whether ``token`` is the IdP's provisioning secret (only its SHA-256 is configured)."""
        expected = self._settings.scim_token_sha256
        digest = hashlib.sha256(token.encode()).hexdigest()  # a b64token: ASCII
        return expected is not None and hmac.compare_digest(digest, expected)

    def _issuer(self):
        issuer = self._settings.scim_trusted_issuer
        if issuer is None:
            # Several issuers are trusted and none is named: an operator's decision, not a retry.
            raise NotImplementedYet("SCIM provisioning needs KATTA_SCIM_ISSUER: several issuers are trusted")
        return issuer

    # --- users --------------------------------------------------------------------------------------

    def create_user(self, caller: Principal, body: ScimUserInput) -> dict[str, Any]:
        """A new account, or an account that signed in (or was deprovisioned) before, linked again."""
        issuer = self._issuer()
        if body.externalId is None:
            raise ScimBadRequest(f"externalId: required, the user's '{issuer.subject_claim}' claim at the IdP",
                                 "invalidValue")
        user_id = account_id(issuer, body.externalId)
        if not USER_ID_PATTERN.fullmatch(user_id):
            raise ScimBadRequest("externalId: may hold only letters, digits, '-', '_' and '.'", "invalidValue")
        if self._groups.get(user_id) is not None:
            raise Conflict(f"a group has the id '{user_id}'")
        existing = self._users.get(user_id)
        if existing is not None:
            if (existing.get("iss"), existing.get("sub")) != (issuer.issuer, body.externalId):
                raise Conflict("the account of this externalId belongs to another identity")
            if existing.get("userName") is not None:
                raise Conflict(f"a user with externalId '{body.externalId}' is provisioned already")
        transaction = Transaction()
        if existing is None:
            user = {"id": user_id, "iss": issuer.issuer, "sub": body.externalId,
                    "createdAt": int(self._clock()), **_without_none(_profile(body))}
            self._users.create_in(transaction, user)
            self._users.claim_name(transaction, body.userName, user_id)
            self._record(transaction, caller, user_id, body)
            self._commit(transaction, body.userName)
            return self._user_resource(user)
        return self._write_user(caller, existing, body)

    def get_user(self, user_id: str) -> dict[str, Any]:
        return self._user_resource(self._provisioned(user_id))

    def list_users(self, filter_: str | None, start: int, count: int) -> dict[str, Any]:
        issuer = self._issuer()
        if filter_ is None:
            found = [u for u in self._every_user() if u.get("iss") == issuer.issuer and u.get("userName")]
        else:
            attribute, value = _equality(filter_, ("userName", "externalId"))
            user_id = self._users.id_named(value) if attribute == "username" else account_id(issuer, value)
            user = self._users.get(user_id) if user_id else None
            found = [user] if user is not None and user.get("userName") and user.get("iss") == issuer.issuer else []
        return _list([self._user_resource(u) for u in found], start, count)

    def _every_user(self) -> list[dict[str, Any]]:
        """Every account, read a page at a time (SCIM's startIndex/count page the filtered list)."""
        found: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            batch = self._users.page(_USERS_PER_READ, after)
            found += [user for user, _ in batch]
            if len(batch) < _USERS_PER_READ:
                return found
            after = batch[-1][1]

    def replace_user(self, caller: Principal, user_id: str, body: ScimUserInput) -> dict[str, Any]:
        user = self._provisioned(user_id)
        if body.externalId is not None and body.externalId != user["sub"]:
            raise ScimBadRequest("externalId: cannot change; it names the user at the IdP", "mutability")
        return self._write_user(caller, user, body)

    def patch_user(self, caller: Principal, user_id: str, patch: ScimPatchInput) -> dict[str, Any]:
        user = self._provisioned(user_id)
        state: dict[str, Any] = {"userName": user["userName"], "displayName": user.get("name"),
                                 "emails": [{"value": user["email"], "primary": True}] if user.get("email") else [],
                                 "active": not user.get("disabled", False)}
        for operation in patch.Operations:
            for path, value in _changes(operation.path, operation.value):
                _apply_user_change(state, path, None if operation.op.lower() == "remove" else value, user["sub"])
        return self._write_user(caller, user, ScimUserInput.model_validate(state))

    def delete_user(self, caller: Principal, user_id: str) -> None:
        user = self._provisioned(user_id)
        transaction = self._users.set_attributes(Transaction(), user_id, {"userName": None, "disabled": True})
        self._users.release_name(transaction, user["userName"])
        self._audit.record(transaction, catalogue.SCIM_USER_DEPROVISION, userId=user_id,
                           userName=user["userName"], changedBy=caller.user_id)
        if not user.get("disabled"):
            self._audit.record(transaction, catalogue.USER_ENABLED_CHANGE, userId=user_id, enabled=False,
                               changedBy=caller.user_id)
        self._transactions.commit(transaction)

    def _provisioned(self, user_id: str) -> dict[str, Any]:
        user = self._users.get(user_id)
        if user is None or not user.get("userName") or user.get("iss") != self._issuer().issuer:
            raise NotFound(f"no provisioned user '{user_id}'")
        return user

    def _write_user(self, caller: Principal, user: dict[str, Any], body: ScimUserInput) -> dict[str, Any]:
        changes = {**_profile(body), "disabled": None if body.active else True}
        transaction = self._users.set_attributes(Transaction(), user["id"], changes,
                                                 indexed_email=user.get("indexedEmail"))
        renamed = (user.get("userName") or "").lower() != body.userName.lower()
        if renamed:
            if user.get("userName"):
                self._users.release_name(transaction, user["userName"])
            self._users.claim_name(transaction, body.userName, user["id"])
        self._record(transaction, caller, user["id"], body)
        if user.get("disabled", False) == body.active:
            self._audit.record(transaction, catalogue.USER_ENABLED_CHANGE, userId=user["id"], enabled=body.active,
                               changedBy=caller.user_id)
        self._commit(transaction, body.userName if renamed else None)
        return self._user_resource({**user, **changes})

    def _record(self, transaction: Transaction, caller: Principal, user_id: str, body: ScimUserInput) -> None:
        self._audit.record(transaction, catalogue.SCIM_USER_PROVISION, userId=user_id, userName=body.userName,
                           active=body.active, changedBy=caller.user_id)

    def _commit(self, transaction: Transaction, claimed_name: str | None) -> None:
        try:
            self._transactions.commit(transaction)
        except ConditionFailed:
            if claimed_name is not None and self._users.id_named(claimed_name) is not None:
                raise Conflict(f"the userName '{claimed_name}' is taken") from None
            raise

    def _user_resource(self, user: dict[str, Any]) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "schemas": [USER_SCHEMA], "id": user["id"], "externalId": user["sub"], "userName": user["userName"],
            "displayName": user.get("name") or user["userName"], "active": not user.get("disabled", False),
            "meta": {"resourceType": "User", "location": self._location("Users", user["id"])}}
        if user.get("name"):
            resource["name"] = {"formatted": user["name"]}
        if user.get("email"):
            resource["emails"] = [{"value": user["email"], "primary": True}]
        if user.get("createdAt"):
            resource["meta"]["created"] = _timestamp(user["createdAt"])
        return resource

    # --- groups -------------------------------------------------------------------------------------

    def create_group(self, body: ScimGroupInput) -> dict[str, Any]:
        members = self._known_users(m.value for m in body.members)
        _fits_one_transaction(len(members))
        return self.get_group(self._group_service.create(GroupInput(name=body.displayName), members)["id"])

    def get_group(self, group_id: str, with_members: bool = True) -> dict[str, Any]:
        return self._group_resource(self._group(group_id), with_members)

    def list_groups(self, filter_: str | None, start: int, count: int, with_members: bool) -> dict[str, Any]:
        if filter_ is None:
            found = self._groups.all()
        else:
            attribute, value = _equality(filter_, ("displayName", "id"))
            found = self._groups.named(value) if attribute == "displayname" else \
                [g for g in [self._groups.get(value)] if g is not None]
        return _list([self._group_resource(g, with_members) for g in found], start, count)

    def replace_group(self, group_id: str, body: ScimGroupInput) -> dict[str, Any]:
        return self._write_group(self._group(group_id), body.displayName, [m.value for m in body.members])

    def patch_group(self, group_id: str, patch: ScimPatchInput) -> dict[str, Any]:
        """Every operation applied to the group as it is, then written in one transaction."""
        group = self._group(group_id)
        name, members = group["name"], self._groups.member_ids(group_id)
        for operation in patch.Operations:
            op = operation.op.lower()
            member = _MEMBER_FILTER.match(operation.path or "")
            if member:
                if op != "remove":
                    raise ScimBadRequest("path: a member filter is only for remove", "invalidPath")
                members = [u for u in members if u != member.group(1)]
                continue
            for path, value in _changes(operation.path, operation.value):
                if path.lower() == "displayname" and op != "remove":
                    name = _string(value, "displayName")
                elif path.lower() == "members":
                    ids = [ref.value for ref in _member_refs(value)] if value is not None else []
                    if op == "add":
                        members = [*members, *(u for u in ids if u not in members)]
                    elif op == "remove":
                        members = [u for u in members if ids and u not in ids]
                    else:
                        members = ids
                elif path.lower() not in ("id", "externalid"):
                    raise ScimBadRequest(f"path: '{path}' is not an attribute of a group", "invalidPath")
        return self._write_group(group, name, members)

    def delete_group(self, caller: Principal, group_id: str) -> None:
        self._group_service.delete(caller, group_id)

    def _group(self, group_id: str) -> dict[str, Any]:
        group = self._groups.get(group_id)
        if group is None:
            raise NotFound(f"no group '{group_id}'")
        return group

    def _write_group(self, group: dict[str, Any], name: str, members: list[str]) -> dict[str, Any]:
        wanted = self._known_users(members)
        current = set(self._groups.member_ids(group["id"]))
        added = [u for u in wanted if u not in current]
        removed = sorted(current - set(wanted))
        if name != group["name"] and any(g["id"] != group["id"] for g in self._groups.named(name)):
            raise Conflict(f"a group named '{name}' exists")
        _fits_one_transaction(len(added) + len(removed))
        if added or removed or name != group["name"]:
            self._transactions.commit(self._groups.change(Transaction(), group["id"], name, added, removed))
        return self.get_group(group["id"])

    def _known_users(self, user_ids) -> list[str]:
        wanted = list(dict.fromkeys(user_ids))
        known = {u["id"] for u in self._users.get_many(wanted)}
        unknown = [u for u in wanted if u not in known]
        if unknown:
            raise ScimBadRequest(f"members: no user '{unknown[0]}' (provision the user first)", "invalidValue")
        return wanted

    def _group_resource(self, group: dict[str, Any], with_members: bool) -> dict[str, Any]:
        resource: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "id": group["id"], "displayName": group["name"],
                                    "meta": {"resourceType": "Group", "location": self._location("Groups", group["id"])}}
        if with_members:
            resource["members"] = [{"value": u, "$ref": self._location("Users", u)}
                                   for u in sorted(self._groups.member_ids(group["id"]))]
        return resource

    def _location(self, kind: str, resource_id: str) -> str:
        return f"{self._settings.public_base_url}{BASE_PATH}/{kind}/{resource_id}"


def _profile(body: ScimUserInput) -> dict[str, Any]:
    name = body.displayName or (body.name and (body.name.formatted or " ".join(
        filter(None, (body.name.givenName, body.name.familyName))))) or body.userName
    emails = sorted(body.emails, key=lambda e: not e.primary)
    return {"userName": body.userName, "name": name, "email": emails[0].value if emails else None}


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _changes(path: str | None, value: Any) -> list[tuple[str, Any]]:
    """A PATCH operation as (path, value) pairs: Okta sends a path-less value object."""
    if path is not None:
        return [(path, value)]
    if not isinstance(value, dict):
        raise ScimBadRequest("value: an operation without a path needs an object of attributes", "invalidSyntax")
    return list(value.items())


def _apply_user_change(state: dict[str, Any], path: str, value: Any, subject: str) -> None:
    attribute = path.lower()
    if attribute == "active":
        # Entra ID sends booleans as the strings "True" / "False".
        state["active"] = value.lower() == "true" if isinstance(value, str) else value
    elif attribute == "username":
        state["userName"] = value
    elif attribute in ("displayname", "name.formatted"):
        state["displayName"] = value
    elif attribute == "emails" or attribute.startswith("emails["):
        email = value if isinstance(value, str) else (value[0].get("value") if isinstance(value, list) and value
                                                      and isinstance(value[0], dict) else None)
        state["emails"] = [{"value": email, "primary": True}] if email else []
    elif attribute == "externalid" and value != subject:
        raise ScimBadRequest("externalId: cannot change; it names the user at the IdP", "mutability")
    # Attributes we do not keep (title, phone numbers, the enterprise extension) are ignored.


def _equality(filter_: str, attributes: tuple[str, ...]) -> tuple[str, str]:
    match = _FILTER.match(filter_)
    if match is None or match.group(1).lower() not in {a.lower() for a in attributes}:
        supported = " or ".join(f'{a} eq "…"' for a in attributes)
        raise ScimBadRequest(f"filter: only {supported} is supported", "invalidFilter")
    return match.group(1).lower(), re.sub(r"\\(.)", r"\1", match.group(2))


def _string(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise ScimBadRequest(f"{field}: must be a non-empty string", "invalidValue")
    return value


def _member_refs(value: Any) -> list[ScimMemberRef]:
    if not isinstance(value, list):
        raise ScimBadRequest("members: must be a list of {\"value\": user id}", "invalidValue")
    return [ScimMemberRef.model_validate(v) for v in value]


def _fits_one_transaction(member_changes: int) -> None:
    # A group's change lands whole or not at all: one transaction, the group's own item beside them.
    if member_changes > MAX_MEMBER_CHANGES:
        raise ScimBadRequest(f"members: at most {MAX_MEMBER_CHANGES} members may join or leave in one request",
                             "tooMany")


_USERS_PER_READ = 1000


def _list(resources: list[dict[str, Any]], start: int, count: int) -> dict[str, Any]:
    page = resources[start - 1:start - 1 + count]
    return {"schemas": [LIST_SCHEMA], "totalResults": len(resources), "startIndex": start,
            "itemsPerPage": len(page), "Resources": page}


def _timestamp(seconds: int) -> str:
    return dt.datetime.fromtimestamp(int(seconds), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

