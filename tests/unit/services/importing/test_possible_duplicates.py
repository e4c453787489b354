"""An import's possible duplicates: rows that match no identifier but look like an existing
profile are flagged in the dry run, and queued for review (or created anyway) when applied.
SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date, timedelta

import polars as pl
import pytest
import sqlalchemy as sa
from sqlmodel import select

from profile_ui.models import Profile
from profile_ui.models.duplicate import DuplicateCandidate, ImportDedupeCheck
from profile_ui.services.audit import record_event
from profile_ui.services.dedupe.scan import scan_all
from profile_ui.services.importing import ImportOptions
from profile_ui.services.importing.possible_duplicates import POSSIBLE_DUPLICATE, describe
from profile_ui.services.importing.reports import ImportPlanError
from profile_ui.services.importing.results import store_row_results
from profile_ui.services.permissions import SYSTEM_ACTOR

from .frames import (
    MARKETER,
    apply_after_dry_run,
    dry_run,
    new_job,
    outcomes,
    rule,
    run_import,
    seed_profiles,
    validated,
)


@pytest.fixture
def base(session):
    ids = seed_profiles(
        session,
        [
            {
                "full_name": "Nguyễn Thị Mai",
                "birthday": date(1991, 4, 5),
                "city": "Huế",
                "email": "mai.nguyen@gmail.com",
            },
            {"full_name": "Peter Parker", "birthday": date(1988, 8, 10), "email": "peter@example.com"},
        ],
    )
    scan_all(session=session, actor=SYSTEM_ACTOR)  # stores every profile's blocking keys
    session.commit()
    return ids


FILE = [
    # no identifier matches, but the same person as profile 1: flagged
    {"email": "mai.nguyen@yahoo.com", "full_name": "Nguyen Thi Mai", "birthday": date(1991, 4, 5)},
    # a stranger: not flagged
    {"email": "quang.le@example.com", "full_name": "Lê Văn Quang", "birthday": date(1970, 1, 1)},
    # matches profile 2 by its e-mail: an ordinary update, never a "possible duplicate"
    {"email": "peter@example.com", "full_name": "Peter Parker", "birthday": date(1988, 8, 10)},
]


def test_dry_run_flags_a_new_row_that_looks_like_an_existing_profile(session, base):
    plan = dry_run(session, validated(FILE), sync=rule(session, ["email"]))

    assert outcomes(plan) == {2: "new", 3: "new", 4: "unchanged"}
    changes = {row: json.loads(c) for row, c in plan.rows.select("__row__", "changes").iter_rows()}
    flag = changes[2][POSSIBLE_DUPLICATE]
    assert flag["profile_id"] == base[0] and flag["score"] >= 0.7
    assert "same name and date of birth" in flag["reasons"]
    assert describe(changes[2]).startswith(f"possible duplicate of #{base[0]} (")
    assert POSSIBLE_DUPLICATE not in changes[3] and POSSIBLE_DUPLICATE not in changes[4]
    assert plan.totals["possible_duplicates"] == 1
    assert session.exec(select(DuplicateCandidate)).all() == []  # a dry run writes nothing


@pytest.mark.parametrize("mode, status", [("review", "open"), ("create", "skipped")])
def test_apply_creates_the_row_and_queues_the_pair_or_sets_it_aside(session, base, mode, status):
    job, plan = run_import(
        session, validated(FILE), sync=rule(session, ["email"]), options=ImportOptions(possible_duplicates=mode)
    )
    session.commit()

    new_id = plan.rows.filter(plan.rows["__row__"] == 2)["profile_id"][0]
    pairs = session.exec(select(DuplicateCandidate)).all()
    assert [(p.profile_a_id, p.profile_b_id, p.status, p.import_job_id) for p in pairs] == [
        (base[0], new_id, status, job.id)
    ]
    assert plan.totals["possible_duplicates"] == 1


def test_an_unknown_possible_duplicates_option_is_refused(session, base):
    with pytest.raises(ImportPlanError, match="possible duplicates"):
        dry_run(
            session, validated(FILE), sync=rule(session, ["email"]), options=ImportOptions(possible_duplicates="merge")
        )


def test_the_apply_checks_again_only_profiles_whose_compared_facts_changed(session, base, monkeypatch):
    from profile_ui.services.importing import possible_duplicates

    checked: list[list[int]] = []
    scan = possible_duplicates.scan_profile_ids

    def spy(**kwargs):
        checked.append(sorted(kwargs["profile_ids"]))
        return scan(**kwargs)

    monkeypatch.setattr(possible_duplicates, "scan_profile_ids", spy)
    sync = rule(session, ["email"])
    # profile 2 by its e-mail: a new member level (not compared) -> not checked again
    _job, plan = run_import(session, validated([{"email": "peter@example.com", "member_level": "Gold"}]), sync=sync)
    assert outcomes(plan) == {2: "updated"} and checked == []
    # a new city (compared) -> checked again
    _job, plan = run_import(session, validated([{"email": "peter@example.com", "city": "Đà Nẵng"}]), sync=sync)
    assert outcomes(plan) == {2: "updated"} and checked == [[base[1]]]
    # a new identity (compared) -> checked again
    frame = validated([{"email": "peter@example.com", "phone": "+84905550001"}])
    _job, plan = run_import(session, frame, sync=sync, identifiers=["email"])
    assert outcomes(plan) == {2: "updated"} and checked[-1] == [base[1]]


# a file with look-alikes of the base, of each other (rows 3 and 4), an update of compared
# facts (row 5: Peter's name and city), one person written twice with two e-mails (rows 6
# and 7), and someone sharing a block only with Peter's name before the update (row 9)
RICH_FILE = [
    {"email": "mai.nguyen@yahoo.com", "full_name": "Nguyen Thi Mai", "birthday": date(1991, 4, 5)},
    {"email": "quang.le@example.com", "full_name": "Lê Văn Quang", "birthday": date(1970, 1, 1), "city": "Huế"},
    {"email": "quang.le@yahoo.com", "full_name": "Le Van Quang", "birthday": date(1970, 1, 1)},
    {"email": "peter@example.com", "full_name": "Spider Man", "city": "Đà Nẵng"},
    {"email": "tony@example.com", "phone": "+84905550002", "full_name": "Tony Stark", "birthday": date(1970, 5, 29)},
    {"email": "tony.stark@example.com", "phone": "+84905550002", "full_name": "Tony Stark"},
    {"email": "anthony.stark@example.com", "full_name": "Anthony Stark", "birthday": date(1970, 5, 29)},
    {"email": "pp@example.net", "full_name": "Peter Parker"},
]


def _pairs(session) -> set[tuple]:
    names = dict(session.execute(sa.select(Profile.id, Profile.full_name)).all())
    return {
        (names[p.profile_a_id], names[p.profile_b_id], round(p.score, 9), p.reasons, p.status, p.import_job_id)
        for p in session.exec(select(DuplicateCandidate)).all()
    }


def _dry_run_then_apply(session, frame, sync, monkeypatch, *, between=None):
    """A job's dry run (its results and check kept, committed), then its apply; returns the
    job, the apply's plan and the profile ids scan_profile_ids was asked to check."""
    from profile_ui.services.dedupe import import_check
    from profile_ui.services.importing import possible_duplicates

    checked: list[int] = []
    scan = possible_duplicates.scan_profile_ids

    def spy(**kwargs):
        checked.extend(kwargs["profile_ids"])
        return scan(**kwargs)

    monkeypatch.setattr(possible_duplicates, "scan_profile_ids", spy)
    monkeypatch.setattr(import_check, "scan_profile_ids", spy)
    job, plan = apply_after_dry_run(session, frame, sync=sync, between=between)
    return job, plan, checked


