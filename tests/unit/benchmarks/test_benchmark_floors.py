"""The benchmarks' floors (benchmarks/floors/) do the whole job their ratio is taken against.

A floor that skipped part of the job (a match by phone, the new profiles' identities)
would make the product look slower than it is: these run each floor on a few rows of a
migrated database, on SQLite and PostgreSQL, and check what it wrote.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import sqlalchemy as sa

from profile_ui.seed import seed_workspace

FLOORS = Path(__file__).resolve().parents[3] / "benchmarks" / "floors"
sys.path.insert(0, str(FLOORS))

import export_floor  # noqa: E402
import import_floor  # noqa: E402
import list_floor  # noqa: E402
import seed_floor  # noqa: E402


def _scalar(engine: sa.Engine, sql: str, **params: object) -> object:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar_one()


def _seeded(engine: sa.Engine) -> None:
    seed_workspace(profiles=40, random_seed=3, engine=engine, echo=lambda _line: None)


def _identity(engine: sa.Engine, kind: str, other_than: int = 0) -> tuple[int, str]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(
                sa.text(
                    "SELECT profile_id, value FROM identities WHERE kind = :k AND value LIKE :like "
                    "AND profile_id <> :other ORDER BY profile_id LIMIT 1"
                ),
                {"k": kind, "like": "+84%" if kind == "phone" else "%@%", "other": other_than},
            ).one()
        )


def test_the_import_floor_matches_by_any_identity_and_adds_new_profiles_with_identities(
    engine: sa.Engine, db_url: str, tmp_path: Path
) -> None:
    _seeded(engine)
    by_email, email = _identity(engine, "email")
    by_phone, phone = _identity(engine, "phone", other_than=by_email)
    profiles_before = _scalar(engine, "SELECT count(*) FROM profiles")
    file = tmp_path / "people.csv"
    with file.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["Full Name", "Email", "Phone", "City", "Loyalty Points"])
        writer.writerow(["Matched By Email", email.upper(), "", "Floor City", "7"])
        writer.writerow(["Matched By Phone", "", "0" + phone[3:], "Floor City", "8"])  # the national form
        writer.writerow(["Someone New", "someone.new@example.org", "0561234567", "Floor City", "9"])
        writer.writerow(["No Identity", "broken.example.org", "", "Floor City", "1"])

    counts = import_floor.run(file, db_url)

    assert (counts["created"], counts["updated"], counts["invalid"], counts["identities_added"]) == (1, 2, 1, 2)
    assert _scalar(engine, "SELECT count(*) FROM profiles") == profiles_before + 1
    assert (
        _scalar(
            engine, "SELECT count(*) FROM profiles WHERE city = 'Floor City' AND id IN (:a, :b)", a=by_email, b=by_phone
        )
        == 2
    )
    new_id = _scalar(engine, "SELECT id FROM profiles WHERE full_name = 'Someone New'")
    with engine.connect() as conn:
        identities = set(
            conn.execute(sa.text("SELECT kind, value FROM identities WHERE profile_id = :p"), {"p": new_id}).all()
        )
        points = conn.execute(sa.text("SELECT attributes FROM profiles WHERE id = :p"), {"p": by_phone}).scalar_one()
    assert identities == {("email", "someone.new@example.org"), ("phone", "+84561234567")}
    assert "8" in str(points)


def test_the_export_floor_writes_every_active_profile_with_its_identities(
    engine: sa.Engine, db_url: str, tmp_path: Path
) -> None:
    _seeded(engine)
    profile_id, email = _identity(engine, "email")
    out = tmp_path / "floor.csv"

    result = export_floor.run(db_url, out)

    assert result["rows"] == _scalar(engine, "SELECT count(*) FROM profiles WHERE status = 'active'")
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {"id", "user_id", "email", "phone", "full_name", "segments", "groups"} <= set(rows[0])
    row = next((r for r in rows if r["id"] == str(profile_id)), None)
    if row is not None:  # the profile may have been drawn inactive by the seed
        assert email in row["email"].split("|")


def test_the_seed_floor_writes_the_profiles_and_as_many_related_rows(engine: sa.Engine, db_url: str) -> None:
    result = seed_floor.run(db_url, 10, 45)

    assert (result["profiles"], result["related"]) == (10, 45)
    assert _scalar(engine, "SELECT count(*) FROM profiles") == 10
    assert _scalar(engine, "SELECT count(*) FROM identities") == 30  # user id, e-mail, phone each
    assert _scalar(engine, "SELECT count(*) FROM profile_tags") == 15
    # the ids go on from the floor's rows (PostgreSQL: the sequences were moved on)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO tag_groups (name) VALUES ('after the floor')"))


def test_the_list_floor_times_every_case_and_finds_a_page(engine: sa.Engine, db_url: str) -> None:
    _seeded(engine)

    timings = list_floor.timings(db_url, repeat=1)

    no_sample = {"email": "", "user_id": "", "tag_id": 0, "newsletter_tag_id": 0, "interest_tag_id": 0, "tet_tag_id": 0}
    assert set(timings) == {*list_floor.cases(no_sample), "count (active)"}
    conn = list_floor.connect(db_url)
    try:
        postgres = list_floor.is_postgres(db_url)
        cases = list_floor.cases(list_floor.sample_of(conn, postgres))
        assert len(list_floor.page(conn, postgres, cases["all, newest first"])) > 0
        # a sort with profiles that have no key: the keyed stretch, then the others by id,
        # every active profile once
        active = _scalar(engine, "SELECT count(*) FROM profiles WHERE status = 'active'")
        for name in ("sort identity:email asc", "sort tag Stage asc"):
            ids = [row[0] for row in list_floor.page(conn, postgres, cases[name])]
            assert len(set(ids)) == len(ids) == active
    finally:
        conn.close()
