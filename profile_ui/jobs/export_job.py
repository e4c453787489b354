"""The export job: a queued ExportJob row -> its file under DATA_DIR/exports, then the user
is told (in-app notification and e-mail) with the download link.

Plain functions over ExportJob rows; the queue (runner.py) calls `run_export_job` through
the task registered by `register_export_tasks`, tests and the CLI may call it directly.
The claim is a compare-and-set (queued -> running), so a task delivered twice writes the
file once. The file is read in one session and the outcome (row, audit event,
notification) written in a second, short transaction, so a long read never holds
SQLite's write lock. The actor is the user who asked, with the permissions they have
now: one who lost profiles.export (or was deactivated) meanwhile gets a failed job.

Recovery (every minute, on each consumer): queued exports whose queue message may have
been lost (a Redis restart) are sent again; a running export whose worker died (the claim
records the owner process, as import claims do) is queued again and written from the
start by the next worker; the file only appears, renamed, once complete. An export
running past EXPORT_STALE_AFTER without a known owner is marked failed.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from huey import crontab
from huey.api import Huey, TaskWrapper
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from ..db import get_engine
from ..links import EXPORTS, export_download_url
from ..models import ExportJob, User, utcnow
from ..services import dispatch
from ..services.exporting import (
    STATUS_COMPLETED,
    STATUS_FAILED,
    STATUS_QUEUED,
    STATUS_RUNNING,
    ExportError,
    export_file_path,
    finish_export_job,
    plan_columns,
    record_export,
    write_profiles_file,
)
from ..services.notify import notify_user, send_email
from ..services.permissions import PROFILES_EXPORT, Actor, PermissionDenied
from ..services.profiles import ProfileFilter
from ..services.users import actor_for_user
from ..settings import get_settings
from .leases import Owner, claim_is_stale

log = logging.getLogger(__name__)

EXPORT_STALE_AFTER = timedelta(hours=1)  # 1,000,000 rows take well under a minute
REQUEUE_AFTER = timedelta(minutes=2)
RECOVERY_SCHEDULE = crontab(minute="*")
TEST_EXPORT_DELAY_ENV = "PROFILE_UI_TEST_EXPORT_DELAY"  # tests: hold a claimed export


def register_export_tasks(huey: Huey) -> TaskWrapper:
    """Register the export task (and its recovery sweep) on a queue; runner.get_queue calls it."""

    @huey.task(name="export.run")
    def run_export(export_id: int) -> None:
        run_export_job(export_id)

    @huey.periodic_task(RECOVERY_SCHEDULE, name="export.recover")
    def recover() -> None:
        try:
            recover_export_jobs()
        except Exception:  # a locked database now is retried on the next sweep
            log.exception("export recovery failed")

    return run_export


def _claim(engine: Engine, export_id: int) -> bool:
    # on another host only the lease tells whether the owner lives: as long as an export may run
    claim = {"owner": Owner.current().to_json(), "lease_until": (utcnow() + EXPORT_STALE_AFTER).isoformat()}
    with engine.begin() as conn:
        return (
            conn.execute(
                sa.update(ExportJob)
                .where(col(ExportJob.id) == export_id, col(ExportJob.status) == STATUS_QUEUED)
                .values(status=STATUS_RUNNING, claim=claim)
            ).rowcount
            == 1
        )


def _test_export_delay() -> None:
    delay = float(os.environ.get(TEST_EXPORT_DELAY_ENV) or 0)
    if delay > 0:
        time.sleep(delay)


def run_export_job(export_id: int, *, engine: Engine | None = None) -> str | None:
    """Claim a queued export and write its file; the status it ended in (None: not ours)."""
    engine = engine or get_engine()
    if not _claim(engine, export_id):
        return None
    _test_export_delay()
    started = time.perf_counter()
    try:
        with Session(engine, expire_on_commit=False) as session:
            job = _export_row(session, export_id)
            actor = _actor(session, job)
            actor.require(PROFILES_EXPORT)
            flt = ProfileFilter.from_json(job.filter)
            # the columns the user confirmed, minus any their role may no longer export
            planned, left_out = plan_columns(session=session, actor=actor, fields_mode="displayed", columns=job.columns)
            path = export_file_path(job)
            rows = write_profiles_file(
                session=session, flt=flt, columns=planned, fmt=job.format, out_path=path, at_rest=True
            )
            session.rollback()  # only read: end the read transaction before writing
    except (ExportError, PermissionDenied) as exc:
        _fail(engine, export_id, str(exc))
        return STATUS_FAILED
    except Exception as exc:  # a bug must not leave the job running: fail it, say why
        log.exception("export %s failed", export_id)
        _fail(engine, export_id, f"Unexpected error: {exc}")
        return STATUS_FAILED
    log.info("export %s: %s rows in %.1f s", export_id, rows, time.perf_counter() - started)

    with Session(engine, expire_on_commit=False) as session:
        job = _export_row(session, export_id)
        finish_export_job(job, rows=rows, path=path)
        session.add(job)
        record_export(
            session=session,
            actor=actor,
            flt=flt,
            fields_mode=job.fields_mode,
            fmt=job.format,
            columns=planned,
            left_out=left_out,
            row_count=rows,
            export_id=export_id,
            file_name=path.name,
        )
        title = f"Your export of {rows:,} profiles is ready"
        body = (
            f"{path.name} ({job.format}, {rows:,} profiles) can be downloaded until "
            f"{job.expires_at:%Y-%m-%d %H:%M} UTC."
        )
        notify_user(
            session=session,
            user_id=job.created_by,
            title=title,
            body=body,
            link=export_download_url(export_id),
            email=False,
        )
        owner = session.get(User, job.created_by)
        session.commit()
    _email(owner, title, body, export_download_url(export_id))
    return STATUS_COMPLETED


def _export_row(session: Session, export_id: int) -> ExportJob:
    job = session.get(ExportJob, export_id)
    if job is None:  # deleted while this worker held it
        raise ExportError(f"export {export_id} no longer exists")
    return job


def _actor(session: Session, job: ExportJob) -> Actor:
    user = session.get(User, job.created_by)
    if user is None or not user.is_active:
        raise PermissionDenied(PROFILES_EXPORT)
    return actor_for_user(session=session, user=user)


def _email(user: User | None, title: str, body: str, link: str) -> None:
    if user is None:
        return
    url = f"{get_settings().app_url.rstrip('/')}{link}"
    send_email(to=user.email, subject=title, body=f"{body}\n\nDownload (sign in first): {url}\n")


def _fail(engine: Engine, export_id: int, message: str) -> None:
    with Session(engine, expire_on_commit=False) as session:
        job = session.get(ExportJob, export_id)
        if job is None:
            return
        job.status = STATUS_FAILED
        job.error = message[:2000]
        job.finished_at = utcnow()
        session.add(job)
        Path(export_file_path(job)).unlink(missing_ok=True)
        notify_user(
            session=session,
            user_id=job.created_by,
            title="Your export failed",
            body=message[:2000],
            link=EXPORTS,
            email=False,
        )
        owner = session.get(User, job.created_by)
        session.commit()
    _email(owner, "Your export failed", message, EXPORTS)


def recover_export_jobs(*, engine: Engine | None = None) -> list[int]:
    """Re-send queued exports waiting too long; fail those a dead worker left running."""
    engine = engine or get_engine()
    now = utcnow()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(col(ExportJob.id), col(ExportJob.status), col(ExportJob.created_at), col(ExportJob.claim)).where(
                col(ExportJob.status).in_((STATUS_QUEUED, STATUS_RUNNING))
            )
        ).all()
    resent = []
    for export_id, status, created_at, claim in rows:
        if status == STATUS_QUEUED and now - created_at > REQUEUE_AFTER:
            dispatch.send(dispatch.EXPORT_FILE, export_id)
            resent.append(export_id)
        elif status == STATUS_RUNNING and claim and claim_is_stale(claim, created_at, now):
            with engine.begin() as conn:
                # the same dead claim, not one a live worker took meanwhile
                again = conn.execute(
                    sa.update(ExportJob)
                    .where(
                        col(ExportJob.id) == export_id,
                        col(ExportJob.status) == STATUS_RUNNING,
                        sa.cast(col(ExportJob.claim), sa.Text) == json.dumps(claim),
                    )
                    .values(status=STATUS_QUEUED, claim=None)
                ).rowcount
            if again:
                log.warning("export %s was left running by a stopped worker; queued again", export_id)
                dispatch.send(dispatch.EXPORT_FILE, export_id)
                resent.append(export_id)
        elif status == STATUS_RUNNING and not claim and now - created_at > EXPORT_STALE_AFTER:
            with engine.begin() as conn:
                conn.execute(
                    sa.update(ExportJob)
                    .where(col(ExportJob.id) == export_id, col(ExportJob.status) == STATUS_RUNNING)
                    .values(
                        status=STATUS_FAILED,
                        finished_at=now,
                        error="The export stopped before it finished (its worker was stopped); export the list again",
                    )
                )
    return resent
