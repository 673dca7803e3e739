"""A bearer token is verified once, then trusted from a cache keyed by its hash — until it expires,
its issuer's key set is refreshed, or the JWKS cache lifetime is over; any other token (one byte
changed) is verified on its own."""
from __future__ import annotations

import pytest
from joserfc.jwk import ECKey

from chalicelib.auth import signed_jwt
from chalicelib.auth.bearer import BearerVerifier
from chalicelib.auth.jwks import JwksCache
from chalicelib.errors import Unauthorized
from chalicelib.settings import Settings, TrustedIssuer
from tests.support.tokens import AUDIENCE, ISSUER, TokenIssuer

NOW = 1_800_000_000


class Verifications:
    """Counts the signature checks the verifier makes."""

    def __init__(self, monkeypatch) -> None:
        self.count = 0
        original = signed_jwt.verify

        def counted(*args, **kwargs):
            self.count += 1
            return original(*args, **kwargs)
        monkeypatch.setattr(signed_jwt, "verify", counted)


@pytest.fixture
def world(monkeypatch):
    issuer, now = TokenIssuer(), [float(NOW)]
    settings = Settings(jwks_refetch_cooldown_seconds=0, trusted_issuers=[
        TrustedIssuer(issuer=ISSUER, audience=AUDIENCE, jwks_uri="https://idp.test/jwks")])
    jwks = JwksCache(settings, fetch=issuer.fetch, clock=lambda: now[0])
    return issuer, now, BearerVerifier(settings, jwks, clock=lambda: now[0]), Verifications(monkeypatch), jwks


def test_a_token_is_verified_once_then_trusted_until_it_expires(world):
    issuer, now, verifier, verifications, _jwks = world
    token = issuer.token(exp=NOW + 120, iat=NOW)
    assert verifier.verify(token).claims["sub"] == verifier.verify(token).claims["sub"]
    assert verifications.count == 1
    now[0] = NOW + 120 + 60 + 1  # past exp and the clock leeway
    with pytest.raises(Unauthorized, match="expired"):
        verifier.verify(token)


def test_a_changed_token_is_verified_on_its_own(world):
    issuer, _now, verifier, verifications, _jwks = world
    token = issuer.token(exp=NOW + 120, iat=NOW)
    verifier.verify(token)
    header, payload, signature = token.split(".")
    forged = ".".join([header, payload, ("A" if signature[0] != "A" else "B") + signature[1:]])
    with pytest.raises(Unauthorized, match="signature"):
        verifier.verify(forged)
    assert verifications.count == 2


def test_a_refreshed_key_set_ends_the_trust(world):
    issuer, now, verifier, verifications, jwks = world
    token = issuer.token(exp=NOW + 3600, iat=NOW)
    verifier.verify(token)
    issuer.key = ECKey.generate_key("P-256", parameters={"kid": "rolled", "alg": "ES256", "use": "sig"})
    verifier.verify(issuer.token(exp=NOW + 3600, iat=NOW))  # the new kid: the set is fetched again
    with pytest.raises(Unauthorized, match="not signed by a key of its issuer"):
        verifier.verify(token)  # its key left with the rollover
    assert verifications.count == 3
    fresh = issuer.token(exp=NOW + 3600, iat=NOW)
    verifier.verify(fresh)
    now[0] = NOW + 601  # the JWKS cache lifetime (600 s) is over: verified again
    verifier.verify(fresh)
    assert verifications.count == 5
