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

from profile_ui.models import ImportJob, Profile, utcnow
from profile_ui.models.duplicate import DuplicateCandidate, ImportDedupeCheck
from profile_ui.pages.imports.history import totals_text as history_totals
from profile_ui.services.audit import record_event
from profile_ui.services.dedupe.scan import scan_all
from profile_ui.services.importing import ImportOptions
from profile_ui.services.importing.apply import apply_import
from profile_ui.services.importing.possible_duplicates import POSSIBLE_DUPLICATE, describe
from profile_ui.services.importing.reports import ImportPlanError
from profile_ui.services.importing.results import store_row_results
from profile_ui.services.permissions import SYSTEM_ACTOR

from .frames import (
    MARKETER,
    apply_after_dry_run,
    dry_run,
    mapping_for,
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
    session.refresh(job)
    assert job.counts["possible_duplicates"] == 1 and "checking_duplicates" not in job.counts


def test_the_import_is_done_before_its_check_which_a_worker_runs_after_the_commit(
    session, base, monkeypatch, sent_import_checks
):
    from profile_ui.jobs import import_check
    from profile_ui.models import ImportPendingCheck
    from profile_ui.services.importing import duplicate_checks

    sync = rule(session, ["email"])
    job = new_job(session)
    apply_import(
        session=session,
        actor=MARKETER,
        job=job,
        frame=validated(FILE),
        mapping=mapping_for(validated(FILE)),
        sync_rule=sync,
    )
    assert sent_import_checks == []  # sent only once the apply commits
    session.commit()
    # committed: the profiles are there, their pairs not yet; the report says it is checking
    assert sent_import_checks == [job.id]
    session.refresh(job)
    assert job.counts["checking_duplicates"] == 1
    assert session.exec(select(DuplicateCandidate)).all() == []
    assert "checking for possible duplicates" in history_totals(job.counts)

    # the worker's task (the queue is the test's: the engine is the session's)
    assert import_check.run_import_check(job.id, engine=session.get_bind()) == 1
    session.expire_all()
    assert len(session.exec(select(DuplicateCandidate)).all()) == 1
    assert session.get(ImportJob, job.id).counts["possible_duplicates"] == 1
    assert "1 possible duplicates" in history_totals(session.get(ImportJob, job.id).counts)
    assert session.exec(select(ImportPendingCheck)).all() == []
    assert _audited(session, "import.duplicates_check") == [
        (str(job.id), {"profiles": 2, "new_pairs": 1, "dry_run_reused": False})
    ]
    # sent twice (the recovery sweep, a lost message): the second run finds nothing to do
    assert import_check.run_import_check(job.id, engine=session.get_bind()) is None
    assert len(session.exec(select(DuplicateCandidate)).all()) == 1
    assert duplicate_checks.pending_checks(session=session, queued_before=utcnow()) == []


def test_a_check_left_behind_by_a_stopped_worker_is_sent_again(session, base, monkeypatch, sent_import_checks):
    from profile_ui.jobs import import_check
    from profile_ui.models import ImportPendingCheck

    job, _plan = run_import(session, validated(FILE), sync=rule(session, ["email"]), check=False)
    monkeypatch.setattr(import_check, "get_engine", lambda: session.get_bind())
    assert import_check.recover_import_checks() == []  # just left: its message is on its way
    pending = session.get(ImportPendingCheck, job.id)
    pending.queued_at = utcnow() - timedelta(minutes=5)  # its worker stopped five minutes ago
    session.add(pending)
    session.commit()
    sent_import_checks.clear()
    assert import_check.recover_import_checks() == [job.id]
    assert sent_import_checks == [job.id]
    assert import_check.run_import_check(job.id, engine=session.get_bind()) == 1


def test_an_import_that_changes_nothing_compared_leaves_no_check(session, base, sent_import_checks):
    sync = rule(session, ["email"])
    job, plan = run_import(session, validated([{"email": "peter@example.com", "member_level": "Gold"}]), sync=sync)
    assert outcomes(plan) == {2: "updated"}
    assert sent_import_checks == [] and job.counts["possible_duplicates"] == 0


def test_an_unknown_possible_duplicates_option_is_refused(session, base):
    with pytest.raises(ImportPlanError, match="possible duplicates"):
        dry_run(
            session, validated(FILE), sync=rule(session, ["email"]), options=ImportOptions(possible_duplicates="merge")
        )


def test_the_apply_checks_again_only_profiles_whose_compared_facts_changed(session, base, monkeypatch):
    from profile_ui.services.importing import duplicate_checks

    checked: list[list[int]] = []
    scan = duplicate_checks.scan_profile_ids

    def spy(**kwargs):
        checked.append(sorted(kwargs["profile_ids"]))
        return scan(**kwargs)

    monkeypatch.setattr(duplicate_checks, "scan_profile_ids", spy)
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
    from profile_ui.services.importing import duplicate_checks

    checked: list[int] = []
    scan = duplicate_checks.scan_profile_ids

    def spy(**kwargs):
        checked.extend(kwargs["profile_ids"])
        return scan(**kwargs)

    monkeypatch.setattr(duplicate_checks, "scan_profile_ids", spy)
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


def _deferred_dry_run(session, sync, rows=FILE):
    """A job's dry run as the worker runs it: the preview's rows stored and committed first,
    its look-alike check left for after the commit."""
    from profile_ui.services.importing.plan import plan_import

    job = new_job(session)
    frame = validated(rows)
    plan = plan_import(
        session=session,
        actor=MARKETER,
        frame=frame,
        mapping=mapping_for(frame),
        options=ImportOptions(),
        sync_rule=sync,
        look_alikes_later=True,
    )
    store_row_results(session=session, job_id=job.id, plan=plan)
    job.status, job.counts = "awaiting_confirmation", dict(plan.totals)
    session.add(job)
    session.commit()
    return job, frame


def _row_changes(session, job_id: int, row: int) -> dict:
    from profile_ui.models import ImportRowResult

    session.expire_all()
    result = session.exec(
        select(ImportRowResult).where(ImportRowResult.job_id == job_id, ImportRowResult.row_number == row)
    ).one()
    return result.changes if isinstance(result.changes, dict) else json.loads(result.changes)


def test_the_preview_shows_first_and_its_flags_fill_in_after(session, base, sent_import_checks):
    from profile_ui.jobs.import_check import run_import_check

    sync = rule(session, ["email"])
    job, frame = _deferred_dry_run(session, sync)
    # shown at once: the rows without flags, the totals saying the check is running
    assert sent_import_checks == [job.id]
    assert POSSIBLE_DUPLICATE not in _row_changes(session, job.id, 2)
    assert "checking for possible duplicates" in history_totals(job.counts)

    assert run_import_check(job.id, engine=session.get_bind()) == 1  # the worker, after the commit
    flag = _row_changes(session, job.id, 2)[POSSIBLE_DUPLICATE]
    assert flag["profile_id"] == base[0] and flag["score"] >= 0.7
    # every row as a dry run that flags at once shows it
    at_once = dry_run(session, frame, sync=sync).rows
    for row, changes in at_once.select("__row__", "changes").iter_rows():
        shown, expected = _row_changes(session, job.id, row), json.loads(changes)
        shown.pop("@created", None), expected.pop("@created", None)  # the time of each dry run
        assert shown == expected
    assert session.get(ImportJob, job.id).counts["possible_duplicates"] == 1
    assert "1 possible duplicates" in history_totals(session.get(ImportJob, job.id).counts)
    assert session.get(ImportDedupeCheck, job.id) is not None  # kept for the apply
    assert _audited(session, "import.look_alikes") == [(str(job.id), {"flagged": 1})]

    # the apply reuses it (no full check of the created profiles) and stores the pair
    plan = apply_import(
        session=session, actor=MARKETER, job=job, frame=frame, mapping=mapping_for(frame), sync_rule=sync
    )
    session.commit()
    assert run_import_check(job.id, engine=session.get_bind()) == 1
    new_id = plan.rows.filter(pl.col("__row__") == 2)["profile_id"][0]
    pairs = session.exec(select(DuplicateCandidate)).all()
    assert [(p.profile_a_id, p.profile_b_id, p.status) for p in pairs] == [(base[0], new_id, "open")]


def test_flags_that_come_after_the_import_was_confirmed_are_dropped(session, base):
    from profile_ui.jobs.import_check import run_import_check
    from profile_ui.models import ImportPendingCheck

    job, _frame = _deferred_dry_run(session, rule(session, ["email"]))
    job.status = "queued"  # confirmed before the worker got to the flags: the apply checks itself
    session.add(job)
    session.commit()
    assert run_import_check(job.id, engine=session.get_bind()) is None
    assert POSSIBLE_DUPLICATE not in _row_changes(session, job.id, 2)
    assert session.get(ImportPendingCheck, job.id) is None


def test_an_import_previewed_while_another_ones_check_was_pending_pairs_with_its_people(session, base):
    """Import B's dry run runs while import A's check (after A's commit) has not stored A's
    people's blocking keys yet, so B's preview cannot pair with them. A's check, when it
    runs, is a change to the base: B's apply then checks its people again, and finds them."""
    from profile_ui.jobs.import_check import run_import_check

    sync = rule(session, ["email"])
    job_a, plan_a = run_import(
        session,
        validated([{"email": "quang.le@example.com", "full_name": "Lê Văn Quang", "birthday": date(1970, 1, 1)}]),
        sync=sync,
        check=False,
    )
    job_b, frame_b = _deferred_dry_run(
        session, sync, [{"email": "quang.le@yahoo.com", "full_name": "Le Van Quang", "birthday": date(1970, 1, 1)}]
    )
    assert run_import_check(job_b.id, engine=session.get_bind()) == 0  # A's person is not findable yet
    run_import_check(job_a.id, engine=session.get_bind())
    plan_b = apply_import(
        session=session, actor=MARKETER, job=job_b, frame=frame_b, mapping=mapping_for(frame_b), sync_rule=sync
    )
    session.commit()
    run_import_check(job_b.id, engine=session.get_bind())

    a_id = plan_a.rows["profile_id"][0]
    b_id = plan_b.rows["profile_id"][0]
    pairs = {(p.profile_a_id, p.profile_b_id, p.import_job_id) for p in session.exec(select(DuplicateCandidate))}
    assert (min(a_id, b_id), max(a_id, b_id), job_b.id) in pairs


def _audited(session, action: str) -> list[tuple]:
    from profile_ui.models import AuditEvent

    session.expire_all()
    return [(e.object_id, e.details) for e in session.exec(select(AuditEvent).where(AuditEvent.action == action))]
