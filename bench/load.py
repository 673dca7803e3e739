"""A bounded loopback load test: simulated users against a running stack, then an audit of every write.

``python -m bench.load --base-url http://127.0.0.1:8000 --users 20 --seconds 300`` (docs/load.md).

Each simulated user is an asyncio task whose blocking ``requests`` calls run in a thread of its own
(one ``requests.Session`` each). A user signs in, registers user keys and a device, then until the
deadline picks weighted steps: create vaults, add members and grant them access tokens (JWEs to
their keys), read tokens, vaults and member lists, list accessible vaults, rename vaults, read the
audit log (an admin user), and run whole rendezvous sessions. Some steps are refused on purpose
(a stranger asks for a token, renames a vault, reads the audit log; a stale sequence token; a
deleted session): those count as refusals, any other 4xx/5xx or connection failure as an error.

Afterwards every write is accounted for through the API: each vault has the name last written, the
members added and the access tokens granted (read back as the owner and as each member, and opened
with the member's key), each deleted rendezvous session is gone, and the audit log holds a
VAULT_CREATE for every vault. Latencies are printed for information; nothing here judges them.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import secrets
import statistics
import sys
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

import requests

from katta_client.crypto import DeviceKeys, UserKeys, encrypt_access_token, generate_account_key

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "load.json"
# The load is on the server; a client-side PBES2 stretch of a million rounds per user would only
# load the driver. The server checks the JWE's shape, not its work factor.
PRIVATE_KEYS_ITERATIONS = 1000
VAULTS_PER_OWNER = 8
MAX_MEMBERS = 6
# Tokens are minted again well before the dev IdP's 300-second lifetime runs out.
TOKEN_REFRESH_SECONDS = 120.0
TIMEOUT_SECONDS = 30.0
# A 503 with Retry-After means "nothing done, try again" (architecture §12); a client retries it, backing off
# (Retry-After, then doubling) so that a burst of failures is waited out rather than hammered.
ATTEMPTS = 6
MAX_RETRY_WAIT_SECONDS = 8.0
ERROR_SAMPLES = 50


class Minter(Protocol):
    """What the driver needs from the dev IdP (``devstack.idp.DevIdP``): users, and tokens for them."""

    def add_user(self, username: str, *, roles: Iterable[str] = ...) -> Any: ...

    def mint(self, username: str) -> str: ...


# --- counting ------------------------------------------------------------------------------------

@dataclass
class Tally:
    ok: int = 0
    refused: int = 0
    errors: int = 0
    retried: int = 0  # 503 + Retry-After answers that were retried, on top of the final outcome
    conflicts: int = 0  # 409s of an idempotent write that were sent again (docs/load.md, findings)
    latencies: list[float] = field(default_factory=list)


class Recorder:
    """Every request by kind and outcome, and a sample of what went wrong."""

    def __init__(self) -> None:
        self.kinds: dict[str, Tally] = defaultdict(Tally)
        self.error_samples: list[dict[str, Any]] = []
        self.unaccounted: list[str] = []
        self._lock = threading.Lock()

    def record(self, kind: str, outcome: str, seconds: float, note: dict[str, Any] | None = None) -> None:
        with self._lock:
            tally = self.kinds[kind]
            setattr(tally, outcome, getattr(tally, outcome) + 1)
            if outcome not in ("retried", "conflicts"):
                tally.latencies.append(seconds)
            if note is not None and len(self.error_samples) < ERROR_SAMPLES:
                self.error_samples.append({"kind": kind, **note})

    def lost(self, what: str) -> None:
        with self._lock:
            self.unaccounted.append(what)

    @property
    def errors(self) -> int:
        return sum(t.errors for t in self.kinds.values())

    def report(self) -> dict[str, Any]:
        kinds = {}
        for kind, tally in sorted(self.kinds.items()):
            ordered = sorted(tally.latencies)
            kinds[kind] = {"ok": tally.ok, "refused": tally.refused, "errors": tally.errors, "retried": tally.retried,
                           "conflicts": tally.conflicts,
                           "p50_ms": round(_percentile(ordered, 0.50) * 1000, 1),
                           "p95_ms": round(_percentile(ordered, 0.95) * 1000, 1)}
        return {"kinds": kinds, "errors": self.errors, "retried": sum(t.retried for t in self.kinds.values()),
                "conflicts": sum(t.conflicts for t in self.kinds.values()),
                "error_samples": self.error_samples,
                "unaccounted": self.unaccounted}


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(q * 100) - 1]


class Caller:
    """One user's HTTP session: a fresh token when the old one ages, every answer recorded."""

    def __init__(self, base_url: str, minter: Minter, username: str, recorder: Recorder) -> None:
        self.base_url = base_url.rstrip("/")
        self.minter, self.username, self.recorder = minter, username, recorder
        self.http = requests.Session()
        self._token, self._minted_at = "", -TOKEN_REFRESH_SECONDS

    def _authorization(self) -> dict[str, str]:
        if time.monotonic() - self._minted_at >= TOKEN_REFRESH_SECONDS:
            self._token, self._minted_at = self.minter.mint(self.username), time.monotonic()
        return {"Authorization": f"Bearer {self._token}"}

    def call(self, kind: str, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None,
             ok: tuple[int, ...] = (200,), refused: tuple[int, ...] = (), signed_in: bool = True,
             idempotent: bool = False) -> requests.Response | None:
        """The answer if its status is one of ``ok`` or ``refused``; None (an error recorded) otherwise.

        An ``idempotent`` write answered 409 ("reload and retry") is sent again, as it stands: reloading
        would yield the same body."""
        for attempt in range(1, ATTEMPTS + 1):
            headers = self._authorization() if signed_in else {}
            started = time.perf_counter()
            try:
                response = self.http.request(method, self.base_url + path, json=body, params=params,
                                             headers=headers, timeout=TIMEOUT_SECONDS)
            except requests.RequestException as err:
                self.recorder.record(kind, "errors", time.perf_counter() - started,
                                     {"method": method, "path": path, "failure": type(err).__name__})
                return None
            elapsed = time.perf_counter() - started
            if attempt == ATTEMPTS:
                break
            if idempotent and response.status_code == 409:
                self.recorder.record(kind, "conflicts", elapsed)
                continue
            wait = _retry_after(response, attempt)
            if wait is None:
                break
            self.recorder.record(kind, "retried", elapsed)
            time.sleep(wait)
        if response.status_code in ok:
            self.recorder.record(kind, "ok", elapsed)
            return response
        if response.status_code in refused:
            self.recorder.record(kind, "refused", elapsed)
            return response
        self.recorder.record(kind, "errors", elapsed, {"method": method, "path": path,
                                                       "status": response.status_code, "answer": response.text[:300]})
        return None


