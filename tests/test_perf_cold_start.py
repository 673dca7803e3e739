"""Cold start (architecture §13): what ``import app`` does, and what it leaves to the first request.

Each case imports the app in a fresh interpreter, as a Lambda cold start does; the figures
themselves (CPU time against ``import boto3``) are bench/figures.py's, never asserted here.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Loaded by the first request that needs them, never by the import.
DEFERRED_PACKAGES = ("boto3", "botocore", "joserfc", "cryptography")
DEFERRED_MODULES = ("urllib.request", "chalicelib.fetch", "chalicelib.crypto.keyring", "chalicelib.crypto.pop",
                    "chalicelib.db.keyrings", "chalicelib.db.popkeys",
                    "chalicelib.katta.dtos",  # the response models: only /openapi.json builds them
                    # Services and input models the route modules name but load on first use (issue 20).
                    "chalicelib.secrets.service", "chalicelib.secrets.registry", "chalicelib.tokens.exchange",
                    "chalicelib.rendezvous.service", "chalicelib.storage.formats", "chalicelib.storage.schemas")
INPUT_MODELS = ("chalicelib.katta.formats:VaultInput", "chalicelib.katta.formats:DeviceInput",
                "chalicelib.secrets.registry:IdpRegistration", "chalicelib.storage.formats:CreateBucketInput",
                "chalicelib.storage.formats:ProfileInput", "chalicelib.katta.params:TokensByUser",
                "chalicelib.katta.params:TokensByVault", "chalicelib.katta.params:RolesByAuthority")


def run_fresh(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "KATTA_STAGE": "test", **env})


def test_importing_the_app_leaves_the_aws_sdk_jose_and_http_client_to_the_first_request():
    result = run_fresh("import json, sys, app; print(json.dumps(sorted(sys.modules)))")
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    assert not {m for m in loaded if m.split(".")[0] in DEFERRED_PACKAGES}
    assert not loaded & set(DEFERRED_MODULES)
    assert "chalicelib.settings" in loaded  # the settings are read at start
    # pydantic-settings imported asyncio, dotenv and argparse on every cold start: the settings read the
    # environment themselves.
    assert not loaded & {"pydantic_settings", "asyncio", "dotenv", "argparse"}


def test_input_models_are_built_on_first_use_and_then_validate():
    result = run_fresh(f"""
import importlib, json, app
models = [getattr(importlib.import_module(m), name) for m, name in (s.split(":") for s in {INPUT_MODELS!r})]
at_import = [model.__pydantic_complete__ for model in models]
from chalicelib.katta.formats import VaultInput
try:
    VaultInput.model_validate({{"name": "bad<name"}})
    refused = False
except ValueError:
    refused = True
print(json.dumps({{"at_import": at_import, "refused": refused, "built": VaultInput.__pydantic_complete__,
                  "name": VaultInput.model_validate({{"name": " ok "}}).name}}))
""")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["at_import"] == [False] * len(INPUT_MODELS)
    assert found["refused"] and found["built"] and found["name"] == "ok"


def test_an_invalid_setting_still_fails_the_import_naming_the_setting():
    result = run_fresh("import app", KATTA_CLOCK_LEEWAY_SECONDS="120")
    assert result.returncode != 0
    assert "SettingsError" in result.stderr and "KATTA_CLOCK_LEEWAY_SECONDS" in result.stderr
    assert run_fresh("import app", KATTA_CLOCK_LEEWAY_SECONDS="30").returncode == 0
