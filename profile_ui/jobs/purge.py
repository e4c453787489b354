"""The daily purge: deleted profiles past the trash's retention window go for good, and
export files whose download link has expired are removed.

`register_purge_tasks` puts it on the queue as a periodic task (each consumer's scheduler
runs it once a day; running it twice is harmless: the second run finds nothing);
`profile-ui purge` calls `run_purge` by hand.
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
from ..services.exporting import delete_expired_export_files
from ..services.permissions import SYSTEM_ACTOR, Actor
from ..services.trash import purge_expired

log = logging.getLogger(__name__)

PURGE_SCHEDULE = crontab(hour="3", minute="17")  # daily, at a quiet hour (UTC)


@dataclass
class PurgeReport:
    profiles: int
    export_files: int


def run_purge(*, engine: Engine | None = None, actor: Actor = SYSTEM_ACTOR,
              now: datetime | None = None) -> PurgeReport:
    """Purge expired trash and expired export files, in one transaction; what went."""
    engine = engine or get_engine()
    with Session(engine, expire_on_commit=False) as session:
        profiles = purge_expired(session=session, actor=actor, now=now)
        files = delete_expired_export_files(session=session, now=now)
        session.commit()
    if profiles or files:
        log.info("purge: %s profiles, %s expired export files", profiles, files)
    return PurgeReport(profiles=profiles, export_files=files)


def register_purge_tasks(huey: Huey) -> TaskWrapper:
    """Register the daily purge on a queue; runner.get_queue calls it."""

    @huey.periodic_task(PURGE_SCHEDULE, name="trash.purge")
    def purge() -> None:
        try:
            run_purge()
        except Exception:  # a locked database today is retried tomorrow
            log.exception("purge failed")

    return purge
