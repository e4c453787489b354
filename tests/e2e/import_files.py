"""Spreadsheets the import browser tests upload, and database checks on what they did."""

from __future__ import annotations

import csv
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import select

from profile_ui.models import Identity, ImportJob, Profile

from .helpers import RunningApp, app_db


def write_xlsx(path: Path, sheets: dict[str, list[list[str]]]) -> Path:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path))
    for name, rows in sheets.items():
        sheet = workbook.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                sheet.write_string(r, c, value)
    workbook.close()
    return path


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows(rows)
    return path


def profile_by_email(app: RunningApp, email: str) -> Profile | None:
    with app_db(app) as session:
        return session.exec(
            select(Profile)
            .join(Identity, Identity.profile_id == Profile.id)
            .where(Identity.kind == "email", Identity.value == email)
        ).first()


def jobs_for(app: RunningApp, file_name: str) -> list[ImportJob]:
    with app_db(app) as session:
        return list(
            session.exec(select(ImportJob).where(ImportJob.file_name == file_name).order_by(ImportJob.id)).all()
        )


def latest_job_id(app: RunningApp) -> int:
    with app_db(app) as session:
        return session.exec(select(sa.func.max(ImportJob.id))).one() or 0


def segment_members(app: RunningApp, segment_name: str) -> dict[int, str | None]:
    from profile_ui.models import Segment, SegmentMember

    with app_db(app) as session:
        rows = session.exec(
            select(SegmentMember.profile_id, SegmentMember.value)
            .join(Segment, Segment.id == SegmentMember.segment_id)
            .where(Segment.name == segment_name)
        ).all()
        return dict(rows)


def import_job_count(app: RunningApp) -> int:
    with app_db(app) as session:
        return session.exec(select(sa.func.count()).select_from(ImportJob)).one()
