"""Exports: columns and labels, permissions, formula neutralization, formats, the background
job with its notification and link, expiry, and the CLI (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from profile_ui.jobs.export_job import recover_export_jobs, run_export_job
from profile_ui.jobs.purge import run_purge
from profile_ui.models import AuditEvent, ExportJob, Notification, utcnow
from profile_ui.services import sheet_writer
from profile_ui.services.export_format import TAG_WITHOUT_VALUE
from profile_ui.services.exporting import (
    ExportError,
    ExportExpired,
    NotYourExport,
    download_export,
    export_profiles,
    export_status,
    export_to_file,
    list_exports,
    preview_export,
)
from profile_ui.services.permissions import PermissionDenied
from profile_ui.services.profiles import ProfileFilter
from profile_ui.services.sheet_writer import neutralize_formula
from profile_ui.settings import get_settings
from tests.unit.profile_world import FORMULA_CITY, FORMULA_NAME, World, add_profiles, build_world

DISPLAYED = ["full_name", "identity:email", "identity:phone", "city", "loyalty_points"]


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The app settings, with exports under this test's folder; set attributes to change them."""
    current = get_settings()
    monkeypatch.setattr(current, "data_dir", tmp_path / "data")
    return _Patch(monkeypatch, current)


class _Patch:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, target: object) -> None:
        self._monkeypatch, self._target = monkeypatch, target

    def __setattr__(self, name: str, value: object) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            self._monkeypatch.setattr(self._target, name, value)

    def __getattr__(self, name: str) -> object:
        return getattr(self._target, name)


def read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def by_id(rows: list[dict[str, str]]) -> dict[int, dict[str, str]]:
    return {int(r["Profile ID"]): r for r in rows}


# ---------------------------------------------------------------- columns and labels
def test_preview_counts_profiles_and_labels_columns_by_storage(session, world, settings):
    preview = preview_export(session=session, actor=world.marketer, flt=ProfileFilter(), fields_mode="all")

    assert preview.count == 2 and not preview.background and preview.left_out == []
    assert preview.columns[:4] == ["Profile ID", "USER_ID(UNENCRYPTED)", "EMAIL(UNENCRYPTED)", "PHONE(UNENCRYPTED)"]
    assert {
        "Full name",
        "Loyalty points",
        "Hobbies",
        "Stage",
        "Interest",
        "Newsletter subscriber",
        "Segments",
        "Groups",
        "Created at",
    } <= set(preview.columns)


def test_kinds_stored_encrypted_are_labeled_aes(session, world, settings):
    settings.encrypted_identity_kinds = ["phone"]
    preview = preview_export(
        session=session, actor=world.marketer, flt=ProfileFilter(), fields_mode="displayed", columns=DISPLAYED
    )
    assert preview.columns == ["Profile ID", "Full name", "EMAIL(UNENCRYPTED)", "PHONE(AES)", "City", "Loyalty points"]


def test_a_role_without_phone_export_gets_no_phone_column_and_is_told(session, world, settings):
    preview = preview_export(
        session=session, actor=world.no_phone, flt=ProfileFilter(), fields_mode="displayed", columns=DISPLAYED
    )
    assert "PHONE(UNENCRYPTED)" not in preview.columns
    assert len(preview.left_out) == 1
    assert preview.left_out[0].startswith("PHONE(UNENCRYPTED): ")
    assert "export.identity.phone" in preview.left_out[0]

    result = export_profiles(session=session, actor=world.no_phone, flt=ProfileFilter(), fields_mode="all", fmt="csv")
    data = result.path.read_bytes()
    rows = read_csv(data)
    assert "PHONE(UNENCRYPTED)" not in rows[0] and b"+8490" not in data
    assert rows[0]["EMAIL(UNENCRYPTED)"]


def test_displayed_fields_default_to_the_users_list_columns(session, world, settings):
    from profile_ui.services.view_prefs import save_list_view

    save_list_view(session=session, actor=world.marketer, columns=["identity:email", "city", f"tag:{world.stage_tag}"])
    session.commit()
    preview = preview_export(session=session, actor=world.marketer, flt=ProfileFilter(), fields_mode="displayed")
    assert preview.columns == ["Profile ID", "EMAIL(UNENCRYPTED)", "City", "Stage"]
    other = preview_export(session=session, actor=world.other_marketer, flt=ProfileFilter())
    assert other.columns[0] == "Profile ID" and "City" not in other.columns  # the built-in list


