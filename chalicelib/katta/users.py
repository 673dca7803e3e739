"""The caller's own account (``/api/users/me``)."""
from __future__ import annotations

from typing import Any

from chalicelib.auth import Principal
from chalicelib.errors import NotFound
from chalicelib.store.users import UserRepository

# Stored user attributes published in UserDto, by their contract names.
_PUBLIC_USER_FIELDS = ("ecdhPublicKey", "ecdsaPublicKey", "privateKeys", "setupCode", "pictureUrl",
                       "firstName", "lastName", "language")


def user_dto(user: dict[str, Any]) -> dict[str, Any]:
    dto = {"id": user["id"], "type": "USER", "name": user.get("name") or user["id"],
           "enabled": not user.get("disabled", False)}
    if user.get("email"):
        dto["email"] = user["email"]
    dto.update({field: user[field] for field in _PUBLIC_USER_FIELDS if user.get(field)})
    return dto


def me(users: UserRepository, principal: Principal) -> dict[str, Any]:
    user = users.get(principal.user_id)
    if user is None:
        raise NotFound("no account matches the token's subject")
    return user_dto(user)
