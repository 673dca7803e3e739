"""Any IdP, proven: the README's recipe of each provider, against tokens shaped as that provider's.

The ``KATTA_TRUSTED_ISSUERS`` entry of each provider is read from README.md (the JSON block after
``<!-- recipe:<provider> -->``) and used as it is, so a recipe that stops working fails here. The
tokens come from ``devstack/provider_tokens.py``, each shape built from the provider's published
access-token reference (``Shape.reference``):

- Keycloak: https://www.keycloak.org/docs-api/latest/javadocs/org/keycloak/representations/AccessToken.html
- Entra ID: https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference
  (groups overage: https://learn.microsoft.com/en-us/troubleshoot/entra/entra-id/app-integration/get-signed-in-users-groups-in-access-token)
- Okta: https://developer.okta.com/docs/reference/api/oidc/#access-token
  (groups claim: https://developer.okta.com/docs/guides/customize-tokens-groups-claim/overview/)
- Auth0: https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles
  (namespaced claims: https://auth0.com/docs/secure/tokens/json-web-tokens/create-custom-claims)
- Cognito: https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html
"""
from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from chalicelib.auth import claims as claim_paths
from chalicelib.settings import SettingsError, get_settings
from devstack.provider_tokens import ENTRA_TENANT, SHAPES, ShapedIssuer, serve
from katta_client.resource_server import ResourceServer, ResourceServerKeys, SecretServerError
from tests.conftest import bearer
from tests.support.clock import FakeClock
from tests.support.katta_keys import UserKeys, new_vault_id, vault_dto
from tests.support.kms import create_management_key
from tests.test_secret_fixtures import BASE_URL, ChaliceTransport

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
RECIPES = {name: json.loads(body) for name, body in
           re.findall(r"<!-- recipe:(\w+) -->\n```json\n(.*?)\n```", README, re.S)}
REPORTS = "https://reports.katta.example"
GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"

# Each provider's names for (a user, a vault creator, an admin), as its recipe registers them.
NAMES = {
    "keycloak": (("user",), ("user", "create-vaults"), ("user", "admin")),
    "entra": (("Katta.User",), ("Katta.User", "Katta.CreateVaults"), ("Katta.User", "Katta.Admin")),
    "okta": (("Katta Users",), ("Katta Users", "Katta Vault Creators"), ("Katta Users", "Katta Admins")),
    "auth0": (("user",), ("user", "create-vaults"), ("user", "admin")),
    "cognito": (("KattaUsers",), ("KattaUsers", "KattaVaultCreators"), ("KattaUsers", "KattaAdmins")),
}
# The same provider, another tenant (realm, directory, authorization server, domain, pool).
OTHER_TENANT = {
    "keycloak": "https://sso.katta.example/realms/other",
    "entra": "https://login.microsoftonline.com/0d6c2b7e-1f3a-4c59-9e84-a7b5c3d1e2f0/v2.0",
    "okta": "https://katta.okta.com/oauth2/default",
    "auth0": "https://other.eu.auth0.com/",
    "cognito": "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_Zx9YwV8uT",
}


