"""A small hub, built through the services (fast), for per-cell authorization tests.

Callers: ``owner`` (alice), ``member`` (bob, direct MEMBER), ``group_member``
(dave, MEMBER through the admin-managed group ``team``), ``non_member``
(carol), ``admin`` (ada), ``disabled`` (erin) and ``anonymous``. Everybody has
user keys; the owner, member and group member hold access tokens; frank is a
member awaiting a grant.

Emergency access is enabled: carol (a non-member) and frank sit on the vault's council (two of two
required). One recovery process ran to completion while the hub was built; another, ``process_id``,
is open with carol's approval alone, so nobody acts for the owners. alice's second vault
``rescue_vault_id`` has the same council and a process both approved (``ready_process_id``): carol and
frank act for its owners.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from chalicelib import deps
from chalicelib.auth import Principal
from chalicelib.katta.formats import (
    AuthorityType, DeviceInput, GroupInput, HubSettingsInput, RecoveredKeyShareInput, RecoveryProcessInput,
    UserKeysInput, VaultInput,
)
from tests.support.katta_api import user_id_of
from tests.support.katta_keys import DeviceKeys, UserKeys, new_vault_id, vault_dto
from tests.support.tokens import ISSUER

ROLES = {
    "alice": ("user", "create-vaults"), "bob": ("user",), "carol": ("user",), "dave": ("user",),
    "ada": ("user", "admin"), "erin": ("user", "create-vaults"), "frank": ("user",),
}
CALLERS = {"anonymous": None, "owner": "alice", "member": "bob", "non_member": "carol", "group_member": "dave",
           "admin": "ada", "disabled": "erin"}


def principal(username: str) -> Principal:
    return Principal(user_id_of(username), ISSUER, user_id_of(username), frozenset(ROLES[username]), frozenset(),
                     username.capitalize(), f"{username}@katta.test")


@dataclass
class World:
    vault_id: str
    keys: dict[str, UserKeys] = field(default_factory=dict)
    device: DeviceKeys | None = None
    process_id: str = ""
    carols_share: str = ""  # carol's approval of process_id
    rescue_vault_id: str = ""
    ready_process_id: str = ""

    def id(self, username: str) -> str:
        return user_id_of(username)


def build() -> World:
    world = World(vault_id=new_vault_id())
    for username in ROLES:
        p = principal(username)
        deps.users().create({"id": p.user_id, "iss": ISSUER, "sub": p.user_id, "name": p.name, "email": p.email,
                             "createdAt": int(time.time())})
        world.keys[username] = UserKeys.generate()
        deps.user_service().update_me(p, UserKeysInput(**world.keys[username].user_dto()))
    alice = principal("alice")
    world.device = DeviceKeys.generate()
    deps.device_service().register(alice, world.device.id, DeviceInput(**world.device.dto()))
    _enable_emergency_access()
    deps.vault_service().put(alice, world.vault_id, VaultInput(**vault_dto(world.vault_id), **_council(world)))
    deps.group_service().create(GroupInput(name="team"))
    deps.group_service().add_member(principal("ada"), "team", world.id("dave"))
    deps.vault_service().put_member(alice, world.vault_id, world.id("bob"), AuthorityType.USER.value, "MEMBER")
    deps.vault_service().put_member(alice, world.vault_id, "team", AuthorityType.GROUP.value, "MEMBER")
    deps.vault_service().put_member(alice, world.vault_id, world.id("frank"), AuthorityType.USER.value, "MEMBER")
    key = os.urandom(32)
    deps.vault_service().grant(alice, world.vault_id, {world.id(u): world.keys[u].access_token(key) for u in ("alice", "bob", "dave")})
    deps.trust_service().sign(alice, world.id("bob"), "eyJhbGciOiJFUzM4NCJ9.eyJzdWIiOiJib2IifQ.c2ln")
    deps.table().update(f"USER#{world.id('erin')}", "PROFILE", "SET disabled = :d", values={":d": True})
    _emergency_council(world)
    return world


COUNCIL = ("carol", "frank")


def recovery_start(world: World, vault_id: str, *, approve: str | None = None,
                   kind: str = "CHANGE_PERMISSIONS") -> RecoveryProcessInput:
    """A start of a recovery process by carol for the council; ``approve``: her share, given at once. A vault
    has one open process of each type: a second start on a vault with one open is of the other ``kind``."""
    shares = {world.id(u): {"processPrivateKey": world.keys[u].access_token(b"p" * 32)} for u in COUNCIL}
    if approve:
        shares[world.id("carol")]["recoveredKeyShare"] = approve
    return RecoveryProcessInput(vaultId=vault_id, type=kind, processPublicKey='{"kty":"EC"}',
                                recoveredKeyShares=shares)


def _enable_emergency_access() -> None:
    deps.hub_settings_service().update(principal("ada"), HubSettingsInput(
        enableEmergencyAccess=True, defaultRequiredEmergencyKeyShares=2, defaultMinMembers=2,
        allowChoosingEmergencyCouncil=True))


def _council(world: World) -> dict:
    """A vault's council fields: carol and frank, two of two."""
    return {"emergencyKeyShares": {world.id(u): world.keys[u].access_token(b"s" * 32) for u in COUNCIL},
            "requiredEmergencyKeyShares": 2}


def _emergency_council(world: World) -> None:
    alice, carol, frank = (principal(u) for u in ("alice", "carol", "frank"))
    world.rescue_vault_id = new_vault_id()
    deps.vault_service().put(alice, world.rescue_vault_id, VaultInput(**vault_dto(world.rescue_vault_id, name="Rescue"),
                                                                      **_council(world)))
    emergency = deps.emergency_access_service()

    def approved(vault_id: str) -> str:
        process_id = new_vault_id()
        emergency.start(carol, process_id, recovery_start(world, vault_id, approve=world.keys["carol"].access_token(b"c" * 32)))
        emergency.approve(frank, process_id, RecoveredKeyShareInput(
            recoveredKeyShare=world.keys["frank"].access_token(b"f" * 32)))
        return process_id

    emergency.complete(carol, approved(world.vault_id))
    world.ready_process_id = approved(world.rescue_vault_id)
    world.process_id, world.carols_share = new_vault_id(), world.keys["carol"].access_token(b"c" * 32)
    emergency.start(carol, world.process_id, recovery_start(world, world.vault_id, approve=world.carols_share))
