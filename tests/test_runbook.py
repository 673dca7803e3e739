"""The runbook's copy-back step, run as written against two tables in moto.

An operator runs it during an incident, with no second chance: the restored table's items must
replace the live ones, and what the live table gained since the restore point must go.
"""
from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import boto3

from chalicelib.db.schema import create_table

RUNBOOK = Path(__file__).resolve().parent.parent / "docs" / "runbook.md"


def copy_back_snippet() -> str:
    section = RUNBOOK.read_text().split("## Restore the table to a point in time", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the restore section has one Python block: the copy-back"
    return "\n".join(line[3:] if line.startswith("   ") else line for line in blocks[0].splitlines())


def test_the_copy_back_makes_the_live_table_what_the_restore_holds(aws):
    client = boto3.client("dynamodb")
    for name in ("katta-prod", "katta-prod-restore"):
        create_table(client, name)
    ddb = boto3.resource("dynamodb")
    live, restored = ddb.Table("katta-prod"), ddb.Table("katta-prod-restore")
    then = [{"pk": f"USER#{n}", "sk": "PROFILE", "name": f"user {n}", "n": Decimal(n)} for n in range(60)]
    for item in then:
        restored.put_item(Item=item)
    for item in then[:30]:
        live.put_item(Item={**item, "name": "damaged"})  # changed since the restore point
    live.put_item(Item={"pk": "VAULT#since", "sk": "METADATA", "name": "made after the restore point"})

    exec(compile(copy_back_snippet(), str(RUNBOOK), "exec"), {})

    after = sorted(live.scan()["Items"], key=lambda i: i["n"])
    assert after == then
