"""Import jobs as the user sees them: submit files, confirm a dry run, cancel, list, read.

The ImportJob row is the truth for a job's status (queued -> validating ->
awaiting_confirmation -> running -> completed | failed | cancelled | undone), progress
(rows_done / rows_total) and counts. Files submitted together share a batch_id and run one
after another in `position` order. The work itself runs in profile_ui/jobs/import_job.py,
delivered by the task queue (profile_ui/jobs/runner.py) once the submitting transaction
commits.

Bookkeeping that is not part of the schema yet lives under `options[RUN_KEY]`:
  confirmed    a dry run the user confirmed: the next run applies
  queued_at    when the job last entered the queue (the recovery sweep re-sends old ones)
  owner        the process that claimed the job ({host, pid, pid_started})
  lease_until  ISO time after which another worker may take the job over
  attempt      how many times a worker claimed it
  rejected     the file was refused as a whole (FileRejected): status failed, error = why

Who may do what: imports are team work, so everyone with `profiles.import` sees every
import (the list, its report, its row results); confirming, cancelling, undoing, acting
on a membership review and downloading the error file (the refused rows' personal data)
belong to the person who submitted it and to admins (`settings.manage`), as exports do.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ...links import import_report_url
from ...models import IMPORT_KINDS, OUTCOME_COUNTS, ImportDedupeCheck, ImportJob, ImportRowResult, ImportStatus, utcnow
from .. import dispatch
from ..audit import record_event
from ..permissions import PROFILES_IMPORT, PROFILES_VIEW, SETTINGS_MANAGE, Actor, PermissionDenied
from . import ImportMapping, ImportOptions

RUN_KEY = "_run"
AUTO_MAPPING_KEY = "auto"  # in ImportJob.mapping: fill unmapped columns from the suggestions

# the statuses (models.ImportStatus) by their short names, as the pages and jobs use them
QUEUED, VALIDATING = ImportStatus.QUEUED, ImportStatus.VALIDATING
AWAITING_CONFIRMATION, RUNNING = ImportStatus.AWAITING_CONFIRMATION, ImportStatus.RUNNING
COMPLETED, FAILED = ImportStatus.COMPLETED, ImportStatus.FAILED
CANCELLED, UNDONE = ImportStatus.CANCELLED, ImportStatus.UNDONE
ACTIVE_STATUSES = (VALIDATING, RUNNING)  # a worker holds the job
OPEN_STATUSES = (QUEUED, VALIDATING, AWAITING_CONFIRMATION, RUNNING)  # may still change
FINAL_STATUSES = (COMPLETED, FAILED, CANCELLED, UNDONE)


class ImportJobError(ValueError):
    """A request about an import job that cannot be done; the message is safe to show."""


class NotYourImport(PermissionDenied):
    """Someone else's import: only its owner or an admin may change it or take its error file."""

    def __init__(self, actor: Actor, job: ImportJob) -> None:
        Exception.__init__(
            self, f"Import #{job.id} ({job.file_name}) was submitted by someone else: only they or an admin may do this"
        )
        self.permission = "import.owner"


def may_manage(actor: Actor, job: ImportJob) -> bool:
    """The actor submitted the import or is an admin (see the module docstring)."""
    # (a signed-in user always has an id; no id on both sides is the system acting on its own)
    return actor.can(PROFILES_IMPORT) and (job.created_by == actor.user_id or actor.can(SETTINGS_MANAGE))


def require_manager(actor: Actor, job: ImportJob) -> None:
    """PermissionDenied unless the actor may manage the import (`may_manage`)."""
    actor.require(PROFILES_IMPORT)
    if not may_manage(actor, job):
        raise NotYourImport(actor, job)


@dataclass
class ImportFile:
    """One file of a submission. mapping None = use the column suggestions when it runs."""

    file_name: str
    stored_path: str | Path
    sheet: str | None = None
    mapping: ImportMapping | None = None
    options: ImportOptions | None = None
    # with mapping None: forced identity columns, header -> identity kind, in order
    identifier_columns: dict[str, str] | None = None


