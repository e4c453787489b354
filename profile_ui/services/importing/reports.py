"""What preparing, planning or undoing an import hands back: the prepared file (the
pipelines' `PreparedFile`), row outcomes, the plan, the undo report.

Shared by plan.py/apply.py (profiles) and segments_apply.py (segment files), which both
plan, apply and undo; kept apart from either so neither imports the other.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from ...models import ROW_OUTCOMES, RowOutcome
from . import ROW_COL, ImportMapping

# the row outcomes (models.RowOutcome) by their short names
OUT_NEW, OUT_UPDATED, OUT_MERGED = RowOutcome.NEW, RowOutcome.UPDATED, RowOutcome.MERGED
OUT_UNCHANGED, OUT_SKIPPED = RowOutcome.UNCHANGED, RowOutcome.SKIPPED
OUT_INVALID, OUT_CONFLICT = RowOutcome.INVALID, RowOutcome.CONFLICT
OUTCOMES = ROW_OUTCOMES


@dataclass
class PreparedFile:
    """A file mapped and checked, ready to plan (see pipeline.py)."""

    mapping: ImportMapping
    frame: pl.DataFrame  # the validated frame (profiles) or the segment frame
    headers: dict[str, str]  # segment files: target -> the file's header


class ImportPlanError(ValueError):
    """The import cannot be planned as asked (unknown tag, bad policy); nothing was written."""


@dataclass
class ImportPlan:
    """A whole file's outcome. `rows`: ROW_COL, outcome, profile_id, errors, changes (JSON
    text), person. `totals`: see `_totals`."""

    rows: pl.DataFrame
    totals: dict[str, int]
    new_tags: list[str] = field(default_factory=list)  # tags-column values not yet in the group
    _work: Any = field(default=None, repr=False)  # plan.PlanWork: what apply.py writes
    _inputs: dict[str, Any] = field(default_factory=dict, repr=False)
    # dedupe.import_check.NewPeopleCheck of a dry run: kept with its job for the apply
    _dedupe: Any = field(default=None, repr=False)

    @property
    def counts(self) -> dict[str, int]:
        return self.totals

    def page(self, *, outcome: str | None = None, offset: int = 0, limit: int = 50) -> list[dict]:
        """One page of rows for a preview, with errors and changes decoded."""
        rows = self.rows if outcome is None else self.rows.filter(pl.col("outcome") == outcome)
        page = rows.sort(ROW_COL).slice(offset, limit)
        return [
            {
                "row_number": r[ROW_COL],
                "outcome": r["outcome"],
                "profile_id": r["profile_id"],
                "errors": json.loads(r["errors"]),
                "changes": json.loads(r["changes"]),
            }
            for r in page.iter_rows(named=True)
        ]


class ImportUndoError(ValueError):
    """This import cannot be undone (not completed, already undone); nothing was changed."""


@dataclass
class UndoReport:
    """What undo did, and what it kept because someone changed it since the import."""

    job_id: int
    profiles_removed: int = 0
    profiles_kept: list[dict[str, Any]] = field(default_factory=list)  # {profile_id, reason}
    fields_restored: int = 0
    fields_kept: list[dict[str, Any]] = field(default_factory=list)  # {profile_id, field, reason}
    identities_removed: int = 0
    tags_removed: int = 0
    tags_restored: int = 0
    consents_restored: int = 0
    consents_kept: list[dict[str, Any]] = field(default_factory=list)
    memberships_removed: int = 0
    memberships_restored: int = 0
    segments_removed: int = 0
    merges_kept: list[dict[str, int]] = field(default_factory=list)  # {survivor, merged}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self, shown: int = 10) -> str:
        """What a marketer reads after undo: what went, then what was kept and why."""
        text = (
            f"Undone: {_count(self.profiles_removed, 'profile')} removed, "
            f"{_count(self.fields_restored, 'field')} restored, "
            f"{_count(self.identities_removed, 'identity', 'identities')} and "
            f"{_count(self.tags_removed, 'tag')} removed, "
            f"{_count(self.segments_removed, 'segment membership')} removed."
        )
        if self.profiles_kept:
            by_reason: dict[str, list[int]] = {}
            for kept in self.profiles_kept:
                by_reason.setdefault(kept["reason"], []).append(kept["profile_id"])
            parts = []
            for reason, ids in by_reason.items():
                listed = ", ".join(map(str, ids[:shown])) + (
                    f" and {len(ids) - shown:,} more" if len(ids) > shown else ""
                )
                parts.append(f"{_count(len(ids), 'profile')} {reason} ({listed})")
            text += " Kept " + "; ".join(parts) + "."
        if self.fields_kept:
            text += (
                f" Kept {_count(len(self.fields_kept), 'field value')} changed since the import "
                "by hand or by a later import."
            )
        return text


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else many or one + 's'}"
