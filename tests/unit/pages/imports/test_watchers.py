"""What the pages' background watchers read in an event thread, with no lock on the tab's
state (issue 14): the import detail page's look at a job (the job alone until its status
moves on, then its rows and the bell too), the session's actor and bell, the Exports
page's statuses, and the wizard's mapping suggestions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from profile_ui.db import session_scope
from profile_ui.jobs.import_check import run_import_check
from profile_ui.jobs.import_job import run_job
from profile_ui.models import ImportJob
from profile_ui.pages.exports import ExportLine, _export_statuses, pending_statuses
from profile_ui.pages.imports.detail import poll_job, read_detail
from profile_ui.pages.imports.ignored_columns_state import IGNORE, NEW_FIELD
from profile_ui.pages.imports.wizard.mapping import read_suggestions
from profile_ui.services.importing import IDENTITY_PREFIX, TAGS_TARGET
from profile_ui.services.importing.progress import write_progress
from profile_ui.services.permissions import SYSTEM_ACTOR
from profile_ui.services.users import create_user, sign_in, sign_out
from profile_ui.state.base import actor_for_session, bell_for_session
from profile_ui.state.row_results import ResultQuery
from tests.unit.jobs.test_jobs import people_file, submit

PASSWORD = "long-enough-1"


@pytest.fixture
def signed_in(app_env, sqlite_url: str) -> dict[str, tuple[str, Any]]:
    """The app on a fresh database; a marketer and a viewer, each signed in: role ->
    (session token, actor)."""
    app_env(sqlite_url)
    with session_scope() as session:
        for role in ("marketer", "viewer"):
            create_user(session=session, actor=SYSTEM_ACTOR, email=f"{role}@example.com", password=PASSWORD, role=role)
    found = {}
    for role in ("marketer", "viewer"):
        with session_scope() as session:
            found[role] = sign_in(session=session, email=f"{role}@example.com", password=PASSWORD)
    return found


def _query(job_id: int) -> ResultQuery:
    return ResultQuery(job_id=job_id, outcome="all", page=1)


def test_the_detail_watcher_reads_the_job_alone_until_its_status_moves_on(signed_in, tmp_path: Path) -> None:
    _, marketer = signed_in["marketer"]
    (job_id,) = submit(people_file(tmp_path, count=3), dry_run=True, actor=marketer)

    waiting = poll_job(marketer, job_id, ("queued", False), _query(job_id))
    assert (waiting.view.raw_status, waiting.view.file, waiting.view.can_cancel) == ("queued", "people.csv", True)
    assert waiting.rows is None and waiting.bell is None  # nothing moved: the job row alone

    run_job(job_id)  # the dry run: it notifies the marketer

    moved = poll_job(marketer, job_id, ("queued", False), _query(job_id))
    assert moved.view.raw_status == "awaiting_confirmation" and moved.view.can_confirm
    # the preview is there before its look-alike flags, which a worker fills in next
    assert moved.view.checking_duplicates and "checking for possible duplicates" in moved.view.totals
    assert moved.rows is not None and moved.rows.count == 3
    assert [r.outcome for r in moved.rows.rows] == ["new", "new", "new"]
    assert moved.bell is not None and moved.bell.unread == 1
    assert [n.link for n in moved.bell.items] == [f"/imports/{job_id}"]

    assert poll_job(marketer, job_id, ("awaiting_confirmation", True), _query(job_id)).rows is None

    run_import_check(job_id)  # the flags: the rows are read again
    flagged = poll_job(marketer, job_id, ("awaiting_confirmation", True), _query(job_id))
    assert not flagged.view.checking_duplicates and flagged.rows is not None
    assert "checking" not in flagged.view.totals
    assert poll_job(marketer, job_id, ("awaiting_confirmation", False), _query(job_id)).rows is None


def test_the_detail_view_shows_the_running_stage_and_who_may_change_the_import(signed_in, tmp_path: Path) -> None:
    (_, marketer), (_, viewer) = signed_in["marketer"], signed_in["viewer"]
    (job_id,) = submit(people_file(tmp_path, count=3), actor=marketer)
    with session_scope() as session:  # as a worker has it while it applies
        session.get(ImportJob, job_id).status = "running"
    write_progress(job_id, stage="apply", rows_done=2, rows_total=3)

    view = read_detail(marketer, job_id)
    assert (view.rows_done, view.rows_total, view.progress_text) == (2, 3, "Applying changes: 2 of 3 rows")
    assert view.who == "marketer@example.com" and view.eta == ""
    assert not read_detail(viewer, job_id).can_cancel  # seeing an import is not changing it

    gone = read_detail(marketer, job_id + 100)
    assert gone.missing and gone.raw_status == ""


def test_a_watcher_finds_no_actor_and_no_bell_for_a_session_that_ended(signed_in) -> None:
    token, _ = signed_in["marketer"]
    assert actor_for_session(token).email == "marketer@example.com"
    bell = bell_for_session(token)
    assert bell is not None and (bell.items, bell.unread) == ([], 0)

    with session_scope() as session:
        sign_out(session=session, token=token)
    assert actor_for_session(token) is None and bell_for_session(token) is None
    assert actor_for_session("") is None


def test_the_exports_watcher_polls_the_exports_being_written_and_stops_without_a_session(signed_in) -> None:
    def line(export_id: int, status: str) -> ExportLine:
        return ExportLine(export_id, "", "", "", "", status, "", "")

    lines = [line(3, "running"), line(2, "completed"), line(1, "queued"), line(0, "failed")]
    assert pending_statuses(lines) == {3: "running", 1: "queued"}

    token, _ = signed_in["marketer"]
    assert _export_statuses(token, [404]) == {404: None}  # gone: the list is read again
    viewer_token, _ = signed_in["viewer"]
    assert _export_statuses(viewer_token, [404]) is None  # may not export
    with session_scope() as session:
        sign_out(session=session, token=token)
    assert _export_statuses(token, [404]) is None


def test_the_wizard_suggests_a_target_per_header(signed_in) -> None:
    _, marketer = signed_in["marketer"]
    suggested = read_suggestions(marketer, "profiles", ["Full Name", "Email", "Shoe size"])
    assert [s.column for s in suggested.columns] == ["Full Name", "Email", "Shoe size"]
    targets = {s.column: s.target for s in suggested.columns}
    assert targets["Email"].startswith(IDENTITY_PREFIX) and targets["Shoe size"] is None
    values = [c.value for c in suggested.choices]
    assert values[:2] == [IGNORE, NEW_FIELD] and values[-1] == TAGS_TARGET
    assert suggested.template_offer == ""