def run_info(job: ImportJob) -> dict[str, Any]:
    """The job's queue bookkeeping (see the module doc)."""
    return dict((job.options or {}).get(RUN_KEY) or {})


def is_rejected(job: ImportJob) -> bool:
    """The file was refused as a whole (not a spreadsheet, over the limits...)."""
    return job.status == FAILED and bool(run_info(job).get("rejected"))


def job_mapping(job: ImportJob) -> ImportMapping:
    return ImportMapping.from_json(job.mapping or {"columns": {}})


def job_options(job: ImportJob) -> ImportOptions:
    return ImportOptions.from_json({k: v for k, v in (job.options or {}).items() if k != RUN_KEY})


def report_link(job_id: int) -> str:
    return import_report_url(job_id)


def _enqueue_after_commit(session: Session, batch_id: str, enqueue: bool) -> None:
    """Hand the batch to the queue once the rows are visible to a worker."""
    if enqueue:
        dispatch.after_commit(session, dispatch.IMPORT_BATCH, batch_id)


def _auto_mapping_json(identifier_columns: dict[str, str] | None) -> dict[str, Any]:
    columns: dict[str, str | None] = {header: f"identity:{kind}" for header, kind in (identifier_columns or {}).items()}
    identifiers = list(dict.fromkeys((identifier_columns or {}).values()))
    return {**ImportMapping(columns=columns, identifiers=identifiers).to_json(), AUTO_MAPPING_KEY: True}


def submit_import(
    *,
    session: Session,
    actor: Actor,
    files: Sequence[ImportFile],
    kind: str = "profiles",
    options: ImportOptions | None = None,
    dry_run: bool = False,
    group_id: int | None = None,
    enqueue: bool = True,
) -> list[ImportJob]:
    """Create one queued job per file (one batch, run in the given order).

    With enqueue=True the batch goes to the task queue when the caller's transaction commits;
    the CLI passes False and runs the batch itself (`jobs.import_job.run_batch`).
    """
    actor.require(PROFILES_IMPORT)
    if kind not in IMPORT_KINDS:
        raise ImportJobError(f"Unknown import kind '{kind}' (expected one of {', '.join(IMPORT_KINDS)})")
    if not files:
        raise ImportJobError("Choose at least one file to import")
    if kind == "membership" and (group_id is None or len(files) != 1 or not dry_run):
        raise ImportJobError(
            "A membership file comes alone, names its group and is reviewed before anything changes (dry run)"
        )
    batch_id = str(uuid.uuid4())
    now = utcnow()
    jobs = []
    for position, item in enumerate(files):
        mapping = item.mapping.to_json() if item.mapping is not None else _auto_mapping_json(item.identifier_columns)
        job_opts = (item.options or options or ImportOptions()).to_json()
        job_opts[RUN_KEY] = {"queued_at": now.isoformat()}
        job = ImportJob(
            batch_id=batch_id,
            position=position,
            kind=kind,
            group_id=group_id,
            file_name=item.file_name[:255],
            stored_path=str(item.stored_path),
            sheet=item.sheet,
            status=QUEUED,
            dry_run=dry_run,
            mapping=mapping,
            options=job_opts,
            created_by=actor.user_id,
            created_at=now,
        )
        session.add(job)
        jobs.append(job)
    session.flush()
    record_event(
        session=session,
        actor=actor,
        action="import.submit",
        object_type="import_batch",
        object_id=batch_id,
        details={"jobs": [j.id for j in jobs], "files": [j.file_name for j in jobs], "kind": kind, "dry_run": dry_run},
    )
    _enqueue_after_commit(session, batch_id, enqueue)
    return jobs


def _rows_changed(session: Session, statement: sa.Update) -> int:
    """How many rows a compare-and-set UPDATE changed (0: the row moved on meanwhile)."""
    # an UPDATE's result is a cursor result (Session.execute is typed for any statement)
    return cast("sa.CursorResult[Any]", session.execute(statement)).rowcount


