"""The scheduled POP rotation (registered in ``application.py`` with ``@app.schedule``)."""
from __future__ import annotations

import logging

from chalicelib import deps, metrics

log = logging.getLogger("katta")


def rotate_pop_keys() -> dict:
    """One rotation step per POP ring; a ring another instance is rotating is skipped."""
    outcome = deps.pop_keys().run_schedule()
    for use, step in outcome.items():
        if step is None:
            log.info("pop rotation skipped: another instance holds the lock", extra={"use": use})
        elif step["created"] or step["activated"] or step["retired"]:
            # LogRecord owns the name "created"; hence the kid suffixes.
            log.info("pop rotation", extra={"use": use, "created_kid": step["created"],
                                            "activated_kid": step["activated"], "retired_kids": step["retired"],
                                            **metrics.fields(KeyRotations=1)})
    return outcome
