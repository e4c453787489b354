"""Customer files are kept by purpose and the purge removes what is past its time, and
nothing else (services/retention.py), on SQLite and PostgreSQL; files written before
retention existed (plain, world-readable, without a row) are handled too."""

from __future__ import annotations

import os
import stat
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlmodel import Session

from profile_ui.cli import main
from profile_ui.db import make_engine, session_scope
from profile_ui.jobs.import_job import run_batch
from profile_ui.jobs.purge import run_purge
from profile_ui.models import AuditEvent, ImportJob, utcnow
from profile_ui.services import retention
from profile_ui.services.exporting import export_profiles
from profile_ui.services.importing.jobs import cancel_import, confirm_import
from profile_ui.services.permissions import SYSTEM_ACTOR
from profile_ui.services.profiles import ProfileFilter
from profile_ui.services.users import actor_for_email, create_user
from tests.unit.customer_files import submit, upload, xlsx_bytes

ROWS = [
    ["Full Name", "Email", "City"],
    ["Person 0", "p0@example.com", "Hue"],
    ["Person 1", "not-an-email", "Hue"],
    ["Person 2", "p2@example.com", "Hanoi"],
]


def job_row(engine: sa.Engine, job_id: int) -> ImportJob:
    with Session(engine, expire_on_commit=False) as session:
        return session.get(ImportJob, job_id)


def files_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.is_file()} if folder.is_dir() else set()


@pytest.fixture
def app(app_env, db_url: str):
    data_dir = app_env(db_url)
    engine = make_engine(db_url)
    engine.data_dir = data_dir
    yield engine
    engine.dispose()


def test_purge_removes_each_file_when_its_purpose_ends_and_nothing_else(app, tmp_path: Path) -> None:
    data = app.data_dir
    with session_scope() as session:
        create_user(
            session=session, actor=SYSTEM_ACTOR, email="m@example.com", password="pw-123456789", role="marketer"
        )
        marketer = actor_for_email(session=session, email="m@example.com")
    # A: previewed, confirmed, completed (one invalid row: error files)
    a = upload(marketer, xlsx_bytes(tmp_path, ROWS, "a.xlsx"), "a.xlsx")
    job_a = submit(marketer, a, "a.xlsx", dry_run=True)
    run_batch(job_a.batch_id)
    with session_scope() as session:
        confirm_import(session=session, actor=marketer, job_id=job_a.id, enqueue=False)
    run_batch(job_a.batch_id)
    assert job_row(app, job_a.id).status == "completed"
    # B: previewed, never confirmed; C: uploaded, never submitted; D: previewed then the
    # wizard's Back (cancelled); E: queued, not run yet
    b = upload(marketer, xlsx_bytes(tmp_path, [*ROWS, ["Person 3", "p3@example.com", "Hue"]], "b.xlsx"), "b.xlsx")
    job_b = submit(marketer, b, "b.xlsx", dry_run=True)
    run_batch(job_b.batch_id)
    c = upload(marketer, b"Email\nc@example.com\n", "c.csv")
    d = upload(marketer, b"Email\nd@example.com\n", "d.csv")
    job_d = submit(marketer, d, "d.csv", dry_run=True)
    with session_scope() as session:
        cancel_import(session=session, actor=marketer, job_id=job_d.id)
    e = upload(marketer, b"Email\ne@example.com\n", "e.csv")
    submit(marketer, e, "e.csv", dry_run=False)
    with session_scope() as session:
        export = export_profiles(session=session, actor=marketer, flt=ProfileFilter(), fmt="csv")
    # files written before retention existed: plain, 0644, no row names them
    old_upload = data / "uploads" / ("0" * 32 + ".csv")
    old_error = data / "import-results" / "import-999999-errors.csv"
    recent_error = data / "import-results" / "import-999998-errors.csv"
    for path in (old_upload, old_error, recent_error):
        path.write_bytes(b"Email\nold@example.com\n")
        os.chmod(path, 0o644)
    week_ago = time.time() - 7 * 24 * 3600
    os.utime(old_upload, (week_ago, week_ago))
    os.utime(old_error, (week_ago, week_ago))

    cache = data / "cache" / "sheets"
    assert len(files_in(cache)) == 4  # a grid and its verdict for each workbook read
    error_files = {f"import-{job.id}-errors.{ext}" for job in (job_a, job_b) for ext in ("xlsx", "csv")}
    assert error_files <= files_in(data / "import-results")

    now = utcnow()
    report = run_purge(engine=app, now=now)
    # only A (its import ended), its cached sheet and the old files go now
    assert files_in(data / "uploads") == {b.name, c.name, d.name, e.name}
    assert (report.files.uploads, report.files.sheet_cache, report.files.error_files) == (2, 2, 1)
    assert len(files_in(cache)) == 2 and report.files.export_files == 0
    assert files_in(data / "import-results") == error_files | {recent_error.name}
    assert export.path.is_file()
    # kept files are private now
    assert stat.S_IMODE(recent_error.stat().st_mode) == 0o600

    later = now + timedelta(hours=7)  # past UPLOAD_ABANDONED_HOURS (6)
    report = run_purge(engine=app, now=later)
    assert files_in(data / "uploads") == {e.name}  # E's import may still run
    assert (report.files.uploads, report.files.previews_cancelled, report.files.sheet_cache) == (3, 1, 2)
    assert job_row(app, job_b.id).status == "cancelled"
    with Session(app) as session:
        assert (
            session.query(AuditEvent)
            .filter(AuditEvent.action == "import.cancel", AuditEvent.object_id == str(job_b.id))
            .count()
            == 1
        )
    assert files_in(cache) == set()
    assert error_files <= files_in(data / "import-results") and export.path.is_file()
    assert retention.error_file_available(job_row(app, job_a.id), now=later)
    expires = job_row(app, job_a.id).finished_at + timedelta(hours=72)
    assert retention.error_file_note(job_row(app, job_a.id), now=later) == (
        f"The error file can be downloaded until {expires:%Y-%m-%d %H:%M} UTC; then it is deleted "
        "(error files are kept 72 hours)."
    )

    much_later = now + timedelta(hours=73)  # error files and export links: 72 hours
    report = run_purge(engine=app, now=much_later)
    assert (report.files.error_files, report.files.export_files, report.files.uploads) == (5, 1, 0)
    assert files_in(data / "import-results") == set() and not export.path.exists()
    assert files_in(data / "uploads") == {e.name}
    assert not retention.error_file_available(job_row(app, job_a.id), now=much_later)
    assert retention.error_file_note(job_row(app, job_a.id), now=much_later).startswith(
        f"The error file was deleted on {expires:%Y-%m-%d %H:%M} UTC"
    )