def _retry_after(response: requests.Response, attempt: int) -> float | None:
    """Seconds to wait before retrying a 503 that says when; None for any other answer."""
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    backoff = max(seconds, 0.0) * 2 ** (attempt - 1)
    return min(backoff, MAX_RETRY_WAIT_SECONDS) if response.status_code == 503 else None


# --- the world the users share -------------------------------------------------------------------

@dataclass
class Vault:
    id: str
    owner: "SimUser"
    stranger: "SimUser"  # never added: asks for the token and is refused
    member_key: bytes
    name: str
    members: dict[str, "SimUser"] = field(default_factory=dict)  # user id -> user, the owner excluded
    tokens: dict[str, str] = field(default_factory=dict)  # user id -> the JWE granted


@dataclass
class SimUser:
    name: str
    id: str
    caller: Caller
    keys: UserKeys = field(default_factory=UserKeys.create)
    device: DeviceKeys = field(default_factory=DeviceKeys.create)
    ready: bool = False


class World:
    def __init__(self) -> None:
        self.users: list[SimUser] = []
        self.vaults: list[Vault] = []
        self.ended_sessions: list[str] = []
        self.lock = threading.Lock()

    def ready_users(self) -> list[SimUser]:
        with self.lock:
            return [u for u in self.users if u.ready]

    def vaults_where(self, test: Callable[[Vault], bool]) -> list[Vault]:
        with self.lock:
            return [v for v in self.vaults if test(v)]


