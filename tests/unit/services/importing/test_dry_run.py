"""The wizard's dry run as its page reads it (services/importing/dry_run.py): a file's
summary and signature, waiting on the jobs, their totals, replacing and confirming them
(SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from profile_ui.db import session_scope
from profile_ui.jobs.import_job import run_batch
from profile_ui.services.importing import dry_run
from profile_ui.services.importing.jobs import ImportFile, get_import, submit_import
from profile_ui.services.importing.read import FileRejected
from tests.unit.profile_world import World, build_committed_world


@pytest.fixture
def world(app_env, db_url: str) -> World:
    app_env(db_url)
    return build_committed_world(db_url)


def _leads(tmp_path: Path, name: str = "leads.csv") -> Path:
    path = tmp_path / name
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(
            [["Full Name", "Email"], ["Good Lead", "good@leads.example"], ["Bad Lead", "not-an-email"]]
        )
    return path


def _submit(world: World, paths: list[Path]) -> list[int]:
    with session_scope() as session:
        jobs = submit_import(
            session=session,
            actor=world.marketer,
            dry_run=True,
            enqueue=False,
            files=[ImportFile(file_name=p.name, stored_path=p) for p in paths],
        )
        return [job.id for job in jobs if job.id is not None]


def test_summary_and_signatures_of_files(tmp_path: Path) -> None:
    first, second = _leads(tmp_path), _leads(tmp_path, "more leads.csv")
    summary, signature = dry_run.summarize_file(str(first), file_name=first.name, sheet=None)
    assert summary["headers"] == ["Full Name", "Email"]
    assert summary["samples"]["Email"] == ["good@leads.example", "not-an-email"]
    assert dry_run.file_signature(str(second), file_name=second.name, sheet=None) == signature
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(FileRejected):
        dry_run.file_signature(str(empty), file_name=empty.name, sheet=None)


def test_waiting_totals_and_confirming_a_dry_run(world: World, tmp_path: Path) -> None:
    job_ids = _submit(world, [_leads(tmp_path)])
    with session_scope() as session:
        wait = dry_run.dry_run_wait(session=session, actor=world.marketer, job_ids=job_ids)
    assert not wait.done
    with session_scope() as session:
        batch = get_import(session=session, actor=world.marketer, job_id=job_ids[0]).batch_id
    run_batch(batch)
    with session_scope() as session:
        wait = dry_run.dry_run_wait(session=session, actor=world.marketer, job_ids=job_ids)
        totals = dry_run.dry_run_totals(session=session, actor=world.marketer, job_ids=job_ids, shown_job_id=job_ids[0])
    assert wait.done and not wait.error_files_pending
    assert totals.has_error_file and totals.lines[0][0] == "leads.csv" and "1 invalid" in totals.lines[0][1]
    with session_scope() as session:
        assert dry_run.membership_review_refusal(session=session, actor=world.marketer, job_id=job_ids[0]) == ""
        assert dry_run.confirm_dry_runs(session=session, actor=world.marketer, job_ids=job_ids) == job_ids
        # confirmed: nothing awaits any more
        assert dry_run.confirm_dry_runs(session=session, actor=world.marketer, job_ids=job_ids) == []


def test_a_replaced_dry_run_is_cancelled(world: World, tmp_path: Path) -> None:
    job_ids = _submit(world, [_leads(tmp_path)])
    with session_scope() as session:
        dry_run.cancel_dry_runs(session=session, actor=world.marketer, job_ids=job_ids)
        dry_run.cancel_dry_runs(session=session, actor=world.marketer, job_ids=job_ids)  # ended: nothing to stop
    with session_scope() as session:
        assert get_import(session=session, actor=world.marketer, job_id=job_ids[0]).status == "cancelled"
        totals = dry_run.dry_run_totals(session=session, actor=world.marketer, job_ids=job_ids, shown_job_id=job_ids[0])
        refusal = dry_run.membership_review_refusal(session=session, actor=world.marketer, job_id=job_ids[0])
    assert totals.lines == [("leads.csv", "Cancelled")]
    assert refusal == "leads.csv cannot be reviewed: cancelled"
