"""The authorization matrix of every route outside the Katta matrix, and the proof that every route has one.

The route table (``app.app.routes``) is the list of what must be covered: a
route in neither ``tests/test_katta_authz.py``'s ``ROUTES`` nor ``ENTRIES``
below fails ``test_every_route_has_a_matrix_entry``, naming it; an entry whose
route is gone fails too. Each cell — one route, one caller — runs on the hub
of tests/test_faults.py, put back as built after any cell that changed it
(table, S3 buckets and the instance's caches), so every cell sees a fresh world.
docs/authz-matrix.md describes the callers.
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlencode

import pytest

from chalicelib import deps
from chalicelib.katta.formats import AuthorityType
from chalicelib.katta.http_out_of_scope import OUT_OF_SCOPE
from katta_client.resource_server import ResourceServerKeys
from tests.support.attacks import ATTACKER_KEY
from tests.support.katta_world import principal
from tests.support.table_writes import TableWrites
from tests.support.web_build import ASSET, serve_fake_build
from tests.test_faults import (  # noqa: F401 — hub is a fixture
    ACCESS_TOKEN_TYPE, FORM, GRACE, REPORTS, SCENARIOS, TABLE, TOKEN_EXCHANGE, Hub, buckets, cold_instance, hub,
    remove_buckets, scan,
)
from tests.support.katta_contract import our_path
from tests.test_katta_authz import ROUTES as KATTA_ROUTES
from tests.test_secret_fixtures import assertion

# --- callers -------------------------------------------------------------------------------------

# Bearer callers: who they are in katta_world, and the realm roles their token claims.
USERS = {"user": "alice", "member": "bob", "group_member": "dave", "other_user": "carol", "roleless": "frank",
         "admin": "ada", "disabled": "erin"}
TOKEN_ROLES = {"alice": ["user", "create-vaults"], "bob": ["user"], "dave": ["user"], "carol": ["user"],
               "frank": [], "ada": ["user", "admin"],
               # Every role and the vault's ownership (see ``matrix``): only the disabled flag can refuse erin.
               "erin": ["user", "create-vaults", "admin"]}
INVALID_TOKENS = ("malformed", "forged", "minted")
ACCOUNT_CALLERS = ("anonymous", *INVALID_TOKENS, "user", "roleless", "admin", "disabled")
VAULT_CALLERS = ("anonymous", *INVALID_TOKENS, "user", "member", "group_member", "other_user", "roleless", "admin",
                 "disabled")
PUBLIC_CALLERS = ("anonymous", "malformed", "forged", "user", "disabled")
# Knowing a rendezvous id is the capability (docs/rendezvous.md); the stranger guesses one.
RENDEZVOUS_CALLERS = ("anonymous", "forged", "user", "other_user", "disabled", "stranger")

UNREGISTERED_SERVER = ResourceServerKeys.generate()
UNLISTED_AUDIENCE = "https://unlisted.katta.test"
RENEW_BEFORE_MS = 60_000
KR = "/api/admin/keys/rings/{ring}"
SS = "/secret-server/admin"
RDV = "/api/rendezvous/{session_id}"


@dataclass
class Matrix:
    hub: Hub
    minted: str  # our own vault-scoped token (s3-token) of the vault's owner
    writes: TableWrites

    def credential(self, caller: str) -> str | None:
        """The bearer token ``caller`` presents (None: none at all)."""
        if caller == "malformed":
            return "not.a.jwt"
        if caller == "forged":
            # An admin's claims under the trusted issuer's kid, signed with a key the issuer never had.
            return self.hub.issuer.token("ada", realm_access={"roles": TOKEN_ROLES["ada"]}, key=ATTACKER_KEY,
                                         header={"kid": self.hub.issuer.key.kid})
        if caller == "minted":
            return self.minted
        username = USERS.get(caller)
        if username is None:
            return None
        return self.hub.issuer.token(username, realm_access={"roles": TOKEN_ROLES[username]})

    def keep_rendezvous_alive(self) -> None:
        """Renews the hub's session when it nears its TTL, which a slow run of the module can outlast."""
        expiry_ms = min(int(i["expires_at_ms"]["N"]) for i in self.hub.before if i["pk"]["S"].startswith("RDV#"))
        if expiry_ms - time.time() * 1000 < RENEW_BEFORE_MS:
            self.hub.renew_rendezvous()
            self.writes.keep(self.hub.before)
            cold_instance()

    def reset(self) -> None:
        """Puts back the hub as built if the last cell changed it: the items written, the buckets, the caches."""
        if self.writes.undo():
            cold_instance()
            if buckets():
                remove_buckets()