def _full_check_again(session, job, plan) -> None:
    """What the apply's full check stores, on the applied base: its pairs removed and found again."""
    from profile_ui.services.dedupe.scan import scan_profile_ids
    from profile_ui.services.importing.possible_duplicates import profiles_to_recheck

    created = plan.rows.filter(pl.col("outcome") == "new")["profile_id"].unique().to_list()
    changed = profiles_to_recheck(plan.rows, updated="updated", merged="merged")
    session.execute(sa.delete(DuplicateCandidate).where(DuplicateCandidate.import_job_id == job.id))
    scan_profile_ids(session=session, profile_ids=[*created, *changed], import_job_id=job.id)
    session.commit()


def test_the_apply_reuses_its_dry_run_check_and_stores_what_a_full_check_stores(session, base, monkeypatch):
    # PostgreSQL: the base's scan, just before, would count as a change (ids are not commit order)
    monkeypatch.setattr("profile_ui.services.dedupe.import_check.ID_ORDER_MARGIN", timedelta(0))
    sync = rule(session, ["email", "phone"])
    frame = validated(RICH_FILE)
    job, plan, checked = _dry_run_then_apply(session, frame, sync, monkeypatch)

    assert outcomes(plan) == {2: "new", 3: "new", 4: "new", 5: "updated", 6: "new", 7: "new", 8: "new", 9: "new"}
    # checked again: the changed profile, and the new one that shared a block with its old name
    row_9 = plan.rows.filter(pl.col("__row__") == 9)["profile_id"][0]
    assert set(checked) == {base[1], row_9}
    stored = _pairs(session)
    assert ("Nguyễn Thị Mai", "Nguyen Thi Mai") in {p[:2] for p in stored}
    assert ("Lê Văn Quang", "Le Van Quang") in {p[:2] for p in stored}
    assert session.exec(select(ImportDedupeCheck)).all() == []  # used up

    _full_check_again(session, job, plan)
    assert _pairs(session) == stored


