"""Fixtures of the dev IdP tests: a manual clock, a ``DevIdP`` on it served on a free port, a session.

A test file imports the ones it uses (``from tests.support.dev_idp import clock, idp, server, http``)
and may define its own ``idp`` for other settings; ``server`` serves whichever ``idp`` it gets.
"""
from __future__ import annotations

import pytest
import requests

from devstack.idp import DevIdP, ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def idp(clock: ManualClock) -> DevIdP:
    return DevIdP(clock=clock)


@pytest.fixture
def server(idp: DevIdP):
    with idp.serve("127.0.0.1", 0) as handle:
        yield handle


@pytest.fixture
def http():
    with requests.Session() as s:
        yield s