def _masked(items: list[dict[str, Any]]) -> list[str]:
    """The table as comparable text, whatever order the Scan returned it in."""
    return sorted(json.dumps(item, sort_keys=True, default=repr) for item in items)


@pytest.fixture(scope="module", autouse=True)
def web_build(tmp_path_factory):
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield serve_fake_build(monkeypatch, tmp_path_factory.mktemp("web") / "dist")


@pytest.fixture(scope="module")
def matrix(hub):
    """The faults hub, with the disabled erin as an owner of the vault and a minted token of ours."""
    deps.vault_service().put_member(principal("alice"), hub.world.vault_id, hub.world.id("erin"),
                                    AuthorityType.USER.value, "OWNER")
    owner = hub.issuer.token("alice", realm_access={"roles": TOKEN_ROLES["alice"]})
    response = hub.client.http.post(f"/api/storage/s3-token?vault={hub.world.vault_id}",
                                    headers={"Authorization": "Bearer " + owner})
    assert response.status_code == 200, response.body
    hub.before = scan()
    writes = TableWrites(TABLE, hub.before).watch()
    yield Matrix(hub, json.loads(response.body)["access_token"], writes)
    writes.unwatch()
    # A write the recorder missed would have leaked from cell to cell.
    assert _masked(scan()) == _masked(hub.before)


# --- requests ------------------------------------------------------------------------------------

Request = tuple[str, dict[str, str], str | bytes]  # URL, headers, body


def with_bearer(path: Callable[[Hub], str], body: Callable[[Hub], Any] | None = None,
                content_type: str = "application/json") -> Callable[[Matrix, str], Request]:
    def request(m: Matrix, caller: str) -> Request:
        headers = {"Content-Type": content_type}
        token = m.credential(caller)
        if token:
            headers["Authorization"] = "Bearer " + token
        raw = body(m.hub) if body else None
        if raw is not None and not isinstance(raw, (str, bytes)):
            raw = json.dumps(raw)
        return path(m.hub), headers, raw or b""
    return request


def as_in_fault_scenario(method: str, path: str) -> Callable[[Matrix, str], Request]:
    """The request tests/test_faults.py makes to this route, from each caller in turn."""
    scenario = SCENARIOS[(method, path)]
    return with_bearer(scenario.path, scenario.body, scenario.content_type)


def rendezvous(method: str) -> Callable[[Matrix, str], Request]:
    """The hub's session, from each caller; the stranger names a well-formed id that was never issued."""
    send = with_bearer(lambda h: f"/api/rendezvous/{h.rendezvous['id']}") if method == "GET" \
        else as_in_fault_scenario(method, RDV)

    def request(m: Matrix, caller: str) -> Request:
        m.keep_rendezvous_alive()
        url, headers, body = send(m, caller)
        if caller == "stranger":
            url = "/api/rendezvous/" + uuid.uuid4().hex + "0123456789a"
        return url, headers, body
    return request


def token_exchange(m: Matrix, caller: str) -> Request:
    """``POST /oauth2/token``: the caller is whoever's subject token is exchanged."""
    subject = m.credential({"unlisted_audience": "user"}.get(caller, caller))
    form = {"grant_type": TOKEN_EXCHANGE, "subject_token_type": ACCESS_TOKEN_TYPE,
            "audience": UNLISTED_AUDIENCE if caller == "unlisted_audience" else REPORTS}
    if subject:
        form["subject_token"] = subject
    return "/oauth2/token", {"Content-Type": FORM}, urlencode(form)