def test_a_change_after_the_dry_run_makes_the_apply_check_everything_again(session, base, monkeypatch):
    sync = rule(session, ["email", "phone"])
    frame = validated(RICH_FILE)

    def edit() -> None:
        record_event(session=session, actor=MARKETER, action="profile.edit", object_type="profile", object_id="1")

    job, plan, checked = _dry_run_then_apply(session, frame, sync, monkeypatch, between=edit)

    created = set(plan.rows.filter(pl.col("outcome") == "new")["profile_id"].to_list())
    assert created <= set(checked)
    stored = _pairs(session)
    _full_check_again(session, job, plan)
    assert _pairs(session) == stored


def test_the_dry_run_flags_as_without_its_kept_check(session, base):
    sync = rule(session, ["email", "phone"])
    plan = dry_run(session, validated(RICH_FILE), sync=sync)
    flags = {
        row: json.loads(c).get(POSSIBLE_DUPLICATE, {}).get("profile_id")
        for row, c in plan.rows.select("__row__", "changes").iter_rows()
    }
    assert flags == {2: base[0], 3: None, 4: None, 5: None, 6: None, 7: None, 8: None, 9: None}
    assert plan._dedupe is not None and plan._dedupe.pairs.height >= 3  # Mai, Quang twice, Tony/Anthony


def test_the_people_the_check_compares_are_the_profiles_the_apply_writes(session, base):
    """created_people (what the dry run checks) read back with load_people (what a full check
    reads): the same values, the first of two e-mails included."""
    from profile_ui.services.dedupe.people import load_people
    from profile_ui.services.importing.possible_duplicates import created_people

    _job, plan = run_import(session, validated(RICH_FILE), sync=rule(session, ["email", "phone"]))
    work = plan._work
    people = created_people(work.new_profiles, work.identity_adds)
    ids = plan.rows.filter(pl.col("outcome") == "new").group_by("person").agg(pl.col("profile_id").first())
    as_profiles = people.join(ids, left_on="id", right_on="person").with_columns(id="profile_id").drop("profile_id")
    stored = load_people(session=session, profile_ids=ids["profile_id"].to_list())
    assert as_profiles.sort("id").equals(stored.sort("id"))
    assert people.filter(pl.col("full_name") == "Tony Stark")["email"].to_list() == ["tony@example.com"]


def test_a_dry_run_keeps_its_check_until_the_import_is_cancelled(session, base):
    from profile_ui.services.importing.jobs import cancel_import

    sync = rule(session, ["email"])
    jobs = {kind: new_job(session, kind=kind) for kind in ("profiles", "membership")}
    session.commit()
    for job in jobs.values():
        store_row_results(session=session, job_id=job.id, plan=dry_run(session, validated(FILE), sync=sync))
    session.commit()
    # a membership file is applied by its review under other jobs: nothing kept for it
    assert session.get(ImportDedupeCheck, jobs["membership"].id) is None
    assert session.get(ImportDedupeCheck, jobs["profiles"].id) is not None

    cancel_import(session=session, actor=MARKETER, job_id=jobs["profiles"].id)
    session.commit()
    assert session.get(ImportDedupeCheck, jobs["profiles"].id) is None
