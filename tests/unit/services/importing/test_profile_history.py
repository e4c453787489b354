"""The User 360 history lists what each applied import did to the person, beside the audit
events (SQLite and PostgreSQL)."""

from datetime import date

from profile_ui.models import ImportJob, ImportRowResult
from profile_ui.pages.profiles.detail_state import _history
from profile_ui.services.importing.undo import undo_import
from profile_ui.services.profile_edit import update_profile_fields
from profile_ui.services.profiles import get_profile_360

from .frames import (
    MARKETER,
    VIEWER,
    ensure_custom_fields,
    new_job,
    rule,
    run_import,
    seed_profiles,
    validated,
)


def _import_lines(session, profile_id):
    data = get_profile_360(session=session, actor=VIEWER, profile_id=profile_id)
    return data, [item for item in _history(data) if item.what.startswith("import")]


def test_applied_imports_show_in_the_history_with_their_file_row_and_changes(session):
    ensure_custom_fields(session)
    [ann] = seed_profiles(
        session, [{"full_name": "Ann", "email": "ann@x.com", "city": "Hanoi", "birthday": date(1980, 1, 2)}]
    )
    session.commit()
    sync = rule(session, ["email"])
    job, _plan = run_import(
        session,
        validated([{"email": "ann@x.com", "city": "Saigon", "tags": ["vip"]}]),
        sync=sync,
        file_name="spring leads.xlsx",
    )
    # a dry run waiting for confirmation changed nothing yet: not history
    preview = new_job(session, "not yet.xlsx")
    preview.status, preview.dry_run = "awaiting_confirmation", True
    session.add(
        ImportRowResult(
            job_id=preview.id, row_number=2, outcome="updated", profile_id=ann, changes={"city": ["Saigon", "Hue"]}
        )
    )
    session.commit()

    data, lines = _import_lines(session, ann)
    [row] = data.imports
    assert (row.job_id, row.outcome, row.changes["city"]) == (job.id, "updated", ["Hanoi", "Saigon"])
    [line] = lines
    assert line.what == "import (profiles): updated" and line.who == "system"
    assert line.details.startswith("spring leads.xlsx, row 2; City: Hanoi → Saigon")
    assert "tags added: vip" in line.details

    # a value edited by hand is kept by a later import, and the history says so
    update_profile_fields(session=session, actor=MARKETER, profile_id=ann, values={"birthday": "1990-05-06"})
    session.commit()
    run_import(
        session, validated([{"email": "ann@x.com", "birthday": date(2001, 1, 1)}]), sync=sync, file_name="crm dump.csv"
    )
    _data, lines = _import_lines(session, ann)
    assert "kept as edited by hand: Birthday (the file had 2001-01-01)" in lines[0].details

    # a later file that creates someone: the new profile's history starts with it
    _job, plan = run_import(
        session, validated([{"email": "new@x.com", "full_name": "Neo"}]), sync=sync, file_name="summer.csv"
    )
    new_id = int(plan.rows["profile_id"][0])
    _data, [created] = _import_lines(session, new_id)
    assert created.what == "import (profiles): created the profile"
    assert created.details == "summer.csv, row 2"

    # undone imports stay in the history, saying so
    undo_import(session=session, actor=MARKETER, job_id=job.id)
    session.commit()
    assert session.get(ImportJob, job.id).status == "undone"
    _data, lines = _import_lines(session, ann)
    line = next(item for item in lines if item.details.startswith("spring leads.xlsx"))
    assert line.details.endswith("since undone")

    # beside the audit events about the person, newest first
    session.expire_all()  # as a new request would: the undo wrote in bulk
    update_profile_fields(session=session, actor=MARKETER, profile_id=ann, values={"city": "Da Nang"})
    session.commit()
    history = _history(get_profile_360(session=session, actor=VIEWER, profile_id=ann))
    assert history[0].details.startswith("City: Hanoi → Da Nang")
    assert [item.details.split(",")[0] for item in history if item.what.startswith("import")] == [
        "crm dump.csv",
        "spring leads.xlsx",
    ]