def test_unknown_columns_are_left_out_with_a_reason(session, world, settings):
    preview = preview_export(
        session=session, actor=world.marketer, flt=ProfileFilter(), columns=["full_name", "no_such_field", "tag:99999"]
    )
    assert preview.columns == ["Profile ID", "Full name"]
    assert [line.split(":")[0] for line in preview.left_out] == ["no_such_field", "tag"]


def test_viewer_may_not_export(session, world, settings):
    for call in (
        lambda: preview_export(session=session, actor=world.viewer, flt=ProfileFilter(), columns=DISPLAYED),
        lambda: export_profiles(session=session, actor=world.viewer, flt=ProfileFilter(), columns=DISPLAYED),
        lambda: list_exports(session=session, actor=world.viewer),
    ):
        with pytest.raises(PermissionDenied, match="profiles.export"):
            call()


def test_exporting_the_trash_needs_trash_permission(session, world, settings):
    with pytest.raises(PermissionDenied, match="trash.manage"):
        preview_export(session=session, actor=world.marketer, flt=ProfileFilter(status="deleted"), columns=DISPLAYED)
    assert (
        preview_export(session=session, actor=world.admin, flt=ProfileFilter(status="deleted"), columns=DISPLAYED).count
        == 1
    )


# ---------------------------------------------------------------- csv content
def test_small_csv_export_writes_at_once_with_values_tags_and_identities(session, world, settings):
    result = export_profiles(session=session, actor=world.marketer, flt=ProfileFilter(), fields_mode="all", fmt="csv")
    session.commit()

    assert not result.background and result.status == "completed" and result.row_count == 2
    assert result.download_url == f"/exports/{result.export_id}/download"
    rows = by_id(read_csv(result.path.read_bytes()))
    an = rows[world.an]
    assert an["Full name"] == "An Nguyễn" and an["City"] == "Hà Nội"
    assert an["EMAIL(UNENCRYPTED)"] == "an@example.com"
    assert an["PHONE(UNENCRYPTED)"] == "+84901234567"  # a plain number is no formula
    assert an["USER_ID(UNENCRYPTED)"] == "U001"
    assert an["Birthday"] == "1990-05-17" and an["Registration time"] == "2024-01-02 03:04:05"
    assert an["Loyalty points"] == "120" and an["Hobbies"] == "Chess|Travel" and an["VIP"] == "Yes"
    assert an["Stage"] == "Loyal" and an["Interest"] == "Travel|Fashion"  # in the order they were given
    assert an["Newsletter subscriber"] == TAG_WITHOUT_VALUE
    assert an["Segments"] == "RFM tier: Champions" and an["Groups"] == "VIP Club (active)"
    assert world.resting not in rows and world.gone not in rows
    assert rows[world.formula]["Loyalty points"] == "-5"


def test_formula_cells_are_neutralized_in_csv(session, world, settings):
    result = export_profiles(session=session, actor=world.marketer, flt=ProfileFilter(), fields_mode="all", fmt="csv")
    row = by_id(read_csv(result.path.read_bytes()))[world.formula]
    assert row["Full name"] == "'" + FORMULA_NAME
    assert row["City"] == "'" + FORMULA_CITY
    assert row["Stage"] == "'=1+1"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=1+1", "'=1+1"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("\x00x", "'\x00x"),
        ("+84901234567", "+84901234567"),
        ("-12.5", "-12.5"),
        ("plain", "plain"),
        ("", ""),
        (None, None),
    ],
)
def test_neutralize_formula(value, expected):
    assert neutralize_formula(value) == expected


def test_selection_and_query_narrow_the_export(session, world, settings):
    picked = export_profiles(
        session=session, actor=world.marketer, flt=ProfileFilter(profile_ids=[world.formula]), columns=DISPLAYED
    )
    assert list(by_id(read_csv(picked.path.read_bytes()))) == [world.formula]
    found = export_profiles(
        session=session, actor=world.marketer, flt=ProfileFilter(text="an@example.com"), columns=DISPLAYED
    )
    assert list(by_id(read_csv(found.path.read_bytes()))) == [world.an]


def test_chunks_join_up_to_the_same_file(session, world, settings, tmp_path):
    add_profiles(session, 7)
    whole, _ = export_to_file(
        session=session, actor=world.marketer, flt=ProfileFilter(), out_path=tmp_path / "whole.csv"
    )
    chunked, _ = export_to_file(
        session=session, actor=world.marketer, flt=ProfileFilter(), out_path=tmp_path / "chunked.csv", chunk_rows=2
    )
    assert whole == chunked == 9
    assert (tmp_path / "whole.csv").read_bytes() == (tmp_path / "chunked.csv").read_bytes()


