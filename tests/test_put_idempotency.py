"""Every PUT route is idempotent: the same request twice answers the same and leaves the same table.

A client that lost the answer of a PUT (a timeout, a 503 from a proxy after the commit) sends it
again; the second answer must be the first one and must change nothing (issue 16 item 7). The
routes are enumerated from the app, the requests are those of the fault sweep (tests/test_faults.py).

"The same answer" is a success with the same body; a creation's repeat may say 200 where the creation
said 201 (RFC 9110 §15.3.2: 201 only for the request that created). The state compared is the data:
the audit logs record each request, as Hub's do, so a repeat may add its event.
"""
from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.support.katta_keys import DeviceKeys
from tests.test_faults import (SCENARIOS, Scenario, buckets, canonical, hub, remove_buckets, scan,  # noqa: F401
                               write_routes)

pytestmark = pytest.mark.slow  # builds the fault sweep's hub on moto

PUTS = sorted(route for route in SCENARIOS if route[0] == "PUT")
NEW_DEVICE = DeviceKeys.generate()
# The sweep's requests change what exists; these create it (the repeat then meets its own creation).
CREATIONS = {
    ("PUT", "/api/devices/{deviceId} (new)"): Scenario(
        "PUT", "alice", lambda h: f"/api/devices/{NEW_DEVICE.id}", 201, body=lambda h: NEW_DEVICE.dto("Phone")),
}
# Times of the request itself: a rendezvous answer counts down, an update says when it ran.
_TIMES = ("expires_in_ms", "updatedAt")


def data() -> tuple[Counter, dict]:
    """The table without the audit logs, and the buckets."""
    table = canonical(scan())
    return Counter({item: n for item, n in table.items() if '"pk": "AUDIT"' not in item}), buckets()


def answer(response) -> tuple[int, object]:
    body = json.loads(response.body) if response.body else None
    if isinstance(body, dict):
        for name in _TIMES:
            body.pop(name, None)
    return (201 if response.status_code == 200 else response.status_code), body


def test_every_put_route_is_covered():
    assert [r for r in write_routes() if r[0] == "PUT" and r in SCENARIOS] == PUTS


@pytest.mark.parametrize("route", PUTS + sorted(CREATIONS), ids=lambda r: f"{r[0]} {r[1]}")
def test_the_same_put_twice_answers_the_same_and_changes_nothing_more(hub, route):  # noqa: F811
    scenario = SCENARIOS.get(route) or CREATIONS[route]
    hub.renew_rendezvous()
    body = hub.body(scenario)
    try:
        first = hub.call(scenario, body)
        assert first.status_code == scenario.status, first.body
        state = data()
        second = hub.call(scenario, body)
        assert answer(second) == answer(first), second.body
        assert data() == state
    finally:
        hub.restore()
        remove_buckets()
