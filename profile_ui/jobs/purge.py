"""The purges: deleted profiles past the trash's retention window go for good (daily), and
customer files past their time (uploads, cached sheets, import error files, export files;
services/retention.py) are removed (hourly: an abandoned wizard's upload lives hours).

`register_purge_tasks` puts both on the queue as periodic tasks (each consumer's scheduler
runs them; running one twice is harmless: the second run finds nothing);
`profile-ui purge` runs everything by hand (`run_purge`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from huey import crontab
from huey.api import Huey, TaskWrapper
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ..db import get_engine
from ..services.permissions import SYSTEM_ACTOR, Actor
from ..services.retention import FilesPurged, purge_files
from ..services.trash import purge_expired
from .periodic import register_periodic

log = logging.getLogger(__name__)

PURGE_SCHEDULE = crontab(hour="3", minute="17")  # daily, at a quiet hour (UTC)
FILES_PURGE_SCHEDULE = crontab(minute="41")  # hourly


@dataclass
class PurgeReport:
    profiles: int
    files: FilesPurged

    @property
    def export_files(self) -> int:
        return self.files.export_files


def run_file_purge(
    *, engine: Engine | None = None, actor: Actor = SYSTEM_ACTOR, now: datetime | None = None
) -> FilesPurged:
    """Remove the customer files past their time (one transaction for the rows it changes)."""
    engine = engine or get_engine()
    with Session(engine, expire_on_commit=False) as session:
        files = purge_files(session=session, actor=actor, now=now)
        session.commit()
    if files.removed:
        log.info("purge: removed %s", files.summary())
    return files


def run_purge(*, engine: Engine | None = None, actor: Actor = SYSTEM_ACTOR, now: datetime | None = None) -> PurgeReport:
    """Purge expired trash, then every customer file past its time; what went."""
    engine = engine or get_engine()
    with Session(engine, expire_on_commit=False) as session:
        profiles = purge_expired(session=session, actor=actor, now=now)
        session.commit()
    if profiles:
        log.info("purge: %s profiles", profiles)
    return PurgeReport(profiles=profiles, files=run_file_purge(engine=engine, actor=actor, now=now))


def register_purge_tasks(huey: Huey) -> TaskWrapper:
    """Register the daily purge and the hourly file purge on a queue; runner.get_queue
    calls it. Returns the daily one."""
    register_periodic(
        huey, FILES_PURGE_SCHEDULE, name="files.purge", run=run_file_purge, log=log, failure="file purge failed"
    )
    return register_periodic(huey, PURGE_SCHEDULE, name="trash.purge", run=run_purge, log=log, failure="purge failed")
