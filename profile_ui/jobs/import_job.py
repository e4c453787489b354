"""The import job: one file through read -> map -> validate -> plan -> (dry run | apply).

Plain functions over ImportJob rows; the runner's queue calls `run_batch`, the CLI calls it
directly. Every status change is a compare-and-set on (status, started_at): `started_at` is
set by each claim, so it identifies the current attempt, and a worker that lost its claim
(cancelled, or taken over after its lease ran out) can no longer write the row.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ..db import get_engine
from ..models import ImportJob, ImportRowResult, User, utcnow
from ..services import dispatch, file_store
from ..services.catalog import active_sync_rule, field_definitions, identity_kinds
from ..services.importing import ImportMapping, ImportOptions
from ..services.importing import mapping as mapping_stage
from ..services.importing.apply import apply_import
from ..services.importing.apply_lock import hold_apply_lock
from ..services.importing.jobs import (
    ACTIVE_STATUSES,
    AUTO_MAPPING_KEY,
    AWAITING_CONFIRMATION,
    COMPLETED,
    FAILED,
    QUEUED,
    RUN_KEY,
    RUNNING,
    VALIDATING,
    counts_summary,
    job_mapping,
    job_options,
    report_link,
    run_info,
)
from ..services.importing.mapping import MappingInvalid
from ..services.importing.plan import plan_import
from ..services.importing.progress import (
    STAGE_APPLY,
    STAGE_CHECK,
    STAGE_DRY_RUN,
    STAGE_READ,
    ProgressReporter,
    clear_progress,
)
from ..services.importing.read import FileRejected, read_upload
from ..services.importing.reports import ImportPlanError
from ..services.importing.results import plan_errors, store_row_results, write_error_file
from ..services.importing.segments_apply import DEFAULT_HEADERS, apply_segments, plan_segments, segment_frame
from ..services.importing.validate import validate_rows
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
            sa.select(ImportJob.id, ImportJob.status)
            .where(ImportJob.batch_id == batch_id)
            .order_by(ImportJob.position, ImportJob.id)
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
                    sa.select(ImportJob.status, ImportJob.options, ImportJob.batch_id).where(
                        ImportJob.id == claim.job_id
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
            sa.select(ImportJob.status, ImportJob.options, ImportJob.started_at).where(ImportJob.id == job_id)
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
            .where(ImportJob.id == job_id, ImportJob.status == QUEUED, _same_attempt(row.started_at))
            .values(
                status=RUNNING if confirmed else VALIDATING,
                started_at=now,
                options={**row.options, RUN_KEY: run},
                error=None,
            )
        ).rowcount
    return Claim(job_id=job_id, started_at=now, confirmed=confirmed) if changed == 1 else None


def _same_attempt(started_at: datetime | None) -> Any:
    return ImportJob.started_at.is_(None) if started_at is None else ImportJob.started_at == started_at


def _held(claim: Claim, *statuses: str) -> Any:
    """WHERE clause: the job is still in one of `statuses` under this claim."""
    return sa.and_(
        ImportJob.id == claim.job_id, ImportJob.status.in_(statuses), ImportJob.started_at == claim.started_at
    )


def _update_held(conn: Any, claim: Claim, statuses: tuple[str, ...], renew: bool = False, **values: Any) -> None:
    """Write the job row if this claim still holds it, else raise LostClaim."""
    if renew:
        options = conn.execute(sa.select(ImportJob.options).where(ImportJob.id == claim.job_id)).scalar_one()
        run = dict(options.get(RUN_KEY) or {})
        run["lease_until"] = lease_until()
        values["options"] = {**options, RUN_KEY: run}
    if conn.execute(sa.update(ImportJob).where(_held(claim, *statuses)).values(**values)).rowcount != 1:
        raise LostClaim(claim.job_id)


def _heartbeat(engine: Engine, claim: Claim, **values: Any) -> None:
    """Renew the lease (and write progress) between stages."""
    with engine.begin() as conn:
        _update_held(conn, claim, ACTIVE_STATUSES, renew=True, **values)


def _finish_failed(engine: Engine, claim: Claim, message: str, *, rejected: bool = False) -> None:
    try:
        with Session(engine, expire_on_commit=False) as session:
            job = session.get(ImportJob, claim.job_id)
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
        job = session.get(ImportJob, claim.job_id)
        session.expunge(job)
        try:
            actor = _actor_for(session, job)
            actor.require(PROFILES_IMPORT)
        except PermissionDenied as exc:
            _finish_failed(engine, claim, str(exc))
            return FAILED
    if job.kind not in PIPELINES:
        _finish_failed(engine, claim, f"{job.file_name}: '{job.kind}' files cannot be imported yet")
        return FAILED
    pipeline = PIPELINES[job.kind]
    options = job_options(job)
    timer = _StageTimer(job)
    progress = ProgressReporter(job.id)

    # ---- read, map, validate (outside any write transaction)
    try:
        with timer("read"):
            progress.stage(STAGE_READ, job.rows_total or 0)
            sheet = _read(job)
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
                store_row_results(session=session, job_id=job.id, plan=plan)
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
            row = session.get(ImportJob, claim.job_id)
            session.execute(sa.delete(ImportRowResult).where(ImportRowResult.job_id == row.id))
            progress.stage(STAGE_APPLY)
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


# ---------------------------------------------------------------- per kind of file
@dataclass
class _Prepared:
    mapping: ImportMapping
    frame: Any  # the validated frame (profiles) or the segment frame
    headers: dict[str, str]  # segment files: target -> the file's header


class _ProfilePipeline:
    @staticmethod
    def prepare(
        session: Session, job: ImportJob, sheet: Any, options: ImportOptions, progress: ProgressReporter
    ) -> _Prepared:
        mapping = _resolve_mapping(session, job, sheet)
        progress(sheet.frame.height // 4)
        return _Prepared(mapping, _validate(session, sheet, mapping), {})

    @staticmethod
    def plan(
        session: Session,
        actor: Actor,
        job: ImportJob,
        prepared: _Prepared,
        options: ImportOptions,
        progress: Callable[[int], None],
    ) -> Any:
        return plan_import(
            session=session,
            actor=actor,
            frame=prepared.frame,
            mapping=prepared.mapping,
            options=options,
            sync_rule=active_sync_rule(session),
            file_name=job.file_name,
            progress=progress,
        )

    @staticmethod
    def apply(
        session: Session,
        actor: Actor,
        row: ImportJob,
        prepared: _Prepared,
        options: ImportOptions,
        progress: Callable[[int], None],
    ) -> Any:
        return apply_import(
            session=session,
            actor=actor,
            job=row,
            frame=prepared.frame,
            mapping=prepared.mapping,
            options=options,
            sync_rule=active_sync_rule(session),
            progress=progress,
        )


class _SegmentPipeline:
    @staticmethod
    def prepare(
        session: Session, job: ImportJob, sheet: Any, options: ImportOptions, progress: ProgressReporter
    ) -> _Prepared:
        mapping = _segment_mapping(job, sheet)
        frame, headers = segment_frame(
            sheet.frame, mapping, options, default_region=get_settings().default_phone_region
        )
        return _Prepared(mapping or ImportMapping(columns={}), frame, headers)

    @staticmethod
    def plan(
        session: Session,
        actor: Actor,
        job: ImportJob,
        prepared: _Prepared,
        options: ImportOptions,
        progress: Callable[[int], None],
    ) -> Any:
        return plan_segments(
            session=session,
            actor=actor,
            frame=prepared.frame,
            options=options,
            file_name=job.file_name,
            headers=prepared.headers,
        )

    @staticmethod
    def apply(
        session: Session,
        actor: Actor,
        row: ImportJob,
        prepared: _Prepared,
        options: ImportOptions,
        progress: Callable[[int], None],
    ) -> Any:
        return apply_segments(
            session=session,
            actor=actor,
            job=row,
            frame=prepared.frame,
            options=options,
            headers=prepared.headers,
            progress=progress,
        )


# a membership file's dry run is a profile dry run; its review (services/importing/membership.py) applies it
PIPELINES = {"profiles": _ProfilePipeline, "segments": _SegmentPipeline, "membership": _ProfilePipeline}


def _segment_mapping(job: ImportJob, sheet: Any) -> ImportMapping | None:
    """The user's mapping; an "auto" one is the standard headers (User ID, Segment Name,
    Segment Value) with any forced id column in place of User ID."""
    mapping = job_mapping(job)
    if not (job.mapping or {}).get(AUTO_MAPPING_KEY):
        return mapping
    columns: dict[str, str | None] = {h: t for h, t in mapping.columns.items() if t}
    if not columns:
        return None  # segment_frame recognises the standard headers itself
    for header in sheet.headers:
        target = DEFAULT_HEADERS.get(" ".join(header.lower().split()))
        if target and header not in columns:
            columns[header] = target
    return ImportMapping(columns=columns)


def _record_error_files(engine: Engine, claim: Claim, job: ImportJob, sheet: Any, plan: Any) -> None:
    """The invalid rows as they came in plus their reasons, as .xlsx (ImportJob.error_file_path)
    and .csv beside it. Written after the commit, so the write lock is not held meanwhile;
    a crash in between leaves the job done without them (results.write_error_file makes
    them again on request)."""
    errors = plan_errors(plan)
    if not errors:
        return
    folder = file_store.private_dir(get_settings().data_dir / "import-results")
    xlsx = write_error_file(sheet, errors, folder / f"import-{job.id}-errors.xlsx", "xlsx")
    write_error_file(sheet, errors, xlsx.with_suffix(".csv"), "csv")
    with engine.begin() as conn:
        conn.execute(
            sa.update(ImportJob)
            .where(ImportJob.id == job.id, ImportJob.started_at == claim.started_at)
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


def _read(job: ImportJob) -> Any:
    path = job.stored_path or ""
    if not os.path.isfile(path):
        raise FileRejected(job.file_name, "the file was not found")
    return read_upload(path, file_name=job.file_name, sheet=job.sheet)


def _resolve_mapping(session: Session, job: ImportJob, sheet: Any) -> ImportMapping:
    """The job's mapping; an "auto" one is the column suggestions plus the forced identifiers."""
    mapping = job_mapping(job)
    if not (job.mapping or {}).get(AUTO_MAPPING_KEY):
        return mapping
    suggestions = mapping_stage.suggest_mapping(
        sheet.headers,
        fields=list(field_definitions(session).values()),
        identity_kinds=list(identity_kinds(session).values()),
    )
    suggested = mapping_stage.suggested_mapping(suggestions)
    forced = {header: target for header, target in mapping.columns.items() if target}
    if forced:  # a forced identity column wins over a suggestion of the same target
        suggested.columns = {h: (None if t in forced.values() else t) for h, t in suggested.columns.items()}
    suggested.columns.update(forced)
    suggested.identifiers = list(mapping.identifiers)
    return suggested


def _validate(session: Session, sheet: Any, mapping: ImportMapping) -> Any:
    return validate_rows(
        sheet, mapping, fields=field_definitions(session), default_region=get_settings().default_phone_region
    )


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
                ImportJob.id,
                ImportJob.batch_id,
                ImportJob.status,
                ImportJob.options,
                ImportJob.started_at,
                ImportJob.created_at,
            ).where(ImportJob.status.in_((QUEUED, *ACTIVE_STATUSES)))
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
                .where(ImportJob.id == row.id, ImportJob.status == row.status, _same_attempt(row.started_at))
                .values(status=QUEUED, options={**row.options, RUN_KEY: run})
            ).rowcount
        if changed == 1:
            log.warning("import job %s was left %s by a stopped worker; queued again", row.id, row.status)
            requeued.append(row.id)
            batches.add(row.batch_id)
    for batch_id in batches:
        dispatch.send(dispatch.IMPORT_BATCH, batch_id)
    return requeued
