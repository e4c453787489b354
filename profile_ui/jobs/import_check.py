"""An import's possible-duplicate checks, off the import's path.

The dry run commits its preview, and the apply the import, each leaving an
ImportPendingCheck row (services/importing/duplicate_checks.py), whose task
(`import.check_duplicates`, sent after that commit) lands here: `run_import_check` runs the
check and deletes the row, in one transaction. After a dry run: the preview's look-alike
flags filled in, the check kept for the apply. After an apply: the created and changed
profiles checked against the base, the pairs stored with the import's id. The preview and
the report say "checking for possible duplicates…" until then, and the number after.

A worker that dies mid-check rolls its transaction back and leaves the row; the recovery
sweep (`recover_import_checks`, every minute) sends the task again for rows older than a
lease. Two runs of one check are harmless: they take the import apply lock in turn, and the
second finds the row gone. A check that keeps failing (a bug) is logged each time and
left for the nightly scan, which finds the same pairs.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from ..db import get_engine
from ..models import utcnow
from ..services import dispatch
from ..services.importing.duplicate_checks import pending_checks, run_pending_check
from ..services.permissions import SYSTEM_ACTOR
from .leases import LEASE_SECONDS

log = logging.getLogger(__name__)


def run_import_check(job_id: int, *, engine: Engine | None = None) -> int | None:
    """Run the job's pending check in one transaction: the people flagged (preview) or the
    new pairs (apply); None when none was left."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        new = run_pending_check(session=session, actor=SYSTEM_ACTOR, job_id=job_id)
        session.commit()
    if new is not None:
        log.info("import job %s: possible-duplicate check done (%s)", job_id, new)
    return new


def recover_import_checks(*, engine: Engine | None = None) -> list[int]:
    """Send again the checks left for longer than a lease (a worker died, a message was lost)."""
    with Session(engine or get_engine()) as session:
        left = pending_checks(session=session, queued_before=utcnow() - timedelta(seconds=LEASE_SECONDS))
    for job_id in left:
        log.warning("import job %s: its possible-duplicate check was left behind; sent again", job_id)
        dispatch.send(dispatch.IMPORT_DUPLICATES, job_id)
    return left
