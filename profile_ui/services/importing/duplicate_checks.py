"""An import's possible-duplicate checks, run by a worker after the import's commits.

The dry run and the apply each commit without waiting for their check (issue 13: on a base
of 1,000,000 profiles the two took 8-12 s of a 50,000-row import), leaving an
ImportPendingCheck row; the task `import.check_duplicates` (jobs/import_check.py) calls
`run_pending_check`, which runs the row's check and deletes it in one transaction:

- `run_preview_check`: the dry run's look-alike flags written into its preview's rows, its
  check kept for the apply (possible_duplicates.py says what the flags are);
- `run_applied_check`: what the apply created and changed (left by `queue_applied_check`,
  with `apply_start` read before the apply's writes) checked against the base, the pairs
  stored with the import's id.

A check that finds its row gone (another worker ran it) does nothing; `pending_checks`
lists rows left behind for the recovery sweep. Each check that writes is audited in its
transaction: `import.look_alikes` (the flags: no profile or key changed, so a kept dry-run
check still holds after it) and `import.duplicates_check` (keys and pairs stored: another
import's dry run that ran before it could not pair with these profiles, so that import's
apply checks its people again rather than reuse its dry run).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session, col

from ...models import ImportDedupeCheck, ImportJob, ImportPendingCheck, ImportRowResult, utcnow
from ...models.duplicate import CHECK_APPLIED, CHECK_PREVIEW
from ...models.vocabulary import ImportStatus
from ...test_gates import wait_at
from .. import dispatch
from ..audit import record_event
from ..dedupe.import_check import (
    APPLIED_CHECK_ACTION,
    PREVIEW_CHECK_ACTION,
    apply_check,
    audit_stamp,
    base_unchanged,
    people_hash,
    read_frame,
)
from ..dedupe.scan import scan_profile_ids
from ..permissions import PROFILES_IMPORT, Actor
from ..sql_batches import in_batches, in_filter
from . import ROW_COL
from .apply_lock import hold_apply_lock
from .possible_duplicates import (
    FLAGS_GATE,
    MODE_CREATE,
    MODE_REVIEW,
    MODES,
    id_frame,
    keep_check,
    look_alikes_of,
    parquet,
    with_count,
    with_flags,
)


@dataclass(frozen=True)
class ApplyStart:
    """What the apply's check needs from before the apply's writes (`apply_start`)."""

    kept: ImportDedupeCheck | None  # the dry run's check, if the base is still as it saw it
    stamp: int  # the last audit event id then
    at: datetime


def apply_start(*, session: Session, job_id: int) -> ApplyStart:
    """Read before the apply writes (its own audit events would count as changes): the job's
    dry-run check if it still holds, and the audit stamp the check after the commit starts from."""
    kept = session.get(ImportDedupeCheck, job_id)
    if kept is not None and not base_unchanged(session, stamp=kept.audit_stamp, checked_at=kept.checked_at):
        kept = None
    return ApplyStart(kept=kept, stamp=audit_stamp(session), at=utcnow())


def queue_applied_check(
    *,
    session: Session,
    job_id: int,
    start: ApplyStart,
    created: Sequence[int],
    changed: Sequence[int],
    mode: str = MODE_REVIEW,
    created_persons: Sequence[int] = (),
    created_people: pl.DataFrame | None = None,
) -> bool:
    """In the apply's transaction: leave what its check needs (an ImportPendingCheck row), sent
    to a worker once the apply commits; the check runs there (`run_applied_check`), so the
    import is done without waiting for it. `created_persons`: the plan's person of each of
    `created`, `created_people` their values (`created_people`); `start`: apply_start. Returns
    whether there is anything to check."""
    if mode not in MODES:
        raise ValueError(f"possible duplicates: '{mode}' is not one of {', '.join(MODES)}")
    session.execute(sa.delete(ImportPendingCheck).where(col(ImportPendingCheck.job_id) == job_id))
    reuse = (
        start.kept is not None
        and created_people is not None
        and len(created_persons) == len(created) == created_people.height
        and people_hash(created_people) == start.kept.people_hash
    )
    if not reuse:
        session.execute(sa.delete(ImportDedupeCheck).where(col(ImportDedupeCheck.job_id) == job_id))
    if not created and not changed:
        return False
    persons = pl.DataFrame(
        {"person": list(created_persons) if reuse else [0] * len(created), "profile_id": list(created)},
        schema={"person": pl.Int64, "profile_id": pl.Int64},
    )
    session.add(
        ImportPendingCheck(
            job_id=job_id,
            stage=CHECK_APPLIED,
            audit_stamp=start.stamp,
            stamped_at=start.at,
            mode=mode,
            reuse=reuse,
            created=parquet(persons),
            changed=parquet(id_frame(changed)),
        )
    )
    session.flush()
    dispatch.after_commit(session, dispatch.IMPORT_DUPLICATES, job_id)
    return True


def pending_checks(*, session: Session, queued_before: datetime) -> list[int]:
    """Jobs whose check is still to run, left since before `queued_before` (the recovery sweep)."""
    query = sa.select(col(ImportPendingCheck.job_id)).where(col(ImportPendingCheck.queued_at) < queued_before)
    return [row[0] for row in session.execute(query.order_by(col(ImportPendingCheck.job_id)))]


def run_applied_check(*, session: Session, actor: Actor, job_id: int) -> int | None:
    """The check an apply left (queue_applied_check), in the caller's transaction: pairs of the
    created and changed profiles with the base, kept with the import's id, the job's count of
    new pairs written, the row deleted. The dry run's pairs are stored for the created
    profiles when they still hold (nothing changed the base since the apply started but the
    apply); else every profile is checked (scan.scan_profile_ids): the same pairs either way.
    None when the job has no check left (another worker ran it: imports' applies and their
    checks run one at a time, so the second waits and finds nothing)."""
    actor.require(PROFILES_IMPORT)
    hold_apply_lock(session)  # after the applies before it; an apply after this one waits
    # SQLite: take the write lock first (as the apply does), so a second run waits here
    taken = _take(session, job_id, CHECK_APPLIED)
    pending = session.get(ImportPendingCheck, job_id) if taken else None
    if pending is None:
        return None
    assert pending.created is not None and pending.changed is not None  # written so by queue_applied_check
    created = read_frame(pending.created)
    changed = read_frame(pending.changed)["profile_id"].to_list()
    skip = created["profile_id"].to_list() if pending.mode == MODE_CREATE else []
    kept = session.get(ImportDedupeCheck, job_id) if pending.reuse else None
    if kept is not None and not base_unchanged(
        session, stamp=pending.audit_stamp, checked_at=pending.stamped_at, applied_job=job_id
    ):
        kept = None
    if kept is not None:
        new = apply_check(
            session=session,
            pairs=read_frame(kept.pairs),
            keys=read_frame(kept.keys),
            near=read_frame(kept.near),
            integers=read_frame(kept.bounds) if kept.bounds is not None else None,
            created=created,
            changed=changed,
            import_job_id=job_id,
            skip_pairs_of=skip,
        )
    else:
        new = scan_profile_ids(
            session=session,
            profile_ids=[*created["profile_id"].to_list(), *changed],
            import_job_id=job_id,
            skip_pairs_of=skip,
        ).new
    session.execute(sa.delete(ImportDedupeCheck).where(col(ImportDedupeCheck.job_id) == job_id))
    session.execute(sa.delete(ImportPendingCheck).where(col(ImportPendingCheck.job_id) == job_id))
    job = session.get(ImportJob, job_id)
    if job is not None:
        job.counts = with_count(job.counts, new)
        session.add(job)
    record_event(
        session=session,
        actor=actor,
        action=APPLIED_CHECK_ACTION,
        object_type="import_job",
        object_id=job_id,
        details={"profiles": created.height + len(changed), "new_pairs": new, "dry_run_reused": kept is not None},
    )
    session.flush()
    return new


def _take(session: Session, job_id: int, stage: str) -> bool:
    """Write to the job's pending check of `stage`, if it is still there: on SQLite this takes
    the write lock (a second run of the check waits here, then finds it gone)."""
    taken = session.connection().execute(
        sa.update(ImportPendingCheck)
        .where(col(ImportPendingCheck.job_id) == job_id, col(ImportPendingCheck.stage) == stage)
        .values(queued_at=col(ImportPendingCheck.queued_at))
    )
    return taken.rowcount == 1


def run_pending_check(*, session: Session, actor: Actor, job_id: int) -> int | None:
    """The job's check left for after a commit, whichever it is (the task's entry point):
    the preview's flags (run_preview_check) or the apply's pairs (run_applied_check)."""
    pending = session.get(ImportPendingCheck, job_id)
    if pending is None:
        return None
    if pending.stage == CHECK_PREVIEW:
        return run_preview_check(session=session, actor=actor, job_id=job_id)
    return run_applied_check(session=session, actor=actor, job_id=job_id)


def run_preview_check(*, session: Session, actor: Actor, job_id: int) -> int | None:
    """A dry run's look-alike check, after its commit, in the caller's transaction: the
    preview's rows of new people that look like an existing profile get their flag, the
    check is kept for the apply, and the job's count of flagged people is written; the
    number flagged. Nothing when the job moved on meanwhile (confirmed, cancelled: an
    apply checks everything itself) or another worker ran it (None). Reads and scores
    first, then takes the write lock for the few writes."""
    actor.require(PROFILES_IMPORT)
    pending = session.get(ImportPendingCheck, job_id)
    if pending is None or pending.stage != CHECK_PREVIEW or pending.rows is None:
        return None
    people = read_frame(pending.created) if pending.created is not None else None
    flagged = read_frame(pending.flagged) if pending.flagged is not None else None
    updated = read_frame(pending.changed)["profile_id"].to_list() if pending.changed is not None else []
    rows = read_frame(pending.rows)
    waiting = session.get(ImportJob, job_id)
    if waiting is not None and waiting.status == ImportStatus.AWAITING_CONFIRMATION:
        check, found = look_alikes_of(session, people, flagged, updated)
    else:  # confirmed or cancelled before this ran: nothing to flag (the row goes below)
        check, found = None, None
    wait_at(FLAGS_GATE)  # (tests only: hold the flags while a browser looks at the preview)
    taken = _take(session, job_id, CHECK_PREVIEW)
    # the job row locked (PostgreSQL): a confirm waits for these flags, or they are not written
    job = session.execute(
        sa.select(ImportJob)
        .where(col(ImportJob.id) == job_id)
        .with_for_update()
        .execution_options(populate_existing=True)  # as it is now, not as read above
    ).scalar_one_or_none()
    if not taken or job is None:
        return None
    session.execute(sa.delete(ImportPendingCheck).where(col(ImportPendingCheck.job_id) == job_id))
    if job.status != ImportStatus.AWAITING_CONFIRMATION:
        session.flush()
        return None
    marked = rows.join(found.select(person="id"), on="person", how="semi") if found is not None else rows.clear()
    if marked.height:
        numbers = marked[ROW_COL].to_list()
        stored = in_batches(
            session,
            numbers,
            lambda bound: sa.select(col(ImportRowResult.row_number), col(ImportRowResult.changes)).where(
                col(ImportRowResult.job_id) == job_id, in_filter(col(ImportRowResult.row_number), bound)
            ),
            plain=True,
        )
        current = pl.DataFrame(
            [(n, c if isinstance(c, str) else json.dumps(c, ensure_ascii=False)) for n, c in stored],
            schema={ROW_COL: pl.Int64, "changes": pl.Utf8},
            orient="row",
        )
        flagged_rows = with_flags(marked.join(current, on=ROW_COL), found)
        # by the (job_id, outcome, row_number) index, one row each: a few thousand seeks
        value = "CAST(:changes AS json)" if session.get_bind().dialect.name == "postgresql" else ":changes"
        session.connection().execute(
            sa.text(
                f"UPDATE import_row_results SET changes = {value} "
                "WHERE job_id = :job AND outcome = :outcome AND row_number = :row"
            ),
            [
                {"changes": changes, "job": job_id, "outcome": outcome, "row": row}
                for row, outcome, changes in flagged_rows.select(ROW_COL, "outcome", "changes").iter_rows()
            ],
        )
    session.execute(sa.delete(ImportDedupeCheck).where(col(ImportDedupeCheck.job_id) == job_id))
    if check is not None:
        keep_check(session, job_id, check)
    count = marked["person"].n_unique() if marked.height else 0
    job.counts = with_count(job.counts, count)
    session.add(job)
    record_event(
        session=session,
        actor=actor,
        action=PREVIEW_CHECK_ACTION,
        object_type="import_job",
        object_id=job_id,
        details={"flagged": count},
    )
    session.flush()
    return count