class Provider:
    """The app trusting one provider through its README recipe, and that provider's issuer."""

    def __init__(self, client, name: str, alg: str) -> None:
        self.client = client
        self.name = name
        self.entry = RECIPES[name]
        self.idp = ShapedIssuer(SHAPES[name], alg=alg)
        self.user, self.creator, self.admin = NAMES[name]
        self.clock = FakeClock()

    def token(self, user: str = "alice", roles: tuple[str, ...] | None = None, **claims) -> str:
        return self.idp.token(user, roles=self.creator if roles is None else roles, **claims)

    def user_id(self, user: str) -> str:
        return claim_paths.value(self.idp.claims(user), self.entry.get("subject_claim", "sub"))

    def call(self, token: str, method: str, path: str, body=None):
        return self.client.http.request(method, path, headers={**bearer(token), "Content-Type": "application/json"},
                                        body=json.dumps(body) if body is not None else b"")

    def exchange(self, subject: str, **fields: str):
        form = {"grant_type": GRANT, "subject_token": subject, "subject_token_type": ACCESS_TOKEN,
                "audience": REPORTS, **fields}
        return self.client.http.post("/oauth2/token", headers={"Content-Type": "application/x-www-form-urlencoded"},
                                     body=urlencode(form))

    def backend(self) -> ResourceServer:
        """A resource server of the secret server, which trusts this provider as its recipe says."""
        admin = self.token("root", roles=self.admin)
        registration = {"issuer": self.entry["issuer"], "audience": self.entry["audience"],
                        "audienceClaim": self.entry.get("audience_claim", "aud"), "jwksUri": self.idp.shape.jwks_uri,
                        "algorithms": self.entry["algorithms"]}
        assert self.call(admin, "PUT", "/secret-server/admin/idps", registration).status_code == 201
        keys, client_id = ResourceServerKeys.generate(), "notes"
        response = self.call(admin, "PUT", f"/secret-server/admin/resource-servers/{client_id}",
                             {"jwks": keys.public_jwks()})
        assert response.status_code == 201, response.body
        return ResourceServer(client_id, BASE_URL, keys, transport=ChaliceTransport(self.client))


def trust(client, monkeypatch, name: str, alg: str = "RS256") -> Provider:
    from chalicelib import deps
    from chalicelib.auth.jwks import JwksCache

    provider = Provider(client, name, alg)
    monkeypatch.setenv("KATTA_TRUSTED_ISSUERS", json.dumps([provider.entry]))
    monkeypatch.setenv("KATTA_TOKEN_EXCHANGE_AUDIENCES", json.dumps([REPORTS]))
    deps.reset()  # the settings too
    settings = get_settings()
    # The provider's documents are served at its own addresses; nothing else is reachable.
    bearer_keys = JwksCache(settings, fetch=provider.idp.fetch, clock=provider.clock)
    secret_keys = JwksCache(settings, fetch=provider.idp.fetch, clock=provider.clock)
    monkeypatch.setattr(deps, "jwks", lambda: bearer_keys)
    monkeypatch.setattr(deps, "secret_server_jwks", lambda: secret_keys)
    return provider


@pytest.fixture(autouse=True)
def fresh_settings():
    """Each test reads the settings its own environment gives, and leaves none behind."""
    yield
    get_settings.cache_clear()


@pytest.fixture(params=sorted(SHAPES))
def provider(request, client, monkeypatch):
    create_management_key()  # POP keys: the exchanged tokens and the secret releases are signed with them
    return trust(client, monkeypatch, request.param)


def our_claims(client, token: str) -> dict:
    """The claims of a token we issued, verified against our published JWKS."""
    jwks = KeySet.import_key_set(json.loads(client.http.get("/.well-known/jwks.json").body))
    return jwt.decode(token, jwks, algorithms=["ES256"]).claims


def refused(response, status: int = 401) -> str:
    assert response.status_code == status, response.body
    return json.loads(response.body)["detail"]


def test_every_provider_has_a_recipe_and_every_recipe_is_valid(monkeypatch):
    assert set(RECIPES) == set(SHAPES)
    monkeypatch.setenv("KATTA_TRUSTED_ISSUERS", json.dumps(list(RECIPES.values())))
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match="each issuer needs its own user_id_prefix"):
        get_settings()


# --- a user's flow, for each provider -----------------------------------------------------------

