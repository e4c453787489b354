"""Possible duplicates in an import: rows that match no identifier but look like someone.

Hooks: `flag_new_rows` in importing/plan.py, `keep_dry_run_check` in importing/results.py,
`kept_check` and `check_applied_profiles` in importing/apply.py.

- `flag_new_rows` (the dry run): each new person of the file (a row that matches no
  existing profile by identifier) is compared with the base; one that looks like an
  existing profile at or above the default threshold gets
  `"@possible_duplicate": {"profile_id", "score", "reasons"}` in its row changes, which
  the preview shows as "possible duplicate of #id (score, reasons)". The same pass
  (dedupe/import_check.py) also finds the pairs the apply's check would store, for the
  people as the import will create them; `keep_dry_run_check` keeps them with the job.
- `check_applied_profiles` (the apply, inside its transaction): the profiles the import
  created, and those it changed in a compared fact (`profiles_to_recheck`: name, date of
  birth, city, identities, or a merge), are checked against the base, their blocking keys
  stored, and the pairs found kept with the import's id. When the dry run's check was kept
  (`kept_check`: no audit event since it but harmless ones) and the created profiles are
  the people it checked, value for value, its pairs are stored instead of checking the
  created profiles again; otherwise everything is checked (scan.scan_profile_ids). Either
  way the same pairs are stored. The per-import option
  `ImportOptions.possible_duplicates` says what happens to a new profile's pairs:
  "review" (default) puts them in the review queue (/duplicates, filterable by import);
  "create" creates the profile anyway and keeps its pairs as skipped (never suggested by
  later scans, still listed under "skipped").

Neither needs the importer to hold profiles.merge: reviewing the pairs does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session, col

from ...models import ImportDedupeCheck, ImportJob, ImportPendingCheck, ImportRowResult, utcnow
from ...models.duplicate import CHECK_APPLIED, CHECK_PREVIEW, COMPARED_PROFILE_FACTS
from ...models.vocabulary import ImportStatus
from .. import dispatch
from ..crypto import is_encrypted_kind
from ..dedupe.features import PEOPLE_SCHEMA
from ..dedupe.import_check import (
    NewPeopleCheck,
    apply_check,
    audit_stamp,
    base_unchanged,
    check_new_people,
    people_hash,
    read_frame,
)
from ..dedupe.people import IDENTITY_FIELDS
from ..dedupe.scan import look_alikes, scan_profile_ids
from ..permissions import PROFILES_IMPORT, Actor
from ..sql_batches import in_batches, in_filter
from . import IDENTITY_PREFIX, ROW_COL
from .apply_lock import hold_apply_lock
from .plan_identities import first_added_values
from .resolve import CLASS_COL, CLASS_NEW, PERSON_COL

POSSIBLE_DUPLICATE = "@possible_duplicate"
MODE_REVIEW = "review"
MODE_CREATE = "create"
MODES = (MODE_REVIEW, MODE_CREATE)
# the job's counts: new pairs its check stored, and (until the check ran) that it is running
POSSIBLE_DUPLICATES_COUNT = "possible_duplicates"
CHECKING = "checking_duplicates"
KIND_PROFILES = "profiles"  # the ImportJob.kind of a profile file (models.IMPORT_KINDS)


def _new_people(resolved: pl.DataFrame) -> pl.DataFrame:
    """One people-frame row per new person of the file (id = the person key): each field's
    last value in the file, as the plan applies them."""
    new = resolved.filter(pl.col(CLASS_COL) == CLASS_NEW)
    columns = {name: name for name in ("full_name", "birthday", "city") if name in new.columns}
    columns.update(
        {
            f"{IDENTITY_PREFIX}{kind}": field
            for kind, field in IDENTITY_FIELDS.items()
            if f"{IDENTITY_PREFIX}{kind}" in new.columns
        }
    )
    people = (
        new.sort(ROW_COL)
        .group_by(PERSON_COL)
        .agg(*[pl.col(source).drop_nulls().last().alias(target) for source, target in columns.items()])
    )
    return people.rename({PERSON_COL: "id"}).select(
        [
            pl.col(c).cast(t) if c in people.columns or c == "id" else pl.lit(None, t).alias(c)
            for c, t in PEOPLE_SCHEMA.items()
        ]
    )


def created_people(new_profiles: pl.DataFrame, identity_adds: pl.DataFrame) -> pl.DataFrame:
    """The people frame of the profiles an apply of a plan creates (its `new_profiles` and
    `identity_adds`; id = the person), as people.load_people reads them once written: the
    system columns, and per identity kind the first value added (apply.py writes them in
    this order; kinds stored encrypted are not compared)."""
    people = new_profiles.select(
        id="person", **{c: c for c in ("full_name", "birthday", "city") if c in new_profiles.columns}
    )
    kinds = [kind for kind in IDENTITY_FIELDS if not is_encrypted_kind(kind)]
    first = first_added_values(identity_adds, people.select(person="id"), kinds).rename({"person": "id"})
    people = people.join(first, on="id", how="left")
    return people.select(
        [pl.col(c).cast(t) if c in people.columns else pl.lit(None, t).alias(c) for c, t in PEOPLE_SCHEMA.items()]
    ).sort("id")


@dataclass
class DeferredFlags:
    """A dry run's look-alike check left for after its commit (`flag_new_rows(later=True)`):
    what `run_preview_check` needs to flag the preview's rows."""

    people: pl.DataFrame | None  # the people the apply would create (created_people), if any
    flagged: pl.DataFrame | None  # the file's new people as flagged, when they differ from `people`
    updated: list[int]  # the profiles the import would update or merge
    rows: pl.DataFrame  # (row, person, outcome) of the rows of new people