def test_an_empty_export_still_has_its_header(session, world, settings):
    result = export_profiles(
        session=session, actor=world.marketer, flt=ProfileFilter(text="nobody-here@example.com"), columns=DISPLAYED
    )
    assert result.row_count == 0
    assert result.path.read_bytes().decode("utf-8-sig").strip() == (
        "Profile ID,Full name,EMAIL(UNENCRYPTED),PHONE(UNENCRYPTED),City,Loyalty points"
    )


def test_every_export_writes_an_audit_event(session, world, settings):
    flt = ProfileFilter(member_level="Gold")
    export_profiles(session=session, actor=world.marketer, flt=flt, columns=DISPLAYED, fmt="csv")
    session.commit()
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "profiles.export")).one()
    assert event.actor_email == "marketer@team.example"
    assert event.details["filter"]["member_level"] == "Gold"
    assert event.details["columns"][:2] == ["Profile ID", "Full name"]
    assert event.details["profiles"] == 1 and event.details["format"] == "csv"


# ---------------------------------------------------------------- xlsx and zip
def test_xlsx_writes_formula_looking_text_as_string_cells(session, world, settings):
    result = export_profiles(session=session, actor=world.marketer, flt=ProfileFilter(), fields_mode="all", fmt="xlsx")
    with zipfile.ZipFile(result.path) as package:
        sheet = package.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet
    assert "HYPERLINK" in sheet
    book = openpyxl.load_workbook(result.path, read_only=True)
    rows = list(book["Profiles"].iter_rows(values_only=True))
    header, cells = rows[0], {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}
    assert header[:2] == ("Profile ID", "USER_ID(UNENCRYPTED)")
    assert cells[world.formula]["Full name"] == FORMULA_NAME  # as typed, but inert
    assert cells[world.formula]["Stage"] == "=1+1"
    assert cells[world.an]["Loyalty points"] == 120  # numbers stay numbers
    assert cells[world.an]["PHONE(UNENCRYPTED)"] == "+84901234567"


def test_xlsx_cells_read_back_exactly_as_stored(session, world, settings):
    import polars as pl

    from tests.unit.profile_world import add_profiles as _add

    names = ["a & <b> c", "_x0041_ literal", "ctl\x01x", "cr\rlf\nend", "  spaced  ", "=1+1", "Nguyễn 😀"]
    ids = _add(session, len(names))
    from profile_ui.models import Profile

    for pid, name in zip(ids, names):
        session.get(Profile, pid).full_name = name
    session.commit()
    result = export_profiles(
        session=session,
        actor=world.marketer,
        flt=ProfileFilter(profile_ids=ids),
        columns=["full_name", "loyalty_points"],
        fmt="xlsx",
    )
    frame = pl.read_excel(result.path, sheet_name="Profiles")  # calamine, as spreadsheet apps read
    assert frame.columns == ["Profile ID", "Full name", "Loyalty points"]
    assert frame["Full name"].to_list() == names
    assert frame["Profile ID"].to_list() == ids


def test_xlsx_continues_on_a_new_sheet_past_the_row_limit(session, world, settings, monkeypatch):
    add_profiles(session, 3)
    monkeypatch.setattr(sheet_writer, "XLSX_MAX_DATA_ROWS", 2)
    result = export_profiles(
        session=session, actor=world.marketer, flt=ProfileFilter(), columns=["full_name"], fmt="xlsx"
    )
    book = openpyxl.load_workbook(result.path, read_only=True)
    assert book.sheetnames == ["Profiles", "Profiles 2", "Profiles 3"]
    rows = [list(book[name].iter_rows(values_only=True)) for name in book.sheetnames]
    assert [len(r) for r in rows] == [3, 3, 2]  # a header on each sheet
    assert all(r[0] == ("Profile ID", "Full name") for r in rows)
    assert sorted(row[0] for sheet in rows for row in sheet[1:]) == sorted(
        [world.an, world.formula, *range(world.gone + 1, world.gone + 4)]
    )


