"""An applied import leaves the list's sort keys (primary e-mail / phone) and the profiles'
version counts as the database's triggers define them, and the triggers in place for the
next writer (SQLite: the bulk writer does their work set-based while it writes; PostgreSQL:
the triggers run, the identities' insert trigger once per statement since migration 0017;
new profiles are written with their keys, apply._with_sort_keys)."""

import polars as pl
import sqlalchemy as sa

from profile_ui.models import Identity, utcnow
from profile_ui.services.importing import ROW_COL
from profile_ui.settings import get_settings

from .frames import profile, rule, run_import, seed_profiles, validated


def _id_of(plan, row: int) -> int:
    return plan.rows.filter(pl.col(ROW_COL) == row)["profile_id"][0]


def test_an_import_keeps_sort_keys_versions_and_the_triggers(session):
    ann, bob, cy = seed_profiles(
        session,
        [
            {"full_name": "Ann", "email": "ann@x.com", "city": "Hanoi"},
            {"full_name": "Bob", "phone": "+84901", "city": "Hue"},
            {"full_name": "Cy", "user_id": "u3", "city": "Da Nang"},
        ],
    )
    session.commit()
    versions = {pid: profile(session, pid).version for pid in (ann, bob, cy)}
    sync = rule(session, ["user_id", "email", "phone"])
    frame = validated(
        [
            {"email": "ann@x.com", "phone": "+84911", "city": "Saigon"},  # updated, and a first phone
            {"user_id": "u3", "email": "cy@x.com"},  # a first e-mail
            {"email": "dan@x.com", "phone": "+84922", "full_name": "Dan"},  # new
            {"email": "dan2@x.com", "full_name": "Dan"},  # new (another person)
            {"phone": "+84933", "full_name": "Eve"},  # new, a phone only
        ]
    )
    _job, plan = run_import(session, frame, sync=sync)
    dan, dan2, eve = _id_of(plan, 4), _id_of(plan, 5), _id_of(plan, 6)

    keys = {pid: (profile(session, pid).email_sort, profile(session, pid).phone_sort) for pid in (ann, cy, dan, eve)}
    assert keys == {
        ann: ("ann@x.com", "+84911"),
        cy: ("cy@x.com", None),
        dan: ("dan@x.com", "+84922"),
        eve: (None, "+84933"),
    }
    assert profile(session, dan2).email_sort == "dan2@x.com"
    # one import, one count for an updated profile; new ones start at 1; untouched stay
    assert profile(session, ann).version == versions[ann] + 1
    assert profile(session, bob).version == versions[bob]
    assert {profile(session, pid).version for pid in (dan, dan2, eve)} == {1}

    # the triggers are back for the next writer: a new identity sets the key, an edit counts
    now = utcnow()
    session.execute(
        sa.insert(Identity).values(
            profile_id=eve,
            kind="email",
            value="eve@x.com",
            source_type="manual",
            is_encrypted=False,
            first_seen_at=now,
            last_seen_at=now,
        )
    )
    session.execute(sa.text("UPDATE profiles SET city = 'Hue' WHERE id = :id"), {"id": eve})
    session.commit()
    assert profile(session, eve).email_sort == "eve@x.com"
    assert profile(session, eve).version == 2


def test_a_new_profile_gets_no_sort_key_of_a_kind_stored_encrypted(session, monkeypatch):
    monkeypatch.setattr(get_settings(), "encrypted_identity_kinds", ["phone"])
    sync = rule(session, ["email", "phone"])
    frame = validated(
        [
            {"email": "fay@x.com", "phone": "+84944", "full_name": "Fay"},
            {"phone": "+84955", "full_name": "Gus"},
        ]
    )
    _job, plan = run_import(session, frame, sync=sync)
    fay, gus = _id_of(plan, 2), _id_of(plan, 3)
    assert (profile(session, fay).email_sort, profile(session, fay).phone_sort) == ("fay@x.com", None)
    assert (profile(session, gus).email_sort, profile(session, gus).phone_sort) == (None, None)


def test_a_new_profile_with_two_emails_sorts_by_the_first_one_written(session):
    sync = rule(session, ["email", "phone"])
    frame = validated(
        [
            {"email": "hal2@x.com", "phone": "+84966", "full_name": "Hal"},
            {"email": "hal1@x.com", "phone": "+84966"},  # the same person (the phone)
        ]
    )
    _job, plan = run_import(session, frame, sync=sync)
    hal = _id_of(plan, 2)
    emails = session.execute(
        sa.select(Identity.value).where(Identity.profile_id == hal, Identity.kind == "email").order_by(Identity.id)
    ).scalars()
    assert len(firsts := list(emails)) == 2
    assert profile(session, hal).email_sort == firsts[0]
