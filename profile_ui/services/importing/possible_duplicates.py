"""Possible duplicates in an import: rows that match no identifier but look like someone.

Two hooks: `flag_new_rows` in importing/plan.py, `check_applied_profiles` in importing/apply.py.

- `flag_new_rows` (the dry run): each new person of the file (a row that matches no
  existing profile by identifier) is compared with the base (scan.look_alikes); one that
  looks like an existing profile at or above the default threshold gets
  `"@possible_duplicate": {"profile_id", "score", "reasons"}` in its row changes, which
  the preview shows as "possible duplicate of #id (score, reasons)".
- `check_applied_profiles` (the apply, inside its transaction): the profiles the import
  created, and those it changed in a compared fact (`profiles_to_recheck`: name, date of
  birth, city, identities, or a merge), are checked against the base (the incremental
  scan), their blocking keys stored, and the pairs found kept with the import's id. The per-import option
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
from sqlmodel import Session

from ..dedupe.features import PEOPLE_SCHEMA
from ..dedupe.scan import look_alikes, scan_profile_ids
from . import IDENTITY_PREFIX, ROW_COL
from .resolve import CLASS_COL, CLASS_NEW, PERSON_COL

POSSIBLE_DUPLICATE = "@possible_duplicate"
MODE_REVIEW = "review"
MODE_CREATE = "create"
MODES = (MODE_REVIEW, MODE_CREATE)
_IDENTITIES = {"email": "email", "phone": "phone", "user_id": "user_id"}


def _new_people(resolved: pl.DataFrame) -> pl.DataFrame:
    """One people-frame row per new person of the file (id = the person key): each field's
    last value in the file, as the plan applies them."""
    new = resolved.filter(pl.col(CLASS_COL) == CLASS_NEW)
    columns = {name: name for name in ("full_name", "birthday", "city") if name in new.columns}
    columns.update(
        {
            f"{IDENTITY_PREFIX}{kind}": field
            for kind, field in _IDENTITIES.items()
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


def flag_new_rows(*, session: Session, rows: pl.DataFrame, resolved: pl.DataFrame) -> pl.DataFrame:
    """The plan's rows with "@possible_duplicate" added to the changes of new people that
    look like an existing profile (see the module docstring)."""
    if not rows.height or "full_name" not in resolved.columns:
        return rows
    found = look_alikes(session=session, people=_new_people(resolved))
    if found.is_empty():
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


def flagged_count(rows: pl.DataFrame) -> int:
    """People of a plan flagged as possible duplicates."""
    flagged = rows.filter(pl.col("changes").str.contains(POSSIBLE_DUPLICATE, literal=True))
    return flagged["person"].n_unique() if flagged.height else 0


# what the check compares (dedupe/features.py): a profile updated in none of these, and
# given no identity, pairs with the base as it did before the import
_COMPARED_CHANGES = ("full_name", "birthday", "city")


def profiles_to_recheck(rows: pl.DataFrame, *, updated: str, merged: str) -> list[int]:
    """The existing profiles among an apply's rows (profile_id, outcome, changes) whose
    compared facts may have changed: merged ones, and updated ones whose changes touch a
    compared field or add identities. An update of a tag, a consent or another field keeps
    their blocking keys and scores as they are: not checked again (the bulk of a re-import)."""
    changes = pl.col("changes")
    touched = pl.any_horizontal(
        [changes.str.contains(json.dumps(key) + ": [", literal=True) for key in _COMPARED_CHANGES]
        + [changes.str.contains(json.dumps("@identities"), literal=True)]
    )
    picked = rows.filter((pl.col("outcome") == merged) | ((pl.col("outcome") == updated) & touched.fill_null(True)))
    return picked["profile_id"].drop_nulls().unique().sort().to_list()


def check_applied_profiles(
    *, session: Session, job_id: int, created: Sequence[int], changed: Sequence[int], mode: str = MODE_REVIEW
) -> int:
    """After an apply: pairs of the created and changed profiles with the base, kept with the
    import's id; returns how many pairs were new."""
    if mode not in MODES:
        raise ValueError(f"possible duplicates: '{mode}' is not one of {', '.join(MODES)}")
    if not created and not changed:
        return 0
    report = scan_profile_ids(
        session=session,
        profile_ids=[*created, *changed],
        import_job_id=job_id,
        skip_pairs_of=created if mode == MODE_CREATE else (),
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
