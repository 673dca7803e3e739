"""UpdateExpression for "set these attributes, remove those that became None"."""
from __future__ import annotations

from typing import Any


def set_or_remove(changes: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, Any] | None]:
    names = {f"#a{i}": name for i, name in enumerate(changes)}
    sets = [f"#a{i} = :v{i}" for i, value in enumerate(changes.values()) if value is not None]
    removes = [f"#a{i}" for i, value in enumerate(changes.values()) if value is None]
    clauses = []
    if sets:
        clauses.append("SET " + ", ".join(sets))
    if removes:
        clauses.append("REMOVE " + ", ".join(removes))
    values = {f":v{i}": value for i, value in enumerate(changes.values()) if value is not None}
    return " ".join(clauses), names, values or None
