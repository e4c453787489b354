"""Live import progress (issue 11, item 4): while a job reads, checks, dry-runs and applies,
another process sees the stage and a row count that moves, not "0 of N" until the end.

The job runs as the worker runs it (`run_job`, what `profile-ui worker` and the embedded
worker call) in a thread; a test gate (profile_ui/test_gates.py) holds it at its first
report inside a stage, so the test looks at progress mid-stage without any timing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from profile_ui.db import make_engine, session_scope
from profile_ui.jobs.import_job import run_job
from profile_ui.models import ImportJob
from profile_ui.services.importing import progress as progress_module
from profile_ui.services.importing.jobs import confirm_import
from profile_ui.services.importing.progress import STEP_DUPLICATES, read_progress
from profile_ui.services.permissions import SYSTEM_ACTOR
from profile_ui.test_gates import gate_path
from tests.unit.jobs.test_jobs import job_row, people_file, submit

ROWS = 400


@pytest.fixture
def app(app_env, db_url: str):
    data_dir = app_env(db_url, ENVIRONMENT="test")
    engine = make_engine(db_url)
    yield engine, data_dir
    engine.dispose()


def _held_at(stage: str, data_dir: Path, job_id: int, step) -> tuple:
    """Run `step` in a thread with the gate of `stage` armed; return the progress seen
    while it is held, then release it and wait for the step to end."""
    gate = gate_path(f"import-{stage}", data_dir)
    gate.parent.mkdir(parents=True, exist_ok=True)
    gate.touch()
    worker = threading.Thread(target=step)
    worker.start()
    try:
        for _ in range(2_000):  # until the job reaches the gate (it waits there)
            seen = read_progress(job_id)
            if seen is not None and seen.stage == stage and 0 < seen.rows_done < seen.rows_total:
                return seen
            time.sleep(0.01)
        pytest.fail(f"no progress inside stage {stage}: {read_progress(job_id)}")
    finally:
        gate.unlink()
        worker.join(timeout=120)
        assert not worker.is_alive()


@pytest.mark.parametrize("stage", ["check", "dry_run"])
def test_the_dry_run_reports_each_stage_with_rows_done(app, tmp_path: Path, stage: str) -> None:
    engine, data_dir = app
    (job_id,) = submit(people_file(tmp_path, count=ROWS), dry_run=True)
    seen = _held_at(stage, data_dir, job_id, lambda: run_job(job_id))
    assert seen.rows_total == ROWS and seen.label in ("Checking rows", "Dry run")
    assert job_row(engine, job_id).status == "awaiting_confirmation"
    assert read_progress(job_id) is None  # the job row holds the outcome now


def test_the_apply_reports_rows_done_before_it_commits(app, tmp_path: Path) -> None:
    engine, data_dir = app
    (job_id,) = submit(people_file(tmp_path, count=ROWS), dry_run=True)
    run_job(job_id)
    with session_scope() as session:
        confirm_import(session=session, actor=SYSTEM_ACTOR, job_id=job_id, enqueue=False)

    def apply_and_look() -> None:
        run_job(job_id)

    seen = _held_at("apply", data_dir, job_id, apply_and_look)
    assert seen.label == "Applying changes" and seen.rows_total == ROWS and 0 < seen.rows_done < ROWS
    job = job_row(engine, job_id)
    assert job.status == "completed" and job.rows_done == ROWS
    with session_scope() as session:
        assert session.get(ImportJob, job_id).counts["created"] == ROWS


def test_a_profile_ui_worker_process_reports_apply_progress(app_env, sqlite_url: str, tmp_path: Path) -> None:
    """The same through a separate `profile-ui worker` process, read from this one."""
    import os

    from tests.unit.jobs.test_jobs import _start_worker, _stop, _wait_for

    data_dir = app_env(sqlite_url, ENVIRONMENT="test")
    engine = make_engine(sqlite_url)
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_url,
        "DATA_DIR": str(data_dir),
        "ENVIRONMENT": "test",
        "PYTHONPATH": str(Path(__file__).resolve().parents[4]),
    }
    gate = gate_path("import-apply", data_dir)
    gate.parent.mkdir(parents=True, exist_ok=True)
    gate.touch()
    (job_id,) = submit(people_file(tmp_path, count=ROWS), enqueue=True)
    worker = _start_worker(env, tmp_path / "worker.log")
    try:

        def held_mid_apply() -> bool:
            seen = read_progress(job_id)
            return seen is not None and seen.stage == "apply" and 0 < seen.rows_done < seen.rows_total

        _wait_for(held_mid_apply, 90, "the worker to report apply progress")
        assert job_row(engine, job_id).status == "running"
        gate.unlink()
        _wait_for(lambda: job_row(engine, job_id).status in ("completed", "failed"), 90, "the job to end")
    finally:
        gate.unlink(missing_ok=True)
        _stop(worker)
        engine.dispose()
    assert job_row(engine, job_id).status == "completed", (tmp_path / "worker.log").read_text(errors="replace")
    assert read_progress(job_id) is None


def test_the_dry_run_leaves_its_look_alike_check_to_a_worker_after_its_commit(
    app, tmp_path: Path, sent_import_checks, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a large base the look-alike check was the dry run's longest step: the preview is
    ready without it (its totals say the check is running), the check sent to the queue."""
    engine, _data_dir = app
    (job_id,) = submit(people_file(tmp_path, count=ROWS), dry_run=True)
    steps: list[str] = []
    wrote = progress_module.write_progress

    def spy(job: int, *, stage: str, rows_done: int, rows_total: int) -> None:
        steps.append(stage)
        wrote(job, stage=stage, rows_done=rows_done, rows_total=rows_total)

    monkeypatch.setattr(progress_module, "write_progress", spy)
    run_job(job_id)
    assert STEP_DUPLICATES not in steps
    job = job_row(engine, job_id)
    assert job.status == "awaiting_confirmation" and job.counts["checking_duplicates"] == 1
    assert sent_import_checks == [job_id]
