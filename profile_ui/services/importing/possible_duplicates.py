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
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session, col

from ...models import ImportDedupeCheck, ImportJob
from ...models.duplicate import COMPARED_PROFILE_FACTS
from ..crypto import is_encrypted_kind
from ..dedupe.features import PEOPLE_SCHEMA
from ..dedupe.import_check import (
    NewPeopleCheck,
    apply_check,
    base_unchanged,
    check_new_people,
    people_hash,
    read_frame,
)
from ..dedupe.people import IDENTITY_FIELDS
from ..dedupe.scan import look_alikes, scan_profile_ids
from . import IDENTITY_PREFIX, ROW_COL
from .plan_identities import first_added_values
from .resolve import CLASS_COL, CLASS_NEW, PERSON_COL

POSSIBLE_DUPLICATE = "@possible_duplicate"
MODE_REVIEW = "review"
MODE_CREATE = "create"
MODES = (MODE_REVIEW, MODE_CREATE)
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


def flag_new_rows(
    *,
    session: Session,
    rows: pl.DataFrame,
    resolved: pl.DataFrame,
    new_profiles: pl.DataFrame | None = None,
    identity_adds: pl.DataFrame | None = None,
    updated: Sequence[int] = (),
) -> tuple[pl.DataFrame, NewPeopleCheck | None]:
    """The plan's rows with "@possible_duplicate" added to the changes of new people that
    look like an existing profile, and the check of the people the apply would create
    (`new_profiles` and `identity_adds` of the plan; `updated`: the profiles it updates or
    merges) for the apply to reuse (see the module docstring)."""
    if not rows.height:
        return rows, None
    check = None
    flagged = _new_people(resolved) if "full_name" in resolved.columns else None
    if new_profiles is not None and identity_adds is not None and new_profiles.height:
        created = created_people(new_profiles, identity_adds)
        check = check_new_people(session=session, people=created, updated=updated)
        # a person with two e-mails in the file is flagged by its last one, as before
        if flagged is not None and not flagged.sort("id").equals(created):
            check.look_alikes = look_alikes(session=session, people=flagged)
    if flagged is None:
        return rows, check
    found = check.look_alikes if check is not None else look_alikes(session=session, people=flagged)
    if found.is_empty():
        return rows, check
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
    ).drop("frag"), check


def keep_dry_run_check(*, session: Session, job_id: int, check: NewPeopleCheck | None) -> None:
    """Keep a dry run's check with its job (replacing an earlier one) for the apply. Only a
    profile file's: a membership file is applied by membership.py under other jobs."""
    session.execute(sa.delete(ImportDedupeCheck).where(col(ImportDedupeCheck.job_id) == job_id))
    job = session.get(ImportJob, job_id)
    if check is None or job is None or job.kind != KIND_PROFILES:
        return
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


def kept_check(*, session: Session, job_id: int) -> ImportDedupeCheck | None:
    """The job's dry-run check, if the base is still as it saw it. Read before the apply
    writes (its own audit events would count as changes)."""
    kept = session.get(ImportDedupeCheck, job_id)
    if kept is None or not base_unchanged(session, stamp=kept.audit_stamp, checked_at=kept.checked_at):
        return None
    return kept


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


def check_applied_profiles(
    *,
    session: Session,
    job_id: int,
    created: Sequence[int],
    changed: Sequence[int],
    mode: str = MODE_REVIEW,
    created_persons: Sequence[int] = (),
    created_people: pl.DataFrame | None = None,
    kept: ImportDedupeCheck | None = None,
) -> int:
    """After an apply: pairs of the created and changed profiles with the base, kept with the
    import's id; returns how many pairs were new. `created_persons`: the plan's person of
    each of `created`, `created_people` their values (`created_people`); `kept`: the dry
    run's check (kept_check), reused when it checked these very people."""
    if mode not in MODES:
        raise ValueError(f"possible duplicates: '{mode}' is not one of {', '.join(MODES)}")
    session.execute(sa.delete(ImportDedupeCheck).where(col(ImportDedupeCheck.job_id) == job_id))
    if not created and not changed:
        return 0
    skip = created if mode == MODE_CREATE else ()
    if (
        kept is not None
        and created_people is not None
        and len(created_persons) == len(created)
        and people_hash(created_people) == kept.people_hash
    ):
        persons = pl.DataFrame(
            {"person": list(created_persons), "profile_id": list(created)},
            schema={"person": pl.Int64, "profile_id": pl.Int64},
        )
        if created_people.height == persons.height:
            return apply_check(
                session=session,
                pairs=read_frame(kept.pairs),
                keys=read_frame(kept.keys),
                near=read_frame(kept.near),
                integers=read_frame(kept.bounds) if kept.bounds is not None else None,
                created=persons,
                changed=changed,
                import_job_id=job_id,
                skip_pairs_of=skip,
            )
    report = scan_profile_ids(
        session=session,
        profile_ids=[*created, *changed],
        import_job_id=job_id,
        skip_pairs_of=skip,
    )
    return report.new


def describe(changes: dict[str, Any]) -> str:
    """ "possible duplicate of #12 (93%: same name and date of birth)" or ""."""
    found = changes.get(POSSIBLE_DUPLICATE)
    if not isinstance(found, dict):
        return ""
    return (
        f"possible duplicate of #{found.get('profile_id')} ({float(found.get('score') or 0):.0%}: "
        f"{found.get('reasons', '')})"
    )
