"""The profiles' kept bound integers (services/dedupe/bound_cache.py): an import's look-alike
check that reads them finds the same flags and pairs as one that reads every partner, and
a profile changed after they were kept (name, identities, status; by an edit or a bulk
write) is read again instead. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
import sqlalchemy as sa
from sqlmodel import select

from profile_ui.models import Profile, utcnow
from profile_ui.models.duplicate import DuplicateCandidate
from profile_ui.services.bulk_writer import BulkWriter
from profile_ui.services.dedupe import bound_cache
from profile_ui.services.dedupe.features import person_features
from profile_ui.services.dedupe.people import load_people
from profile_ui.services.dedupe.scan import scan_all, scan_profile_ids
from profile_ui.services.dedupe.scoring import bound_integers
from profile_ui.services.permissions import SYSTEM_ACTOR

from .frames import apply_after_dry_run, dry_run, rule, run_import, seed_profiles, validated

PEOPLE = [
    {"full_name": "Nguyễn Thị Mai", "birthday": date(1991, 4, 5), "city": "Huế", "email": "mai.nguyen@gmail.com"},
    {"full_name": "Peter Parker", "birthday": date(1988, 8, 10), "email": "peter@example.com"},
    {"full_name": "Tony Stark", "birthday": date(1970, 5, 29), "email": "tony@example.com", "phone": "+84905550002"},
    {"full_name": "Lê Văn Quang", "birthday": date(1970, 1, 1), "city": "Huế", "email": "quang@example.com"},
]
FILE = [
    {"email": "mai.nguyen@yahoo.com", "full_name": "Nguyen Thi Mai", "birthday": date(1991, 4, 5)},
    {"email": "peter.parker@example.net", "full_name": "Peter Parker", "birthday": date(1988, 8, 10)},
    {"email": "anthony.stark@example.com", "full_name": "Anthony Stark", "birthday": date(1970, 5, 29)},
    {"email": "quang.le@yahoo.com", "full_name": "Le Van Quang", "birthday": date(1970, 1, 1), "city": "Hue"},
    {"email": "someone@example.org", "full_name": "Someone Else", "birthday": date(2001, 2, 3)},
]


@pytest.fixture
def base(session):
    ids = seed_profiles(session, PEOPLE)
    scan_all(session=session, actor=SYSTEM_ACTOR)  # keys and bound integers of every profile
    session.commit()
    return ids


def _check(session, monkeypatch, *, cached: bool):
    """The dry run's check of FILE, reading the kept integers or not: (flags, pairs)."""
    monkeypatch.setattr(bound_cache, "CACHE_FROM", 0 if cached else 10**9)
    plan = dry_run(session, validated(FILE), sync=rule(session, ["email"]))
    check = plan._dedupe
    return check.look_alikes.sort("id"), check.pairs.sort("a", "b")


def _missing(session, ids) -> set[int]:
    return set(bound_cache.cached_integers(session=session, profile_ids=list(ids))[1])


def test_the_check_finds_the_same_flags_and_pairs_with_the_kept_integers(session, base, monkeypatch):
    assert _missing(session, base) == set()
    flags, pairs = _check(session, monkeypatch, cached=True)
    assert set(flags["profile_id"].to_list()) >= {base[0], base[1], base[3]}  # Mai, Peter, Quang look alike
    plain_flags, plain_pairs = _check(session, monkeypatch, cached=False)
    assert flags.equals(plain_flags) and pairs.equals(plain_pairs)


def test_a_profile_changed_after_the_scan_is_read_as_it_is_now(session, base, monkeypatch):
    mai, peter, tony, quang = base
    # an edit of a compared fact, a new e-mail written in bulk, a profile put in the trash
    session.execute(sa.update(Profile).where(Profile.id == mai).values(full_name="Trần Thị Hoa"))
    identity = pl.DataFrame(
        {"profile_id": [peter], "kind": ["email"], "value": ["peter.parker@example.net"]}
    ).with_columns(
        source_type=pl.lit("manual"),
        is_encrypted=pl.lit(False),
        first_seen_at=pl.lit(utcnow()),
        last_seen_at=pl.lit(utcnow()),
    )
    BulkWriter(session).insert("identities", identity)
    session.execute(sa.update(Profile).where(Profile.id == quang).values(status="deleted"))
    session.commit()

    assert _missing(session, base) == {mai, peter, quang}
    flags, pairs = _check(session, monkeypatch, cached=True)
    assert quang not in flags["profile_id"].to_list()  # in the trash: nobody's look-alike
    plain_flags, plain_pairs = _check(session, monkeypatch, cached=False)
    assert flags.equals(plain_flags) and pairs.equals(plain_pairs)

    # a change of something the check does not compare keeps the integers
    session.execute(sa.update(Profile).where(Profile.id == tony).values(attributes={"member_level": "Gold"}))
    session.commit()
    assert tony not in _missing(session, base)


def test_the_apply_keeps_the_integers_of_the_profiles_it_created(session, base, monkeypatch):
    # PostgreSQL: the base's scan, just before, would count as a change (ids are not commit order)
    monkeypatch.setattr("profile_ui.services.dedupe.import_check.ID_ORDER_MARGIN", timedelta(0))
    sync = rule(session, ["email"])
    _job, plan = run_import(session, validated(FILE), sync=sync)
    created = plan.rows.filter(pl.col("outcome") == "new")["profile_id"].unique().sort().to_list()
    assert len(created) == len(FILE)
    # a plain apply (no dry run kept) checks everything again and keeps nothing new
    assert _missing(session, created) == set(created)

    second = [{**row, "email": "2." + row["email"]} for row in FILE]
    _job, applied = apply_after_dry_run(session, validated(second), sync=sync)
    made = applied.rows.filter(pl.col("outcome") == "new")["profile_id"].unique().sort().to_list()
    assert len(made) == len(FILE) and _missing(session, made) == set()
    kept, _missing_ids = bound_cache.cached_integers(session=session, profile_ids=made)
    read = bound_integers(person_features(load_people(session=session, profile_ids=made)))
    assert kept.sort("id").equals(read.sort("id"))


def test_integers_kept_by_other_code_are_not_read(session, base, monkeypatch):
    monkeypatch.setattr(bound_cache, "cache_version", lambda: "bounds 0; an older release")
    assert _missing(session, base) == set(base)


def test_the_incremental_check_with_the_kept_integers_stores_what_a_full_scan_finds(session, base, monkeypatch):
    """scan_profile_ids (the apply's check of changed profiles) reading the kept integers of
    their partners: the pairs of those profiles are the ones a full scan then finds."""
    monkeypatch.setattr(bound_cache, "CACHE_FROM", 0)
    new = seed_profiles(session, FILE)
    session.execute(sa.update(Profile).where(Profile.id == base[1]).values(city="Đà Nẵng"))  # changed: read again
    report = scan_profile_ids(session=session, profile_ids=[*new, base[1]])
    session.commit()
    assert report.new >= 3  # Mai, Peter, Quang at least
    touched = {*new, base[1]}

    def pairs() -> set[tuple]:
        return {
            (c.profile_a_id, c.profile_b_id, round(c.score, 9), c.reasons)
            for c in session.exec(select(DuplicateCandidate)).all()
            if {c.profile_a_id, c.profile_b_id} & touched
        }

    incremental = pairs()
    scan_all(session=session, actor=SYSTEM_ACTOR)
    session.commit()
    assert pairs() == incremental