# --- the steps -----------------------------------------------------------------------------------

def set_up(user: SimUser, world: World) -> None:
    """Sign in, store user keys, register a device: what the desktop client does on first start."""
    c = user.caller
    if c.call("sign in", "GET", "/api/users/me") is None:
        return
    account_key = generate_account_key()
    if c.call("register user keys", "PUT", "/api/users/me", ok=(201,), body={
            "ecdhPublicKey": user.keys.encoded_ecdh_public_key, "ecdsaPublicKey": user.keys.encoded_ecdsa_public_key,
            "privateKeys": user.keys.encrypt_with_account_key(account_key, iterations=PRIVATE_KEYS_ITERATIONS),
            "setupCode": user.keys.encrypt_setup_code(account_key)}) is None:
        return
    device_id = user.device.device_id
    if c.call("register device", "PUT", f"/api/devices/{device_id}", ok=(201,), body={
            "id": device_id, "name": f"{user.name} load", "type": "DESKTOP",
            "publicKey": user.device.encoded_public_key,
            "userPrivateKey": user.keys.encrypt_for_device(user.device)}) is None:
        return
    with world.lock:
        user.ready = True


def create_vault(user: SimUser, world: World, rng: random.Random) -> None:
    others = [u for u in world.ready_users() if u is not user]
    if not others or len(world.vaults_where(lambda v: v.owner is user)) >= VAULTS_PER_OWNER:
        return
    vault = Vault(str(uuid.uuid4()), user, rng.choice(others), os.urandom(32), f"load {secrets.token_hex(4)}")
    c = user.caller
    if c.call("create vault", "PUT", f"/api/vaults/{vault.id}", ok=(201,),
              body={"id": vault.id, "name": vault.name, "description": "bench.load"}) is None:
        return
    with world.lock:
        world.vaults.append(vault)
    token = encrypt_access_token(user.keys.encoded_ecdh_public_key, vault.member_key)
    if c.call("grant access", "POST", f"/api/vaults/{vault.id}/access-tokens", body={user.id: token},
              idempotent=True):
        with world.lock:
            vault.tokens[user.id] = token


def add_member(user: SimUser, world: World, rng: random.Random) -> None:
    """Add a user, then grant what the server says is awaited: the owner's desktop flow."""
    mine = world.vaults_where(lambda v: v.owner is user and len(v.members) < MAX_MEMBERS)
    if not mine:
        return
    vault = rng.choice(mine)
    candidates = [u for u in world.ready_users() if u not in (user, vault.stranger) and u.id not in vault.members]
    if not candidates:
        return
    member, c = rng.choice(candidates), user.caller
    if c.call("add member", "PUT", f"/api/vaults/{vault.id}/users/{member.id}", params={"role": "MEMBER"},
              ok=(201,)) is None:
        return
    with world.lock:
        vault.members[member.id] = member
    awaiting = c.call("users awaiting a grant", "GET", f"/api/vaults/{vault.id}/users-requiring-access-grant")
    if awaiting is None:
        return
    tokens = {dto["id"]: encrypt_access_token(dto["ecdhPublicKey"], vault.member_key) for dto in awaiting.json()}
    if member.id not in tokens:
        user.caller.recorder.lost(f"vault {vault.id}: member {member.name} was added but is not awaiting a grant")
    if tokens and c.call("grant access", "POST", f"/api/vaults/{vault.id}/access-tokens", body=tokens,
                         idempotent=True):
        with world.lock:
            vault.tokens.update(tokens)


def read_token(user: SimUser, world: World, rng: random.Random) -> None:
    granted = world.vaults_where(lambda v: user.id in v.tokens)
    if granted:
        user.caller.call("read access token", "GET", f"/api/vaults/{rng.choice(granted).id}/access-token")


def read_vault(user: SimUser, world: World, rng: random.Random) -> None:
    visible = world.vaults_where(lambda v: v.owner is user or user.id in v.members)
    if visible:
        user.caller.call("read vault", "GET", f"/api/vaults/{rng.choice(visible).id}")


