"""A short soak of the live stack (bench/soak.py): rounds of the load test, the API process's handles
and threads back to what the warm process held, no error and every write accounted for.

``KATTA_SOAK_ROUNDS`` / ``KATTA_SOAK_SECONDS`` lengthen it; the documented long run is
``python -m bench.soak`` against the run command's stack (docs/load.md). The live stack's child
process also runs moto, whose table grows with every write: its memory is reported, not judged.
"""
from __future__ import annotations

import os

import pytest

from bench import soak
from tests.support.live_stack import live_stack  # noqa: F401 - fixture

pytestmark = pytest.mark.slow  # a live stack, a subprocess or a long run: not in the fast lane

ROUNDS = int(os.environ.get("KATTA_SOAK_ROUNDS", "4"))
SECONDS = float(os.environ.get("KATTA_SOAK_SECONDS", "6"))


def test_rounds_of_load_leak_no_handle_or_thread_and_lose_no_write(live_stack):  # noqa: F811
    report = soak.run(live_stack.api_url, live_stack.idp, live_stack.process.pid, rounds=ROUNDS, seconds=SECONDS,
                      users=4, seed=16)
    summary = soak.table(report)
    print(summary)
    assert report["errors"] == 0 and report["unaccounted"] == [], summary
    assert report["leaks"] == [], summary
    assert len(report["samples"]) == ROUNDS + 1


def test_the_sample_reads_this_process():
    here = soak.sample(os.getpid())
    assert here["rss_kb"] > 0 and here["fds"] >= 3 and here["threads"] >= 1
