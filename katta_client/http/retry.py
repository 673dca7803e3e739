"""When the client tries a request again: idempotent requests only, exponential backoff with full
jitter, the server's ``Retry-After`` honoured, and the whole wait of one request bounded.

A 503 or a timeout does not say whether the server committed: the server may have applied the
write and only its answer was lost. Sending an idempotent request again is then safe (the server
answers a repeat as it answered the first, issue 16 item 7); a non-idempotent one is never sent
twice, its caller re-reads instead (``vaults.create_vault``). Sleep, clock and randomness are
given, so tests retry without sleeping.
"""
from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass
from typing import Callable, Optional

#: Seconds one request may spend waiting between its attempts, unless the caller says otherwise.
DEFAULT_MAX_WAIT = 30.0
#: Answers that say "not now" rather than "no": a proxy's or the server's overload or outage.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True)
class RetryPolicy:
    max_wait: float = DEFAULT_MAX_WAIT
    base: float = 0.5  # the first backoff's upper end; doubled per attempt
    cap: float = 8.0  # the largest upper end of one backoff
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time  # for an HTTP-date Retry-After
    random: Callable[[], float] = random.random

    def delay(self, attempt: int, retry_after: Optional[str]) -> float:
        """The pause before retry number ``attempt`` (0-based): full jitter, at least what the server asked."""
        backoff = self.random() * min(self.cap, self.base * 2 ** attempt)
        hinted = retry_after_seconds(retry_after, self.clock())
        return backoff if hinted is None else max(backoff, hinted)


#: A policy that never retries (``max_wait`` 0).
NO_RETRY = RetryPolicy(max_wait=0.0)


def retry_after_seconds(value: Optional[str], now: float) -> Optional[float]:
    """``Retry-After`` as seconds from ``now`` (RFC 9110 §10.2.3: delay-seconds or an HTTP-date);
    None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None or moment.tzinfo is None:  # RFC 9110 dates are GMT; a zoneless one is not one
        return None
    return max(0.0, moment.timestamp() - now)
