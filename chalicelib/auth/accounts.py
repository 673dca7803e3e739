"""Account resolution: a verified token becomes a ``Principal`` (architecture §3.4–3.5).

The user id is derived from the token (issuer prefix + ``sub``), so resolving
an account costs one GetItem and never a lookup table.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from chalicelib.auth import claims as claim_paths
from chalicelib.errors import Forbidden, InsufficientScope, Unauthorized

if TYPE_CHECKING:
    from chalicelib.apidoc import Role
    from chalicelib.auth.bearer import VerifiedToken
    from chalicelib.settings import Settings, TrustedIssuer
    from chalicelib.db.groups import GroupRepository
    from chalicelib.db.users import UserRepository

# The contract's pattern for user ids (DeviceDto.owner, MemberDto.id).
USER_ID_PATTERN = re.compile(r"[-_.a-zA-Z0-9]{1,255}")


@dataclass(frozen=True)
class Principal:
    user_id: str
    issuer: str
    subject: str
    roles: frozenset[str]
    groups: frozenset[str]
    name: str
    email: str | None
    # The user's item as authentication read it: a request needing the caller's keys need not read it again.
    account: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def require_role(self, role: str | tuple[str, ...]) -> None:
        """``role``, or one of them given a tuple; 403 naming what was missing."""
        _require_role(self.roles, role)


def _require_role(roles: frozenset[str], role: str | tuple[str, ...]) -> None:
    wanted = (role,) if isinstance(role, str) else role
    if not roles.intersection(wanted):
        needed = " or ".join(f"'{r}'" for r in wanted)
        raise InsufficientScope(f"this operation needs the role {needed}")


def account_id(issuer: TrustedIssuer, subject: str) -> str:
    """The id of the hub account of ``subject`` at ``issuer``: derived, never looked up."""
    return issuer.user_id_prefix + subject


def subject_of(issuer: TrustedIssuer, claims: dict[str, Any]) -> str | None:
    """What names the user at ``issuer`` (its ``subject_claim``), or None when the token names no one."""
    value = claim_paths.value(claims, issuer.subject_claim)
    return value if isinstance(value, str) and value else None


def is_disabled(account: dict[str, Any] | None, issuer: str, subject: str) -> bool:
    """Whether ``account`` is this identity's hub account and an admin disabled it."""
    return bool(account and account.get("iss") == issuer and account.get("sub") == subject
                and account.get("disabled"))


class AccountService:
    def __init__(self, settings: Settings, users: UserRepository, groups: GroupRepository) -> None:
        self._settings = settings
        self._users = users
        self._groups = groups

    def resolve(self, token: VerifiedToken, role: Role | None = None) -> Principal:
        """The caller; with ``role``, a token without it is refused (403) before any account is read or made."""
        claims = token.claims
        issuer = token.issuer
        subject = subject_of(issuer, claims)
        if subject is None:
            raise Unauthorized(f"the token has no {issuer.subject_claim} to name its user")
        user_id = account_id(issuer, subject)
        if not USER_ID_PATTERN.fullmatch(user_id):
            raise Unauthorized("the token's subject is not a usable account id")
        _refuse_overage(claims, issuer.roles_claim, issuer.groups_claim)
        provided = claim_paths.strings(claim_paths.value(claims, issuer.roles_claim))
        groups = frozenset(claim_paths.strings(claim_paths.value(claims, issuer.groups_claim)))
        # Names that are already ours count as they are; the map adds the roles the provider's names stand for.
        roles = frozenset(provided).union(issuer.role_map[n] for n in (*provided, *groups) if n in issuer.role_map)
        if role is not None:
            _require_role(roles, role)
        name = _display_name(claims, subject)
        email = _string_claim(claims, "email")
        picture = _string_claim(claims, "picture")

        user = self._users.get(user_id)
        if user is None:
            user = self._provision(user_id, issuer.issuer, subject, roles, name, email, picture)
        if user.get("iss") != issuer.issuer or user.get("sub") != subject:
            raise Unauthorized("the account belongs to another identity")
        if is_disabled(user, issuer.issuer, subject):
            raise Forbidden("this account is disabled")
        # The profile follows the identity provider on every request, so Hub's body-less
        # ``PUT /api/users/me`` (its sign-in sync) finds nothing left to do.
        if self._users.profile_differs(user, name, email, picture):
            self._users.update_profile(user_id, name, email, picture, user.get("indexedEmail"))
        return Principal(user_id, issuer.issuer, subject, roles, groups, name, email, user)

    def _provision(self, user_id: str, iss: str, sub: str, roles: frozenset[str], name: str,
                   email: str | None, picture: str | None) -> dict[str, Any]:
        if not self._settings.autoprovision:
            raise Unauthorized("no account exists for this identity")
        required = self._settings.autoprovision_required_role
        if required and required not in roles:
            raise Unauthorized(f"accounts are provisioned only for users with the role '{required}'")
        if self._groups.get(user_id) is not None:
            # Members are keyed by id alone: an account named like a group would share its memberships.
            raise Unauthorized("the token's subject collides with a group; ask an administrator")
        user = {"id": user_id, "iss": iss, "sub": sub, "name": name, "email": email,
                "createdAt": int(time.time())}
        if picture:
            user["pictureUrl"] = picture
        if not self._users.create(user):
            # Another request provisioned it first; theirs is the account.
            user = self._users.get(user_id) or user
        return user


def _refuse_overage(claims: dict[str, Any], *paths: str | None) -> None:
    """403 when the provider left a roles or groups claim out of the token for being too long.

    Entra ID names such a claim in ``_claim_names`` (its "overage" marker; ``hasgroups`` in a
    front-channel token) and sends no list: read as it stands, the user would silently lose every
    role their groups give them.
    """
    names = claims.get("_claim_names")
    left_out = set(names) if isinstance(names, dict) else set()
    if claims.get("hasgroups") is True and "groups" not in claims:
        left_out.add("groups")
    for path in filter(None, paths):
        name = claim_paths.segments(path)[0]
        if name in left_out:
            raise Forbidden(f"the identity provider left the '{name}' claim out of the token (the user is in more "
                            "groups than a token can carry); emit only the groups assigned to the application, "
                            "or map app roles")


def _string_claim(claims: dict[str, Any], name: str) -> str | None:
    return claims[name] if isinstance(claims.get(name), str) and claims[name] else None


def _display_name(claims: dict[str, Any], subject: str) -> str:
    # Cognito's access tokens carry no profile claim but the user's username.
    for claim in ("name", "preferred_username", "username", "email"):
        if isinstance(claims.get(claim), str) and claims[claim]:
            return claims[claim]
    return subject