def test_a_users_flow_through_the_api(provider):
    config = json.loads(provider.client.http.get("/api/config").body)
    assert config["keycloakClientIdCryptomator"] == provider.entry["client_id"]
    if "token_endpoint" in provider.entry:
        assert config["keycloakTokenEndpoint"] == provider.entry["token_endpoint"]
        assert config["keycloakAuthEndpoint"] == provider.entry["authorization_endpoint"]
    assert config["clientScope"] == provider.entry.get("client_scope", "openid")
    assert config["authorizationParams"] == provider.entry.get("authorization_params", {})

    alice = provider.token("alice")
    me = provider.call(alice, "GET", "/api/users/me")
    assert me.status_code == 200, me.body
    assert json.loads(me.body)["id"] == provider.user_id("alice")
    # The keys came from the provider's discovery document, or from the recipe's jwks_uri.
    assert provider.idp.fetches == [provider.idp.discovery_uri, provider.idp.shape.jwks_uri]

    keys = UserKeys.generate()
    assert provider.call(alice, "PUT", "/api/users/me", keys.user_dto()).status_code == 201
    vault_id = new_vault_id()
    created = provider.call(alice, "PUT", f"/api/vaults/{vault_id}", vault_dto(vault_id))
    assert created.status_code == 201, created.body
    granted = provider.call(alice, "POST", f"/api/vaults/{vault_id}/access-tokens",
                            {provider.user_id("alice"): keys.access_token(b"k" * 32)})
    assert granted.status_code == 200, granted.body
    retrieved = provider.call(alice, "GET", f"/api/vaults/{vault_id}/access-token")
    assert retrieved.status_code == 200, retrieved.body

    # The role gate: a plain user creates no vault, only an admin reads the billing page.
    bob = provider.token("bob", roles=provider.user)
    assert provider.call(bob, "GET", "/api/users/me").status_code == 200
    other = new_vault_id()
    assert refused(provider.call(bob, "PUT", f"/api/vaults/{other}", vault_dto(other)), 403)
    assert refused(provider.call(alice, "GET", "/api/billing"), 403)
    assert provider.call(provider.token("root", roles=provider.admin), "GET", "/api/billing").status_code == 200


def test_the_token_exchange_narrows_the_providers_scopes(provider):
    subject = provider.token("alice")
    granted = claim_paths.strings(claim_paths.value(provider.idp.claims("alice"),
                                                    provider.entry.get("scope_claim", "scope")))
    narrowed = granted[0].split()[0]
    response = provider.exchange(subject, scope=narrowed)
    assert response.status_code == 200, response.body
    answer = json.loads(response.body)
    assert answer["scope"] == narrowed
    claims = our_claims(provider.client, answer["access_token"])
    assert claims["sub"] == provider.user_id("alice") and claims["aud"] == REPORTS
    assert claims["client_id"] == provider.entry["client_id"]

    wider = json.loads(provider.exchange(subject, scope="katta:everything").body)
    assert wider["error"] == "invalid_scope"


def test_the_secret_server_releases_the_users_secret(provider):
    backend = provider.backend()
    first = backend.release(provider.token("alice"))
    assert first.subject == provider.idp.claims("alice")["sub"] and len(first.secret) == 32
    assert backend.release(provider.token("alice")).secret == first.secret
    assert backend.release(provider.token("bob")).secret != first.secret
    audience = provider.entry.get("audience_claim", "aud")
    with pytest.raises(SecretServerError) as refusal:
        backend.release(provider.token("alice", **{audience: "someone-else"}))
    assert refusal.value.error == "invalid_grant" and "not meant for this service" in refusal.value.description


