"""An import's possible duplicates: rows that match no identifier but look like an existing
profile are flagged in the dry run, and queued for review (or created anyway) when applied.
SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlmodel import select

from profile_ui.models.duplicate import DuplicateCandidate
from profile_ui.services.dedupe.scan import scan_all
from profile_ui.services.importing import ImportOptions
from profile_ui.services.importing.possible_duplicates import POSSIBLE_DUPLICATE, describe
from profile_ui.services.importing.reports import ImportPlanError
from profile_ui.services.permissions import SYSTEM_ACTOR

from .frames import dry_run, outcomes, rule, run_import, seed_profiles, validated


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
