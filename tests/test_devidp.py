"""Dev IdP: discovery, JWKS, password and refresh grants, userinfo, minting, key persistence.

Real HTTP against the server on an ephemeral port.
"""

from __future__ import annotations

import stat

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry


from devstack.idp import DevIdP, InvalidToken, user_id  # noqa: E402
from devstack.idp.keys import key_path  # noqa: E402
from tests.support.dev_idp import clock, http, idp, server  # noqa: F401 - fixtures


def discover(http, server):
    r = http.get(f"{server.url}/realms/katta/.well-known/openid-configuration", timeout=5)
    assert r.status_code == 200
    return r.json()


def password_grant(http, server, username, password, **extra):
    data = {"grant_type": "password", "client_id": "katta-cli", "username": username, "password": password}
    data.update(extra)
    return http.post(server.idp.token_endpoint, data=data, timeout=5)


def verify_with_served_jwks(http, meta, token, audience="katta"):
    jwks = http.get(meta["jwks_uri"], timeout=5).json()
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=meta["id_token_signing_alg_values_supported"])
    JWTClaimsRegistry(
        iss={"essential": True, "value": meta["issuer"]},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
        sub={"essential": True},
    ).validate(decoded.claims)
    return decoded


# ---------------------------------------------------------------- discovery and JWKS


def test_discovery_reflects_the_ephemeral_port(http, server):
    meta = discover(http, server)
    assert server.port != 8180
    issuer = f"http://127.0.0.1:{server.port}/realms/katta"
    assert meta["issuer"] == issuer == server.issuer
    assert meta["jwks_uri"] == f"{issuer}/protocol/openid-connect/certs"
    assert meta["token_endpoint"] == f"{issuer}/protocol/openid-connect/token"
    assert meta["authorization_endpoint"] == f"{issuer}/protocol/openid-connect/auth"
    assert meta["userinfo_endpoint"] == f"{issuer}/protocol/openid-connect/userinfo"
    assert meta["device_authorization_endpoint"] == f"{issuer}/protocol/openid-connect/auth/device"
    assert set(meta["grant_types_supported"]) >= {
        "password", "refresh_token", "authorization_code", "urn:ietf:params:oauth:grant-type:device_code"}
    assert meta["id_token_signing_alg_values_supported"] == ["ES256"]
    assert meta["code_challenge_methods_supported"] == ["S256"]


def test_jwks_is_public_only(http, server, idp):
    jwks = http.get(idp.jwks_uri, timeout=5).json()
    [key] = jwks["keys"]
    assert key["kty"] == "EC" and key["crv"] == "P-256" and key["alg"] == "ES256" and key["use"] == "sig"
    assert key["kid"] == idp.kid
    assert "d" not in key


def test_password_grant_token_verifies_against_served_jwks(http, server):
    meta = discover(http, server)
    r = password_grant(http, server, "alice", "alice")
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    assert body["refresh_token"] and "id_token" not in body  # no openid scope requested

    decoded = verify_with_served_jwks(http, meta, body["access_token"])
    assert decoded.header["alg"] == "ES256" and decoded.header["kid"] == server.idp.kid
    c = decoded.claims
    assert c["sub"] == user_id("alice")
    assert c["aud"] == ["katta", "account"]
    assert c["azp"] == "katta-cli"
    assert c["typ"] == "Bearer"
    assert c["exp"] - c["iat"] == 300
    assert c["jti"]
    assert sorted(c["realm_access"]["roles"]) == ["create-vaults", "user"]
    assert c["preferred_username"] == "alice"
    assert c["email"] == "alice@katta.local"
    assert c["name"] == "Alice Adams"
    assert c["groups"] == []


def test_seeded_users_roles_and_stable_subjects(http, server):
    expected = {"alice": {"user", "create-vaults"}, "bob": {"user", "create-vaults"},
                "carol": {"user", "create-vaults"}, "dave": {"user"}, "admin": {"user", "admin"}}
    for name, roles in expected.items():
        r = password_grant(http, server, name, name)
        assert r.status_code == 200, (name, r.text)
        claims = server.idp.verify(r.json()["access_token"])
        assert set(claims["realm_access"]["roles"]) == roles
        assert claims["sub"] == user_id(name)
    # Deterministic: another IdP instance (a restart) gives the same subjects.
    assert DevIdP().user("bob").sub == server.idp.user("bob").sub == user_id("bob")


def test_katta_client_id_is_accepted(http, server):
    r = http.post(server.idp.token_endpoint, data={
        "grant_type": "password", "client_id": "katta", "username": "bob", "password": "bob"}, timeout=5)
    assert r.status_code == 200
    claims = server.idp.verify(r.json()["access_token"])
    assert claims["azp"] == "katta" and "katta" in claims["aud"]


