"""Customer data outside the tables, scanned as an attacker with the disk would (SQLite and
PostgreSQL): after imports (one previewed, one a workbook), an undo, an upload left in
the wizard, an export and an erasure, neither the database nor any file under DATA_DIR
holds the erased person's e-mail, phone or name; with encryption on, no file under
DATA_DIR holds any profile's identifier in plain text (downloads come out plain); and
every customer file is 0600 in a 0700 folder."""

from __future__ import annotations

import base64
import io
import json
import sqlite3
import stat
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from profile_ui.db import make_engine, session_scope
from profile_ui.jobs.import_job import run_batch
from profile_ui.models import AuditEvent, ExportJob, Identity, ImportJob
from profile_ui.services import crypto, file_store, retention
from profile_ui.services.deletion import erase_profile
from profile_ui.services.exporting import ExportExpired, download_export, export_profiles
from profile_ui.services.importing.jobs import confirm_import
from profile_ui.services.importing.read import read_upload
from profile_ui.services.importing.undo import undo_import
from profile_ui.services.permissions import SYSTEM_ACTOR
from profile_ui.services.profiles import ProfileFilter
from profile_ui.services.users import actor_for_email, create_user
from tests.unit.customer_files import submit, upload, xlsx_bytes

KEY = base64.b64encode(bytes(range(32))).decode()
HEADER = ["Full Name", "E-mail Address", "Mobile", "City"]
ERIN = ["Erin Targetperson", "erin.target@example.com", "0933 444 555", "Hanoi"]
ERIN_TEXTS = ["Erin Targetperson", "erin.target@example.com", "933444555", "0933 444 555", "+84933444555"]
FIRST = [
    HEADER,
    ["An Nguyen", "an.secret@example.com", "0901234567", "Hue"],
    ERIN,
    ["Bad Row", "not-an-email", "", "Hue"],
]
SECOND = [
    HEADER,
    ["Binh Tran", "binh.secret@example.com", "0912 345 678", "Vinh"],
    ["Erin Targetperson", "erin.target@example.com", "", "Da Nang"],
]
UNDONE = [HEADER, ["Chi Le", "chi.secret@example.com", "0977111222", "Hue"]]
LEFT_IN_WIZARD = [HEADER, ERIN, ["Dung Pham", "dung.secret@example.com", "0987654321", "Hue"]]
# every identifier of every profile, in the forms a file could hold it
ALL_IDENTIFIERS = [
    "an.secret@example.com",
    "binh.secret@example.com",
    "chi.secret@example.com",
    "dung.secret@example.com",
    "0901234567",
    "+84901234567",
    "+84912345678",
    "0977111222",
    "+84977111222",
    "0987654321",
    *ERIN_TEXTS[1:],
]


def csv_bytes(rows: list[list[str]]) -> bytes:
    return ("\n".join(",".join(row) for row in rows) + "\n").encode()


def run_import(actor, data: bytes, name: str, *, preview: bool = False) -> ImportJob:
    job = submit(actor, upload(actor, data, name), name, dry_run=preview)
    run_batch(job.batch_id)
    if preview:
        with session_scope() as session:
            confirm_import(session=session, actor=actor, job_id=job.id, enqueue=False)
        run_batch(job.batch_id)
    with session_scope() as session:
        job = session.get(ImportJob, job.id)
        assert job.status == "completed", job.error
        return job


def disk_texts(url: str, engine: sa.Engine) -> dict[str, bytes]:
    """What the database holds, as bytes a scan reads: the SQLite files, or every row of
    every PostgreSQL table as JSON."""
    if url.startswith("sqlite"):
        engine.dispose()
        path = sa.engine.make_url(url).database
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return {name: Path(name).read_bytes() for name in (path, f"{path}-wal") if Path(name).exists()}
    with engine.connect() as conn:
        return {
            table.name: "\n".join(
                conn.execute(sa.text(f'SELECT row_to_json(t)::text FROM "{table.name}" AS t')).scalars()
            ).encode()
            for table in SQLModel.metadata.sorted_tables
        }


def data_files(data_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(data_dir)): p.read_bytes() for p in data_dir.rglob("*") if p.is_file()}


def found(texts: list[str], places: dict[str, bytes]) -> list[tuple[str, str]]:
    hits = []
    for name, raw in places.items():
        for text in texts:
            for form in {text, text.casefold(), json.dumps(text)[1:-1]}:
                if form.encode() in raw or form.encode("utf-16-le") in raw:
                    hits.append((name, text))
    return hits


