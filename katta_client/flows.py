"""The desktop client's "open connection" flow: get this device to the user's keys.

1. Find this device's key in the key chain (create and store one on first use).
2. ``GET /api/users/me``. No user keys yet → create them, show the new account key once, store
   ``privateKeys`` (PBES2 with the account key) and register this device.
3. ``GET /api/devices/{id}``: 200 → decrypt the user keys with the device key.
   404 → the server does not know this device: ask for the account key, recover the user keys
   from ``privateKeys``, then register this device (its ``userPrivateKey`` is the user keys as an
   ECDH-ES JWE to the device key), so next time step 3 answers 200.

The account key is asked for through a callback and never stored.
"""
from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from typing import Callable, Optional

from .crypto import (DecryptionFailed, DeviceKeys, KattaCryptoError, UserKeys, device_id_for_public_key,
                     generate_account_key)
from .http import DeviceNotFound, KattaApi, KattaApiError
from .http.models import DeviceDto, UserDto
from .keychain import Keychain

DEVICE_TYPE = "DESKTOP"
_NAME_FORBIDDEN = re.compile(r'[*<>"]')  # DeviceDto.name pattern [^*<>"]*


class FlowError(Exception):
    """The flow cannot go on; the message says why and what to do."""


class DeviceAlreadyRegistered(FlowError):
    """Linking a device the server already knows for this user."""

    reason = "device_already_exists"  # MSC4108's failure reason, sent to the new device


@dataclass
class Connection:
    """The user's keys, unlocked on this device."""

    user: UserDto
    user_keys: UserKeys
    device: DeviceKeys
    #: set only when this call created the user keys: show it to the user once, then drop it
    new_account_key: Optional[str] = None
    #: True when this call registered the device with the server
    registered_device: bool = False

    @property
    def device_id(self) -> str:
        return self.device.device_id


def undo_quietly(undo: Callable[[], object]) -> None:
    """Takes back a step of a flow that failed later; the flow's own failure is the one to report
    (an undo that finds nothing to undo, or no server, adds nothing to it)."""
    try:
        undo()
    except KattaApiError:
        pass


def default_device_name() -> str:
    name = _NAME_FORBIDDEN.sub("", socket.gethostname()).strip()
    return name or "katta device"


def device_keys(keychain: Keychain, server: str, user: str) -> DeviceKeys:
    """This device's key for ``user`` at ``server``; a new one is created and stored on first use."""
    stored = keychain.device_key(server, user)
    if stored is not None:
        try:
            return DeviceKeys.from_pkcs8(stored)
        except KattaCryptoError:
            raise FlowError(f"the stored device key for {user} at {server} is unreadable") from None
    keys = DeviceKeys.create()
    keychain.save_device_key(server, user, keys.to_pkcs8())
    return keys


def open_connection(api: KattaApi, keychain: Keychain, server: str, user: str, *,
                    account_key: Callable[[], str], device_name: Optional[str] = None,
                    create_user_keys: bool = True) -> Connection:
    """Run the flow. ``account_key`` is called only when the device is unknown to the server."""
    device = device_keys(keychain, server, user)
    me = api.get_me()
    if not me.get("ecdhPublicKey"):
        if not create_user_keys:
            raise FlowError("this account has no user keys yet; run `katta init` to create them")
        return _create_user_keys(api, me, device, device_name)
    try:
        registered = api.get_device(device.device_id)
    except DeviceNotFound:
        return _recover(api, me, device, account_key(), device_name)
    return Connection(user=me, user_keys=_open_device_copy(registered, device, me), device=device)


def _open_device_copy(registered: DeviceDto, device: DeviceKeys, me: UserDto) -> UserKeys:
    try:
        return UserKeys.decrypt_on_device(registered.get("userPrivateKey", ""), device,
                                          me["ecdhPublicKey"], me.get("ecdsaPublicKey"))
    except KattaCryptoError as exc:
        raise FlowError(f"this device's copy of the user keys does not open ({exc}); "
                        "remove the device (`katta device remove`) and recover with the account key") from None


def register_device(api: KattaApi, keys: UserKeys, device: DeviceKeys, name: Optional[str]) -> None:
    dto: DeviceDto = {
        "id": device.device_id,
        "name": _NAME_FORBIDDEN.sub("", name or default_device_name()).strip() or "katta device",
        "type": DEVICE_TYPE,
        "publicKey": device.encoded_public_key,
        "userPrivateKey": keys.encrypt_for_device(device),
    }
    api.put_device(device.device_id, dto)


