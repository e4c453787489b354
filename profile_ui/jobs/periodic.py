"""Registering a periodic task (the nightly scan, the purges) on a queue.

Each consumer's scheduler runs a periodic task on its schedule; the work must be harmless
to run twice. A run that fails is logged and not raised: the next run on the schedule is
its retry (a locked database tonight is tried again tomorrow night).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from huey.api import Huey, TaskWrapper


def register_periodic(
    huey: Huey,
    schedule: Callable[..., bool],
    *,
    name: str,
    run: Callable[[], object],
    log: logging.Logger,
    failure: str,
) -> TaskWrapper:
    """Register `run` on `huey` as the periodic task `name`; a failed run is logged (with
    `failure` as its message, on the caller's `log`) and waits for the next one."""

    def periodic() -> None:
        try:
            run()
        except Exception:  # retried on the next run of the schedule (see the module docstring)
            log.exception(failure)

    return huey.periodic_task(schedule, name=name)(periodic)