def flag_new_rows(
    *,
    session: Session,
    rows: pl.DataFrame,
    resolved: pl.DataFrame,
    new_profiles: pl.DataFrame | None = None,
    identity_adds: pl.DataFrame | None = None,
    updated: Sequence[int] = (),
    later: bool = False,
) -> tuple[pl.DataFrame, NewPeopleCheck | DeferredFlags | None]:
    """The plan's rows with "@possible_duplicate" added to the changes of new people that
    look like an existing profile, and the check of the people the apply would create
    (`new_profiles` and `identity_adds` of the plan; `updated`: the profiles it updates or
    merges) for the apply to reuse (see the module docstring). `later`: the rows as they
    are, and what the check needs, for `run_preview_check` after the dry run's commit."""
    if not rows.height:
        return rows, None
    flagged = _new_people(resolved) if "full_name" in resolved.columns else None
    created = None
    if new_profiles is not None and identity_adds is not None and new_profiles.height:
        created = created_people(new_profiles, identity_adds)
    if later:
        if created is None and flagged is None:
            return rows, None
        return rows, DeferredFlags(
            people=created,
            flagged=None
            if flagged is None or (created is not None and flagged.sort("id").equals(created))
            else flagged,
            updated=list(updated),
            rows=rows.join(
                resolved.filter(pl.col(CLASS_COL) == CLASS_NEW).select(PERSON_COL).unique(),
                left_on="person",
                right_on=PERSON_COL,
                how="semi",
            ).select(ROW_COL, "person", "outcome"),
        )
    check, found = _look_alikes(session, created, flagged, updated)
    return _with_flags(rows, found), check


def _look_alikes(
    session: Session, created: pl.DataFrame | None, flagged: pl.DataFrame | None, updated: Sequence[int]
) -> tuple[NewPeopleCheck | None, pl.DataFrame | None]:
    """The check of the people the apply would create (for it to reuse), and the look-alikes
    the preview flags (id = the person)."""
    check = None
    if created is not None:
        check = check_new_people(session=session, people=created, updated=updated)
        # a person with two e-mails in the file is flagged by its last one, as before
        if flagged is not None and not flagged.sort("id").equals(created):
            check.look_alikes = look_alikes(session=session, people=flagged)
    if flagged is None:
        return check, None
    return check, check.look_alikes if check is not None else look_alikes(session=session, people=flagged)


def _with_flags(rows: pl.DataFrame, found: pl.DataFrame | None) -> pl.DataFrame:
    """Rows (person, changes, ...) with "@possible_duplicate" added to the changes of the
    people in `found` (id, profile_id, score, reasons)."""
    if found is None or found.is_empty():
        return rows
    fragment = found.select(
        person="id",
        frag=pl.lit(json.dumps(POSSIBLE_DUPLICATE) + ": ")
        + pl.struct(pl.col("profile_id"), pl.col("score").round(3), pl.col("reasons")).struct.json_encode(),
    )
    rows = rows.join(fragment, on="person", how="left", maintain_order="left")
    return rows.with_columns(
        changes=pl.when(pl.col("frag").is_null())
        .then(pl.col("changes"))
        .when(pl.col("changes") == "{}")
        .then(pl.lit("{") + pl.col("frag") + pl.lit("}"))
        .otherwise(
            pl.col("changes").str.slice(0, pl.col("changes").str.len_chars() - 1)
            + pl.lit(", ")
            + pl.col("frag")
            + pl.lit("}")
        )
    ).drop("frag")


