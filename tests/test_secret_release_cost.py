"""The cost of a warm secret release (issue 20): what is verified once, and what still every time.

A backend sends its user's token with every release, so a verified subject token is kept by its
SHA-256 until it expires (as bearer tokens are); the client assertion is new on every request and
is verified every time. Each test counts signature checks, never time.
"""
from __future__ import annotations

import json
import time

import pytest
from joserfc.jwk import ECKey

from devstack.idp import DevIdP
from tests.support.clock import FakeClock
from tests.support.kms import kms_key  # noqa: F401 — fixture
from tests.test_secret_fixtures import assertion, world  # noqa: F401 — fixture


def _tokens_passed_to(monkeypatch, name: str) -> list[str]:
    """The tokens given to ``signed_jwt.<name>`` from now on, in order."""
    from chalicelib.auth import signed_jwt

    seen: list[str] = []
    original = getattr(signed_jwt, name)

    def counting(token, *args, **kwargs):
        seen.append(token)
        return original(token, *args, **kwargs)

    monkeypatch.setattr(signed_jwt, name, counting)
    return seen


@pytest.fixture
def verifications(monkeypatch):
    """The subject tokens whose signature the secret server checked, in order."""
    return _tokens_passed_to(monkeypatch, "verify")


def _error(response) -> dict:
    return json.loads(response.body)


def _register_idp(world, **changes) -> None:
    body = {"issuer": world.idp.issuer, "audience": "secret-server", "jwks": world.idp.jwks(),
            "algorithms": ["ES256"], **changes}
    response = world.client.http.put("/secret-server/admin/idps", headers={**world.admin,
                                     "Content-Type": "application/json"}, body=json.dumps(body))
    assert response.status_code in (200, 201), response.body


def test_a_subject_token_is_verified_once_and_its_assertions_every_time(world, verifications):
    backend = world.register()
    token = world.user_token()
    secrets = {backend.release(token).secret for _ in range(3)}
    assert len(secrets) == 1
    assert verifications == [token]
    # Another token of the same user is another credential: verified on its own.
    other = world.user_token(lifetime=600)
    assert backend.release(other).secret in secrets
    assert verifications == [token, other]


def test_a_replayed_assertion_with_a_cached_subject_token_is_still_refused(world, verifications):
    backend = world.register()
    token = world.user_token()
    once = assertion(backend.keys, backend.client_id)
    assert world.exchange(world.form(backend, token, assertion=once)).status_code == 200
    replay = world.exchange(world.form(backend, token, assertion=once))
    assert replay.status_code == 401 and "already used" in _error(replay)["error_description"]
    forged = assertion(backend.keys, backend.client_id,
                       key=ECKey.generate_key("P-256", parameters={"kid": backend.keys.signing.kid}))
    refused = world.exchange(world.form(backend, token, assertion=forged))
    assert refused.status_code == 401 and "signature is invalid" in _error(refused)["error_description"]
    assert verifications == [token]


def test_a_cached_subject_token_is_checked_again_when_its_idps_registration_changes(world, verifications):
    backend = world.register()
    token = world.user_token()
    backend.release(token)
    # The IdP's keys are replaced (a compromise): the cached token no longer verifies.
    _register_idp(world, jwks=DevIdP(issuer=world.idp.issuer).jwks())
    refused = world.exchange(world.form(backend, token))
    assert _error(refused)["error"] == "invalid_grant"
    assert "not signed by a key of its issuer" in _error(refused)["error_description"]
    _register_idp(world)
    assert world.exchange(world.form(backend, token)).status_code == 200
    # The registration now wants another audience: the token is not meant for it.
    _register_idp(world, audience="another-service")
    refused = world.exchange(world.form(backend, token))
    assert "not meant for this service" in _error(refused)["error_description"]
    # Registered back as it was when the token was verified, the keys were the same: no third check.
    assert verifications == [token] * 3


def test_a_cached_subject_token_expires_when_the_token_does(world, verifications, monkeypatch):
    from chalicelib import deps
    from chalicelib.secrets.service import SecretServer
    from chalicelib.settings import get_settings

    clock = FakeClock(time.time())
    warm = deps.secret_server()
    server = SecretServer(warm._repository, warm._transactions, warm._audit, warm._rings, warm._pop, warm._keys,
                          warm._settings, clock=clock)
    monkeypatch.setattr(deps, "secret_server", lambda: server)
    backend = world.register()
    token = world.user_token(lifetime=60)
    assert world.exchange(world.form(backend, token)).status_code == 200
    clock.advance(30)
    now = int(clock())
    fresh = assertion(backend.keys, backend.client_id, iat=now, exp=now + 60)
    assert world.exchange(world.form(backend, token, assertion=fresh)).status_code == 200
    clock.advance(30 + get_settings().clock_leeway_seconds + 1)
    now = int(clock())
    late = assertion(backend.keys, backend.client_id, iat=now, exp=now + 60)
    refused = world.exchange(world.form(backend, token, assertion=late))
    assert _error(refused)["error"] == "invalid_grant" and "expired" in _error(refused)["error_description"]
    assert verifications == [token, token]


def test_a_subject_token_seen_before_is_not_decoded_again(world, monkeypatch):
    decoded = _tokens_passed_to(monkeypatch, "decode_unverified")
    backend = world.register()
    token = world.user_token()
    for _ in range(3):
        backend.release(token)
    assert decoded.count(token) == 1
    assert len(decoded) == 4  # the subject token once, and each release's own client assertion


def test_a_cached_subject_token_is_refused_once_its_idp_is_removed(world, verifications):
    from urllib.parse import quote

    backend = world.register()
    token = world.user_token()
    backend.release(token)
    removed = world.client.http.delete(f"/secret-server/admin/idps?issuer={quote(world.idp.issuer, safe='')}",
                                       headers=world.admin)
    assert removed.status_code == 204, removed.body
    refused = world.exchange(world.form(backend, token))
    assert _error(refused)["error"] == "invalid_grant"
    assert "not a registered identity provider" in _error(refused)["error_description"]
    assert verifications == [token]


def test_the_audit_names_the_key_that_signed_the_release_token(world):
    from chalicelib.crypto.jose import decode_segment

    backend = world.register()
    token = world.user_token()
    tokens = [backend.exchange(token)["access_token"] for _ in range(2)]
    events = world.audit_events("SECRET_RELEASE")
    assert len(events) == 2
    assert {e["signingKid"] for e in events} == {decode_segment(t.split(".")[0], "header")["kid"] for t in tokens}
