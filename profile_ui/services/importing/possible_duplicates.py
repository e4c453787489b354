"""Possible duplicates in an import: rows that match no identifier but look like someone.

Neither check runs on the import's path: the dry run and the apply each commit first and
leave an ImportPendingCheck row, which a worker runs after the commit (the task
`import.check_duplicates`, jobs/import_check.py; the runs are in duplicate_checks.py,
with the flags, people frames and counts of this module). The job's counts say
"checking_duplicates" until then; the preview and the report say "checking for possible
duplicates…", then how many.

Hooks: `flag_new_rows` in importing/plan.py, `keep_dry_run_check` in importing/results.py,
duplicate_checks' `apply_start` and `queue_applied_check` in importing/apply.py.

- The preview's flags. `flag_new_rows(later=True)` (a job's dry run) leaves what the check
  needs (DeferredFlags), and `keep_dry_run_check` the pending row. `run_preview_check` then
  compares each new person of the file (a row that matches no existing profile by
  identifier) with the base; one that looks like an existing profile at or above the
  default threshold gets `"@possible_duplicate": {"profile_id", "score", "reasons"}` in its
  row changes, which the preview shows as "possible duplicate of #id (score, reasons)". The
  same pass (dedupe/import_check.py) also finds the pairs the apply's check would store,
  for the people as the import will create them, and keeps them with the job
  (ImportDedupeCheck). A job confirmed or cancelled before its flags were written gets
  none (the apply checks everything itself). `flag_new_rows()` without `later` flags at
  once (plan_import's callers outside a job).
- The apply's check. `queue_applied_check` (inside the apply's transaction) leaves the
  profiles the import created, and those it changed in a compared fact
  (`profiles_to_recheck`: name, date of birth, city, identities, or a merge);
  `run_applied_check` checks them against the base, stores their blocking keys, and keeps
  the pairs found with the import's id. When the dry run's check was kept (`apply_start`:
  no audit event since it but harmless ones, and none since the apply began but its own),
  and the created profiles are the people it checked, value for value, its pairs are
  stored instead of checking the created profiles again; otherwise everything is checked
  (scan.scan_profile_ids). Either way the same pairs are stored. The per-import option
  `ImportOptions.possible_duplicates` says what happens to a new profile's pairs: "review"
  (default) puts them in the review queue (/duplicates, filterable by import); "create"
  creates the profile anyway and keeps its pairs as skipped (never suggested by later
  scans, still listed under "skipped").

Neither needs the importer to hold profiles.merge: reviewing the pairs does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session, col

from ...models import ImportDedupeCheck, ImportJob, ImportPendingCheck
from ...models.duplicate import CHECK_PREVIEW, COMPARED_PROFILE_FACTS
from .. import dispatch
from ..crypto import is_encrypted_kind
from ..dedupe.features import PEOPLE_SCHEMA
from ..dedupe.import_check import (
    NewPeopleCheck,
    check_new_people,
)
from ..dedupe.people import IDENTITY_FIELDS
from ..dedupe.scan import look_alikes
from . import IDENTITY_PREFIX, ROW_COL
from .plan_identities import first_added_values
from .resolve import CLASS_COL, CLASS_NEW, PERSON_COL

POSSIBLE_DUPLICATE = "@possible_duplicate"
MODE_REVIEW = "review"
MODE_CREATE = "create"
MODES = (MODE_REVIEW, MODE_CREATE)
# the job's counts: new pairs its check stored, and (until the check ran) that it is running
POSSIBLE_DUPLICATES_COUNT = "possible_duplicates"
CHECKING = "checking_duplicates"
FLAGS_GATE = "import-flags"  # test gate (test_gates.py): holds run_preview_check before it writes
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
    flagged: pl.DataFrame | None  # the file's new people as flagged (look_alikes_of compares them with `people`)
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
            flagged=flagged,
            updated=list(updated),
            rows=rows.join(
                resolved.filter(pl.col(CLASS_COL) == CLASS_NEW).select(PERSON_COL).unique(),
                left_on="person",
                right_on=PERSON_COL,
                how="semi",
            ).select(ROW_COL, "person", "outcome"),
        )
    check, found = look_alikes_of(session, created, flagged, updated)
    return with_flags(rows, found), check


def look_alikes_of(
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


def with_flags(rows: pl.DataFrame, found: pl.DataFrame | None) -> pl.DataFrame:
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
                created=None if check.people is None else parquet(check.people),
                changed=parquet(id_frame(check.updated)),
                flagged=None if check.flagged is None else parquet(check.flagged),
                rows=parquet(check.rows),
            )
        )
        session.flush()
        dispatch.after_commit(session, dispatch.IMPORT_DUPLICATES, job_id)
        return
    keep_check(session, job_id, check)


def keep_check(session: Session, job_id: int, check: NewPeopleCheck) -> None:
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


parquet = NewPeopleCheck.frame_bytes


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


def is_checking(counts: dict[str, Any] | None) -> bool:
    """A job's counts say its possible-duplicate check has not run yet."""
    return bool((counts or {}).get(CHECKING))


def with_count(counts: dict[str, Any] | None, found: int) -> dict[str, Any]:
    """A job's counts once its check ran: how many it found, no longer checking."""
    return {**{k: v for k, v in (counts or {}).items() if k != CHECKING}, POSSIBLE_DUPLICATES_COUNT: found}


def id_frame(profile_ids: Sequence[int]) -> pl.DataFrame:
    """Profile ids as a one-column frame (profile_id), as a pending check keeps them."""
    return pl.DataFrame({"profile_id": list(profile_ids)}, schema={"profile_id": pl.Int64})


def counts_note(counts: dict[str, Any] | None) -> str:
    """What a job's counts say of its possible duplicates, after its totals: ", checking for
    possible duplicates…", ", 12 possible duplicates" or ""."""
    counts = counts or {}
    if is_checking(counts):
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
