"""Accounts as the Katta API sees them: ``/api/users/me…`` and the admin listing."""
from __future__ import annotations

from typing import Any

from chalicelib import audit, deps
from chalicelib.auth import Principal
from chalicelib.errors import Conflict, NotFound
from chalicelib.katta import events
from chalicelib.katta.devices import device_dto
from chalicelib.katta.formats import UserKeysInput
from chalicelib.store.table import Transaction
from chalicelib.store.users import UserRepository

# Stored user attributes published in UserDto, by their contract names.
_PUBLIC_USER_FIELDS = ("ecdhPublicKey", "ecdsaPublicKey", "privateKeys", "setupCode", "pictureUrl",
                       "firstName", "lastName", "language")
_KEY_FIELDS = ("ecdhPublicKey", "ecdsaPublicKey", "privateKeys")


def user_dto(user: dict[str, Any]) -> dict[str, Any]:
    dto = {"id": user["id"], "type": "USER", "name": user.get("name") or user["id"],
           "enabled": not user.get("disabled", False)}
    if user.get("email"):
        dto["email"] = user["email"]
    dto.update({field: user[field] for field in _PUBLIC_USER_FIELDS if user.get(field)})
    return dto


def public_user_dto(user: dict[str, Any]) -> dict[str, Any]:
    """What any user may see of another: no wrapped private keys, no setup code."""
    return {k: v for k, v in user_dto(user).items() if k not in ("privateKeys", "setupCode")}


def me(users: UserRepository, principal: Principal, with_devices: bool = False) -> dict[str, Any]:
    user = users.get(principal.user_id)
    if user is None:
        raise NotFound("no account matches the token's subject")
    dto = user_dto(user)
    if with_devices:
        dto["devices"] = [device_dto(d) for d in deps.devices().of_user(principal.user_id)]
    return dto


def update_me(principal: Principal, dto: UserKeysInput) -> None:
    """Stores the fields the body names (null clears one); key changes are audited."""
    user = deps.users().get(principal.user_id) or {}
    changes = {field: getattr(dto, field) for field in dto.model_fields_set
               if field in (*_KEY_FIELDS, "setupCode", "language") and user.get(field) != getattr(dto, field)}
    if not changes:
        return
    transaction = deps.users().set_attributes(Transaction(), principal.user_id, changes)
    if any(field in changes for field in _KEY_FIELDS):
        audit.record(transaction, events.USER_KEYS_CHANGE, changedBy=principal.user_id, userName=principal.name)
    if "setupCode" in changes:
        audit.record(transaction, events.USER_SETUP_CODE_CHANGE, changedBy=principal.user_id)
    deps.table().commit(transaction)


def reset(principal: Principal) -> None:
    """Removes the caller's keys, devices, access tokens and trust signatures."""
    user_id = principal.user_id
    users, vaults = deps.users(), deps.vaults()
    steps = []
    for sort_key in users.partition_sort_keys(user_id, "DEVICE#"):
        device_id = sort_key.removeprefix("DEVICE#")
        steps.append(lambda tx, d=device_id: deps.devices().remove(tx, user_id, d))
    steps += [lambda tx, s=sort_key: users.delete_item(tx, user_id, s)
              for sort_key in users.partition_sort_keys(user_id, "TRUST#")]
    steps += [lambda tx, v=vault_id: vaults.delete_token(tx, v, user_id) for vault_id in vaults.token_vault_ids(user_id)]
    final = users.set_attributes(Transaction(), user_id, dict.fromkeys((*_KEY_FIELDS, "setupCode")))
    audit.record(final, events.USER_ACCOUNT_RESET, resetBy=user_id)
    events.commit_bulk(steps, final)


def set_enabled(principal: Principal, user_id: str, enabled: bool) -> None:
    """An admin enables or disables an account; a disabled one is refused with 403 on every request."""
    if user_id == principal.user_id and not enabled:
        raise Conflict("you cannot disable your own account")
    user = deps.users().get(user_id)
    if user is None:
        raise NotFound("no such user")
    if user.get("disabled", False) == enabled:  # a change: disabled now and enabling, or the reverse
        transaction = deps.users().set_attributes(Transaction(), user_id, {"disabled": None if enabled else True})
        audit.record(transaction, events.USER_ENABLED_CHANGE, userId=user_id, enabled=enabled,
                     changedBy=principal.user_id)
        deps.table().commit(transaction)


def all_users() -> list[dict[str, Any]]:
    return [public_user_dto(u) for u in deps.users().all()]
