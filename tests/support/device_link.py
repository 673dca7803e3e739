"""Helpers for the device-linking tests on the live stack: a user with keys on an existing
device, token providers, two devices run side by side, a transport that interferes."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from katta_client.flows import Connection, open_connection
from katta_client.http import KattaApi
from katta_client.keychain import FileStore, Keychain
from katta_client.linking import HttpRendezvous, Timing

FAST = Timing(wait_timeout=15.0, poll_interval=0.02, sign_in_timeout=15.0)


class MintedTokens:
    """A token provider that asks the dev IdP for a fresh access token of ``user``."""

    def __init__(self, idp, user: str) -> None:  # type: ignore[no-untyped-def]
        self.idp, self.user = idp, user

    def access_token(self) -> str:
        return self.idp.mint(self.user)


class StaticToken:
    def __init__(self, token: str) -> None:
        self.token = token

    def access_token(self) -> str:
        return self.token


@dataclass
class ExistingDevice:
    user: str
    api: KattaApi
    keychain: Keychain
    connection: Connection

    def device_ids(self) -> list[str]:
        """What ``GET /api/users/me?withDevices=true`` lists."""
        return sorted(d["id"] for d in self.api.my_devices())


def existing_device(live_stack, root: Path, prefix: str = "link") -> ExistingDevice:  # type: ignore[no-untyped-def]
    """A new user whose keys were created on this (registered) device."""
    user = live_stack.new_user(prefix)
    keychain = Keychain(FileStore(root / "existing"))
    api = KattaApi(live_stack.api_url, MintedTokens(live_stack.idp, user))

    def no_account_key() -> str:
        raise AssertionError("the account key must never be needed")

    connection = open_connection(api, keychain, live_stack.api_url, user, account_key=no_account_key,
                                 device_name="existing")
    return ExistingDevice(user, api, keychain, connection)


def creator_transport(live_stack, user: str) -> HttpRendezvous:  # type: ignore[no-untyped-def]
    return HttpRendezvous(live_stack.api_url, live_stack.idp.mint(user))


def run_pair(existing, new, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    """Run the two devices concurrently; return what each raised (or None)."""
    raised: dict[str, BaseException | None] = {}

    def wrap(name, fn):  # type: ignore[no-untyped-def]
        try:
            fn()
            raised[name] = None
        except BaseException as err:  # noqa: BLE001 - the test inspects it
            raised[name] = err

    threads = [threading.Thread(target=wrap, args=("existing", existing), name="existing"),
               threading.Thread(target=wrap, args=("new", new), name="new")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        assert not t.is_alive(), "a device hung"
    return raised["existing"], raised["new"]


class Interfering:
    """Wraps a transport: records this device's writes; ``on_put(index, data) -> data`` may change one."""

    def __init__(self, inner, on_put=None) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.on_put, self.writes = inner, on_put, []

    def create(self, data=""):  # type: ignore[no-untyped-def]
        return self.inner.create(data)

    def get(self, rendezvous_id):  # type: ignore[no-untyped-def]
        return self.inner.get(rendezvous_id)

    def put(self, rendezvous_id, token, data):  # type: ignore[no-untyped-def]
        if self.on_put is not None:
            data = self.on_put(len(self.writes), data)
        self.writes.append(data)
        return self.inner.put(rendezvous_id, token, data)

    def delete(self, rendezvous_id):  # type: ignore[no-untyped-def]
        return self.inner.delete(rendezvous_id)
