"""Who may do what with an import (services/importing/jobs.py): every marketer sees every
import; confirming, cancelling, undoing, acting on a membership review and downloading the
error file belong to the marketer who submitted it and to admins. Error-file downloads are
audited (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlmodel import select

from profile_ui.db import session_scope
from profile_ui.jobs.import_job import run_batch
from profile_ui.models import AuditEvent, Group, ImportJob
from profile_ui.services.importing import membership
from profile_ui.services.importing.jobs import (
    ImportFile,
    NotYourImport,
    cancel_import,
    confirm_import,
    error_file_download,
    get_import,
    list_imports,
    submit_import,
)
from profile_ui.services.importing.results import row_results
from profile_ui.services.importing.undo import undo_import
from tests.unit.profile_world import World, build_committed_world


@pytest.fixture
def world(app_env, db_url: str) -> World:
    app_env(db_url)
    return build_committed_world(db_url)


def _dry_run(world: World, tmp_path: Path) -> int:
    """A marketer's dry run of a file with one good and one refused row."""
    path = tmp_path / "leads.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(
            [["Full Name", "Email"], ["Good Lead", "good@leads.example"], ["Bad Lead", "not-an-email"]]
        )
    with session_scope() as session:
        (job,) = submit_import(
            session=session,
            actor=world.marketer,
            dry_run=True,
            enqueue=False,
            files=[ImportFile(file_name=path.name, stored_path=path)],
        )
        job_id, batch = job.id, job.batch_id
    run_batch(batch)
    return job_id


def _downloads(job_id: int) -> list[tuple[str, dict]]:
    with session_scope() as session:
        return [
            (e.actor_email, e.details)
            for e in session.exec(
                select(AuditEvent)
                .where(AuditEvent.action == "import.error_file_download", AuditEvent.object_id == str(job_id))
                .order_by(AuditEvent.id)
            ).all()
        ]


def test_another_marketer_sees_the_import_but_cannot_change_it_or_take_its_errors(world, tmp_path):
    job_id = _dry_run(world, tmp_path)
    other = world.other_marketer
    with session_scope() as session:
        assert get_import(session=session, actor=other, job_id=job_id).status == "awaiting_confirmation"
        assert job_id in [j.id for j in list_imports(session=session, actor=other)[0]]
        assert row_results(session=session, actor=other, job_id=job_id)[1] == 2
        for act in (confirm_import, cancel_import, error_file_download):
            with pytest.raises(NotYourImport, match="submitted by someone else"):
                act(session=session, actor=other, job_id=job_id)
    assert _downloads(job_id) == []
    with session_scope() as session:
        assert session.get(ImportJob, job_id).status == "awaiting_confirmation"  # nothing changed


def test_the_owner_and_an_admin_download_the_error_file_and_each_download_is_audited(world, tmp_path):
    job_id = _dry_run(world, tmp_path)
    for actor in (world.marketer, world.admin):
        with session_scope() as session:
            path, name = error_file_download(session=session, actor=actor, job_id=job_id)
        assert name == "leads errors.csv" and "not-an-email" in path.read_text(encoding="utf-8-sig")
    assert _downloads(job_id) == [
        (world.marketer.email, {"file": "leads.csv", "error_file": path.name, "rows": 1}),
        (world.admin.email, {"file": "leads.csv", "error_file": path.name, "rows": 1}),
    ]


def test_only_the_owner_or_an_admin_confirms_and_undoes(world, tmp_path):
    job_id = _dry_run(world, tmp_path)
    with session_scope() as session:
        job = confirm_import(session=session, actor=world.marketer, job_id=job_id, enqueue=False)
        batch = job.batch_id
    run_batch(batch)
    with session_scope() as session, pytest.raises(NotYourImport):
        undo_import(session=session, actor=world.other_marketer, job_id=job_id)
    with session_scope() as session:
        assert session.get(ImportJob, job_id).status == "completed"
        undo_import(session=session, actor=world.admin, job_id=job_id)
    with session_scope() as session:
        assert session.get(ImportJob, job_id).status == "undone"


def test_only_the_owner_acts_on_a_membership_review(world, tmp_path):
    with session_scope() as session:
        group_id = session.exec(select(Group.id)).first()
        job = ImportJob(
            batch_id="b",
            file_name="club.csv",
            kind="membership",
            status="awaiting_confirmation",
            group_id=group_id,
            dry_run=True,
            created_by=world.marketer.user_id,
            stored_path=str(tmp_path / "club.csv"),
        )
        session.add(job)
        session.flush()
        job_id = job.id
    with session_scope() as session:
        for act in (membership.send_invites, membership.apply_updates):
            with pytest.raises(NotYourImport):
                act(session=session, actor=world.other_marketer, job_id=job_id)
        with pytest.raises(NotYourImport):
            membership.resolve_missing(session=session, actor=world.other_marketer, job_id=job_id, choices={})
        with pytest.raises(membership.MembershipError, match="not been reviewed"):  # the owner gets further
            membership.apply_updates(session=session, actor=world.marketer, job_id=job_id)
