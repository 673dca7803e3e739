"""CloudWatch metrics as embedded metric format (EMF) members of the structured log lines.

CloudWatch Logs turns a JSON log line that carries an ``_aws`` member into metric data points, so
counting costs no API call, no SDK import on a cold start and no agent. Every metric has the one
dimension ``Stage`` (set at start, like the log format); the template's alarms and dashboard read
them (docs/observability.md).
"""
from __future__ import annotations

import time
from typing import Any

NAMESPACE = "Katta"
_stage = "local"


def configure(stage: str) -> None:
    global _stage
    _stage = stage


def fields(**counts: int) -> dict[str, Any]:
    """The ``extra`` of a log line that also counts ``counts`` (metric name → value)."""
    return {"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{
        "Namespace": NAMESPACE, "Dimensions": [["Stage"]],
        "Metrics": [{"Name": name, "Unit": "Count"} for name in counts]}]},
        "Stage": _stage, **counts}
