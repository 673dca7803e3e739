"""The rules of rendezvous sessions (architecture §9; MSC4108/MSC4388's insecure rendezvous, adapted).

A session is a mailbox holding one string. Knowing its id is the capability to
read, write and end it; creating one needs a signed-in user unless open
creation is enabled, and then anonymous creators are rate-limited per source.
Writes are compare-and-swap on the sequence token. Nothing here is secret:
the devices run an HPKE channel on top.
"""
from __future__ import annotations

import ipaddress
import math
import re
import secrets
import time
from dataclasses import dataclass
from typing import Callable

from chalicelib import errors
from chalicelib.settings import Settings
from chalicelib.db.rendezvous import ConditionFailed, RendezvousRepository, StoredSession

MAX_DATA_BYTES = 4096
RATE_WINDOW_SECONDS = 60
# 32 random bytes, base64url without padding: what ``new_session_id`` makes, and nothing else.
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{43}$")
# Two instances may race for the same free slot; the loser looks again.
_SLOT_ATTEMPTS = 3


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def new_sequence_token() -> str:
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class Creator:
    """Who asks for a session: a signed-in user, or an anonymous source address."""

    user_id: str | None
    source_ip: str | None


@dataclass(frozen=True)
class Created:
    id: str
    sequence_token: str
    expires_in_ms: int


@dataclass(frozen=True)
class Snapshot:
    data: str
    sequence_token: str
    expires_in_ms: int


@dataclass(frozen=True)
class Written:
    sequence_token: str
    expires_in_ms: int


class RendezvousService:
    def __init__(self, repository: RendezvousRepository, settings: Settings,
                 clock: Callable[[], float] = time.time) -> None:
        self.repository = repository
        self.settings = settings
        self.clock = clock

    def create(self, creator: Creator, data: str) -> Created:
        anonymous = creator.user_id is None
        if anonymous and not self.settings.rendezvous_open_creation:
            raise errors.Unauthorized("creating a rendezvous session needs a bearer token", error=None)
        check_size(data)
        if anonymous:
            self._count_anonymous(creator.source_ip)
        for _attempt in range(_SLOT_ATTEMPTS):
            now_ms = self._now_ms()
            session = StoredSession(
                id=new_session_id(), data=data, sequence_token=new_sequence_token(),
                expires_at_ms=now_ms + self.settings.rendezvous_ttl_seconds * 1000,
                owner=creator.user_id, slot=self._free_slot(creator.user_id, now_ms))
            try:
                self.repository.create(session, now_ms)
            except ConditionFailed:
                continue
            return Created(session.id, session.sequence_token, session.expires_at_ms - now_ms)
        raise errors.TooManyRequests("too many rendezvous sessions are being created at once, retry",
                                     headers={"Retry-After": "1"})

    def read(self, session_id: str) -> Snapshot:
        now_ms = self._now_ms()
        session = self._live(session_id, now_ms)
        return Snapshot(session.data, session.sequence_token, session.expires_at_ms - now_ms)

    def write(self, session_id: str, sequence_token: str, data: str) -> Written:
        check_size(data)
        if not _SESSION_ID.match(session_id):
            raise _not_found()
        new_token = new_sequence_token()
        now_ms = self._now_ms()
        try:
            session = self.repository.replace(session_id, sequence_token, new_token, data, now_ms)
        except ConditionFailed:
            return self._retry_or_conflict(session_id, sequence_token, data)
        return Written(session.sequence_token, session.expires_at_ms - now_ms)

    def end(self, session_id: str) -> None:
        now_ms = self._now_ms()
        session = self._live(session_id, now_ms)
        try:
            self.repository.delete(session, now_ms)
        except ConditionFailed:
            raise _not_found() from None

    # --- rules -----------------------------------------------------------------------------------

    def _retry_or_conflict(self, session_id: str, sequence_token: str, data: str) -> Written:
        now_ms = self._now_ms()
        session = self._live(session_id, now_ms)
        if session.previous_token == sequence_token and session.data == data:
            # The same write again (its response was lost): answer what it got the first time.
            return Written(session.sequence_token, session.expires_at_ms - now_ms)
        raise errors.Conflict("sequence_token is not the current one; read the session again")

    def _free_slot(self, owner: str | None, now_ms: int) -> int | None:
        if owner is None:
            return None
        limit = self.settings.rendezvous_max_open_per_user
        live = self.repository.live_slots(owner, now_ms)
        free = sorted(set(range(limit)) - {slot.number for slot in live})
        if len(live) >= limit or not free:
            retry = math.ceil((min(s.expires_at_ms for s in live) - now_ms) / 1000) if live else 1
            raise errors.TooManyRequests(
                f"at most {limit} rendezvous sessions may be open at once; end one or wait for it to expire",
                headers={"Retry-After": str(max(retry, 1))})
        return free[0]

    def _count_anonymous(self, source_ip: str | None) -> None:
        now = self.clock()
        window_start = int(now) - int(now) % RATE_WINDOW_SECONDS
        admitted = self.repository.count_creation(
            rate_source(source_ip), window_start, RATE_WINDOW_SECONDS,
            self.settings.rendezvous_anonymous_rate_per_minute)
        if not admitted:
            retry = max(1, math.ceil(window_start + RATE_WINDOW_SECONDS - now))
            raise errors.TooManyRequests("too many anonymous rendezvous sessions from this address; retry later",
                                         headers={"Retry-After": str(retry)})

    def _live(self, session_id: str, now_ms: int) -> StoredSession:
        if not _SESSION_ID.match(session_id):
            raise _not_found()
        session = self.repository.get(session_id)
        # DynamoDB's reaper may keep an expired item for hours; it is gone for us at once.
        if session is None or not session.is_live(now_ms):
            raise _not_found()
        return session

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)


def check_size(data: str) -> None:
    """The limit counts the UTF-8 bytes of ``data`` (not of the JSON body that carries it)."""
    size = len(data.encode("utf-8"))
    if size > MAX_DATA_BYTES:
        raise errors.PayloadTooLarge(f"data is {size} bytes of UTF-8; the limit is {MAX_DATA_BYTES}")


def rate_source(source_ip: str | None) -> str:
    """The bucket an anonymous creator is counted in: its IPv4 address, or its IPv6 /64."""
    try:
        address = ipaddress.ip_address(source_ip or "")
    except ValueError:
        return "unknown"
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    # One IPv6 subscriber usually holds a whole /64; counting addresses would not limit anyone.
    return str(ipaddress.ip_network(f"{address}/64", strict=False))


def _not_found() -> errors.NotFound:
    return errors.NotFound("no such rendezvous session, or it has expired")