def _get_job(session: Session, job_id: int) -> ImportJob:
    job = session.get(ImportJob, job_id)
    if job is None:
        raise ImportJobError(f"Import #{job_id} does not exist")
    return job


def confirm_import(*, session: Session, actor: Actor, job_id: int, enqueue: bool = True) -> ImportJob:
    """Apply a dry run the user has reviewed: the job goes back in the queue to be applied."""
    actor.require(PROFILES_IMPORT)
    job = _get_job(session, job_id)
    require_manager(actor, job)
    if job.kind == "membership":
        raise ImportJobError(
            f"{job.file_name} is a membership file: invite, update or deactivate its members from its review page"
        )
    if job.status != AWAITING_CONFIRMATION:
        raise ImportJobError(
            f"Import #{job_id} ({job.file_name}) cannot be confirmed: it is {job.status.replace('_', ' ')}"
        )
    run = run_info(job)
    run.update(confirmed=True, queued_at=utcnow().isoformat())
    changed = _rows_changed(
        session,
        sa.update(ImportJob)
        .where(col(ImportJob.id) == job_id, col(ImportJob.status) == AWAITING_CONFIRMATION)
        .values(status=QUEUED, options={**job.options, RUN_KEY: run}, rows_done=0),
    )
    if changed != 1:
        raise ImportJobError(f"Import #{job_id} changed meanwhile; reload and try again")
    record_event(
        session=session,
        actor=actor,
        action="import.confirm",
        object_type="import_job",
        object_id=job_id,
        details={"file": job.file_name},
    )
    session.refresh(job)
    _enqueue_after_commit(session, job.batch_id, enqueue)
    return job


def cancel_import(*, session: Session, actor: Actor, job_id: int) -> ImportJob:
    """Stop a job that has not finished. A running apply is rolled back as a whole."""
    actor.require(PROFILES_IMPORT)
    job = _get_job(session, job_id)
    require_manager(actor, job)
    if job.status not in OPEN_STATUSES:
        raise ImportJobError(f"Import #{job_id} ({job.file_name}) has already ended ({job.status.replace('_', ' ')})")
    changed = _rows_changed(
        session,
        sa.update(ImportJob)
        .where(col(ImportJob.id) == job_id, col(ImportJob.status) == job.status)
        .values(status=CANCELLED, finished_at=utcnow()),
    )
    if changed != 1:
        raise ImportJobError(f"Import #{job_id} changed meanwhile; reload and try again")
    # a dry run's possible-duplicate check (its blocking keys: megabytes) is of no use now
    session.execute(sa.delete(ImportDedupeCheck).where(col(ImportDedupeCheck.job_id) == job_id))
    record_event(
        session=session,
        actor=actor,
        action="import.cancel",
        object_type="import_job",
        object_id=job_id,
        details={"file": job.file_name, "was": job.status},
    )
    session.refresh(job)
    return job


def error_file_download(*, session: Session, actor: Actor, job_id: int) -> tuple[Path, str]:
    """The CSV error file of an import (its refused rows as they came in, with the reasons)
    and the name to download it as, for the import's owner or an admin; audited, as it holds
    personal data. ImportJobError when the import refused no row."""
    actor.require(PROFILES_IMPORT)
    job = _get_job(session, job_id)
    require_manager(actor, job)
    path = Path(job.error_file_path).with_suffix(".csv") if job.error_file_path else None
    if path is None or not path.is_file():
        raise ImportJobError("No row was refused: there is no error file")
    record_event(
        session=session,
        actor=actor,
        action="import.error_file_download",
        object_type="import_job",
        object_id=job.id,
        details={"file": job.file_name, "error_file": path.name, "rows": int((job.counts or {}).get("invalid") or 0)},
    )
    return path, f"{Path(job.file_name).stem} errors.csv"