def test_id_token_with_openid_scope(http, server):
    meta = discover(http, server)
    r = password_grant(http, server, "carol", "carol", scope="openid")
    body = r.json()
    assert body["scope"].split()[0] == "openid"
    decoded = verify_with_served_jwks(http, meta, body["id_token"], audience="katta-cli")
    assert decoded.claims["typ"] == "ID"
    assert decoded.claims["preferred_username"] == "carol"
    assert decoded.claims["at_hash"]


# ---------------------------------------------------------------- password grant errors


def test_wrong_password_is_invalid_grant(http, server):
    r = password_grant(http, server, "alice", "bob")
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


def test_unknown_user_is_invalid_grant(http, server):
    r = password_grant(http, server, "mallory", "mallory")
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_grant", "error_description": "Invalid user credentials"}


def test_disabled_user_is_refused(http, server, idp):
    idp.add_user("erin", roles=["user"], enabled=False)
    r = password_grant(http, server, "erin", "erin")
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    idp.enable_user("erin")
    assert password_grant(http, server, "erin", "erin").status_code == 200


def test_client_and_grant_type_errors(http, server):
    ep = server.idp.token_endpoint
    r = http.post(ep, data={"grant_type": "password", "client_id": "evil", "username": "a", "password": "a"}, timeout=5)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = http.post(ep, data={"grant_type": "password", "username": "alice", "password": "alice"}, timeout=5)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = http.post(ep, data={"grant_type": "client_credentials", "client_id": "katta-cli"}, timeout=5)
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    r = http.post(ep, data={"client_id": "katta-cli"}, timeout=5)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = http.post(ep, data="grant_type=password&grant_type=password&client_id=katta-cli",
                  headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=5)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = http.post(ep, json={"grant_type": "password", "client_id": "katta-cli"}, timeout=5)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = http.get(ep, timeout=5)
    assert r.status_code == 405


def test_http_basic_client_authentication(http, server):
    r = http.post(server.idp.token_endpoint, auth=("katta-cli", ""),
                  data={"grant_type": "password", "username": "dave", "password": "dave"}, timeout=5)
    assert r.status_code == 200
    r = http.post(server.idp.token_endpoint, auth=("nope", ""),
                  data={"grant_type": "password", "username": "dave", "password": "dave"}, timeout=5)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic")


# ---------------------------------------------------------------- refresh tokens


def test_refresh_rotates_and_old_token_is_refused(http, server):
    first = password_grant(http, server, "bob", "bob").json()
    r = http.post(server.idp.token_endpoint, data={
        "grant_type": "refresh_token", "client_id": "katta-cli", "refresh_token": first["refresh_token"]}, timeout=5)
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    old = server.idp.verify(first["access_token"])
    new = server.idp.verify(second["access_token"])
    assert new["sub"] == old["sub"] and new["sid"] == old["sid"] and new["jti"] != old["jti"]

    again = http.post(server.idp.token_endpoint, data={
        "grant_type": "refresh_token", "client_id": "katta-cli", "refresh_token": first["refresh_token"]}, timeout=5)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    # The rotated one still works (once).
    r = http.post(server.idp.token_endpoint, data={
        "grant_type": "refresh_token", "client_id": "katta-cli", "refresh_token": second["refresh_token"]}, timeout=5)
    assert r.status_code == 200


def test_refresh_errors(http, server, idp, clock):
    ep = idp.token_endpoint
    r = http.post(ep, data={"grant_type": "refresh_token", "client_id": "katta-cli", "refresh_token": "garbage"}, timeout=5)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    # Bound to the client it was issued to.
    rt = password_grant(http, server, "alice", "alice").json()["refresh_token"]
    r = http.post(ep, data={"grant_type": "refresh_token", "client_id": "katta", "refresh_token": rt}, timeout=5)
    assert r.json()["error"] == "invalid_grant"
    # Expired.
    rt = password_grant(http, server, "alice", "alice").json()["refresh_token"]
    clock.advance(idp.refresh_token_lifetime + 1)
    r = http.post(ep, data={"grant_type": "refresh_token", "client_id": "katta-cli", "refresh_token": rt}, timeout=5)
    assert r.json()["error"] == "invalid_grant"
    # A user disabled meanwhile.
    rt = password_grant(http, server, "dave", "dave").json()["refresh_token"]
    idp.disable_user("dave")
    r = http.post(ep, data={"grant_type": "refresh_token", "client_id": "katta-cli", "refresh_token": rt}, timeout=5)
    assert r.json()["error"] == "invalid_grant"


def test_revoke_refresh_token(http, server, idp):
    rt = password_grant(http, server, "alice", "alice").json()["refresh_token"]
    r = http.post(idp.revocation_endpoint, data={"client_id": "katta-cli", "token": rt}, timeout=5)
    assert r.status_code == 200
    r = http.post(idp.token_endpoint, data={"grant_type": "refresh_token", "client_id": "katta-cli", "refresh_token": rt}, timeout=5)
    assert r.json()["error"] == "invalid_grant"


