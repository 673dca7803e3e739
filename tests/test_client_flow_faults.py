"""The client's multi-step flows under faults between it and the server (issue 16 item 6), on the
live stack: a 503, a timeout or a lost answer at each step of vault creation (with its bucket),
of `katta init` (user keys and device registration) and of a linked device's registration.

A passing fault (one attempt) is absorbed by the SDK's retry and the flow completes; a lasting one
(every attempt, until the retry's bound) fails the flow, which takes back what it made, so nothing
half-made is left and the same command run again completes. Retries do not sleep (injected).
"""
from __future__ import annotations

import contextlib
import io
import os

import pytest

from katta_client.cli import main
from katta_client.cli.context import Context
from katta_client.crypto import DeviceKeys
from katta_client.flows import open_connection, register_linked_device
from katta_client.http import DeviceNotFound, KattaApi, KattaApiError, RetryPolicy
from katta_client.vaults import choose_profile, create_vault
from tests.support import http_faults
from tests.support.live_stack import shared_live_stack

pytestmark = pytest.mark.slow  # a live stack with SeaweedFS

pytest.importorskip("devstack.seaweed")

NO_SLEEP = RetryPolicy(sleep=lambda seconds: None)
PASSING, LASTING = 1, None


@pytest.fixture(scope="module", autouse=True)
def file_keychain():
    saved = os.environ.get("KATTA_KEYCHAIN")
    os.environ["KATTA_KEYCHAIN"] = "file"
    yield
    if saved is None:
        os.environ.pop("KATTA_KEYCHAIN")
    else:
        os.environ["KATTA_KEYCHAIN"] = saved


@pytest.fixture(scope="module")
def stack():
    return shared_live_stack(storage=True)


def signed_in(stack, root, name=None):
    """(api, context, user name) of a fresh user signed in with its own configuration directory."""
    user = name or stack.new_user("flow")
    config = root / user
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["--server", stack.api_url, "--config-dir", str(config), "login", "--username", user,
                     "--password", user]) == 0
    context = Context(stack.api_url, config, False)
    return KattaApi(context.server, context.session, retry=NO_SLEEP), context, user


def connect(api, context, user):
    return open_connection(api, context.keychain, context.server, user, account_key=lambda: pytest.fail(
        "asked for an account key"))


def cases(steps):
    return [(step, fault, attempts) for step in dict.fromkeys(steps) for fault in http_faults.FAULTS
            for attempts in (PASSING, LASTING)]


def test_vault_creation_finishes_or_leaves_no_vault(stack, tmp_path, monkeypatch):
    api, context, user = signed_in(stack, tmp_path)
    connection = connect(api, context, user)
    profile = choose_profile(api)
    with http_faults.installed(monkeypatch) as faults:
        create_vault(api, connection, "clean", profile)
        steps = list(faults.steps)
        assert steps[0] == "PUT /api/vaults/{id}" and "PUT /api/storage/{id}" in steps
        failures = []
        for step, fault, attempts in cases(steps):
            faults.clear()
            before = {v["id"] for v in api.accessible_vaults()}
            faults.fail(step, fault, attempts)
            try:
                made = create_vault(api, connection, f"{fault} {step}", profile)
            except KattaApiError:
                made = None
            fired = faults.fired
            faults.fail("", "", 0)
            assert fired, f"{step} was never sent"
            after = {v["id"] for v in api.accessible_vaults()}
            if attempts is PASSING:
                if made is None or after - before != {made.id}:
                    failures.append(f"passing {fault} on {step}: not completed")
                elif not stack.storage.admin_s3().list_objects_v2(Bucket=stack.storage.bucket(made.id))["KeyCount"]:
                    failures.append(f"passing {fault} on {step}: no bucket template")
            elif made is not None or after != before:
                failures.append(f"lasting {fault} on {step}: left {sorted(after - before)} (made: {made})")
    assert not failures, "\n".join(failures)
    assert create_vault(api, connection, "again", profile).id  # and the command, run again, completes


def test_init_finishes_or_takes_the_new_user_keys_back(stack, tmp_path, monkeypatch):
    with http_faults.installed(monkeypatch) as faults:
        api, context, user = signed_in(stack, tmp_path)
        faults.clear()
        assert connect(api, context, user).new_account_key
        steps = list(faults.steps)
        assert "PUT /api/users/me" in steps and "PUT /api/devices/{id}" in steps
        failures = []
        for step, fault, attempts in cases(steps):
            api, context, user = signed_in(stack, tmp_path)
            faults.clear()
            faults.fail(step, fault, attempts)
            try:
                connection = connect(api, context, user)
            except KattaApiError:
                connection = None
            fired = faults.fired
            faults.fail("", "", 0)
            assert fired, f"{step} was never sent"
            if attempts is PASSING and connection is None:
                failures.append(f"passing {fault} on {step}: init failed")
                continue
            if connection is None:
                me = api.get_me(with_devices=True)
                if me.get("ecdhPublicKey") or me.get("devices"):
                    failures.append(f"lasting {fault} on {step}: user keys or a device left behind")
                connection = connect(api, context, user)  # the same command again
            if not connection.new_account_key or api.get_device(connection.device_id)["id"] != connection.device_id:
                failures.append(f"{fault} on {step}: init did not complete")
    assert not failures, "\n".join(failures)


def test_a_linked_device_is_registered_or_not_at_all(stack, tmp_path, monkeypatch):
    api, context, user = signed_in(stack, tmp_path)
    connection = connect(api, context, user)
    failures = []
    with http_faults.installed(monkeypatch) as faults:
        for fault in http_faults.FAULTS:
            for attempts in (PASSING, LASTING):
                other = DeviceKeys.create()
                faults.clear()
                faults.fail("PUT /api/devices/{id}", fault, attempts)
                try:
                    register_linked_device(api, connection.user_keys, other.device_id, other.encoded_public_key,
                                           "phone")
                    registered = True
                except KattaApiError:
                    registered = False
                faults.fail("", "", 0)
                try:
                    present = api.get_device(other.device_id)["id"] == other.device_id
                except DeviceNotFound:
                    present = False
                if (registered, present) != (attempts is PASSING,) * 2:
                    failures.append(f"{fault} ({attempts or 'every'} attempt): registered {registered}, "
                                    f"on the server {present}")
    assert not failures, "\n".join(failures)