def read_members(user: SimUser, world: World, rng: random.Random) -> None:
    mine = world.vaults_where(lambda v: v.owner is user)
    if mine:
        user.caller.call("read members", "GET", f"/api/vaults/{rng.choice(mine).id}/members")


def list_vaults(user: SimUser, world: World, rng: random.Random) -> None:
    user.caller.call("list accessible vaults", "GET", "/api/vaults/accessible")


def rename_vault(user: SimUser, world: World, rng: random.Random) -> None:
    mine = world.vaults_where(lambda v: v.owner is user)
    if not mine:
        return
    vault, name = rng.choice(mine), f"load {secrets.token_hex(4)}"
    if user.caller.call("update vault metadata", "PUT", f"/api/vaults/{vault.id}",
                        body={"id": vault.id, "name": name, "description": "bench.load, renamed"}):
        with world.lock:
            vault.name = name


def stranger_refused(user: SimUser, world: World, rng: random.Random) -> None:
    """The vault's designated stranger asks for its token and tries to rename it: both 403."""
    foreign = world.vaults_where(lambda v: v.stranger is user)
    if not foreign:
        return
    vault = rng.choice(foreign)
    user.caller.call("stranger reads access token", "GET", f"/api/vaults/{vault.id}/access-token",
                     ok=(), refused=(403,))
    user.caller.call("stranger renames vault", "PUT", f"/api/vaults/{vault.id}", ok=(), refused=(403,),
                     body={"id": vault.id, "name": "not yours"})


def read_audit_log(user: SimUser, world: World, rng: random.Random) -> None:
    """Only admins may; everyone else's attempt is a deliberate refusal."""
    admin = user is world.users[0]
    now = dt.datetime.now(dt.timezone.utc)
    user.caller.call("read audit log" if admin else "non-admin reads audit log", "GET", "/api/auditlog",
                     params={"startDate": _instant(now - dt.timedelta(minutes=10)), "endDate": _instant(now),
                             "pageSize": 50}, ok=(200,) if admin else (), refused=() if admin else (403,))


def rendezvous(user: SimUser, world: World, rng: random.Random) -> None:
    """A linking exchange's traffic: create, read, write, a stale write, end, read the ended session."""
    c = user.caller
    created = c.call("rendezvous create", "POST", "/api/rendezvous", ok=(201,), body={"data": "offer"})
    if created is None:
        return
    session = created.json()
    url = f"/api/rendezvous/{session['id']}"
    first = session["sequence_token"]
    read = c.call("rendezvous read", "GET", url, signed_in=False)
    written = c.call("rendezvous write", "PUT", url, signed_in=False,
                     body={"sequence_token": read.json()["sequence_token"] if read else first, "data": "answer"})
    if written is not None:
        c.call("rendezvous stale write", "PUT", url, signed_in=False, ok=(), refused=(409,),
               body={"sequence_token": first, "data": "a fork"})
    if c.call("rendezvous delete", "DELETE", url, signed_in=False, ok=(204,)) is None:
        return
    with world.lock:
        world.ended_sessions.append(session["id"])
    c.call("rendezvous read after delete", "GET", url, signed_in=False, ok=(), refused=(404,))


STEPS: list[tuple[Callable[[SimUser, World, random.Random], None], int]] = [
    (create_vault, 2), (add_member, 4), (read_token, 8), (read_vault, 3), (read_members, 2), (list_vaults, 4),
    (rename_vault, 2), (stranger_refused, 2), (read_audit_log, 1), (rendezvous, 2),
]


# The admin is the only one whose audit-log reads succeed; it reads often enough to be counted.
ADMIN_AUDIT_WEIGHT = 12