def get_import(*, session: Session, actor: Actor, job_id: int) -> ImportJob:
    actor.require(PROFILES_VIEW)
    return _get_job(session, job_id)


def list_imports(
    *,
    session: Session,
    actor: Actor,
    status: str | None = None,
    kind: str | None = None,
    batch_id: str | None = None,
    mine: bool = False,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[ImportJob], int]:
    """Newest first, with the total for paging."""
    actor.require(PROFILES_VIEW)
    query = select(ImportJob)
    if status:
        query = query.where(col(ImportJob.status) == status)
    if kind:
        query = query.where(col(ImportJob.kind) == kind)
    if batch_id:
        query = query.where(col(ImportJob.batch_id) == batch_id)
    if mine:
        query = query.where(col(ImportJob.created_by) == actor.user_id)
    total = session.exec(select(sa.func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(ImportJob.created_at).desc(), col(ImportJob.position), col(ImportJob.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return list(rows), total


def batch_jobs(*, session: Session, actor: Actor, batch_id: str) -> list[ImportJob]:
    """The files of one submission, in the order they run."""
    actor.require(PROFILES_VIEW)
    return list(
        session.exec(
            select(ImportJob).where(col(ImportJob.batch_id) == batch_id).order_by(col(ImportJob.position))
        ).all()
    )


# ---------------------------------------------------------------- reports
# rows that were not imported, with the reasons a script or a person should see
UNIMPORTED_OUTCOMES = ("invalid", "conflict", "skipped")


def report_counts(counts: dict[str, Any] | None) -> dict[str, int]:
    """A job's counts under the words of OUTCOME_COUNTS (zeros for a job that stopped early)."""
    counts = counts or {}
    return {word: int(counts.get(key) or 0) for word, key in OUTCOME_COUNTS.items()}


def totals_text(counts: dict[str, Any] | None) -> str:
    """ "2,030 rows: 2,000 new, 30 updated, 0 merged, 0 unchanged, 0 invalid, 0 conflicts"."""
    return totals_line(report_counts(counts))


def totals_line(report: dict[str, Any]) -> str:
    """totals_text of counts already under the vocabulary's words (a CLI report)."""
    rows = report["rows"]
    return f"{rows:,} row{'' if rows == 1 else 's'}: " + ", ".join(
        f"{report[word]:,} {word}" for word in OUTCOME_COUNTS if word != "rows"
    )


def counts_summary(file_name: str, counts: dict[str, Any] | None) -> str:
    """The notification and e-mail body: the file and its totals, as the report says them."""
    return f"{file_name}\n  {totals_text(counts)}"


def report_status(job: ImportJob) -> str:
    """completed | dry_run | rejected | failed, or the job's status while it is not done."""
    if job.status == AWAITING_CONFIRMATION:
        return "dry_run"
    if job.status == FAILED:
        return "rejected" if is_rejected(job) else "failed"
    return job.status


def file_report(*, session: Session, actor: Actor, job_id: int) -> dict[str, Any]:
    """One file's outcome as the CLI prints it (a stable contract for scripts).

    `errors` lists the reasons of every row that was not imported (invalid, conflict,
    skipped), `row` numbered as in the spreadsheet (header = row 1); `error` says why a
    rejected or failed file was not imported.
    """
    job = get_import(session=session, actor=actor, job_id=job_id)
    report: dict[str, Any] = {"file": job.file_name, "status": report_status(job)}
    report.update(report_counts(job.counts))
    invalid = session.exec(
        select(col(ImportRowResult.row_number), col(ImportRowResult.errors))
        .where(col(ImportRowResult.job_id) == job.id, col(ImportRowResult.outcome).in_(UNIMPORTED_OUTCOMES))
        .order_by(col(ImportRowResult.row_number))
    ).all()
    report["errors"] = [
        {"row": row_number, "column": err.get("column"), "message": err.get("message")}
        for row_number, errors in invalid
        for err in (errors or [])
    ]
    report["error"] = job.error
    report["job_id"] = job.id
    return report
