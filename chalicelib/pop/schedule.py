"""The scheduled POP rotation (registered in ``application.py`` with ``@app.schedule``)."""
from __future__ import annotations

import logging

from chalicelib import deps

log = logging.getLogger("katta")


def rotate_pop_keys() -> dict:
    """One rotation step per POP ring; a ring another instance is rotating is skipped."""
    outcome = deps.pop_keys().run_schedule()
    for use, step in outcome.items():
        if step is None:
            log.info("pop rotation skipped: another instance holds the lock", extra={"use": use})
        elif step["created"] or step["activated"] or step["retired"]:
            log.info("pop rotation", extra={"use": use, "created": step["created"],
                                            "activated": step["activated"], "retired": step["retired"]})
    return outcome