def _create_user_keys(api: KattaApi, me: UserDto, device: DeviceKeys, name: Optional[str]) -> Connection:
    keys = UserKeys.create()
    account_key = generate_account_key()
    try:
        api.put_me({
            "ecdhPublicKey": keys.encoded_ecdh_public_key,
            "ecdsaPublicKey": keys.encoded_ecdsa_public_key,
            "privateKeys": keys.encrypt_with_account_key(account_key),
            "setupCode": keys.encrypt_setup_code(account_key),
        })
        register_device(api, keys, device, name)
        return Connection(user=api.get_me(), user_keys=keys, device=device, new_account_key=account_key,
                          registered_device=True)
    except BaseException:
        # Nobody has seen the new account key yet: keys left on the server would open with nothing
        # the user holds, and the next `katta init` would ask for that key. Take them back (with the
        # device), so that it starts afresh.
        undo_quietly(api.reset_me)
        raise


def _recover(api: KattaApi, me: UserDto, device: DeviceKeys, account_key: str, name: Optional[str]) -> Connection:
    private_keys = me.get("privateKeys")
    if not private_keys:
        raise FlowError("the server holds no account-key backup of your user keys (privateKeys); "
                        "link this device from a signed-in one instead")
    try:
        keys = UserKeys.recover_with_account_key(private_keys, account_key, me["ecdhPublicKey"],
                                                 me.get("ecdsaPublicKey"))
    except DecryptionFailed:
        raise FlowError("wrong account key") from None
    except KattaCryptoError as exc:
        raise FlowError(f"the account key backup does not open: {exc}") from None
    if keys.ecdsa_key_generated:  # keys from before Hub 1.4: publish the new ECDSA key with its backup
        api.put_me({"ecdsaPublicKey": keys.encoded_ecdsa_public_key,
                    "privateKeys": keys.encrypt_with_account_key(account_key)})
    register_device(api, keys, device, name)
    return Connection(user=me, user_keys=keys, device=device, registered_device=True)


# -- device linking (katta device link|join, docs/device-linking.md) ---------------------------

def unlock_with_device_key(api: KattaApi, keychain: Keychain, server: str, user: str) -> Connection:
    """The user keys of a device that is set up already; creates and asks for nothing."""
    stored = keychain.device_key(server, user)
    if stored is None:
        raise FlowError(f"this device has no device key for {user} at {server}; run `katta init` first")
    try:
        device = DeviceKeys.from_pkcs8(stored)
    except KattaCryptoError:
        raise FlowError(f"the stored device key for {user} at {server} is unreadable") from None
    me = api.get_me()
    if not me.get("ecdhPublicKey"):
        raise FlowError("this account has no user keys yet; run `katta init` to create them")
    try:
        registered = api.get_device(device.device_id)
    except DeviceNotFound:
        raise FlowError("this device is not registered, so it cannot hand your keys on; "
                        "run `katta init` (with the account key) first") from None
    return Connection(user=me, user_keys=_open_device_copy(registered, device, me), device=device)


def register_linked_device(api: KattaApi, keys: UserKeys, device_id: str, public_key: str, name: str,
                           device_type: str = DEVICE_TYPE) -> None:
    """``PUT /api/devices/{id}`` for another device: the user keys as a JWE to its public key.

    The id must be the one the key implies, so a device cannot be registered under a name
    that another key will later claim.
    """
    try:
        implied = device_id_for_public_key(public_key)
    except KattaCryptoError:
        raise FlowError("the offered device key is not a usable P-384 public key") from None
    if implied != device_id:
        raise FlowError("the offered device id does not belong to the offered device key")
    try:
        api.get_device(device_id)
    except DeviceNotFound:
        pass
    else:
        raise DeviceAlreadyRegistered(f"the device {device_id[:12]}… is registered already")
    try:
        api.put_device(device_id, {
            "id": device_id,
            "name": _NAME_FORBIDDEN.sub("", name).strip() or "katta device",
            "type": device_type,
            "publicKey": public_key,
            "userPrivateKey": keys.encrypt_for_device(public_key),
        })
    except KattaApiError:
        # The registration may have landed with its answer lost; the new device will not adopt it
        # (the link failed), so no copy of the user keys may stay behind for a key nobody keeps.
        undo_quietly(lambda: api.delete_device(device_id))
        raise


def adopt_linked_device(api: KattaApi, keychain: Keychain, server: str, user: str,
                        device: DeviceKeys) -> Connection:
    """After linking: check that the server knows ``device`` for us, open the user keys with it,
    and only then keep its key in the key chain (a failed link stores nothing)."""
    me = api.get_me()
    try:
        registered = api.get_device(device.device_id)
    except DeviceNotFound:
        raise FlowError("the server does not know this device for your account: the other device "
                        "registered it for someone else or not at all") from None
    if not me.get("ecdhPublicKey"):
        raise FlowError("this account has no user keys; nothing to unlock")
    keys = _open_device_copy(registered, device, me)
    keychain.save_device_key(server, user, device.to_pkcs8())
    return Connection(user=me, user_keys=keys, device=device, registered_device=True)
