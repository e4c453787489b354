"""The import job: one file through read -> prepare (map, validate) -> plan -> (dry run | apply).

The stages themselves are services/importing/pipeline.py's (one pipeline per kind of file);
this module runs them and owns the claim, the lease (heartbeats between stages), the job's
status, its notifications and the recovery of stopped jobs. Plain functions over ImportJob
rows; the runner's queue calls `run_batch`, the CLI calls it directly. Every status change
is a compare-and-set on (status, started_at): `started_at` is set by each claim, so it
identifies the current attempt, and a worker that lost its claim (cancelled, or taken over
after its lease ran out) can no longer write the row.

The apply, its row results, the job's `completed` status and the in-app notification commit
in ONE transaction. A crash before that commit leaves nothing; the recovery sweep puts the
job back in the queue and it runs again from the file. A crash after it leaves a completed
job that nobody runs again.

Test hook: PROFILE_UI_TEST_APPLY_DELAY=<seconds> sleeps inside the apply transaction, after
the writes and before the commit, so a test can kill the worker mid-apply. Read only here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from ..db import get_engine
from ..models import ImportJob, User, utcnow
from ..services import dispatch
from ..services.importing.apply_lock import hold_apply_lock
from ..services.importing.jobs import (
    ACTIVE_STATUSES,
    AWAITING_CONFIRMATION,
    COMPLETED,
    FAILED,
    QUEUED,
    RUN_KEY,
    RUNNING,
    VALIDATING,
    counts_summary,
    job_options,
    report_link,
    run_info,
)
from ..services.importing.mapping import MappingInvalid
from ..services.importing.pipeline import pipeline_for, read_job_file, write_error_files
from ..services.importing.progress import (
    STAGE_APPLY,
    STAGE_CHECK,
    STAGE_DRY_RUN,
    STAGE_READ,
    ProgressReporter,
    clear_progress,
)
from ..services.importing.read import FileRejected, SheetData
from ..services.importing.reports import ImportPlan, ImportPlanError
from ..services.importing.results import store_row_results
from ..services.notify import notify_user, send_email
from ..services.permissions import PROFILES_IMPORT, SYSTEM_ACTOR, Actor, PermissionDenied
from ..services.users import actor_for_user
from ..settings import get_settings
from .leases import LEASE_SECONDS, Owner, claim_is_stale, lease_until

log = logging.getLogger(__name__)

TEST_APPLY_DELAY_ENV = "PROFILE_UI_TEST_APPLY_DELAY"
# a job whose database connection drops is queued again, until its DATABASE_ATTEMPTS-th claim
DATABASE_ATTEMPTS = 3
RETRY_PAUSES_S = (0, 1, 2, 5, 10, 20)


class LostClaim(Exception):
    """The job was cancelled or taken over by another worker while this one ran it."""


@dataclass(frozen=True)
class Claim:
    job_id: int
    started_at: datetime  # the attempt's token in every compare-and-set
    confirmed: bool


# ---------------------------------------------------------------- batch
def run_batch(batch_id: str, *, engine: Engine | None = None) -> list[int]:
    """Run the batch's queued jobs one after another, in position order; returns their ids.

    A job starts only when no earlier job of its batch is held by a worker (validating or
    running); that worker continues with the rest of the batch when it is done.
    """
    engine = engine or get_engine()
    ran: list[int] = []
    while (job_id := _next_in_batch(engine, batch_id)) is not None:
        if run_job(job_id, engine=engine) is None:
            break  # another worker claimed it first and carries the batch on
        ran.append(job_id)
    return ran


def _next_in_batch(engine: Engine, batch_id: str) -> int | None:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(col(ImportJob.id), col(ImportJob.status))
            .where(col(ImportJob.batch_id) == batch_id)
            .order_by(col(ImportJob.position), col(ImportJob.id))
        ).all()
    for job_id, status in rows:
        if status in ACTIVE_STATUSES:
            return None
        if status == QUEUED:
            return job_id
    return None


# ---------------------------------------------------------------- one job
def run_job(job_id: int, *, engine: Engine | None = None) -> str | None:
    """Claim a queued job and run it; the status it ended in, or None if it was not ours."""
    engine = engine or get_engine()
    claim = _claim(engine, job_id)
    if claim is None:
        return None
    try:
        return _run_claimed(engine, claim)
    except LostClaim:
        log.info("import job %s was cancelled or taken over; stopped", job_id)
        return "lost"
    except sa.exc.OperationalError:
        # the connection dropped or the database is locked: the transaction was rolled back
        # whole, so the job is put back in the queue and runs again from its file
        log.exception("import job %s: database error; it will be retried", job_id)
        return _retry_after_database_error(engine, claim)
    except Exception as exc:  # a bug must not leave the job spinning: fail it, say why
        log.exception("import job %s failed", job_id)
        _finish_failed(engine, claim, f"Unexpected error: {exc}")
        return FAILED
    finally:
        clear_progress(job_id)  # the job row holds the outcome now


def _retry_after_database_error(engine: Engine, claim: Claim) -> str:
    """Queue the job again (its owner lives on, so the recovery sweep would never free it);
    after DATABASE_ATTEMPTS claims it fails, saying so. Waits for the database a while."""
    for pause in RETRY_PAUSES_S:
        time.sleep(pause)
        try:
            with engine.begin() as conn:
                row = conn.execute(
                    sa.select(col(ImportJob.status), col(ImportJob.options), col(ImportJob.batch_id)).where(
                        col(ImportJob.id) == claim.job_id
                    )
                ).one()
                run = dict((row.options or {}).get(RUN_KEY) or {})
                if int(run.get("attempt", 1)) >= DATABASE_ATTEMPTS:
                    break
                run.pop("owner", None)
                run.pop("lease_until", None)
                run["queued_at"] = utcnow().isoformat()
                run["confirmed"] = run.get("confirmed") or row.status == RUNNING
                _update_held(conn, claim, ACTIVE_STATUSES, status=QUEUED, options={**row.options, RUN_KEY: run})
            dispatch.send(dispatch.IMPORT_BATCH, row.batch_id)
            return QUEUED
        except sa.exc.OperationalError:
            continue
        except LostClaim:
            return "lost"
    _finish_failed(
        engine,
        claim,
        "The connection to the database was lost while importing, "
        f"{DATABASE_ATTEMPTS} times; nothing of this file was saved. Import it again.",
    )
    return FAILED


def _claim(engine: Engine, job_id: int) -> Claim | None:
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(col(ImportJob.status), col(ImportJob.options), col(ImportJob.started_at)).where(
                col(ImportJob.id) == job_id
            )
        ).one_or_none()
        if row is None or row.status != QUEUED:
            return None
        now = utcnow()
        run = dict((row.options or {}).get(RUN_KEY) or {})
        confirmed = bool(run.get("confirmed"))
        run.update(
            owner=Owner.current().to_json(), lease_until=lease_until(now), attempt=int(run.get("attempt", 0)) + 1
        )
        changed = conn.execute(
            sa.update(ImportJob)
            .where(col(ImportJob.id) == job_id, col(ImportJob.status) == QUEUED, _same_attempt(row.started_at))
            .values(
                status=RUNNING if confirmed else VALIDATING,
                started_at=now,
                options={**row.options, RUN_KEY: run},
                error=None,
            )
        ).rowcount
    return Claim(job_id=job_id, started_at=now, confirmed=confirmed) if changed == 1 else None


def _same_attempt(started_at: datetime | None) -> Any:
    return col(ImportJob.started_at).is_(None) if started_at is None else col(ImportJob.started_at) == started_at


def _held(claim: Claim, *statuses: str) -> Any:
    """WHERE clause: the job is still in one of `statuses` under this claim."""
    return sa.and_(
        col(ImportJob.id) == claim.job_id,
        col(ImportJob.status).in_(statuses),
        col(ImportJob.started_at) == claim.started_at,
    )


def _update_held(conn: Any, claim: Claim, statuses: tuple[str, ...], renew: bool = False, **values: Any) -> None:
    """Write the job row if this claim still holds it, else raise LostClaim."""
    if renew:
        options = conn.execute(sa.select(col(ImportJob.options)).where(col(ImportJob.id) == claim.job_id)).scalar_one()
        run = dict(options.get(RUN_KEY) or {})
        run["lease_until"] = lease_until()
        values["options"] = {**options, RUN_KEY: run}
    if conn.execute(sa.update(ImportJob).where(_held(claim, *statuses)).values(**values)).rowcount != 1:
        raise LostClaim(claim.job_id)


def _heartbeat(engine: Engine, claim: Claim, **values: Any) -> None:
    """Renew the lease (and write progress) between stages."""
    with engine.begin() as conn:
        _update_held(conn, claim, ACTIVE_STATUSES, renew=True, **values)


def _job_row(session: Session, job_id: int) -> ImportJob:
    """The job's row; a row deleted under this worker is a claim it no longer holds."""
    job = session.get(ImportJob, job_id)
    if job is None:
        raise LostClaim(job_id)
    return job