def secret_exchange(m: Matrix, caller: str) -> Request:
    """``POST /secret-server/token-exchange``: the caller is a resource server (its client assertion)."""
    secrets, backend = m.hub.secrets, m.hub.backend
    user = secrets.user_token("alice")
    headers = {"Content-Type": FORM}
    forms: dict[str, Callable[[], dict[str, str | None]]] = {
        "registered_server": lambda: secrets.form(backend, user),
        "anonymous": lambda: secrets.form(backend, user, client_assertion_type=None, client_assertion=None),
        "unregistered_server": lambda: secrets.form(backend, user, audience="stranger",
                                                    assertion=assertion(UNREGISTERED_SERVER, "stranger")),
        "idp_token_as_assertion": lambda: secrets.form(backend, user, assertion=user),
        "forged_assertion": lambda: secrets.form(backend, user, assertion=assertion(
            backend.keys, backend.client_id, key=ATTACKER_KEY, header={"kid": backend.keys.signing.kid})),
        "malformed_assertion": lambda: secrets.form(backend, user, assertion="not.a.jwt"),
        "minted_subject": lambda: secrets.form(backend, m.minted),
        # The API's trusted issuer is not an IdP registered with the secret server.
        "unregistered_idp_subject": lambda: secrets.form(backend, m.credential("user")),
        "other_audience": lambda: secrets.form(backend, user, audience="another-backend"),
        # The user's token for some other service, replayed here.
        "subject_for_another_audience": lambda: secrets.form(backend, secrets.user_token("alice", aud="reports")),
        "replayed_assertion": lambda: spent(secrets.form(backend, user)),
    }

    def spent(form: dict[str, str]) -> dict[str, str]:
        """The form, after it opened one exchange: its assertion's jti is spent."""
        first = m.hub.client.http.post("/secret-server/token-exchange", headers=headers, body=urlencode(form))
        assert first.status_code == 200, first.body
        return form

    if caller == "admin_bearer":
        headers["Authorization"] = "Bearer " + m.credential("admin")
        form = secrets.form(backend, user, client_assertion_type=None, client_assertion=None)
    else:
        form = forms[caller]()
    return "/secret-server/token-exchange", headers, urlencode(form)


# --- the matrix ----------------------------------------------------------------------------------

Outcome = int | tuple[int, str]  # a status, or for OAuth endpoints (status, RFC 6749 error code)


@dataclass(frozen=True)
class Entry:
    method: str
    path: str  # as in the route table
    expected: dict[str, Outcome]  # caller → outcome
    request: Callable[[Matrix, str], Request]
    oauth: bool = False
    check_body: Callable[[Any], bool] | None = None
    scim: bool = False  # refusals are RFC 7644 errors, not problems


def bearer(callers: tuple[str, ...], allowed: dict[str, int], default: int = 403) -> dict[str, Outcome]:
    """Invalid credentials are 401, a disabled account 403; the rest as ``allowed`` says, else ``default``."""
    refused = {"anonymous": 401, **{c: 401 for c in INVALID_TOKENS}, "disabled": 403}
    return {c: refused.get(c, allowed.get(c, default)) for c in callers}


def everyone(callers: tuple[str, ...], status: int) -> dict[str, Outcome]:
    return {c: status for c in callers}


def admin_entry(method: str, path: str, status: int, request=None, **options: Any) -> Entry:
    return Entry(method, path, bearer(ACCOUNT_CALLERS, {"admin": status}),
                 request or as_in_fault_scenario(method, path), **options)


def scim_entries(kind: str, resource_id: str) -> list[Entry]:
    """A SCIM resource type's six routes; the provisioning secret is tested in tests/test_scim.py."""
    base = f"/scim/v2/{kind}"
    one = base + ("/{userId}" if kind == "Users" else "/{groupId}")
    return [admin_entry("GET", base, 200, with_bearer(lambda h: base), scim=True),
            admin_entry("POST", base, 201, scim=True),
            admin_entry("GET", one, 200, with_bearer(lambda h: f"{base}/{resource_id}"), scim=True),
            admin_entry("PUT", one, 200, scim=True),
            admin_entry("PATCH", one, 200, scim=True),
            admin_entry("DELETE", one, 204, scim=True)]


def scim_discovery_entries() -> list[Entry]:
    """RFC 7644 §4's read-only routes (path in the route table, path sent)."""
    routes = [("/scim/v2/ServiceProviderConfig",) * 2, ("/scim/v2/ResourceTypes",) * 2,
              ("/scim/v2/ResourceTypes/{name}", "/scim/v2/ResourceTypes/User"), ("/scim/v2/Schemas",) * 2,
              ("/scim/v2/Schemas/{uri}", "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group")]
    return [admin_entry("GET", path, 200, with_bearer(lambda h, sent=sent: sent), scim=True) for path, sent in routes]


def public(path: str, **options: Any) -> Entry:
    return Entry("GET", path, everyone(PUBLIC_CALLERS, 200), with_bearer(lambda h: path), **options)


SIGNED_IN = {c: 200 for c in ("user", "admin")}

