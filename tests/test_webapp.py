"""The web app served by the deployment: /app/, its assets, its headers (architecture §15)."""
from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from chalicelib.settings import Settings, TrustedIssuer
from chalicelib.webapp.site import WebApp
from tests.support.app_client import app_client
from tests.support.storage_world import STATIC_PROFILE, World
from tests.support.tokens import ISSUER
from tests.support.web_build import ASSET, INDEX, serve_fake_build

IDP = "https://" + urlsplit(ISSUER).netloc


@pytest.fixture
def http(client, monkeypatch, tmp_path):
    serve_fake_build(monkeypatch, tmp_path / "dist")
    return client.http


def expected_csp(frame_ancestors: str = "'none'") -> str:
    return (f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' {IDP}; frame-src {IDP}; frame-ancestors {frame_ancestors}; base-uri 'none'; "
            f"form-action 'self' {IDP}; object-src 'none'")


def test_the_root_sends_the_browser_to_the_app(http):
    answer = http.get("/")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/app/"


@pytest.mark.parametrize("path", ["/app", "/app/", "/app/vaults", "/app/vaults/7e57b0c0-1d2a-4f6e-9b1a-0c9d8e7f6a5b",
                                  "/app/callback?code=abc&state=xyz"])
def test_every_page_of_the_app_is_its_index_with_a_strict_policy(http, path):
    answer = http.get(path)
    assert answer.status_code == 200
    assert answer.body.decode() == INDEX
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Content-Security-Policy"] == expected_csp()
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "no-referrer"


def test_only_the_silent_renew_page_may_be_framed_and_only_by_the_app(http):
    assert http.get("/app/silent-renew").headers["Content-Security-Policy"] == expected_csp("'self'")
    assert "frame-ancestors 'none'" in http.get("/app/silent-renew/x").headers["Content-Security-Policy"]


def test_a_hashed_asset_is_cached_for_good(http):
    answer = http.get(f"/app/assets/{ASSET}")
    assert answer.status_code == 200
    assert answer.body.decode() == "console.log('katta')\n"
    assert answer.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert http.get("/app/assets/index-Cd4.css").headers["Content-Type"] == "text/css; charset=utf-8"


@pytest.mark.parametrize("path", [
    "/app/assets/index-0000.js",  # not in the build
    "/app/assets/..%2Findex.html", "/app/assets/..%2F..%2Fsecret.js", "/app/assets/%2e%2e%2fsecret.js",
    "/app/assets/..", "/app/assets/.", "/app/assets/secret.js",
    "/app/assets/index-Cd4.CSS",  # no case folding onto a real name
])
def test_an_unknown_asset_or_a_path_out_of_the_build_is_a_404(http, path, tmp_path):
    (tmp_path / "dist" / "secret.js").write_text("the build's parent folder")
    (tmp_path / "secret.js").write_text("outside the build")
    answer = http.get(path)
    assert answer.status_code == 404
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert "outside" not in answer.body.decode() and "parent" not in answer.body.decode()


@pytest.mark.parametrize("path", ["/app/..%2F..%2Fapp.py", "/app/Vaults", "/app/vaults/..%2Fx", "/app/a%00b",
                                  "/app/vaults/" + "x" * 200])
def test_a_path_that_is_no_page_of_the_app_is_a_404(http, path):
    answer = http.get(path)
    assert answer.status_code == 404
    assert json.loads(answer.body)["detail"] == "no such page"


def test_an_unbuilt_app_says_how_to_build_it(monkeypatch, tmp_path):
    import app
    from chalicelib import deps
    from chalicelib.settings import get_settings

    monkeypatch.setattr(deps, "web_app", lambda: WebApp(get_settings(), tmp_path / "missing"))
    with app_client(app.app) as client:
        answer = client.http.get("/app/")
        assert answer.status_code == 404
        assert "scripts/bootstrap-web" in json.loads(answer.body)["detail"]
        assert client.http.get(f"/app/assets/{ASSET}").status_code == 404


