"""What the /exports page shows for each export: format and fields in words, rows, and
the download link or why there is none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from profile_ui.pages.exports import export_line
from profile_ui.services.exporting import ExportListItem

NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)


def _item(**changes) -> ExportListItem:
    values = {
        "id": 7,
        "status": "completed",
        "format": "xlsx",
        "fields_mode": "displayed",
        "row_count": 1234,
        "created_at": NOW,
        "finished_at": NOW,
        "expires_at": NOW + timedelta(hours=72),
        "expired": False,
        "download_url": "/exports/7/download",
        "file_name": "profiles.xlsx",
        "error": None,
    }
    values.update(changes)
    return ExportListItem(**values)


def test_a_ready_export_has_its_link_and_until_when():
    line = export_line(_item())
    assert (line.when, line.format, line.fields, line.rows) == (
        "2026-05-10 12:00 UTC",
        "Excel (.xlsx)",
        "Displayed fields",
        "1,234",
    )
    assert line.link == "/exports/7/download" and line.note == "until 2026-05-13 12:00 UTC"


def test_expired_failed_and_running_exports_say_why_there_is_no_link():
    expired = export_line(_item(expired=True, download_url=None, format="zip", fields_mode="all"))
    assert (expired.link, expired.note) == ("", "Link expired 2026-05-13 12:00 UTC")
    assert (expired.format, expired.fields) == ("ZIP of CSV (.zip)", "All fields")
    gone = export_line(_item(download_url=None, expires_at=None))
    assert gone.note == "File no longer available"
    failed = export_line(_item(status="failed", download_url=None, row_count=0, error="marketer lost profiles.export"))
    assert (failed.rows, failed.note) == ("", "marketer lost profiles.export")
    queued = export_line(_item(status="queued", download_url=None, row_count=0, expires_at=None))
    assert (queued.rows, queued.note) == ("", "Being written; you will be notified")