ENTRIES: list[Entry] = [
    public("/health"),
    public("/.well-known/jwks.json"),
    public("/.well-known/openid-configuration"),
    public("/pop"),
    public("/openapi.json", check_body=lambda document: "openapi" in document and "paths" in document),
    # The web app (a fake build: see web_build below); a token changes nothing for it.
    Entry("GET", "/", everyone(PUBLIC_CALLERS, 302), with_bearer(lambda h: "/")),
    public("/app"),
    Entry("GET", "/app/{page}", everyone(PUBLIC_CALLERS, 200), with_bearer(lambda h: "/app/vaults")),
    Entry("GET", "/app/{page}/{item}", everyone(PUBLIC_CALLERS, 200), with_bearer(lambda h: "/app/vaults/v1")),
    Entry("GET", "/app/assets/{name}", everyone(PUBLIC_CALLERS, 200), with_bearer(lambda h: f"/app/assets/{ASSET}")),
    *(Entry(method, path, everyone(PUBLIC_CALLERS, 501),
            with_bearer(lambda h, path=path: path.replace("{", "x").replace("}", "")))
      for path, methods, _reason in OUT_OF_SCOPE for method in methods),
    # This service's own audit log.
    admin_entry("GET", "/api/admin/auditlog", 200, with_bearer(
        lambda h: "/api/admin/auditlog?startDate=2020-01-01T00:00:00Z&endDate=2100-01-01T00:00:00Z")),
    # Key management.
    admin_entry("GET", "/api/admin/keys", 200, with_bearer(lambda h: "/api/admin/keys")),
    admin_entry("POST", "/api/admin/keys/pop/{use}/rotate", 200),
    admin_entry("POST", KR + "/rotate", 200),
    admin_entry("PUT", KR + "/min-decryption-version", 200),
    admin_entry("POST", KR + "/trim", 200),
    admin_entry("POST", KR + "/rewrap", 200),
    admin_entry("POST", KR + "/rewrap-versions", 200),
    # The secret server's registrations.
    admin_entry("GET", SS + "/idps", 200, with_bearer(lambda h: SS + "/idps")),
    admin_entry("PUT", SS + "/idps", 201),
    admin_entry("DELETE", SS + "/idps", 204),
    admin_entry("GET", SS + "/resource-servers", 200, with_bearer(lambda h: SS + "/resource-servers")),
    admin_entry("GET", SS + "/resource-servers/{client_id}", 200,
                with_bearer(lambda h: f"{SS}/resource-servers/{h.backend.client_id}")),
    admin_entry("PUT", SS + "/resource-servers/{client_id}", 201),
    admin_entry("DELETE", SS + "/resource-servers/{client_id}", 204),
    # Storage profiles: read by users (and admins), written by admins.
    Entry("GET", "/api/storageprofile", bearer(ACCOUNT_CALLERS, SIGNED_IN),
          with_bearer(lambda h: "/api/storageprofile")),
    Entry("GET", "/api/storageprofile/{profileId}", bearer(ACCOUNT_CALLERS, SIGNED_IN),
          with_bearer(lambda h: f"/api/storageprofile/{h.profile_id}")),
    admin_entry("POST", "/api/storageprofile", 201),
    admin_entry("PUT", "/api/storageprofile/{profileId}", 204),
    # A vault's storage: its bucket is made by an owner, its STS token goes to members.
    Entry("PUT", "/api/storage/{vaultId}", bearer(VAULT_CALLERS, {"user": 200}),
          as_in_fault_scenario("PUT", "/api/storage/{vaultId}")),
    Entry("POST", "/api/storage/s3-token", bearer(VAULT_CALLERS, {"user": 200, "member": 200, "group_member": 200}),
          as_in_fault_scenario("POST", "/api/storage/s3-token")),
    # Device linking: creating needs a signed-in account; the session id is the capability after that.
    Entry("POST", "/api/rendezvous", bearer(ACCOUNT_CALLERS, {"user": 201, "admin": 201}),
          as_in_fault_scenario("POST", "/api/rendezvous")),
    Entry("GET", RDV, {**everyone(RENDEZVOUS_CALLERS, 200), "stranger": 404}, rendezvous("GET")),
    Entry("PUT", RDV, {**everyone(RENDEZVOUS_CALLERS, 200), "stranger": 404}, rendezvous("PUT")),
    Entry("DELETE", RDV, {**everyone(RENDEZVOUS_CALLERS, 204), "stranger": 404}, rendezvous("DELETE")),
    # SCIM provisioning.
    *scim_entries("Users", GRACE),
    *scim_entries("Groups", "team"),
    *scim_discovery_entries(),
    # OAuth endpoints: RFC 6749 error codes.
    Entry("POST", "/oauth2/token", {
        "user": 200, "anonymous": (400, "invalid_request"), "malformed": (400, "invalid_grant"),
        "forged": (400, "invalid_grant"), "minted": (400, "invalid_grant"), "disabled": (400, "invalid_grant"),
        "unlisted_audience": (400, "invalid_target"),
    }, token_exchange, oauth=True),
    Entry("POST", "/secret-server/token-exchange", {
        "registered_server": 200, "anonymous": (401, "invalid_client"),
        "unregistered_server": (401, "invalid_client"), "idp_token_as_assertion": (401, "invalid_client"),
        "forged_assertion": (401, "invalid_client"), "malformed_assertion": (401, "invalid_client"),
        "admin_bearer": (401, "invalid_client"), "minted_subject": (400, "invalid_grant"),
        "unregistered_idp_subject": (400, "invalid_grant"), "subject_for_another_audience": (400, "invalid_grant"),
        "other_audience": (400, "invalid_target"), "replayed_assertion": (401, "invalid_client"),
    }, secret_exchange, oauth=True),
]

