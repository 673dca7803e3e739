"""A small hub, built through the services (fast), for per-cell authorization tests.

Callers: ``owner`` (alice), ``member`` (bob, direct MEMBER), ``group_member``
(dave, MEMBER through the admin-managed group ``team``), ``non_member``
(carol), ``admin`` (ada), ``disabled`` (erin) and ``anonymous``. Everybody has
user keys; the owner, member and group member hold access tokens; frank is a
member awaiting a grant.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from chalicelib import deps
from chalicelib.auth import Principal
from chalicelib.katta.formats import AuthorityType, DeviceInput, GroupInput, UserKeysInput, VaultInput
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
    deps.vault_service().put(alice, world.vault_id, VaultInput(**vault_dto(world.vault_id)))
    deps.group_service().create(GroupInput(name="team"))
    deps.group_service().add_member(principal("ada"), "team", world.id("dave"))
    deps.vault_service().put_member(alice, world.vault_id, world.id("bob"), AuthorityType.USER.value, "MEMBER")
    deps.vault_service().put_member(alice, world.vault_id, "team", AuthorityType.GROUP.value, "MEMBER")
    deps.vault_service().put_member(alice, world.vault_id, world.id("frank"), AuthorityType.USER.value, "MEMBER")
    key = os.urandom(32)
    deps.vault_service().grant(alice, world.vault_id, {world.id(u): world.keys[u].access_token(key) for u in ("alice", "bob", "dave")})
    deps.trust_service().sign(alice, world.id("bob"), "eyJhbGciOiJFUzM4NCJ9.eyJzdWIiOiJib2IifQ.c2ln")
    deps.table().update(f"USER#{world.id('erin')}", "PROFILE", "SET disabled = :d", values={":d": True})
    return world