def _finish_failed(engine: Engine, claim: Claim, message: str, *, rejected: bool = False) -> None:
    try:
        with Session(engine, expire_on_commit=False) as session:
            job = _job_row(session, claim.job_id)
            run = run_info(job)
            run.pop("lease_until", None)
            if rejected:
                run["rejected"] = True
            _update_held(
                session.connection(),
                claim,
                ACTIVE_STATUSES,
                status=FAILED,
                error=message[:4000],
                finished_at=utcnow(),
                options={**job.options, RUN_KEY: run},
            )
            note = _notify(
                session,
                job,
                title=f"Import failed: {job.file_name}",
                body=f"{job.file_name} could not be imported.\n\n{message}",
            )
            session.commit()
        _send(note)
    except LostClaim:
        pass


# ---------------------------------------------------------------- the stages
def _actor_for(session: Session, job: ImportJob) -> Actor:
    if job.created_by is None:
        return SYSTEM_ACTOR
    user = session.get(User, job.created_by)
    if user is None or not user.is_active:
        raise PermissionDenied(PROFILES_IMPORT)
    return actor_for_user(session=session, user=user)


def _run_claimed(engine: Engine, claim: Claim) -> str:
    with Session(engine, expire_on_commit=False) as session:
        job = _job_row(session, claim.job_id)
        session.expunge(job)
        try:
            actor = _actor_for(session, job)
            actor.require(PROFILES_IMPORT)
        except PermissionDenied as exc:
            _finish_failed(engine, claim, str(exc))
            return FAILED
    pipeline = pipeline_for(job.kind)
    if pipeline is None:
        _finish_failed(engine, claim, f"{job.file_name}: '{job.kind}' files cannot be imported yet")
        return FAILED
    options = job_options(job)
    timer = _StageTimer(job)
    progress = ProgressReporter(claim.job_id)

    # ---- read, map, validate (outside any write transaction)
    try:
        with timer("read"):
            progress.stage(STAGE_READ, job.rows_total or 0)
            sheet = read_job_file(job)
            rows_total = sheet.frame.height
            progress.stage(STAGE_READ, rows_total)
            progress(rows_total)
        with Session(engine, expire_on_commit=False) as session, timer("map and validate"):
            progress.stage(STAGE_CHECK)
            prepared = pipeline.prepare(session, job, sheet, options, progress)
            _heartbeat(engine, claim, rows_total=rows_total, rows_done=0, mapping=prepared.mapping.to_json())
            progress(rows_total)
    except FileRejected as exc:
        _finish_failed(engine, claim, str(exc), rejected=True)
        return FAILED
    except (MappingInvalid, ImportPlanError) as exc:  # no usable columns: refused as a whole
        _finish_failed(engine, claim, f"{job.file_name}: {exc}", rejected=True)
        return FAILED

    try:
        if job.dry_run and not claim.confirmed:
            # ---- dry run: the plan, its row results and the status commit together
            with Session(engine, expire_on_commit=False) as session, timer("dry run"):
                progress.stage(STAGE_DRY_RUN)
                plan = pipeline.plan(session, actor, job, prepared, options, progress.scaled(0, rows_total * 3 // 4))
                progress(rows_total * 3 // 4)
                store_row_results(session=session, job_id=claim.job_id, plan=plan)
                progress(rows_total)
                _update_held(
                    session.connection(),
                    claim,
                    (VALIDATING,),
                    status=AWAITING_CONFIRMATION,
                    counts=dict(plan.totals),
                    rows_done=rows_total,
                    error_file_path=None,
                )
                note = _notify(
                    session,
                    job,
                    title=f"Dry run ready: {job.file_name}",
                    body=counts_summary(job.file_name, plan.totals),
                    email=False,
                )
                session.commit()
            _record_error_files(engine, claim, job, sheet, plan)
            _send(note)
            return AWAITING_CONFIRMATION

        _heartbeat(engine, claim, status=RUNNING)
        # ---- apply: writes, row results, status and notification in ONE transaction
        with Session(engine, expire_on_commit=False) as session, timer("apply"):
            hold_apply_lock(session)  # another worker's apply commits first: we then see its rows
            row = _job_row(session, claim.job_id)
            progress.stage(STAGE_APPLY)  # the apply replaces the job's row results (a dry run's preview)
            plan = pipeline.apply(session, actor, row, prepared, options, progress)
            _test_apply_delay()
            _update_held(
                session.connection(),
                claim,
                (RUNNING,),
                status=COMPLETED,
                counts=dict(plan.totals),
                rows_total=rows_total,
                rows_done=rows_total,
                finished_at=utcnow(),
                error_file_path=None,
            )
            note = _notify(
                session,
                job,
                title=f"Import completed: {job.file_name}",
                body=counts_summary(job.file_name, plan.totals),
            )
            session.commit()
        _record_error_files(engine, claim, job, sheet, plan)
        _send(note)
        return COMPLETED
    except ImportPlanError as exc:
        _finish_failed(engine, claim, f"{job.file_name}: {exc}")
        return FAILED


def _record_error_files(engine: Engine, claim: Claim, job: ImportJob, sheet: SheetData, plan: ImportPlan) -> None:
    """The error files (pipeline.write_error_files), and their path on the job row if this
    attempt still holds it. Written after the commit, so the write lock is not held meanwhile;
    a crash in between leaves the job done without them (results.write_error_file makes
    them again on request)."""
    xlsx = write_error_files(job, sheet, plan)
    if xlsx is None:
        return
    with engine.begin() as conn:
        conn.execute(
            sa.update(ImportJob)
            .where(col(ImportJob.id) == job.id, col(ImportJob.started_at) == claim.started_at)
            .values(error_file_path=str(xlsx))
        )


class _StageTimer:
    """Logs how long each stage of a job took (the benchmark reads these lines)."""

    def __init__(self, job: ImportJob) -> None:
        self.job = job

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        log.info(
            "import job %s (%s): %s took %.2f s (process peak RSS so far %.0f MB)",
            self.job.id,
            self.job.file_name,
            stage,
            time.perf_counter() - started,
            _peak_rss_mb(),
        )


def _peak_rss_mb() -> float:
    """Peak RSS of this process (VmHWM on Linux: ru_maxrss also counts the parent it was
    forked from, carried across exec)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _test_apply_delay() -> None:
    delay = float(os.environ.get(TEST_APPLY_DELAY_ENV) or 0)
    if delay > 0:
        time.sleep(delay)


# ---------------------------------------------------------------- telling the user
@dataclass
class _Mail:
    to: str
    subject: str
    body: str


def _notify(session: Session, job: ImportJob, *, title: str, body: str, email: bool = True) -> _Mail | None:
    """The bell notification (in the caller's transaction); the e-mail to send after commit."""
    if job.created_by is None:
        return None
    if job.id is None:  # an unsaved row has no report to link to (jobs here are read from the table)
        return None
    link = report_link(job.id)
    notify_user(session=session, user_id=job.created_by, title=title[:255], body=body[:2000], link=link, email=False)
    user = session.get(User, job.created_by)
    if not email or user is None:
        return None
    url = f"{get_settings().app_url.rstrip('/')}{link}"
    return _Mail(to=user.email, subject=title, body=f"{body}\n\nReport: {url}\n")


def _send(mail: _Mail | None) -> None:
    if mail is not None:
        send_email(to=mail.to, subject=mail.subject, body=mail.body)


# ---------------------------------------------------------------- recovery
def recover_import_jobs(*, engine: Engine | None = None) -> list[int]:
    """Put back in the queue the jobs whose worker died or whose lease ran out.

    Also re-sends batches whose queued jobs have waited longer than a lease (their queue
    message may have been lost); a duplicate message is harmless, claims are exclusive.
    """
    engine = engine or get_engine()
    now = utcnow()
    requeued: list[int] = []
    batches: set[str] = set()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                col(ImportJob.id),
                col(ImportJob.batch_id),
                col(ImportJob.status),
                col(ImportJob.options),
                col(ImportJob.started_at),
                col(ImportJob.created_at),
            ).where(col(ImportJob.status).in_((QUEUED, *ACTIVE_STATUSES)))
        ).all()
    for row in rows:
        run = dict((row.options or {}).get(RUN_KEY) or {})
        if row.status == QUEUED:
            queued_at = datetime.fromisoformat(run["queued_at"]) if run.get("queued_at") else row.created_at
            if (now - queued_at).total_seconds() > LEASE_SECONDS:
                batches.add(row.batch_id)
            continue
        if not claim_is_stale(run, row.started_at, now):
            continue
        run.pop("owner", None)
        run.pop("lease_until", None)
        run["queued_at"] = now.isoformat()
        if row.status == RUNNING:
            # it was applying: the next attempt applies (a dry run had been confirmed,
            # or the job was never a dry run)
            run["confirmed"] = True
        with engine.begin() as conn:
            changed = conn.execute(
                sa.update(ImportJob)
                .where(col(ImportJob.id) == row.id, col(ImportJob.status) == row.status, _same_attempt(row.started_at))
                .values(status=QUEUED, options={**row.options, RUN_KEY: run})
            ).rowcount
        if changed == 1:
            log.warning("import job %s was left %s by a stopped worker; queued again", row.id, row.status)
            requeued.append(row.id)
            batches.add(row.batch_id)
    for batch_id in batches:
        dispatch.send(dispatch.IMPORT_BATCH, batch_id)
    return requeued
