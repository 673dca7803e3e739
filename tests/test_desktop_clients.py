"""What a desktop client (Katta's, Cryptomator's) reads before it signs in, for each README recipe."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from chalicelib.settings import get_settings
from infra import deploy
from tests.test_identity_providers import RECIPES

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
CONTRACT = json.loads((ROOT / "tests" / "reference" / "katta-openapi.json").read_text())


def documented_redirect_uris() -> list[str]:
    section = README.split("<!-- desktop-redirect-uris -->", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"`([a-z.]+:[^`\s]+)`", section)


@pytest.fixture(autouse=True)
def fresh_settings():
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_api_config_tells_a_desktop_client_how_to_sign_in(client, monkeypatch, name):
    from chalicelib import deps
    entry = RECIPES[name]
    monkeypatch.setenv("KATTA_TRUSTED_ISSUERS", json.dumps([entry]))
    deps.reset()
    response = client.http.get("/api/config")
    assert response.status_code == 200
    config = json.loads(response.body)
    schema = {**CONTRACT["components"]["schemas"]["ConfigDto"], "components": CONTRACT["components"]}
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(config)]
    assert errors == []
    assert config["keycloakClientIdCryptomator"] == config["keycloakClientIdCryptomatorVaults"] == entry["client_id"]
    assert config["keycloakClientIdHub"] == entry["audience"]
    for endpoint in ("keycloakAuthEndpoint", "keycloakTokenEndpoint", "keycloakUrl"):
        assert config[endpoint].startswith("https://"), endpoint
    if "token_endpoint" in entry:
        assert (config["keycloakAuthEndpoint"], config["keycloakTokenEndpoint"]) == (
            entry["authorization_endpoint"], entry["token_endpoint"])


def test_the_deploy_command_prints_every_documented_redirect_uri_and_the_client():
    uris = documented_redirect_uris()
    assert uris == ["http://127.0.0.1/*", "org.cryptomator.ios:/hub/auth", "org.cryptomator.android:/hub/auth"]
    plan = deploy.load("prod", ROOT / "infra" / "settings.example.toml")
    printed = deploy.registration(plan)
    assert [u for u in uris if u not in printed] == []
    assert f"public client {plan.trusted_issuers[0]['client_id']}" in printed and plan.base_url in printed
