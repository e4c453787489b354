"""Undo after a later import (issue 11, item 3): what the person undoing sees when file B
updated profiles file A created, and the imports are undone in either order. The files
are imported from the command line (by the system), so an admin undoes them: undo belongs
to an import's submitter and the admins."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from .helpers import RunningApp, run_import

_MAPPING_A = {"columns": {"email": "identity:email", "phone": "identity:phone", "name": "full_name"}}
_MAPPING_B = {"columns": {"phone": "identity:phone", "city": "city"}}


def _files_a_and_b(app: RunningApp, tmp_path: Path, tag: str) -> tuple[dict, dict]:
    """File A: three new people; file B: a new city for two of them, found by phone."""
    people = [
        {"email": f"undo.{tag}{i}@seq.example.com", "phone": f"+8498765{tag}{i}00", "name": f"Undo {tag.upper()} {i}"}
        for i in range(3)
    ]
    a = run_import(app, people, _MAPPING_A, tmp_path)
    b = run_import(app, [{"phone": p["phone"], "city": "Đà Nẵng"} for p in people[:2]], _MAPPING_B, tmp_path)
    return a, b


def _undo(page: Page, job_id: int) -> None:
    page.goto(f"/imports/{job_id}")
    page.get_by_role("button", name="Undo import").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("later import that is still in effect is kept")
    dialog.get_by_role("button", name="Undo import").click()
    expect(page.get_by_label("Import status")).to_have_text("undone")


def _profiles_found(page: Page, text: str):
    """The list's total after querying `text`."""
    page.goto("/profiles")
    total = page.get_by_role("navigation", name="Pages").get_by_role("status")
    expect(total).not_to_have_text("")
    page.get_by_label("User ID, e-mail, phone or name").fill(text)
    page.get_by_role("button", name="Query").click()
    return total


def test_undo_b_then_undo_a_removes_every_profile_a_created(
    admin_page: Page, running_app: RunningApp, tmp_path: Path
) -> None:
    page = admin_page
    a, b = _files_a_and_b(running_app, tmp_path, "1")
    _undo(page, b["job_id"])
    expect(page.get_by_role("status").filter(has_text="Undone:")).to_contain_text(
        "0 profiles removed, 2 fields restored"
    )
    _undo(page, a["job_id"])
    result = page.get_by_role("status").filter(has_text="Undone:")
    expect(result).to_contain_text("3 profiles removed")
    expect(result).not_to_contain_text("Kept")
    expect(_profiles_found(page, "undo.10@seq.example.com")).to_have_text("0 profiles")


def test_undo_a_while_b_is_in_effect_keeps_and_names_b(
    admin_page: Page, running_app: RunningApp, tmp_path: Path
) -> None:
    page = admin_page
    a, _b = _files_a_and_b(running_app, tmp_path, "2")
    _undo(page, a["job_id"])
    result = page.get_by_role("status").filter(has_text="Undone:")
    expect(result).to_contain_text("1 profile removed")
    expect(result).to_contain_text(re.compile(r"Kept 2 profiles changed by the later import import-\d+\.csv"))
    expect(_profiles_found(page, "undo.20@seq.example.com")).to_have_text("1 profile")
