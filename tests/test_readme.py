"""The README is the contract for people: the two commands and every setting are in it."""
import re
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


def test_the_readme_and_the_docs_stand_alone():
    """A clone has no ../shared: the architecture a newcomer needs is in docs/architecture.md."""
    pages = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
    outside = [f"{page.name}: {word}" for page in pages for word in ("../shared", "DESIGN.md", "DESIGN §")
               if word in page.read_text()]
    assert outside == []


def test_every_page_the_readme_names_exists():
    named = set(re.findall(r"\b(docs/[\w.-]+\.md)\b", README))
    assert "docs/architecture.md" in named
    assert sorted(n for n in named if not (ROOT / n).exists()) == []
