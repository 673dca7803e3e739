"""When POP keys change state: a pure function of the keys, the time and the timing rules.

States: created (published, unused) → active (signs / is the encryption target)
→ passive (published; verifies / decrypts only) → retired (unpublished, material
deleted). The timing makes the two invariants hold:

* a key is published at least ``publish_lead`` (= one JWKS-cache lifetime plus
  our own ring-cache lifetime, after which every instance publishes it) before
  it becomes active;
* a passive key stays published ``retire_after`` after it stopped being active
  (signing: the longest token lifetime plus the ring-cache lifetime, since an
  instance may sign with its cached key that long after the switch;
  encryption: one JWKS-cache lifetime plus the ring-cache lifetime, since
  clients encrypt to the key they last fetched).

The one exception is a ring with no live key at all: its first key is active at
once. No key set without it was ever published (``PopKeys`` creates it before
serving a JWKS), so no verifier can hold one.
"""
from __future__ import annotations

from dataclasses import dataclass, field

CREATED, ACTIVE, PASSIVE, RETIRED = "created", "active", "passive", "retired"
PUBLISHED_STATES = (CREATED, ACTIVE, PASSIVE)


@dataclass(frozen=True)
class Timing:
    publish_lead: int
    rotation: int
    retire_after: int


@dataclass(frozen=True)
class KeyTimes:
    kid: str
    state: str
    created_at: int
    activate_at: int | None = None
    activated_at: int | None = None
    deactivated_at: int | None = None


@dataclass(frozen=True)
class NewKey:
    state: str
    activate_at: int


@dataclass
class Plan:
    create: NewKey | None = None
    expedite: tuple[str, int] | None = None
    activate: str | None = None
    deactivate: str | None = None
    retire: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.create or self.expedite or self.activate or self.deactivate or self.retire)


def plan(keys: list[KeyTimes], now: int, timing: Timing, *, force: bool = False) -> Plan:
    """What to change now; ``force`` starts a rotation before the active key is due."""
    live = [k for k in keys if k.state != RETIRED]
    if not live:
        return Plan(create=NewKey(ACTIVE, now))
    result = Plan()
    active = _newest([k for k in live if k.state == ACTIVE], lambda k: k.activated_at or 0)
    pending = _newest([k for k in live if k.state == CREATED], lambda k: k.created_at)

    if pending is None:
        due_soon = active is None or now >= (active.activated_at or 0) + timing.rotation - timing.publish_lead
        if force or due_soon:
            earliest = now + timing.publish_lead
            scheduled = earliest if (force or active is None) else (active.activated_at or 0) + timing.rotation
            result.create = NewKey(CREATED, max(earliest, scheduled))
    else:
        earliest = pending.created_at + timing.publish_lead
        activate_at = max(pending.activate_at or earliest, earliest)
        if force and activate_at > max(now, earliest):
            activate_at = max(now, earliest)
            result.expedite = (pending.kid, activate_at)
        if now >= activate_at:
            result.activate = pending.kid
            result.deactivate = active.kid if active else None

    for key in live:
        if key.state == PASSIVE and now >= (key.deactivated_at or 0) + timing.retire_after:
            result.retire.append(key.kid)
    return result


def _newest(keys: list[KeyTimes], moment) -> KeyTimes | None:
    return max(keys, key=moment) if keys else None