async def simulate(user: SimUser, world: World, deadline: float, pool: ThreadPoolExecutor, seed: int) -> None:
    loop = asyncio.get_running_loop()
    rng = random.Random(seed)
    steps, weights = zip(*STEPS)
    if user is world.users[0]:
        weights = tuple(ADMIN_AUDIT_WEIGHT if step is read_audit_log else w for step, w in STEPS)
    await loop.run_in_executor(pool, set_up, user, world)
    while user.ready and time.monotonic() < deadline:
        step = rng.choices(steps, weights)[0]
        await loop.run_in_executor(pool, step, user, world, rng)


# --- accounting ----------------------------------------------------------------------------------

def account(world: World, recorder: Recorder, started: dt.datetime) -> None:
    """Reads every write back through the API; what does not match goes to ``recorder.unaccounted``."""
    for vault in world.vaults:
        _account_vault(vault, recorder)
    for user in world.ready_users():
        listed = user.caller.call("verify: accessible vaults", "GET", "/api/vaults/accessible")
        ids = {v["id"] for v in listed.json()} if listed else set()
        for vault in world.vaults_where(lambda v: v.owner is user or user.id in v.members):
            if vault.id not in ids:
                recorder.lost(f"vault {vault.id} is missing from {user.name}'s accessible vaults")
    for session_id in world.ended_sessions:
        world.users[0].caller.call("verify: ended rendezvous session", "GET", f"/api/rendezvous/{session_id}",
                                   signed_in=False, ok=(404,))
    _account_audit_log(world, recorder, started)


def _account_vault(vault: Vault, recorder: Recorder) -> None:
    owner = vault.owner.caller
    read = owner.call("verify: vault", "GET", f"/api/vaults/{vault.id}")
    if read is not None and read.json().get("name") != vault.name:
        recorder.lost(f"vault {vault.id}: name {read.json().get('name')!r}, last written {vault.name!r}")
    members = owner.call("verify: members", "GET", f"/api/vaults/{vault.id}/members")
    if members is not None:
        found = {m["id"]: m.get("vaultRole") for m in members.json()}
        expected = {vault.owner.id: "OWNER", **{member_id: "MEMBER" for member_id in vault.members}}
        if found != expected:
            recorder.lost(f"vault {vault.id}: members {sorted(found.items())}, expected {sorted(expected.items())}")
    for user in [vault.owner, *vault.members.values()]:
        granted = vault.tokens.get(user.id)
        if granted is None:
            recorder.lost(f"vault {vault.id}: {user.name} was never granted a token (a grant failed)")
            continue
        answer = user.caller.call("verify: access token", "GET", f"/api/vaults/{vault.id}/access-token")
        if answer is None:
            continue
        if answer.text != granted:
            recorder.lost(f"vault {vault.id}: {user.name}'s access token is not the one granted")
        elif user.keys.decrypt_access_token(answer.text).member_key != vault.member_key:
            recorder.lost(f"vault {vault.id}: {user.name}'s access token does not hold the vault key")


def _account_audit_log(world: World, recorder: Recorder, started: dt.datetime) -> None:
    admin, created, after = world.users[0].caller, set(), None
    end = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)
    while True:
        params = {"startDate": _instant(started - dt.timedelta(seconds=5)), "endDate": _instant(end),
                  "type": "VAULT_CREATE", "order": "asc", "pageSize": 100}
        if after is not None:
            params["paginationId"] = after
        page = admin.call("verify: audit log", "GET", "/api/auditlog", params=params)
        if page is None:
            return
        events = page.json()
        created |= {event.get("vaultId") for event in events}
        if len(events) < 100:
            break
        after = events[-1]["id"]
    for vault in world.vaults:
        if vault.id not in created:
            recorder.lost(f"vault {vault.id}: no VAULT_CREATE event in the audit log")