def test_zip_holds_the_csv(session, world, settings):
    result = export_profiles(session=session, actor=world.marketer, flt=ProfileFilter(), columns=DISPLAYED, fmt="zip")
    with zipfile.ZipFile(result.path) as archive:
        (name,) = archive.namelist()
        assert name.endswith(".csv")
        rows = by_id(read_csv(archive.read(name)))
    assert rows[world.an]["EMAIL(UNENCRYPTED)"] == "an@example.com"
    assert rows[world.formula]["Full name"] == "'" + FORMULA_NAME


def test_bad_requests_are_refused_with_a_message(session, world, settings):
    with pytest.raises(ExportError, match="format"):
        export_profiles(session=session, actor=world.marketer, flt=ProfileFilter(), columns=DISPLAYED, fmt="pdf")
    with pytest.raises(ExportError, match="at least one column"):
        preview_export(session=session, actor=world.marketer, flt=ProfileFilter(), columns=[])
    with pytest.raises(ExportError, match="fields"):
        preview_export(session=session, actor=world.marketer, flt=ProfileFilter(), fields_mode="some")


# ---------------------------------------------------------------- background exports
def test_large_export_runs_as_a_job_and_notifies_with_a_link(session, engine, world, settings, monkeypatch):
    settings.export_sync_limit = 2
    mails = []
    monkeypatch.setattr("profile_ui.jobs.export_job.send_email", lambda **kw: mails.append(kw) or True)
    preview = preview_export(session=session, actor=world.marketer, flt=ProfileFilter(), columns=DISPLAYED)
    assert preview.background

    result = export_profiles(
        session=session, actor=world.marketer, flt=ProfileFilter(), columns=DISPLAYED, fmt="xlsx", enqueue=False
    )
    session.commit()
    assert result.background and result.status == "queued" and result.path is None
    assert run_export_job(result.export_id, engine=engine) == "completed"
    assert run_export_job(result.export_id, engine=engine) is None  # delivered twice: runs once

    session.expire_all()
    job = session.get(ExportJob, result.export_id)
    assert job.status == "completed" and job.row_count == 2
    assert job.expires_at - job.finished_at == timedelta(hours=settings.export_link_hours)
    note = session.exec(select(Notification).where(Notification.user_id == world.marketer.user_id)).one()
    assert note.link == f"/exports/{job.id}/download" and "2 profiles" in note.title
    assert mails and mails[0]["to"] == "marketer@team.example"
    assert f"/exports/{job.id}/download" in mails[0]["body"]
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "profiles.export")).one()
    assert event.actor_email == "marketer@team.example" and event.details["profiles"] == 2

    path = download_export(session=session, actor=world.marketer, export_id=job.id)
    assert path.suffix == ".xlsx" and path.is_file()
    assert download_export(session=session, actor=world.admin, export_id=job.id) == path
    with pytest.raises(NotYourExport):
        download_export(session=session, actor=world.other_marketer, export_id=job.id)
    # what the export dialog polls while the job runs: the owner's (or an admin's) only
    assert export_status(session=session, actor=world.marketer, export_id=job.id) == "completed"
    assert export_status(session=session, actor=world.admin, export_id=job.id) == "completed"
    assert export_status(session=session, actor=world.marketer, export_id=job.id + 1000) is None
    with pytest.raises(NotYourExport, match=f"Export {job.id} does not exist, or it is not yours"):
        export_status(session=session, actor=world.other_marketer, export_id=job.id)
    with pytest.raises(PermissionDenied):
        download_export(session=session, actor=world.viewer, export_id=job.id)
    with pytest.raises(ExportExpired, match="expired"):
        download_export(
            session=session, actor=world.marketer, export_id=job.id, now=job.expires_at + timedelta(seconds=1)
        )


def test_a_job_of_a_user_who_lost_the_permission_fails(session, engine, world, settings):
    from profile_ui.models import Role, User

    settings.export_sync_limit = 1
    result = export_profiles(
        session=session, actor=world.marketer, flt=ProfileFilter(), columns=DISPLAYED, enqueue=False
    )
    user = session.get(User, world.marketer.user_id)
    user.role_id = session.exec(select(Role.id).where(Role.name == "viewer")).one()
    session.add(user)
    session.commit()
    assert run_export_job(result.export_id, engine=engine) == "failed"
    session.expire_all()
    job = session.get(ExportJob, result.export_id)
    assert "profiles.export" in job.error and job.file_path is None


