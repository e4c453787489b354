"""Live progress of an import job (stage and rows done), readable from any process while
the job's one transaction is still open.

An apply writes everything, its row results and the job's final status in one transaction:
what it writes to the job row is invisible until it commits, and on SQLite no other
connection may write meanwhile. So progress goes to a small JSON file per job in
DATA_DIR/import-progress, replaced atomically on each report. The embedded worker, `profile-ui
worker` and the web processes share DATA_DIR already (uploaded files live there), so every
tab sees the same progress. The job row keeps the committed truth (status, rows_total);
the file only says how far the running stage has got, and is removed when the job ends.

Pipeline steps call a `ProgressReporter` with the rows they have done: at every step of
reading, checking, the dry run and the apply (several times per stage; the plan and the
bulk writes report between their steps). A slow step that counts no rows (the dry run's
look-alike check) is named instead (`step`, `report_step`): "Looking for possible
duplicates among existing profiles…". Test gate: `import-<stage>` (see test_gates.py)
holds the job at its first report inside a stage, with that report already visible, and
`import-<step>` at a named step's start.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from ...settings import get_settings
from ...test_gates import wait_at

PROGRESS_FOLDER = "import-progress"
STAGE_READ, STAGE_CHECK, STAGE_DRY_RUN, STAGE_APPLY = "read", "check", "dry_run", "apply"
# a named step inside the dry run that counts no rows: the look-alike check compares the
# file's new people with the whole base (tens of seconds in a base of a million profiles)
STEP_DUPLICATES = "duplicates"
STAGE_LABELS = {
    STAGE_READ: "Reading the file",
    STAGE_CHECK: "Checking rows",
    STAGE_DRY_RUN: "Dry run",
    STAGE_APPLY: "Applying changes",
    STEP_DUPLICATES: "Looking for possible duplicates among existing profiles",
}
ROWLESS_STEPS = frozenset({STEP_DUPLICATES})


@dataclass(frozen=True)
class Progress:
    stage: str
    rows_done: int
    rows_total: int

    @property
    def label(self) -> str:
        return STAGE_LABELS.get(self.stage, self.stage)

    def text(self) -> str:
        """What a person reads: "Applying changes: 12,500 of 50,000 rows"."""
        if not self.rows_total or self.stage in ROWLESS_STEPS:
            return f"{self.label}…"
        return f"{self.label}: {self.rows_done:,} of {self.rows_total:,} rows"


def _path(job_id: int) -> Path:
    return get_settings().data_dir / PROGRESS_FOLDER / f"{int(job_id)}.json"


def write_progress(job_id: int, *, stage: str, rows_done: int, rows_total: int) -> None:
    path = _path(job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"stage": stage, "rows_done": int(rows_done), "rows_total": int(rows_total)}))
    os.replace(temporary, path)  # readers see the old or the new report, never half of one


def read_progress(job_id: int) -> Progress | None:
    """The running job's last report, or None (not started, ended, or never reported)."""
    try:
        data = json.loads(_path(job_id).read_text())
        return Progress(str(data["stage"]), int(data["rows_done"]), int(data["rows_total"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def clear_progress(job_id: int) -> None:
    _path(job_id).unlink(missing_ok=True)


class ProgressReporter:
    """What a job hands its pipeline: `stage(name, rows_total)` at each stage's start, then
    `reporter(rows_done)` as the stage goes (the callable apply_import/plan_import take)."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.stage_name = STAGE_READ
        self.step_name: str | None = None
        self.rows_total = 0
        self.rows_done = 0
        self._held: set[str] = set()

    def stage(self, name: str, rows_total: int | None = None) -> None:
        self.stage_name, self.step_name = name, None
        if rows_total is not None:
            self.rows_total = rows_total
        self(0)

    def step(self, name: str | None) -> None:
        """A named step of the running stage begins (None: it ended): its label is shown
        instead of the stage's until it ends; the rows stay as they are. Test gate:
        `import-<step>` holds the job at the step's start."""
        self.step_name = name
        self._write(self.rows_done)
        if name is not None:
            wait_at(f"import-{name}")

    def __call__(self, rows_done: int) -> None:
        done = max(0, min(int(rows_done), self.rows_total)) if self.rows_total else int(rows_done)
        self.rows_done = done
        self._write(done)
        if 0 < done < self.rows_total and self.stage_name not in self._held:
            self._held.add(self.stage_name)
            wait_at(f"import-{self.stage_name}")

    def _write(self, done: int) -> None:
        stage = self.step_name or self.stage_name
        write_progress(self.job_id, stage=stage, rows_done=done, rows_total=self.rows_total)

    def scaled(self, start: int, end: int) -> "ScaledReporter":
        """A reporter for one step of a stage: its 0..rows_total maps onto start..end."""
        return ScaledReporter(self, start, end)


class ScaledReporter:
    def __init__(self, parent: ProgressReporter, start: int, end: int) -> None:
        self.parent, self.start, self.end = parent, start, end

    def __call__(self, rows_done: int) -> None:
        total = self.parent.rows_total or 1
        self.parent(self.start + (self.end - self.start) * min(int(rows_done), total) // total)

    def step(self, name: str | None) -> None:
        self.parent.step(name)


@runtime_checkable
class StepProgress(Protocol):
    """A reporter that also shows named steps (ProgressReporter, ScaledReporter); the plan
    takes any `Callable[[int], None]` and names its slow steps to those that show them."""

    def __call__(self, rows_done: int) -> None: ...

    def step(self, name: str | None) -> None: ...


def report_step(progress: Callable[[int], None] | None, name: str | None) -> None:
    """`progress.step(name)` when the reporter shows steps (a job's); else nothing (tests, the CLI)."""
    if isinstance(progress, StepProgress):
        progress.step(name)


__all__ = [
    "STAGE_LABELS",
    "STEP_DUPLICATES",
    "Progress",
    "ProgressReporter",
    "StepProgress",
    "clear_progress",
    "read_progress",
    "report_step",
    "write_progress",
]
