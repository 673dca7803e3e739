import json

import pytest

from chalicelib.settings import Settings, SettingsError, get_settings

ISSUER = {"issuer": "https://idp.example/realms/katta", "audience": "katta"}


@pytest.fixture
def env(monkeypatch):
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_trusted_issuers_from_json(env):
    env.setenv("KATTA_TRUSTED_ISSUERS", json.dumps([ISSUER]))
    settings = get_settings()
    assert settings.trusted_issuers[0].roles_claim == "realm_access.roles"
    assert settings.trusted_issuers[0].discovery_uri == ISSUER["issuer"] + "/.well-known/openid-configuration"


@pytest.mark.parametrize(("variable", "value", "named"), [
    ("KATTA_TRUSTED_ISSUERS", json.dumps([{**ISSUER, "algorithms": ["HS256"]}]), "KATTA_TRUSTED_ISSUERS"),
    ("KATTA_TRUSTED_ISSUERS", json.dumps([{**ISSUER, "algorithms": ["none"]}]), "KATTA_TRUSTED_ISSUERS"),
    ("KATTA_TRUSTED_ISSUERS", json.dumps([{"issuer": "ftp://x", "audience": "katta"}]), "KATTA_TRUSTED_ISSUERS"),
    ("KATTA_TRUSTED_ISSUERS", "[{not json", "KATTA_TRUSTED_ISSUERS"),
    ("KATTA_CLOCK_LEEWAY_SECONDS", "120", "KATTA_CLOCK_LEEWAY_SECONDS"),
    ("KATTA_PUBLIC_BASE_URL", "not a url", "KATTA_PUBLIC_BASE_URL"),
    ("KATTA_STAGE", "staging", "KATTA_STAGE"),
])
def test_invalid_settings_fail_at_start_naming_the_setting(env, variable, value, named):
    env.setenv(variable, value)
    with pytest.raises(SettingsError, match=named):
        get_settings()


def test_dev_idp_is_refused_outside_the_local_stage():
    local_idp = {"issuer": "http://127.0.0.1:8180/realms/katta", "audience": "katta"}
    assert Settings(stage="local", trusted_issuers=[local_idp])
    with pytest.raises(ValueError, match="loopback issuer"):
        Settings(stage="prod", public_base_url="https://katta.example", trusted_issuers=[local_idp])


def test_our_own_issuer_cannot_be_trusted():
    with pytest.raises(ValueError, match="our own issuer"):
        Settings(public_base_url="https://katta.example",
                 trusted_issuers=[{"issuer": "https://katta.example", "audience": "katta"}])


def test_several_issuers_need_distinct_user_id_prefixes():
    second = {"issuer": "https://other.example", "audience": "katta"}
    with pytest.raises(ValueError, match="user_id_prefix"):
        Settings(trusted_issuers=[ISSUER, second])
    assert Settings(trusted_issuers=[ISSUER, {**second, "user_id_prefix": "other-"}])
