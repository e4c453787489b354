"""The nightly duplicate scan: every active profile against the base, as the system.

`register_dedupe_tasks` puts it on the queue as a periodic task (each consumer's scheduler
runs it once a day; two runs at once are harmless, the second finds what the first
stored); `profile-ui duplicates scan` calls `run_duplicate_scan` by hand.
"""

from __future__ import annotations

import logging

from huey import crontab
from huey.api import Huey, TaskWrapper
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ..db import get_engine
from ..services.dedupe.scan import ScanReport, scan_all
from ..services.permissions import SYSTEM_ACTOR, Actor
from .periodic import register_periodic

log = logging.getLogger(__name__)

DEDUPE_SCHEDULE = crontab(hour="3", minute="47")  # daily, after the purge (03:17 UTC)


def run_duplicate_scan(*, engine: Engine | None = None, actor: Actor = SYSTEM_ACTOR) -> ScanReport:
    """Scan the whole base in one transaction; what it found."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        report = scan_all(session=session, actor=actor)
        session.commit()
    log.info("duplicate scan: %s", report.summary())
    return report


def register_dedupe_tasks(huey: Huey) -> TaskWrapper:
    """Register the nightly scan on a queue; runner.get_queue calls it."""
    return register_periodic(
        huey, DEDUPE_SCHEDULE, name="duplicates.scan", run=run_duplicate_scan, log=log, failure="duplicate scan failed"
    )
