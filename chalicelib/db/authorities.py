"""Users and groups share one namespace of member ids: one read finds which one an id names."""
from __future__ import annotations

from typing import Any, Iterable

from chalicelib.db import keys
from chalicelib.db.table import Table, record


class AuthorityRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def get_many(self, authority_ids: Iterable[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The users and the groups among ``authority_ids``, in ONE BatchGetItem."""
        ids = list(authority_ids)
        items = self.table.batch_get(key for a in ids for key in (keys.user(a), keys.group(a)))
        users = [i for i in items if (i["pk"], i["sk"]) == keys.user(i["id"])]
        groups = [record(i) for i in items if (i["pk"], i["sk"]) == keys.group(i["id"])]
        return users, groups