def test_an_account_an_admin_disabled_gets_no_secret_whatever_claim_names_the_user(provider):
    """The secret server finds the hub account by the recipe's subject_claim (Okta's uid, Auth0's namespaced
    id), not by the raw sub: a disabled account must not slip through where the two differ."""
    backend = provider.backend()
    me = provider.call(provider.token("alice"), "GET", "/api/users/me")
    assert me.status_code == 200, me.body
    admin = provider.token("root", roles=provider.admin)
    user_id = json.loads(me.body)["id"]

    def set_enabled(enabled: bool) -> None:
        response = provider.client.http.request("PUT", f"/api/users/{user_id}/enabled", body=json.dumps(enabled),
                                                headers={**bearer(admin), "Content-Type": "text/plain"})
        assert response.status_code == 204, response.body

    set_enabled(False)
    with pytest.raises(SecretServerError) as refusal:
        backend.release(provider.token("alice"))
    assert refusal.value.error == "invalid_grant" and "disabled" in refusal.value.description
    set_enabled(True)
    assert len(backend.release(provider.token("alice")).secret) == 32


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_each_algorithm_a_recipe_allows_is_accepted(client, monkeypatch, name):
    for alg in RECIPES[name]["algorithms"]:
        provider = trust(client, monkeypatch, name, alg)
        assert provider.call(provider.token(), "GET", "/api/users/me").status_code == 200, alg


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_each_recipe_works_over_http_with_only_its_issuer_changed(client, monkeypatch, name):
    """As an operator would try it: a provider-shaped issuer on loopback, its keys found by discovery."""
    from chalicelib import deps

    server, idp = serve(SHAPES[name])
    try:
        monkeypatch.setenv("KATTA_TRUSTED_ISSUERS", json.dumps([{**RECIPES[name], "issuer": idp.shape.issuer}]))
        deps.reset()  # the settings too
        alice = {**bearer(idp.token("alice", roles=NAMES[name][1])), "Content-Type": "application/json"}
        assert client.http.get("/api/users/me", headers=alice).status_code == 200
        assert server.fetches == 2  # the discovery document, then the JWKS it names
        vault_id = new_vault_id()
        response = client.http.put(f"/api/vaults/{vault_id}", headers=alice, body=json.dumps(vault_dto(vault_id)))
        assert response.status_code == 201, response.body
    finally:
        server.stop()


# --- the refusals, for each provider --------------------------------------------------------------

def test_a_token_for_another_audience_is_refused(provider):
    other = {provider.entry.get("audience_claim", "aud"): "https://someone-else.example"}
    token = provider.token(**other)
    assert "not meant for this service" in refused(provider.call(token, "GET", "/api/users/me"))
    assert json.loads(provider.exchange(token).body)["error"] == "invalid_grant"


def test_a_token_of_another_tenant_is_refused(provider):
    token = provider.token(iss=OTHER_TENANT[provider.name])
    assert refused(provider.call(token, "GET", "/api/users/me")) == "the token's issuer is not trusted"


def test_an_expired_token_is_refused(provider):
    token = provider.token(lifetime=-120)
    assert refused(provider.call(token, "GET", "/api/users/me")) == "the token has expired"
    assert json.loads(provider.exchange(token).body)["error"] == "invalid_grant"


def test_after_a_key_rollover_the_new_kid_is_fetched_and_the_old_key_refused(provider):
    assert provider.call(provider.token(), "GET", "/api/users/me").status_code == 200
    old = provider.idp.rotate()
    provider.clock.advance(get_settings().jwks_refetch_cooldown_seconds)
    assert provider.call(provider.token(), "GET", "/api/users/me").status_code == 200
    rotated_out = provider.token(key=old)
    assert "not signed by a key of its issuer" in refused(provider.call(rotated_out, "GET", "/api/users/me"))


@pytest.mark.parametrize("name", [name for name in sorted(RECIPES) if "authorized_parties" in RECIPES[name]])
def test_a_token_issued_to_another_client_is_refused(client, monkeypatch, name):
    # Cognito's recipe names the client in its audience claim (client_id) already.
    provider = trust(client, monkeypatch, name)
    claim = provider.entry.get("authorized_party_claim", "azp")
    token = provider.token(**{claim: "another-client"})
    assert "issued to a client that is not allowed" in refused(provider.call(token, "GET", "/api/users/me"))


# --- provider specifics ---------------------------------------------------------------------------

@pytest.fixture
def entra(client, monkeypatch):
    return trust(client, monkeypatch, "entra")


def test_an_entra_v1_token_of_the_trusted_tenant_says_how_to_get_v2_tokens(entra):
    token = entra.token(iss=f"https://sts.windows.net/{ENTRA_TENANT}/", ver="1.0", aud="api://katta",
                        appid=entra.idp.claims("alice")["azp"], azp=None)
    assert "accessTokenAcceptedVersion to 2" in refused(entra.call(token, "GET", "/api/users/me"))


