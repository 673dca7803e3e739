"""Vault ids: only the canonical lower-case UUID spelling gets into tokens and policies."""
from __future__ import annotations

import uuid

import pytest

from chalicelib.errors import InvalidField
from chalicelib.storage.vault_ids import canonical_vault_id

VAULT = "3f2b9c4e-8a1d-4e6f-9b0a-1c2d3e4f5a6b"


def test_canonical_id_is_returned_unchanged():
    assert canonical_vault_id(VAULT) == VAULT


def test_any_generated_uuid4_is_accepted():
    for _ in range(20):
        value = str(uuid.uuid4())
        assert canonical_vault_id(value) == value


@pytest.mark.parametrize("value", [
    "*",
    "?",
    "3f2b9c4e-8a1d-4e6f-9b0a-1c2d3e4f5a6*",
    "3f2b9c4e-8a1d-4e6f-9b0a-1c2d3e4f5a6?",
    "3f2b9c4e-8a1d-4e6f-9b0a-*",
    VAULT.upper(),
    "3F2b9c4e-8a1d-4e6f-9b0a-1c2d3e4f5a6b",
    "{" + VAULT + "}",
    "urn:uuid:" + VAULT,
    VAULT.replace("-", ""),
    " " + VAULT,
    VAULT + " ",
    VAULT + "\n",
    "\t" + VAULT,
    VAULT[:-1],
    VAULT + "0",
    "3f2b9c4e-8a1d-4e6f-9b0a-1c2d3e4f5a6g",
    "3f2b9c4e8a1d-4e6f-9b0a-1c2d-3e4f5a6b",
    "",
    "../" + VAULT,
])
def test_non_canonical_spellings_are_refused(value):
    with pytest.raises(InvalidField) as refused:
        canonical_vault_id(value)
    assert refused.value.status == 400
    assert refused.value.extra["errors"][0]["field"] == "vault"
    assert refused.value.detail == "vault: must be a lower-case hyphenated UUID (8-4-4-4-12 hex digits)"


def test_non_string_is_refused():
    with pytest.raises(InvalidField):
        canonical_vault_id(uuid.UUID(VAULT))  # type: ignore[arg-type]


def test_refusal_names_the_callers_field():
    with pytest.raises(InvalidField) as refused:
        canonical_vault_id("*", field="vaultId")
    assert refused.value.extra["errors"] == [{"field": "vaultId", "reason": refused.value.extra["errors"][0]["reason"]}]
    assert refused.value.detail.startswith("vaultId: ")
