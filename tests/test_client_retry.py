"""The SDK's retries (issue 16 item 6): idempotent requests only, full-jitter exponential backoff,
``Retry-After`` (seconds and HTTP-date) honoured, the total wait bounded; sleeping is injected."""
from __future__ import annotations

import email.utils

import pytest
import requests

from katta_client.http import (Conflict, KattaConnectionError, RetryPolicy, ServiceUnavailable, VaultNotFound)
from katta_client.http.retry import retry_after_seconds
from tests.test_client_api import VAULT, Recorder, Tokens, api_with, problem

NOW = 1_800_000_000.0
UNAVAILABLE = (503, problem(503, "Service Unavailable", "DynamoDB is throttling"))


class Sleeps(list):
    """Records the pauses instead of taking them."""

    def policy(self, max_wait=30.0, jitter=1.0):
        return RetryPolicy(max_wait=max_wait, sleep=self.append, clock=lambda: NOW, random=lambda: jitter)


class Flaky(Recorder):
    """Raises a transport failure for the first ``failures`` requests, then answers from the queue."""

    def __init__(self, failures, error, *answers):
        super().__init__(*answers)
        self.failures, self.error = failures, error

    def send(self, request, **kwargs):
        if self.failures:
            self.failures -= 1
            self.sent.append((request, kwargs))
            raise self.error
        return super().send(request, **kwargs)


def flaky_api(failures, error, *answers, retry):
    from katta_client.http import KattaApi
    adapter = Flaky(failures, error, *answers)
    session = requests.Session()
    session.mount("https://", adapter)
    return KattaApi("https://katta.test", Tokens("t1"), session=session, retry=retry), adapter


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_an_idempotent_request_is_sent_again_after_a_passing_failure(status):
    sleeps = Sleeps()
    api, sent = api_with((status, problem(status, "x")), (status, problem(status, "x")), (200, {"id": "u"}),
                         retry=sleeps.policy())
    assert api.get_me() == {"id": "u"}
    assert len(sent.sent) == 3
    assert sleeps == [0.5, 1.0]  # exponential: the upper ends 0.5 s, 1 s (jitter 1.0 takes the top)


def test_full_jitter_draws_between_zero_and_the_upper_end():
    sleeps = Sleeps()
    api, _ = api_with(UNAVAILABLE, UNAVAILABLE, UNAVAILABLE, (200, {}), retry=sleeps.policy(jitter=0.25))
    api.get_me()
    assert sleeps == [0.125, 0.25, 0.5]


def test_backoff_is_capped():
    policy = Sleeps().policy()
    assert [policy.delay(n, None) for n in (0, 3, 4, 10)] == [0.5, 4.0, 8.0, 8.0]


@pytest.mark.parametrize("header, expected", [("7", 7.0), (email.utils.formatdate(NOW + 12, usegmt=True), 12.0)])
def test_retry_after_in_seconds_and_as_an_http_date_is_honoured(header, expected):
    sleeps = Sleeps()
    api, _ = api_with((*UNAVAILABLE, {"Retry-After": header}), (200, {}), retry=sleeps.policy(jitter=0.0))
    api.get_me()
    assert sleeps == [expected]


@pytest.mark.parametrize("header", ["", "soon", "-3", "1.5", "Sun, 06 Nov 1994 08:49:37"])
def test_an_unreadable_retry_after_falls_back_to_the_backoff(header):
    assert retry_after_seconds(header, NOW) is None


def test_a_retry_after_in_the_past_is_no_pause():
    assert retry_after_seconds(email.utils.formatdate(NOW - 60, usegmt=True), NOW) == 0.0


def test_the_total_wait_is_bounded_and_the_last_failure_reported():
    sleeps = Sleeps()
    api, sent = api_with(*[UNAVAILABLE] * 20, retry=sleeps.policy(max_wait=5.0))
    with pytest.raises(ServiceUnavailable, match="throttling"):
        api.get_me()
    assert sleeps == [0.5, 1.0, 2.0] and sum(sleeps) <= 5.0  # the next (4 s) would pass the bound
    assert len(sent.sent) == 4


def test_a_retry_after_beyond_the_bound_is_not_waited_for():
    sleeps = Sleeps()
    api, sent = api_with((*UNAVAILABLE, {"Retry-After": "60"}), (200, {}), retry=sleeps.policy(max_wait=30.0))
    with pytest.raises(ServiceUnavailable):
        api.get_me()
    assert sleeps == [] and len(sent.sent) == 1


@pytest.mark.parametrize("error", [requests.ConnectionError("reset"), requests.ReadTimeout("slow")])
def test_a_lost_connection_or_a_timeout_is_retried_for_idempotent_requests(error):
    sleeps = Sleeps()
    api, sent = flaky_api(2, error, (204, ""), retry=sleeps.policy())
    api.put_device("D1", {"id": "D1"})
    assert [r.method for r, _ in sent.sent] == ["PUT", "PUT", "PUT"]
    assert len(sleeps) == 2


def test_a_non_idempotent_request_is_never_sent_twice():
    sleeps = Sleeps()
    api, sent = flaky_api(1, requests.ReadTimeout("slow"), (201, {}), retry=sleeps.policy())
    with pytest.raises(KattaConnectionError):
        api.create_storage_profile({"name": "p"})
    api2, sent2 = api_with(UNAVAILABLE, (201, {}), retry=sleeps.policy())
    with pytest.raises(ServiceUnavailable):
        api2.create_storage_profile({"name": "p"})
    assert len(sent.sent) == len(sent2.sent) == 1 and sleeps == []


@pytest.mark.parametrize("call", [
    lambda api: api.grant_access(VAULT, {"u": "jwe"}),
    lambda api: api.put_my_access_tokens({VAULT: "jwe"}),
    lambda api: api.s3_token(VAULT),
    lambda api: api.reset_me(),
])
def test_posts_that_are_idempotent_by_design_are_retried(call):
    sleeps = Sleeps()
    api, sent = api_with(UNAVAILABLE, (200, {"access_token": "t"}), retry=sleeps.policy())
    call(api)
    assert [r.method for r, _ in sent.sent] == ["POST", "POST"] and len(sleeps) == 1


@pytest.mark.parametrize("answer, error", [((409, problem(409, "Conflict")), Conflict),
                                           ((404, problem(404, "Not Found")), VaultNotFound)])
def test_refusals_are_final(answer, error):
    sleeps = Sleeps()
    api, sent = api_with(answer, (200, {}), retry=sleeps.policy())
    with pytest.raises(error):
        api.get_vault(VAULT)
    assert len(sent.sent) == 1 and sleeps == []


def test_a_retried_request_sends_the_same_bytes():
    api, sent = api_with(UNAVAILABLE, (200, {}), retry=Sleeps().policy())
    api.put_members(VAULT, {"u": "MEMBER"})
    (first, _), (second, _) = sent.sent
    assert (first.method, first.url, first.body) == (second.method, second.url, second.body)
