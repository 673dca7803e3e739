"""The Katta contract and vectors the tests use are copies of ../shared/reference, kept in the
repository so that a clone tests on its own; where the originals are at hand, the copies must match."""
from __future__ import annotations

from pathlib import Path

import pytest

COPIES = Path(__file__).resolve().parent / "reference"
ORIGINALS = Path(__file__).resolve().parents[2] / "shared" / "reference"


@pytest.mark.parametrize("name", ["katta-openapi.json", "katta-vectors.json"])
def test_the_copy_matches_the_shared_reference(name):
    if not (ORIGINALS / name).is_file():
        pytest.skip("../shared/reference is not beside this checkout")
    assert (COPIES / name).read_bytes() == (ORIGINALS / name).read_bytes(), f"refresh tests/reference/{name}"