# Cells that answer what they should not; each is a finding reported to the service's owners.
FINDINGS: dict[tuple[str, str, str], str] = {}


# --- completeness --------------------------------------------------------------------------------

def route_table() -> set[tuple[str, str]]:
    import app
    return {(method, path) for path, methods in app.app.routes.items() for method in methods}


def uncovered(routes: set[tuple[str, str]], entries: set[tuple[str, str]]) -> list[str]:
    return sorted(f"{method} {path}" for method, path in routes - entries)


def matrix_entries() -> set[tuple[str, str]]:
    return {(r.method, our_path(r.template)) for r in KATTA_ROUTES} | {(e.method, e.path) for e in ENTRIES}


def test_every_route_has_a_matrix_entry():
    missing = uncovered(route_table(), matrix_entries())
    assert missing == [], ("routes without an authorization-matrix entry (add one to ENTRIES here, or to "
                           f"ROUTES in tests/test_katta_authz.py): {missing}")


def test_every_matrix_entry_names_a_route():
    stale = uncovered(matrix_entries(), route_table())
    assert stale == [], f"matrix entries for routes that no longer exist: {stale}"


def test_a_route_without_an_entry_is_named():
    routes = {("GET", "/health"), ("POST", "/api/new-thing")}
    assert uncovered(routes, {("GET", "/health")}) == ["POST /api/new-thing"]


def test_the_matrix_has_one_entry_per_route():
    keys = [(e.method, e.path) for e in ENTRIES]
    assert sorted(k for k in set(keys) if keys.count(k) > 1) == []


# --- the cells -----------------------------------------------------------------------------------

def _cells():
    for entry in ENTRIES:
        for caller in entry.expected:
            reason = FINDINGS.get((entry.method, entry.path, caller))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(entry, caller, marks=marks, id=f"{entry.method} {entry.path} as {caller}")


@pytest.mark.parametrize(("entry", "caller"), list(_cells()))
def test_route_authorization(matrix, entry, caller):
    url, headers, body = entry.request(matrix, caller)
    try:
        response = matrix.hub.client.http.request(entry.method, url, headers=headers, body=body)
    finally:
        matrix.reset()
    expected = entry.expected[caller]
    status, error = expected if isinstance(expected, tuple) else (expected, None)
    text = response.body.decode() if isinstance(response.body, bytes) else response.body
    assert response.status_code == status, text[:300]
    if entry.oauth:
        _check_oauth(response, text, status, error)
    elif entry.scim and status >= 400:
        _check_scim(response, text, status, caller)
    elif status >= 400:
        _check_problem(response, text, status, caller)
    elif entry.check_body:
        assert entry.check_body(json.loads(text))


def _check_problem(response, text: str, status: int, caller: str) -> None:
    assert response.headers["Content-Type"] == "application/problem+json"
    assert json.loads(text)["status"] == status
    _check_challenge(response, status, caller)


def _check_scim(response, text: str, status: int, caller: str) -> None:
    assert response.headers["Content-Type"] == "application/scim+json"
    assert json.loads(text)["status"] == str(status)  # RFC 7644 §3.12: a string
    _check_challenge(response, status, caller)


def _check_challenge(response, status: int, caller: str) -> None:
    if status == 401:
        challenge = response.headers["WWW-Authenticate"]
        if caller == "anonymous":
            assert challenge == 'Bearer realm="katta"'  # RFC 6750 §3.1: no error code without a token
        else:
            assert challenge.startswith('Bearer realm="katta", error="invalid_token", error_description=')


def _check_oauth(response, text: str, status: int, error: str | None) -> None:
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Cache-Control"] == "no-store"
    answer = json.loads(text)
    if status == 200:
        assert answer["access_token"]
        return
    assert answer["error"] == error, answer
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith(
            'private_key_jwt realm="katta-secret-server", error="invalid_client"')
