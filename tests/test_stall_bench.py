"""bench/stall.py's smoke run: a 2 s DynamoDB stall behind the API, with timeouts short enough to
fail within it — what is answered during the stall is 503 with Retry-After, and a success follows."""
from __future__ import annotations

import pytest

from bench import stall


@pytest.mark.slow
def test_a_short_stall_answers_503_with_retry_after_and_recovers():
    report = stall.run([2.0], clients=2, api_env={"KATTA_AWS_READ_TIMEOUT_SECONDS": "0.5",
                                                  "KATTA_AWS_CONNECT_TIMEOUT_SECONDS": "0.5",
                                                  "KATTA_AWS_MAX_ATTEMPTS": "1"})
    (result,) = report["stalls"]
    assert result["answers_during_stall"] and set(result["answers_during_stall"]) == {"503 with Retry-After"}
    assert result["recovery_seconds"] is not None  # a success after the stall (its time is the bench's figure)
    assert result["longest_answer_over_budget"] <= 1
