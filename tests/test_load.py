"""The loopback load test (bench/load.py) against the live stack: no errors, every write accounted for.

``KATTA_LOAD_SECONDS`` sets how long the users run (default 150). No latency is judged here; the
minimum counts make a scenario that silently stops doing its work fail the test.
"""
from __future__ import annotations

import json
import os

import pytest

from bench import load
from devstack.idp import DevIdP
from tests.support.live_stack import live_stack  # noqa: F401 - fixture

pytestmark = pytest.mark.slow  # a live stack, a subprocess or a long run: not in the fast lane

SECONDS = float(os.environ.get("KATTA_LOAD_SECONDS", "150"))
USERS = 20
# Every kind must have been done at least this often, successfully or (for the deliberate refusals)
# refused; a short development run (KATTA_LOAD_SECONDS=20) still clears it.
MINIMUM = 3
OK_KINDS = {
    "sign in", "register user keys", "register device", "create vault", "grant access", "add member",
    "users awaiting a grant", "read access token", "read vault", "read members", "list accessible vaults",
    "update vault metadata", "read audit log", "rendezvous create", "rendezvous read", "rendezvous write",
    "rendezvous delete",
}
# The accounting after the run; the audit log may fit one page.
VERIFY_KINDS = {"verify: vault", "verify: members", "verify: access token", "verify: accessible vaults",
                "verify: ended rendezvous session", "verify: audit log"}
REFUSED_KINDS = {"stranger reads access token", "stranger renames vault", "non-admin reads audit log",
                 "rendezvous stale write", "rendezvous read after delete"}


def test_many_users_at_once_make_no_errors_and_lose_no_write(live_stack, tmp_path):  # noqa: F811
    report = load.run(live_stack.api_url, live_stack.idp, users=USERS, seconds=SECONDS)
    (tmp_path / "load.json").write_text(json.dumps(report, indent=2))
    summary = load.table(report)

    assert report["errors"] == 0, summary
    assert report["unaccounted"] == [], summary
    kinds = report["kinds"]
    assert set(kinds) == OK_KINDS | VERIFY_KINDS | REFUSED_KINDS, summary
    assert all(kinds[kind]["ok"] >= 1 for kind in VERIFY_KINDS), summary
    assert {kind: kinds[kind]["ok"] for kind in OK_KINDS if kinds[kind]["ok"] < MINIMUM} == {}, summary
    assert {kind: kinds[kind]["refused"] for kind in REFUSED_KINDS if kinds[kind]["refused"] < MINIMUM} == {}, summary
    assert all(kinds[kind]["ok"] == 0 for kind in REFUSED_KINDS), summary  # a refusal that was let through
    assert kinds["sign in"]["ok"] == kinds["register device"]["ok"] == USERS, summary
    assert report["vaults"] >= MINIMUM and report["members"] >= MINIMUM, summary


# --- the command line's token source ------------------------------------------------------------

def test_the_command_line_mints_with_the_running_idps_key(tmp_path):
    served = DevIdP(state_dir=tmp_path / "idp")
    with served.serve("127.0.0.1", 0):
        minter = load.local_minter(served.issuer, tmp_path / "idp")
        minter.add_user("load-someone", roles=["user"])
        claims = served.verify(minter.mint("load-someone"))
    assert (claims["iss"], claims["preferred_username"]) == (served.issuer, "load-someone")


def test_the_command_line_refuses_a_key_the_idp_does_not_serve(tmp_path):
    served = DevIdP(state_dir=tmp_path / "idp")
    DevIdP(state_dir=tmp_path / "other")
    with served.serve("127.0.0.1", 0), pytest.raises(SystemExit, match="is not the one"):
        load.local_minter(served.issuer, tmp_path / "other")
    with pytest.raises(SystemExit, match="scripts/run-local"):
        load.local_minter(served.issuer, tmp_path / "missing")