def _instant(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the run -------------------------------------------------------------------------------------

def run(base_url: str, minter: Minter, *, users: int = 20, seconds: float = 300.0, seed: int | None = None,
        ) -> dict[str, Any]:
    """Drives ``users`` simulated users for ``seconds``, accounts for their writes, returns the report."""
    if users < 2:
        raise ValueError("a load run needs at least 2 users: vaults are shared with others")
    seed = secrets.randbits(32) if seed is None else seed
    run_tag = secrets.token_hex(3)  # a second run against the same stack gets accounts of its own
    recorder, world = Recorder(), World()
    for index in range(users):
        name = f"load{run_tag}u{index}"
        # The first user is also the hub admin: it reads the audit log during the run and after.
        minter.add_user(name, roles=["user", "create-vaults", "admin"] if index == 0 else ["user", "create-vaults"])
        world.users.append(SimUser(name, _user_id(name), Caller(base_url, minter, name, recorder)))
    started = dt.datetime.now(dt.timezone.utc)
    clock_started = time.monotonic()
    with ThreadPoolExecutor(max_workers=users, thread_name_prefix="load-user") as pool:
        deadline = time.monotonic() + seconds

        async def everyone() -> None:
            await asyncio.gather(*(simulate(u, world, deadline, pool, seed + i) for i, u in enumerate(world.users)))

        asyncio.run(everyone())
    driven = time.monotonic() - clock_started
    for user in world.users:
        if not user.ready:
            recorder.lost(f"user {user.name} did not finish setting up")
    account(world, recorder, started)
    report = recorder.report()
    report.update({"base_url": base_url, "users": users, "seconds": seconds, "driven_seconds": round(driven, 1),
                   "seed": seed, "vaults": len(world.vaults), "ended_rendezvous_sessions": len(world.ended_sessions),
                   "members": sum(len(v.members) for v in world.vaults)})
    return report


def _user_id(username: str) -> str:
    from devstack.idp import user_id
    return user_id(username)


def table(report: dict[str, Any]) -> str:
    lines = [f"{'kind':<34} {'ok':>7} {'refused':>8} {'errors':>7} {'retried':>8} {'409s':>5} "
             f"{'p50 ms':>8} {'p95 ms':>8}"]
    for kind, row in report["kinds"].items():
        lines.append(f"{kind:<34} {row['ok']:>7} {row['refused']:>8} {row['errors']:>7} {row['retried']:>8} "
                     f"{row['conflicts']:>5} {row['p50_ms']:>8} {row['p95_ms']:>8}")
    lines.append(f"{report['users']} users, {report['driven_seconds']} s, {report['vaults']} vaults, "
                 f"{report['members']} members added, {report['ended_rendezvous_sessions']} rendezvous sessions ended; "
                 f"errors {report['errors']}, 503s retried {report['retried']}, "
                 f"409s of idempotent writes sent again {report['conflicts']}, "
                 f"writes unaccounted for {len(report['unaccounted'])}")
    lines += [f"  error: {json.dumps(sample)}" for sample in report["error_samples"][:10]]
    lines += [f"  unaccounted: {what}" for what in report["unaccounted"][:10]]
    return "\n".join(lines)


def local_minter(issuer: str, state_dir: Path) -> Minter:
    """The running dev IdP's signing key, loaded from its state directory, minting for users of our own.

    The key must be the one the IdP serves: tokens signed with another would all be refused.
    """
    from devstack.idp import DevIdP

    if not state_dir.is_dir():
        raise SystemExit(f"no dev IdP state at {state_dir}: start the stack with scripts/run-local first")
    idp = DevIdP(issuer=issuer, state_dir=state_dir, seed_users=False)
    served = requests.get(f"{issuer}/protocol/openid-connect/certs", timeout=10).json()
    if {k["kid"] for k in idp.jwks()["keys"]} != {k["kid"] for k in served["keys"]}:
        raise SystemExit(f"the signing key in {state_dir} is not the one {issuer} serves")
    return idp


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="the Katta API")
    parser.add_argument("--issuer", default="http://127.0.0.1:8180/realms/katta", help="the dev IdP's issuer")
    parser.add_argument("--idp-state-dir", type=Path, default=ROOT / ".devstack" / "idp",
                        help="where the running dev IdP keeps its signing key")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=None, help="for a repeatable choice of steps")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    report = run(args.base_url, local_minter(args.issuer, args.idp_state_dir), users=args.users,
                 seconds=args.seconds, seed=args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    return 0 if report["errors"] == 0 and not report["unaccounted"] else 1


if __name__ == "__main__":
    sys.exit(main())
