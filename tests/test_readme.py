"""The README is the contract for people: the two commands and every setting are in it."""
from pathlib import Path

from chalicelib.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_every_setting_is_documented():
    missing = [f"KATTA_{name.upper()}" for name in Settings.model_fields if f"KATTA_{name.upper()}" not in README]
    assert not missing, f"add to the README's settings table: {', '.join(missing)}"


def test_ci_runs_the_readmes_test_command():
    assert "| **test** | `scripts/test` |" in README and "| **run** | `scripts/run-local` |" in README
    assert "exec scripts/test" in (ROOT / ".ci" / "run").read_text()