@pytest.mark.parametrize("marker", [
    {"_claim_names": {"groups": "src1"},
     "_claim_sources": {"src1": {"endpoint": "https://graph.microsoft.com/v1.0/users/x/getMemberObjects"}}},
    {"hasgroups": True},
])
def test_an_entra_groups_overage_is_refused_rather_than_read_as_no_groups(entra, marker):
    token = entra.token(**marker)
    detail = refused(entra.call(token, "GET", "/api/users/me"), 403)
    assert "left the 'groups' claim out" in detail
    # A user in no group at all has no groups claim and no marker: nothing is missing.
    assert entra.call(entra.token(), "GET", "/api/users/me").status_code == 200


def test_entra_groups_are_object_ids_that_the_role_map_may_name(client, monkeypatch):
    admins = "9e0f7c6b-3a2d-4e1f-8b5c-7d6e5f4a3b2c"
    entry = {**RECIPES["entra"], "role_map": {**RECIPES["entra"]["role_map"], admins: "admin"}}
    monkeypatch.setitem(RECIPES, "entra", entry)
    provider = trust(client, monkeypatch, "entra")
    token = provider.token("root", roles=provider.user, groups=(admins,))
    assert provider.call(token, "GET", "/api/billing").status_code == 200
    plain = provider.token("bob", roles=provider.user, groups=(str(uuid.uuid4()),))
    assert refused(provider.call(plain, "GET", "/api/billing"), 403)


def test_a_cognito_user_is_named_by_the_username_of_the_access_token(client, monkeypatch):
    provider = trust(client, monkeypatch, "cognito")
    me = provider.call(provider.token("alice"), "GET", "/api/users/me")
    assert json.loads(me.body)["name"] == "alice"


def test_a_cognito_id_token_is_refused(client, monkeypatch):
    provider = trust(client, monkeypatch, "cognito")
    client_id = provider.entry["audience"]
    id_token = provider.token(client_id=None, aud=client_id, token_use="id")
    assert "not meant for this service" in refused(provider.call(id_token, "GET", "/api/users/me"))


def test_clients_of_entra_and_auth0_are_told_to_ask_for_a_token_for_this_api(client, monkeypatch):
    """Without the API's scope Entra issues a Microsoft Graph token; without audience Auth0 one for its userinfo."""
    def config(name: str) -> dict:
        trust(client, monkeypatch, name)
        return json.loads(client.http.get("/api/config").body)

    entra = config("entra")
    assert f"api://{RECIPES['entra']['audience']}/Vaults.ReadWrite" in entra["clientScope"].split()
    assert "offline_access" in entra["clientScope"].split()  # else no refresh token
    auth0 = config("auth0")
    assert auth0["authorizationParams"] == {"audience": RECIPES["auth0"]["audience"]}
    assert "offline_access" in auth0["clientScope"].split()


# --- settings -------------------------------------------------------------------------------------

@pytest.mark.parametrize("issuer, reason", [
    (f"https://sts.windows.net/{ENTRA_TENANT}/", "Entra ID's v1 issuer"),
    ("https://login.microsoftonline.com/common/v2.0", "'common' is no tenant"),
    ("https://login.microsoftonline.com/organizations/v2.0", "'organizations' is no tenant"),
])
def test_entra_issuers_that_no_v2_token_carries_are_refused_at_start(monkeypatch, issuer, reason):
    assert_refused_at_start(monkeypatch, {"issuer": issuer}, reason)


@pytest.mark.parametrize("field, value, reason", [
    ("roles_claim", "/https:~1~1katta.example~2roles", "'~' must be followed by 0 or 1"),
    ("groups_claim", "realm_access..groups", "needs a JSON Pointer"),
    ("audience_claim", "", "may not be empty"),
    ("role_map", {"KattaAdmins": "root"}, "role_map.KattaAdmins"),
    ("roles_mapping", {"KattaAdmins": "admin"}, "Extra inputs are not permitted"),
])
def test_a_malformed_claim_setting_is_refused_at_start(monkeypatch, field, value, reason):
    assert_refused_at_start(monkeypatch, {**RECIPES["keycloak"], field: value}, reason)