# ---------------------------------------------------------------- userinfo


def test_userinfo(http, server, idp):
    token = password_grant(http, server, "carol", "carol").json()["access_token"]
    idp.set_groups("carol", ["engineering"])
    r = http.get(idp.userinfo_endpoint, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert r.status_code == 200
    info = r.json()
    assert info["sub"] == user_id("carol") and info["preferred_username"] == "carol"
    assert info["email"] == "carol@katta.local" and info["groups"] == ["engineering"]

    assert http.get(idp.userinfo_endpoint, timeout=5).status_code == 401
    r = http.get(idp.userinfo_endpoint, headers={"Authorization": "Bearer not-a-token"}, timeout=5)
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    expired = idp.mint("carol", lifetime=-10)
    assert http.get(idp.userinfo_endpoint, headers={"Authorization": f"Bearer {expired}"}, timeout=5).status_code == 401
    opaque = idp.mint_opaque("bob")
    r = http.get(idp.userinfo_endpoint, headers={"Authorization": f"Bearer {opaque}"}, timeout=5)
    assert r.status_code == 200 and r.json()["preferred_username"] == "bob"


# ---------------------------------------------------------------- minting and users


def test_mint_overrides_and_removals(idp, clock):
    token = idp.mint("alice", lifetime=60, aud="secret-server", groups=["g1"], claims={"https://x/tags": {"a": 1}},
                     email=None)
    claims = idp.verify(token)
    assert claims["aud"] == "secret-server" and claims["groups"] == ["g1"]
    assert claims["https://x/tags"] == {"a": 1}
    assert "email" not in claims
    assert claims["exp"] == int(clock()) + 60
    expired = idp.mint("alice", lifetime=-1)
    with pytest.raises(InvalidToken):
        idp.verify(expired)
    with pytest.raises(InvalidToken):
        idp.verify(idp.mint("alice", headers={"kid": "someone-else"}))
    with pytest.raises(KeyError):
        idp.mint("nobody")


def test_minted_token_verifies_with_jwks_dict(idp):
    token = idp.mint("admin")
    decoded = jwt.decode(token, KeySet.import_key_set(idp.jwks()), algorithms=["ES256"])
    assert decoded.claims["realm_access"]["roles"] == ["user", "admin"]


def test_add_user_with_groups_and_claims(http, server, idp):
    idp.add_user("frank", "s3cret", roles=["user", "create-vaults"], groups=["/staff", "ops"],
                 name="Frank Foster", claims={"locale": "de"})
    with pytest.raises(ValueError):
        idp.add_user("frank")
    assert password_grant(http, server, "frank", "frank").status_code == 400
    body = password_grant(http, server, "frank", "s3cret").json()
    claims = idp.verify(body["access_token"])
    assert claims["groups"] == ["/staff", "ops"] and claims["name"] == "Frank Foster"
    assert claims["locale"] == "de" and claims["sub"] == user_id("frank")


def test_rs256(http):
    idp = DevIdP(alg="RS256")
    with idp.serve("127.0.0.1", 0) as server:
        meta = discover(http, server)
        assert meta["id_token_signing_alg_values_supported"] == ["RS256"]
        token = password_grant(http, server, "alice", "alice").json()["access_token"]
        decoded = verify_with_served_jwks(http, meta, token)
        assert decoded.header["alg"] == "RS256"


def test_fixed_issuer_is_kept(http):
    idp = DevIdP("http://idp.local:9999/realms/katta")
    with idp.serve("127.0.0.1", 0) as server:
        r = http.get(f"{server.url}/realms/katta/.well-known/openid-configuration", timeout=5)
        assert r.json()["issuer"] == "http://idp.local:9999/realms/katta"


def test_unknown_path_is_404(http, server):
    assert http.get(f"{server.url}/realms/other/protocol/openid-connect/certs", timeout=5).status_code == 404
    assert http.get(f"{server.url}/", timeout=5).status_code == 404


# ---------------------------------------------------------------- key persistence


def test_key_is_persisted_with_mode_0600(tmp_path):
    state = tmp_path / "idp"
    first = DevIdP(state_dir=state)
    path = key_path(state, "ES256")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    second = DevIdP(state_dir=state)
    assert second.jwks() == first.jwks()
    # A token minted before the "restart" verifies after it.
    token = first.mint("alice")
    assert second.verify(token)["preferred_username"] == "alice"
    # RS256 keeps its own key file next to it.
    rsa = DevIdP(state_dir=state, alg="RS256")
    assert rsa.jwks()["keys"][0]["kty"] == "RSA"
    assert DevIdP(state_dir=state, alg="RS256").kid == rsa.kid


def test_key_can_be_brought(idp):
    pem = idp.signing_key.as_pem(private=True)
    again = DevIdP(key=pem)
    assert again.kid == idp.kid and again.alg == "ES256"
    assert again.verify(idp.mint("bob"))["preferred_username"] == "bob"