def test_command_line_purge_reports_each_place_and_leaves_cli_files_alone(app, tmp_path: Path) -> None:
    own = tmp_path / "mine.csv"
    own.write_bytes(b"Full Name,Email\nAn,an@example.com\n")
    runner = CliRunner()
    assert runner.invoke(main, ["import", str(own)], catch_exceptions=False).exit_code == 0
    result = runner.invoke(main, ["purge"], catch_exceptions=False)
    assert result.exit_code == 0
    for place in (
        "uploads: removed 0",
        "cached sheets: removed 0",
        "import error files: removed 0",
        "export files: removed 0",
    ):
        assert place in result.output
    assert own.read_bytes() == b"Full Name,Email\nAn,an@example.com\n"  # the user's own file stays


def test_rekey_encrypts_files_written_plain_and_moves_them_to_a_new_key(app_env, sqlite_url: str) -> None:
    import base64
    import json

    from profile_ui.services import crypto, file_store

    key = base64.b64encode(bytes(range(32))).decode()
    new_key = base64.b64encode(bytes(range(50, 82))).decode()
    app_env(sqlite_url)  # encryption off: the upload is written plain
    plain = upload(SYSTEM_ACTOR, b"Email\nan.secret@example.com\n", "people.csv")
    assert plain.read_bytes().startswith(b"Email")
    runner = CliRunner()

    app_env(sqlite_url, ENCRYPTION_KEY=key)
    result = runner.invoke(main, ["identities", "rekey"], catch_exceptions=False)
    assert result.exit_code == 0 and "1 files rewritten" in result.output
    assert b"an.secret" not in plain.read_bytes() and file_store.key_id_of_file(plain) == crypto.current_key_id()

    app_env(sqlite_url, ENCRYPTION_KEY=new_key, PREVIOUS_ENCRYPTION_KEYS=json.dumps([key]))
    assert runner.invoke(main, ["identities", "rekey"], catch_exceptions=False).exit_code == 0
    app_env(sqlite_url, ENCRYPTION_KEY=new_key)  # the old key dropped
    assert file_store.read_bytes(plain) == b"Email\nan.secret@example.com\n"
