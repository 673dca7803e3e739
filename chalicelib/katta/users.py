"""Accounts as the Katta API sees them: ``/api/users/me…`` and the admin listing."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.audit import catalogue
from chalicelib.auth import Principal
from chalicelib.errors import Conflict, NotFound
from chalicelib.katta.devices import device_dto
from chalicelib.katta.formats import AuthorityType, UserKeysInput
from chalicelib.db.table import Transaction

if TYPE_CHECKING:
    from chalicelib.audit import AuditLog
    from chalicelib.db.devices import DeviceRepository
    from chalicelib.db.table import Transactions
    from chalicelib.db.trust import TrustRepository
    from chalicelib.db.users import UserRepository
    from chalicelib.db.vaults import VaultRepository

# Stored user attributes published in UserDto, by their contract names.
_PUBLIC_USER_FIELDS = ("ecdhPublicKey", "ecdsaPublicKey", "privateKeys", "setupCode", "pictureUrl",
                       "firstName", "lastName", "language")
_KEY_FIELDS = ("ecdhPublicKey", "ecdsaPublicKey", "privateKeys")


def user_dto(user: dict[str, Any]) -> dict[str, Any]:
    dto = {"id": user["id"], "type": AuthorityType.USER.value, "name": user.get("name") or user["id"],
           "enabled": not user.get("disabled", False)}
    if user.get("email"):
        dto["email"] = user["email"]
    dto.update({field: user[field] for field in _PUBLIC_USER_FIELDS if user.get(field)})
    return dto


def public_user_dto(user: dict[str, Any]) -> dict[str, Any]:
    """What any user may see of another: no wrapped private keys, no setup code."""
    return {k: v for k, v in user_dto(user).items() if k not in ("privateKeys", "setupCode")}


class UserService:
    def __init__(self, users: UserRepository, devices: DeviceRepository, trust: TrustRepository,
                 vaults: VaultRepository, audit: AuditLog, transactions: Transactions) -> None:
        self._users = users
        self._devices = devices
        self._trust = trust
        self._vaults = vaults
        self._audit = audit
        self._transactions = transactions

    def me(self, principal: Principal, with_devices: bool = False, with_last_access: bool = False) -> dict[str, Any]:
        user = self._users.get(principal.user_id)
        if user is None:
            raise NotFound("no account matches the token's subject")
        dto = user_dto(user)
        if with_devices:
            dto["devices"] = [device_dto(d, with_last_access=with_last_access)
                              for d in self._devices.of_user(principal.user_id)]
        return dto

    def update_me(self, principal: Principal, dto: UserKeysInput) -> None:
        """Stores the fields the body names (null clears one); key changes are audited."""
        user = self._users.get(principal.user_id) or {}
        changes = {field: getattr(dto, field) for field in dto.model_fields_set
                   if field in (*_KEY_FIELDS, "setupCode", "language") and user.get(field) != getattr(dto, field)}
        if not changes:
            return
        transaction = self._users.set_attributes(Transaction(), principal.user_id, changes)
        if any(field in changes for field in _KEY_FIELDS):
            self._audit.record(transaction, catalogue.USER_KEYS_CHANGE, changedBy=principal.user_id,
                               userName=principal.name)
        if "setupCode" in changes:
            self._audit.record(transaction, catalogue.USER_SETUP_CODE_CHANGE, changedBy=principal.user_id)
        self._transactions.commit(transaction)

    def reset(self, principal: Principal) -> None:
        """Removes the caller's keys, devices, access tokens and trust signatures."""
        user_id = principal.user_id
        steps = [lambda tx, d=device["id"]: self._devices.remove(tx, user_id, d)
                 for device in self._devices.of_user(user_id)]
        steps += [lambda tx, u=signature["userId"]: self._trust.remove(tx, user_id, u)
                  for signature in self._trust.signed_by(user_id)]
        steps += [lambda tx, v=vault_id: self._vaults.delete_token(tx, v, user_id)
                  for vault_id in self._vaults.token_vault_ids(user_id)]
        final = self._users.set_attributes(Transaction(), user_id, dict.fromkeys((*_KEY_FIELDS, "setupCode")))
        self._audit.record(final, catalogue.USER_ACCOUNT_RESET, resetBy=user_id)
        self._transactions.commit_chunked(steps, final)

    def set_enabled(self, principal: Principal, user_id: str, enabled: bool) -> None:
        """An admin enables or disables an account; a disabled one is refused with 403 on every request."""
        if user_id == principal.user_id and not enabled:
            raise Conflict("you cannot disable your own account")
        user = self._users.get(user_id)
        if user is None:
            raise NotFound("no such user")
        if user.get("disabled", False) == enabled:  # a change: disabled now and enabling, or the reverse
            transaction = self._users.set_attributes(Transaction(), user_id, {"disabled": None if enabled else True})
            self._audit.record(transaction, catalogue.USER_ENABLED_CHANGE, userId=user_id, enabled=enabled,
                               changedBy=principal.user_id)
            self._transactions.commit(transaction)

    def users_page(self, limit: int, after: str | None) -> list[tuple[dict[str, Any], str]]:
        """Every account, in name order, a page at a time (``web.list_response``)."""
        return [(public_user_dto(u), position) for u, position in self._users.page(limit, after)]
