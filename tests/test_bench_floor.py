"""bench/floor.py is a floor only if it does what the app does: the same DynamoDB calls with the same
items (attributes and their types), conditions and request tokens, and no more signature checks than
the app makes. Otherwise the ratio app / floor (issue 20) measures a different request."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="module")
def side_by_side():
    """bench.figures.SideBySide in a bench, in the bench's environment; the tests' is given back after."""
    saved = dict(os.environ)
    from bench.figures import SideBySide
    from bench.harness import ENVIRONMENT, Bench
    from chalicelib import deps

    os.environ.update(ENVIRONMENT)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    bench = Bench()
    try:
        with bench.running():
            alice = bench.user("alice")
            alice.set_up_keys()
            vault_id = alice.create_vault()
            backend = bench.secret_backend()
            backend.exchange(backend.subject_token(alice.username))  # the user's secret exists
            yield SideBySide(alice, vault_id, backend)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        deps.reset()


@pytest.fixture
def calls(monkeypatch):
    """Every botocore call from now on: (operation, parameters)."""
    from botocore.client import BaseClient

    seen: list[tuple[str, dict]] = []
    original = BaseClient._make_api_call

    def spying(client, operation_name, api_params):
        seen.append((operation_name, api_params))
        return original(client, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", spying)
    return seen


def _shape(value):
    """What DynamoDB is sent, with every value replaced by its type (ids and times differ per call)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return type(value).__name__


def _measured(calls, request):
    del calls[:]
    request()
    return [(operation, _shape(params)) for operation, params in calls]


def test_the_release_floor_sends_what_the_app_sends(side_by_side, calls):
    run = side_by_side
    app = _measured(calls, lambda: run.app_release(run.release_event(run.forms(1)[0])))
    floor = _measured(calls, lambda: run.release_floor(run.forms(1)[0]))
    assert [operation for operation, _ in app] == ["BatchGetItem", "TransactWriteItems"]
    assert floor == app


def test_the_access_token_floor_sends_what_the_app_sends(side_by_side, calls):
    run = side_by_side
    run.app_token()  # the caller's verified token and account are cached, as for the floor's keys
    app = _measured(calls, run.app_token)
    floor = _measured(calls, run.floor_token)
    assert [operation for operation, _ in app] == ["GetItem", "BatchGetItem", "PutItem"]
    assert floor == app


def test_the_release_floor_checks_a_repeated_subject_token_once_as_the_app_does(side_by_side, monkeypatch):
    from bench import floor
    from chalicelib.auth import signed_jwt

    run = side_by_side
    checked = {"app": 0, "floor": 0}
    app_verify, floor_verify = signed_jwt.signature_is_valid, floor.verified_claims

    def app_counting(*args, **kwargs):
        checked["app"] += 1
        return app_verify(*args, **kwargs)

    def floor_counting(*args, **kwargs):
        checked["floor"] += 1
        return floor_verify(*args, **kwargs)

    monkeypatch.setattr(signed_jwt, "signature_is_valid", app_counting)
    monkeypatch.setattr(floor, "verified_claims", floor_counting)
    first_app, first_floor = run.forms(2)
    assert run.app_release(run.release_event(first_app))["statusCode"] == 200
    run.release_floor(first_floor)
    checked.update(app=0, floor=0)
    for form in run.forms(3):
        assert run.app_release(run.release_event(form))["statusCode"] == 200
    for form in run.forms(3):
        run.release_floor(form)
    assert checked == {"app": 3, "floor": 3}  # each release's client assertion, and no subject token again


def test_the_split_accounts_for_every_step_of_both_sides(side_by_side):
    from bench import split

    result = split.split(side_by_side, requests=5)
    for side, steps in (("app", split.APP_STEPS), ("floor", split.FLOOR_STEPS)):
        figures = result[side]["steps_ms"]
        assert set(figures) == {label for label, _module, _attribute in steps} | {split.REST}
        # Every step ran (a renamed function would leave its step at nothing).
        assert all(figures[label] > 0 for label, _module, _attribute in steps), figures
    assert result["allowance_ms"] == round(0.5 * result["floor"]["total_ms"], 3)
