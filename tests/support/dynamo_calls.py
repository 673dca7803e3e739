"""Counts the DynamoDB operations botocore sends, what each Query asks for and what DynamoDB read."""
from __future__ import annotations

from typing import Any

from chalicelib import aws


class CallCounter:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.limits: list[int | None] = []  # each Query's Limit, in order
        self.items_scanned = 0  # what the Queries' read units pay for
        self.batch_keys: list[tuple[str, str]] = []  # the (pk, sk) every BatchGetItem asked for
        events = aws.client("dynamodb").meta.events
        events.register("before-parameter-build.dynamodb.*", self._count)
        events.register("after-call.dynamodb.*", self._read)

    def stop(self) -> None:
        events = aws.client("dynamodb").meta.events
        events.unregister("before-parameter-build.dynamodb.*", self._count)
        events.unregister("after-call.dynamodb.*", self._read)

    def __enter__(self) -> "CallCounter":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def _count(self, model, params, **_kwargs) -> None:
        self.calls.append(model.name)
        if model.name == "Query":
            self.limits.append(params.get("Limit"))
        if model.name == "BatchGetItem":
            self.batch_keys += [(k["pk"]["S"], k["sk"]["S"]) for table in params["RequestItems"].values()
                                for k in table["Keys"]]

    def _read(self, parsed, **_kwargs) -> None:
        self.items_scanned += parsed.get("ScannedCount", 0)
