"""A clock the test moves by hand, for caches and rotation timing."""
from __future__ import annotations


class FakeClock:
    def __init__(self, now: float = 1_800_000_000) -> None:
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