@pytest.mark.parametrize("field, value, reason", [
    ("client_scope", "", "space-separated scope"),
    ("client_scope", "openid  offline_access", "space-separated scope"),
    ("client_scope", 'openid "katta"', "space-separated scope"),
    ("authorization_params", {"audience": 7}, "authorization_params.audience"),
    ("authorization_params", {"": "x"}, "a parameter name may not be empty"),
])
def test_a_malformed_login_setting_is_refused_at_start(monkeypatch, field, value, reason):
    assert_refused_at_start(monkeypatch, {**RECIPES["keycloak"], field: value}, reason)


@pytest.mark.parametrize("reserved", ["client_id", "redirect_uri", "response_type", "state", "code_challenge",
                                      "code_challenge_method", "scope", "nonce", "prompt", "grant_type"])
def test_an_authorization_parameter_the_clients_set_themselves_is_refused_at_start(monkeypatch, reserved):
    """Else the operator's value would fight the client's: a fixed state or nonce, a weakened PKCE, another scope."""
    entry = {**RECIPES["auth0"], "authorization_params": {"audience": "x", reserved: "y"}}
    assert_refused_at_start(monkeypatch, entry, f"authorization_params may not set {reserved}")


def assert_refused_at_start(monkeypatch, entry: dict, reason: str) -> None:
    monkeypatch.setenv("KATTA_TRUSTED_ISSUERS", json.dumps([{"audience": "katta", **entry}]))
    get_settings.cache_clear()
    with pytest.raises(SettingsError) as refusal:
        get_settings()
    assert "KATTA_TRUSTED_ISSUERS" in str(refusal.value) and reason in str(refusal.value)


# --- claim paths ----------------------------------------------------------------------------------

CLAIMS = {"realm_access": {"roles": ["user"]}, "https://katta.example/roles": ["admin", 7, None],
          "a/b": "slash", "m~n": "tilde", "cognito:groups": "KattaUsers", "list": [{"x": "first"}], "n": 5}


@pytest.mark.parametrize("path, found", [
    ("realm_access.roles", ["user"]),
    ("/realm_access/roles", ["user"]),
    ("/https:~1~1katta.example~1roles", ["admin"]),
    ("/a~1b", ["slash"]),
    ("/m~0n", ["tilde"]),
    ("/m~01", []),  # "~01" is the name "~1", not "/"
    ("cognito:groups", ["KattaUsers"]),
    ("/list/0/x", ["first"]),
    ("/list/1/x", []),
    ("n", []),  # neither a string nor a list: no value
    ("realm_access.missing", []),
    ("https://katta.example/roles", []),  # a dotted path cannot name a claim with dots
])
def test_claim_paths_dotted_and_json_pointer(path, found):
    assert claim_paths.strings(claim_paths.value(CLAIMS, claim_paths.check(path))) == found


def test_the_secret_server_registration_names_its_audience_claim(entra):
    provider = entra
    admin = provider.token("root", roles=provider.admin)
    registration = {"issuer": provider.entry["issuer"], "audience": "secret-server", "audienceClaim": "/a~2b",
                    "jwksUri": provider.idp.shape.jwks_uri}
    response = provider.call(admin, "PUT", "/secret-server/admin/idps", registration)
    assert response.status_code == 400
    assert [e["field"] for e in json.loads(response.body)["errors"]] == ["audienceClaim"]
    assert provider.call(admin, "GET", "/secret-server/admin/idps").body == b"[]"
    registration["audienceClaim"] = "client_id"
    assert json.loads(provider.call(admin, "PUT", "/secret-server/admin/idps", registration).body)["audienceClaim"] \
        == "client_id"


def test_the_exchanged_token_names_the_client_from_the_authorized_party_claim(client, monkeypatch):
    entry = {key: value for key, value in RECIPES["okta"].items() if key != "authorized_parties"}
    monkeypatch.setitem(RECIPES, "okta", entry)
    create_management_key()
    provider = trust(client, monkeypatch, "okta")
    response = provider.exchange(provider.token(cid="0oaOtherNativeApp"))
    assert response.status_code == 200, response.body
    claims = our_claims(client, json.loads(response.body)["access_token"])
    assert claims["client_id"] == "0oaOtherNativeApp"