def test_list_exports_shows_only_the_users_own(session, world, settings):
    mine = export_profiles(session=session, actor=world.marketer, flt=ProfileFilter(), columns=DISPLAYED)
    export_profiles(session=session, actor=world.other_marketer, flt=ProfileFilter(), columns=DISPLAYED)
    session.commit()
    items = list_exports(session=session, actor=world.marketer)
    assert [i.id for i in items] == [mine.export_id]
    assert items[0].download_url == mine.download_url and items[0].row_count == 2
    later = list_exports(
        session=session, actor=world.marketer, now=utcnow() + timedelta(hours=settings.export_link_hours + 1)
    )
    assert later[0].expired and later[0].download_url is None


def test_purge_job_removes_expired_export_files(session, engine, world, settings):
    result = export_profiles(session=session, actor=world.marketer, flt=ProfileFilter(), columns=DISPLAYED)
    session.commit()
    assert run_purge(engine=engine).export_files == 0
    report = run_purge(engine=engine, now=utcnow() + timedelta(hours=settings.export_link_hours + 1))
    assert report.export_files == 1 and not result.path.exists()
    session.expire_all()
    with pytest.raises(ExportExpired):
        download_export(session=session, actor=world.marketer, export_id=result.export_id)


def test_recovery_fails_an_export_left_running(session, engine, world, settings):
    settings.export_sync_limit = 1
    result = export_profiles(
        session=session, actor=world.marketer, flt=ProfileFilter(), columns=DISPLAYED, enqueue=False
    )
    job = session.get(ExportJob, result.export_id)
    job.status, job.created_at = "running", utcnow() - timedelta(hours=2)
    session.add(job)
    session.commit()
    recover_export_jobs(engine=engine)
    session.expire_all()
    assert session.get(ExportJob, result.export_id).status == "failed"


def test_recovery_queues_again_an_export_whose_worker_died_and_the_next_writes_it_once(
    session, engine, world, settings, monkeypatch
):
    import subprocess
    import sys

    from profile_ui.jobs.leases import Owner
    from profile_ui.services import dispatch

    settings.export_sync_limit = 1
    sent = []
    monkeypatch.setitem(dispatch.SENDERS, dispatch.EXPORT_FILE, sent.append)
    result = export_profiles(
        session=session, actor=world.marketer, flt=ProfileFilter(), columns=DISPLAYED, enqueue=False
    )
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    job = session.get(ExportJob, result.export_id)
    job.status = "running"
    job.claim = {
        "owner": {**Owner.current().to_json(), "pid": dead.pid},
        "lease_until": (utcnow() + timedelta(hours=1)).isoformat(),
    }
    session.add(job)
    session.commit()

    assert recover_export_jobs(engine=engine) == [result.export_id] == sent
    session.expire_all()
    assert session.get(ExportJob, result.export_id).status == "queued"
    assert run_export_job(result.export_id, engine=engine) == "completed"
    assert recover_export_jobs(engine=engine) == []  # nothing left to recover


# ---------------------------------------------------------------- CLI
def test_cli_export_writes_the_chosen_format_and_refuses_a_viewer(app_env, sqlite_url, tmp_path):
    from profile_ui.db import make_engine

    app_env(sqlite_url)
    engine = make_engine(sqlite_url)
    with Session(engine, expire_on_commit=False) as session:
        world = build_world(session)
    engine.dispose()
    runner = CliRunner()

    out = tmp_path / "people.xlsx"
    result = runner.invoke(
        main_cli(), ["export", "--out", str(out), "--query", "an@example.com", "--as", "no_phone@team.example"]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 1 profiles" in result.output and "left out: PHONE(UNENCRYPTED)" in result.output
    rows = list(openpyxl.load_workbook(out, read_only=True)["Profiles"].iter_rows(values_only=True))
    assert rows[1][0] == world.an and "PHONE(UNENCRYPTED)" not in rows[0]

    out_zip = tmp_path / "all.zip"
    result = runner.invoke(
        main_cli(), ["export", "--out", str(out_zip), "--fields", "displayed", "--columns", "full_name,identity:email"]
    )
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out_zip) as archive:
        rows = read_csv(archive.read(archive.namelist()[0]))
    assert list(rows[0]) == ["Profile ID", "Full name", "EMAIL(UNENCRYPTED)"] and len(rows) == 2

    refused = runner.invoke(main_cli(), ["export", "--out", str(tmp_path / "x.csv"), "--as", "viewer@team.example"])
    assert refused.exit_code != 0 and "profiles.export" in refused.output


def main_cli():
    from profile_ui.cli import main

    return main