def keep_dry_run_check(*, session: Session, job_id: int, check: NewPeopleCheck | DeferredFlags | None) -> None:
    """Keep a dry run's check with its job (replacing an earlier one) for the apply, or
    leave a deferred one (DeferredFlags) to a worker after the commit. Only a profile
    file's: a membership file is applied by membership.py under other jobs."""
    session.execute(sa.delete(ImportDedupeCheck).where(col(ImportDedupeCheck.job_id) == job_id))
    session.execute(sa.delete(ImportPendingCheck).where(col(ImportPendingCheck.job_id) == job_id))
    job = session.get(ImportJob, job_id)
    if check is None or job is None or job.kind != KIND_PROFILES:
        return
    if isinstance(check, DeferredFlags):
        session.add(
            ImportPendingCheck(
                job_id=job_id,
                stage=CHECK_PREVIEW,
                created=None if check.people is None else _parquet(check.people),
                changed=_parquet(pl.DataFrame({"profile_id": check.updated}, schema={"profile_id": pl.Int64})),
                flagged=None if check.flagged is None else _parquet(check.flagged),
                rows=_parquet(check.rows),
            )
        )
        session.flush()
        dispatch.after_commit(session, dispatch.IMPORT_DUPLICATES, job_id)
        return
    _keep(session, job_id, check)


def _keep(session: Session, job_id: int, check: NewPeopleCheck) -> None:
    session.add(
        ImportDedupeCheck(
            job_id=job_id,
            audit_stamp=check.audit_stamp,
            checked_at=check.checked_at,
            people_hash=check.people_hash,
            pairs=check.frame_bytes(check.pairs),
            keys=check.frame_bytes(check.keys),
            near=check.frame_bytes(check.near),
            bounds=check.frame_bytes(check.integers),
        )
    )
    session.flush()


_parquet = NewPeopleCheck.frame_bytes


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


def flagged_count(rows: pl.DataFrame) -> int:
    """People of a plan flagged as possible duplicates."""
    flagged = rows.filter(pl.col("changes").str.contains(POSSIBLE_DUPLICATE, literal=True))
    return flagged["person"].n_unique() if flagged.height else 0


# what the check compares (dedupe/features.py): a profile updated in none of
# COMPARED_PROFILE_FACTS, and given no identity, pairs with the base as it did before the import


def profiles_to_recheck(rows: pl.DataFrame, *, updated: str, merged: str) -> list[int]:
    """The existing profiles among an apply's rows (profile_id, outcome, changes) whose
    compared facts may have changed: merged ones, and updated ones whose changes touch a
    compared field or add identities. An update of a tag, a consent or another field keeps
    their blocking keys and scores as they are: not checked again (the bulk of a re-import)."""
    changes = pl.col("changes")
    touched = pl.any_horizontal(
        [changes.str.contains(json.dumps(key) + ": [", literal=True) for key in COMPARED_PROFILE_FACTS]
        + [changes.str.contains(json.dumps("@identities"), literal=True)]
    )
    picked = rows.filter((pl.col("outcome") == merged) | ((pl.col("outcome") == updated) & touched.fill_null(True)))
    return picked["profile_id"].drop_nulls().unique().sort().to_list()


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
            created=_parquet(persons),
            changed=_parquet(pl.DataFrame({"profile_id": list(changed)}, schema={"profile_id": pl.Int64})),
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
        counts = {k: v for k, v in (job.counts or {}).items() if k != CHECKING}
        job.counts = {**counts, POSSIBLE_DUPLICATES_COUNT: new}
        session.add(job)
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
    flagged = read_frame(pending.flagged) if pending.flagged is not None else people
    updated = read_frame(pending.changed)["profile_id"].to_list() if pending.changed is not None else []
    rows = read_frame(pending.rows)
    check, found = _look_alikes(session, people, flagged, updated)
    taken = _take(session, job_id, CHECK_PREVIEW)
    # the job row locked (PostgreSQL): a confirm waits for these flags, or they are not written
    job = session.execute(
        sa.select(ImportJob).where(col(ImportJob.id) == job_id).with_for_update()
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
        flagged_rows = _with_flags(marked.join(current, on=ROW_COL), found)
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
        _keep(session, job_id, check)
    count = marked["person"].n_unique() if marked.height else 0
    counts = {k: v for k, v in (job.counts or {}).items() if k != CHECKING}
    job.counts = {**counts, POSSIBLE_DUPLICATES_COUNT: count}
    session.add(job)
    session.flush()
    return count


def counts_note(counts: dict[str, Any] | None) -> str:
    """What a job's counts say of its possible duplicates, after its totals: ", checking for
    possible duplicates…", ", 12 possible duplicates" or ""."""
    counts = counts or {}
    if counts.get(CHECKING):
        return ", checking for possible duplicates…"
    found = int(counts.get(POSSIBLE_DUPLICATES_COUNT) or 0)
    return f", {found:,} possible duplicates" if found else ""


def describe(changes: dict[str, Any]) -> str:
    """ "possible duplicate of #12 (93%: same name and date of birth)" or ""."""
    found = changes.get(POSSIBLE_DUPLICATE)
    if not isinstance(found, dict):
        return ""
    return (
        f"possible duplicate of #{found.get('profile_id')} ({float(found.get('score') or 0):.0%}: "
        f"{found.get('reasons', '')})"
    )
