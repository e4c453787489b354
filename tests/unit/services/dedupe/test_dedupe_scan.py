"""Possible duplicates: the full scan, the incremental check, look-alikes of new rows, and
the remembered "not the same person" (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from profile_ui.models import Identity, Profile
from profile_ui.models.duplicate import DUPLICATE_NOT_SAME, DUPLICATE_OPEN, DedupeKey, DuplicateCandidate
from profile_ui.services.dedupe import PROFILES_MERGE
from profile_ui.services.dedupe.blocking import MAX_BLOCK
from profile_ui.services.dedupe.scan import look_alikes, scan_all, scan_profiles
from profile_ui.services.dedupe.scoring import DEFAULT_THRESHOLD
from profile_ui.services.duplicate_review import (
    CandidateFilter,
    DuplicateError,
    decide,
    list_candidates,
)
from profile_ui.services.permissions import Actor, PermissionDenied

REVIEWER = Actor(
    user_id=None,
    email="reviewer@example.com",
    role="marketer",
    permissions=frozenset({"profiles.view", PROFILES_MERGE}),
)
VIEWER = Actor(user_id=None, email="viewer@example.com", role="viewer", permissions=frozenset({"profiles.view"}))


def add_profile(
    session: Session,
    name: str,
    *,
    birthday: date | None = None,
    city: str | None = None,
    email: str | None = None,
    phone: str | None = None,
) -> int:
    profile = Profile(full_name=name, birthday=birthday, city=city)
    session.add(profile)
    session.flush()
    for kind, value in (("email", email), ("phone", phone)):
        if value:
            session.add(Identity(profile_id=profile.id, kind=kind, value=value))
    session.flush()
    return profile.id


@pytest.fixture
def family(session: Session) -> dict[str, int]:
    """Two people written twice each, and a family sharing one phone (not duplicates)."""
    ids = {
        "an": add_profile(
            session,
            "Nguyễn Văn An",
            birthday=date(1990, 1, 2),
            city="Hà Nội",
            email="an.nguyen@gmail.com",
            phone="+84901234567",
        ),
        "an_again": add_profile(
            session, "Nguyen Van An", birthday=date(1990, 1, 2), city="Ha Noi", email="an.nguyen@yahoo.com"
        ),
        "robert": add_profile(
            session,
            "Robert Smith",
            birthday=date(1980, 5, 6),
            city="Boston",
            email="rsmith@example.com",
            phone="+15550001111",
        ),
        "bob": add_profile(session, "Smith Bob", birthday=date(1980, 5, 6), city="Boston", email="rsmiht@example.com"),
        "mary": add_profile(
            session,
            "Mary Smith",
            birthday=date(2010, 3, 3),
            city="Boston",
            email="mary.smith@example.com",
            phone="+15550001111" if False else None,
        ),
        "john": add_profile(
            session, "John Smith", birthday=date(1978, 11, 30), city="Boston", email="john.smith@example.com"
        ),
    }
    # the family's shared landline: Mary and John both give it
    session.add(Identity(profile_id=ids["mary"], kind="phone", value="+15550002222"))
    session.add(Identity(profile_id=ids["john"], kind="user_id", value="C-1"))
    session.add(Identity(profile_id=ids["john"], kind="phone", value="+15550002223"))
    session.commit()
    return ids


def open_pairs(session: Session) -> dict[tuple[int, int], DuplicateCandidate]:
    rows = session.exec(select(DuplicateCandidate).where(DuplicateCandidate.status == DUPLICATE_OPEN)).all()
    return {(r.profile_a_id, r.profile_b_id): r for r in rows if r.score >= DEFAULT_THRESHOLD}


def test_full_scan_suggests_the_two_duplicates_with_reasons_and_not_the_family(session, family):
    report = scan_all(session=session, actor=REVIEWER)
    session.commit()

    pairs = open_pairs(session)
    assert set(pairs) == {(family["an"], family["an_again"]), (family["robert"], family["bob"])}
    an = pairs[(family["an"], family["an_again"])]
    assert "same name" in an.reasons and "date of birth" in an.reasons
    assert "same e-mail name at another domain" in an.reasons
    assert an.fields["birthday"] == "same" and an.fields["email"] == "near"
    bob = pairs[(family["robert"], family["bob"])].reasons
    assert "nickname" in bob and "e-mails differ by two letters" in bob
    assert report.suggested == 2 and report.profiles == 6
    # every profile's blocking keys are stored for the imports' lookups
    assert session.execute(sa.select(sa.func.count(sa.distinct(DedupeKey.profile_id)))).scalar_one() == 6

    again = scan_all(session=session, actor=REVIEWER)
    session.commit()
    assert again.new == 0 and set(open_pairs(session)) == set(pairs)


def test_not_the_same_person_is_never_suggested_again(session, family):
    scan_all(session=session, actor=REVIEWER)
    session.commit()
    pair = open_pairs(session)[(family["an"], family["an_again"])]

    decide(session=session, actor=REVIEWER, candidate_id=pair.id, decision="not_same")
    session.commit()
    scan_all(session=session, actor=REVIEWER)
    scan_profiles(session=session, actor=REVIEWER, profile_ids=[family["an_again"]])
    session.commit()

    assert (family["an"], family["an_again"]) not in open_pairs(session)
    assert session.get(DuplicateCandidate, pair.id).status == DUPLICATE_NOT_SAME
    listed = list_candidates(session=session, actor=REVIEWER, flt=CandidateFilter(min_score=0.5))
    assert [(v.profile_a_id, v.profile_b_id) for v in listed] == [(family["robert"], family["bob"])]
    with pytest.raises(DuplicateError, match="already decided"):
        decide(session=session, actor=REVIEWER, candidate_id=pair.id, decision="skip")


def test_incremental_check_pairs_a_new_profile_with_the_base(session, family):
    scan_all(session=session, actor=REVIEWER)
    session.commit()
    newcomer = add_profile(session, "JOHN SMITH", birthday=date(1978, 11, 30), email="john.smith@work.example")
    session.commit()

    report = scan_profiles(session=session, actor=REVIEWER, profile_ids=[newcomer])
    session.commit()

    assert report.new == 1
    assert (family["john"], newcomer) in open_pairs(session)


def test_side_by_side_view_and_permissions(session, family):
    scan_all(session=session, actor=REVIEWER)
    session.commit()
    view = list_candidates(session=session, actor=REVIEWER, flt=CandidateFilter())[0]
    rows = {r["key"]: r for r in view.rows}
    assert rows["birthday"]["state"] == "same" and rows["email"]["a"] != rows["email"]["b"]
    with pytest.raises(PermissionDenied):
        list_candidates(session=session, actor=VIEWER, flt=CandidateFilter())
    with pytest.raises(PermissionDenied):
        scan_all(session=session, actor=VIEWER)


def test_look_alikes_of_rows_that_are_not_profiles_yet(session, family):
    scan_all(session=session, actor=REVIEWER)
    session.commit()
    rows = pl.DataFrame(
        {
            "id": [2, 3],
            "full_name": ["Van An Nguyen", "Somebody Else"],
            "birthday": [date(1990, 1, 2), date(1990, 1, 2)],
            "email": ["an.nguyen@hotmail.com", "else@example.com"],
        }
    )

    found = look_alikes(session=session, people=rows)

    assert found["id"].to_list() == [2]
    assert found["profile_id"][0] in (family["an"], family["an_again"])  # one person, twice
    assert "date of birth" in found["reasons"][0]


def test_merging_a_pair_keeps_the_chosen_value_and_closes_the_pair(session, family):
    from profile_ui.services.duplicate_review import merge_candidate, preview_candidate

    scan_all(session=session, actor=REVIEWER)
    session.commit()
    pair = open_pairs(session)[(family["an"], family["an_again"])]
    preview = preview_candidate(session=session, actor=REVIEWER, candidate_id=pair.id)
    assert {f.key for f in preview.fields if not f.same} >= {"full_name", "city"}

    merge_candidate(session=session, actor=REVIEWER, candidate_id=pair.id, chosen_values={"city": "Ha Noi"})
    session.commit()

    session.expire_all()
    survivor = session.get(Profile, family["an"])
    assert survivor.city == "Ha Noi" and survivor.full_name == "Nguyễn Văn An"
    assert session.get(Profile, family["an_again"]).status == "deleted"
    assert session.get(DuplicateCandidate, pair.id).status == "merged"
    assert {i.value for i in session.exec(select(Identity).where(Identity.profile_id == family["an"]))} >= {
        "an.nguyen@gmail.com",
        "an.nguyen@yahoo.com",
    }
    # the merged-away profile is no longer a question
    assert [v.id for v in list_candidates(session=session, actor=REVIEWER, flt=CandidateFilter())] == [
        open_pairs(session)[(family["robert"], family["bob"])].id
    ]


def test_merging_several_pairs_in_one_go_follows_chains(session):
    from profile_ui.services.duplicate_review import merge_candidates

    ids = [
        add_profile(session, name, birthday=date(1985, 7, 7), email=email)
        for name, email in (
            ("Lê Thị Hoa", "hoa.le@gmail.com"),
            ("Le Thi Hoa", "hoa.le@yahoo.com"),
            ("LE THI HOA", "hoa.le@outlook.com"),
        )
    ]
    session.commit()
    scan_all(session=session, actor=REVIEWER)
    session.commit()
    pairs = open_pairs(session)
    assert set(pairs) == {(ids[0], ids[1]), (ids[0], ids[2]), (ids[1], ids[2])}

    results = merge_candidates(
        session=session,
        actor=REVIEWER,
        candidate_ids=[pairs[(ids[1], ids[2])].id, pairs[(ids[0], ids[1])].id, pairs[(ids[0], ids[2])].id],
    )
    session.commit()

    assert [(r.survivor_id, r.merged_id) for r in results] == [(ids[1], ids[2]), (ids[0], ids[1])]
    session.expire_all()
    assert [session.get(Profile, i).status for i in ids] == ["active", "deleted", "deleted"]
    assert not open_pairs(session)


def test_cli_scan_and_the_nightly_task(sqlite_url, app_env):
    from click.testing import CliRunner

    from profile_ui.cli import main
    from profile_ui.db import make_engine
    from profile_ui.jobs.runner import get_huey

    app_env(sqlite_url)
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        add_profile(session, "Trần Minh Quân", birthday=date(1992, 2, 20), email="quan.tran@gmail.com")
        add_profile(session, "Quan Tran Minh", birthday=date(1992, 2, 20), email="quan.tran@fpt.vn")
        session.commit()
    engine.dispose()

    result = CliRunner().invoke(main, ["duplicates", "scan"])

    assert result.exit_code == 0, result.output
    assert "2 profiles" in result.output and "1 new possible duplicates" in result.output
    assert "duplicates.scan" in {task.__name__ for task in get_huey()._registry._periodic_tasks}


def test_incremental_check_pairs_new_profiles_with_each_other(session):
    ids = [
        add_profile(session, name, birthday=date(1999, 9, 9), email=email)
        for name, email in (("Phạm Thu Trang", "trang.pham@gmail.com"), ("Pham Thu Trang", "trang.pham@hotmail.com"))
    ]
    session.commit()

    scan_profiles(session=session, actor=REVIEWER, profile_ids=ids)  # no full scan ever ran
    session.commit()

    assert set(open_pairs(session)) == {(ids[0], ids[1])}


def test_a_block_too_big_to_pair_still_weighs_its_name_the_same_on_every_path(session):
    """45 namesakes make the name's block too big to pair anyone (MAX_BLOCK), but its size
    still weighs the shared name (term frequency): the same pair scores the same whether a
    new row is checked (look-alikes: the person counted once more), the new profile is
    checked, or the whole base is; re-checking profiles whose keys are stored counts them once."""
    for day in range(45):
        add_profile(session, "Nguyen Van An", birthday=date(1960, 1, 1) + timedelta(days=day * 400))
    an = add_profile(session, "Nguyễn Văn An", birthday=date(1990, 1, 2), email="an.nguyen@gmail.com")
    scan_all(session=session, actor=REVIEWER)
    session.commit()
    assert (
        session.execute(
            sa.select(sa.func.count())
            .select_from(DedupeKey)
            .group_by(DedupeKey.key_hash)
            .order_by(sa.func.count().desc())
        ).first()[0]
        > MAX_BLOCK
    )

    row = pl.DataFrame({"id": [1], "full_name": ["Nguyen Van An"], "birthday": [date(1990, 1, 2)]})
    row = row.with_columns(email=pl.lit("an.nguyen@yahoo.com"))
    found = look_alikes(session=session, people=row, threshold=0.5)
    again = add_profile(session, "Nguyen Van An", birthday=date(1990, 1, 2), email="an.nguyen@yahoo.com")
    scan_profiles(session=session, actor=REVIEWER, profile_ids=[again])
    session.commit()
    checked = session.exec(select(DuplicateCandidate).where(DuplicateCandidate.profile_b_id == again)).one()
    scan_all(session=session, actor=REVIEWER)
    session.commit()
    session.refresh(checked)
    full = session.exec(select(DuplicateCandidate).where(DuplicateCandidate.profile_b_id == again)).one()

    assert found["profile_id"].to_list() == [an] and checked.profile_a_id == an
    assert found["score"][0] == pytest.approx(full.score) and checked.score == pytest.approx(full.score)
    # re-checking profiles whose keys are stored counts them once, not twice
    scan_profiles(session=session, actor=REVIEWER, profile_ids=[an, again])
    session.commit()
    session.refresh(full)
    assert full.score == pytest.approx(found["score"][0])