@pytest.mark.parametrize("encrypted", [True, False], ids=["encrypted", "plain"])
def test_no_trace_of_the_erased_person_and_no_plain_identifier_at_rest(
    app_env, db_url: str, tmp_path: Path, encrypted: bool
) -> None:
    env = {"ENCRYPTED_IDENTITY_KINDS": json.dumps(["email", "phone"]), "ENCRYPTION_KEY": KEY} if encrypted else {}
    data_dir = app_env(db_url, **env)
    engine = make_engine(db_url)
    with session_scope() as session:
        create_user(
            session=session, actor=SYSTEM_ACTOR, email="m@example.com", password="pw-123456789", role="marketer"
        )
        marketer = actor_for_email(session=session, email="m@example.com")

    first = run_import(marketer, csv_bytes(FIRST), "first.csv", preview=True)
    assert first.error_file_path  # the bad row
    run_import(marketer, xlsx_bytes(tmp_path, SECOND), "second.xlsx")  # a cached sheet
    undone = run_import(marketer, csv_bytes(UNDONE), "undone.csv")
    with session_scope() as session:
        undo_import(session=session, actor=marketer, job_id=undone.id)
    left = upload(marketer, csv_bytes(LEFT_IN_WIZARD), "left.csv")
    assert read_upload(left, file_name="left.csv").headers == HEADER  # the wizard read it
    with session_scope() as session:
        export = export_profiles(session=session, actor=marketer, flt=ProfileFilter(), fmt="xlsx", fields_mode="all")
        kept_export = export_profiles(
            session=session, actor=marketer, flt=ProfileFilter(text="Binh"), fmt="csv", fields_mode="all"
        )
    assert export.path.is_file() and kept_export.path.is_file()

    before = data_files(data_dir)
    assert any(name.startswith("cache/sheets/") for name in before)
    if encrypted:
        assert not found(ALL_IDENTIFIERS, before), "an identifier in plain text under DATA_DIR"
        assert all(
            raw.startswith(file_store.MAGIC)
            for name, raw in before.items()
            if name.split("/")[0] in ("uploads", "cache", "import-results", "exports")
        )
        # the owner's download is the plain file, decrypted as it is streamed
        with zipfile.ZipFile(io.BytesIO(b"".join(file_store.iter_plain(export.path)))) as book:
            assert any(b"an.secret@example.com" in book.read(name) for name in book.namelist())
    else:
        assert found(["erin.target@example.com"], before)  # the scan would see it

    with session_scope() as session:
        erin = session.execute(
            sa.select(Identity.profile_id).where(
                Identity.value.in_(
                    crypto.lookup_hashes("email", "erin.target@example.com") + ["erin.target@example.com"]
                )
            )
        ).scalar_one()
        result = erase_profile(session=session, actor=SYSTEM_ACTOR, profile_id=erin, reason="Request 7")

    places = {p["place"]: p for p in result.places}
    assert list(places) == ["database", "uploads", "cached sheets", "import error files", "export files"]
    assert places["uploads"]["files_deleted"] == 3  # first, second, the wizard's (not "undone")
    assert places["uploads"]["files_checked"] == 4
    assert places["import error files"]["files_deleted"] == 2 and first.id in places["import error files"]["of"]
    assert places["export files"] == {
        "place": "export files",
        "files_checked": 2,
        "files_deleted": 1,
        "of": [export.export_id],
    }
    assert places["cached sheets"]["files_deleted"] == 2
    with Session(engine) as session:
        event = session.query(AuditEvent).filter(AuditEvent.action == "profile.erase").one()
        assert event.details["places"] == result.places
        assert session.get(ExportJob, export.export_id).file_path is None
    assert kept_export.path.is_file()
    with Session(engine) as session:
        assert "GDPR erasure" in retention.error_file_note(session.get(ImportJob, first.id))
    with Session(engine) as session, pytest.raises(ExportExpired, match="no longer available"):
        download_export(session=session, actor=marketer, export_id=export.export_id)

    after = data_files(data_dir)
    assert not found(ERIN_TEXTS, after), "the erased person is still in a file under DATA_DIR"
    assert not found(ERIN_TEXTS, disk_texts(db_url, engine)), "the erased person is still in the database"
    if encrypted:
        assert not found(ALL_IDENTIFIERS, after)

    for path in data_dir.rglob("*"):
        top = path.relative_to(data_dir).parts[0]
        if top not in ("uploads", "cache", "import-results", "exports"):
            continue
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path
    engine.dispose()