def test_the_policy_names_every_origin_a_browser_signs_in_through():
    cognito = TrustedIssuer(issuer="https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc", audience="katta",
                            authorization_endpoint="https://katta.auth.eu-west-1.amazoncognito.com/oauth2/authorize",
                            token_endpoint="https://katta.auth.eu-west-1.amazoncognito.com/oauth2/token")
    keycloak = TrustedIssuer(issuer=ISSUER, audience="katta", jwks_uri=ISSUER + "/protocol/openid-connect/certs",
                             user_id_prefix="kc-")
    site = WebApp(Settings(trusted_issuers=[cognito, keycloak]))
    assert site.idp_origins() == ["https://cognito-idp.eu-west-1.amazonaws.com",
                                  "https://katta.auth.eu-west-1.amazoncognito.com", IDP]
    policy = site.content_security_policy()
    assert "connect-src 'self' https://cognito-idp.eu-west-1.amazonaws.com " \
           f"https://katta.auth.eu-west-1.amazoncognito.com {IDP};" in policy


def test_without_an_identity_provider_nothing_may_be_framed_or_reached():
    policy = WebApp(Settings(trusted_issuers=[])).content_security_policy()
    assert "connect-src 'self';" in policy and "frame-src 'none';" in policy and "form-action 'self';" in policy


def test_the_config_names_the_issuer_and_the_client_the_web_app_signs_in_with(http):
    config = json.loads(http.get("/api/config").body)
    assert config["oidcIssuer"] == ISSUER
    assert config["oidcWebClientId"] == "katta-cli"  # the entry's client_id: no web_client_id is set


def test_a_web_client_of_its_own_is_published():
    from chalicelib.katta.config import client_config

    entry = TrustedIssuer(issuer=ISSUER, audience="katta", client_id="katta-cli", web_client_id="katta-web")
    assert client_config(Settings(trusted_issuers=[entry]))["oidcWebClientId"] == "katta-web"
    with pytest.raises(ValueError, match="web_client_id"):
        TrustedIssuer(issuer=ISSUER, audience="katta", web_client_id="")


def web_api_operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every entry of the web app's API module (web/src/api/operations.ts)."""
    source = (Path(__file__).resolve().parents[1] / "web" / "src" / "api" / "operations.ts").read_text()
    return re.findall(r'\{ method: "(GET|PUT|POST|DELETE)", path: "([^"]+)"', source)


def test_every_call_of_the_web_app_is_a_route_this_server_offers():
    """The vitest test checks the module against the Katta contract; this one against our own
    document, so a contract route answered with 501 (out of scope) cannot slip into the app."""
    import app
    from chalicelib import openapi
    from chalicelib.katta.http_out_of_scope import OUT_OF_SCOPE

    def shape(path: str) -> str:  # a parameter's name is not on the wire (Hub names one path's two ways)
        return re.sub(r"\{[^}]+\}", "{}", path)

    operations = web_api_operations()
    assert len(operations) > 20  # the pattern still reads the file
    paths: dict = {}
    for path, methods in openapi.document(app.app)["paths"].items():
        paths.setdefault(shape(path), {}).update(methods)
    out_of_scope = {(method, shape(path)) for path, methods, _why in OUT_OF_SCOPE for method in methods}
    missing = [f"{m} {p}" for m, p in operations
               if m.lower() not in paths.get(shape(p), {}) or (m, shape(p)) in out_of_scope]
    assert missing == []


def test_the_pages_may_call_the_sts_endpoints_of_live_s3_sts_profiles(client, issuer, monkeypatch, tmp_path):
    """The browser creates a new vault's bucket through STS, as Katta's web client does."""
    world = World(client, issuer)
    serve_fake_build(monkeypatch, tmp_path / "dist")
    world.profile(stsEndpoint="https://sts.storage.example:8443/")
    world.profile(name="AWS", region="eu-central-1")  # no endpoint of its own: AWS's regional STS
    archived = world.profile(name="old", stsEndpoint="https://old.example")
    assert world.admin.call("PUT", f"/api/storageprofile/{archived['id']}", {"archived": True}).status_code == 204
    world.admin.call("POST", "/api/storageprofile", {**STATIC_PROFILE, "stsEndpoint": "https://static.example"})
    policy = world.client.http.get("/app/create-vault").headers["Content-Security-Policy"]
    connect = next(d for d in policy.split("; ") if d.startswith("connect-src "))
    assert connect == f"connect-src 'self' {IDP} https://sts.eu-central-1.amazonaws.com https://sts.storage.example:8443"
