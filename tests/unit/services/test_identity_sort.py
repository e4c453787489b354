"""The profile list sorts by the primary e-mail and phone (profiles without one last, ties
by id, both directions, pages that do not overlap), on SQLite and PostgreSQL; the key
stays in step with every write of identities (bulk SQL, edits, merges and unmerges)
through the triggers of migration 0013; a kind stored encrypted is not sorted by."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from profile_ui.models import Identity, Profile
from profile_ui.services.merging import merge_profiles, unmerge
from profile_ui.services.profile_edit.identities import add_identity, remove_identity
from profile_ui.services.profiles import ProfileError
from profile_ui.services.view_prefs import column_options
from profile_ui.settings import get_settings
from tests.unit.services.test_attribute_sort import (
    ADMIN,
    names,  # one sorted page (with its total)
)

EMAIL = "identity:email"
# name -> e-mails in the order they are added (the first is the primary one)
EMAILS = {"Alpha": ["c@x.example"], "Bravo": ["a@x.example", "z@x.example"], "Charlie": [], "Delta": ["b@x.example"]}


@pytest.fixture
def people(session) -> dict[str, int]:
    ids = {}
    for name in EMAILS:
        profile = Profile(full_name=name, initial_source="test")
        session.add(profile)
        session.flush()
        ids[name] = profile.id
    # as a bulk import writes them: one set-based INSERT, no ORM
    insert_emails(session, [(ids[name], value) for name, values in EMAILS.items() for value in values])
    session.add(Profile(full_name="Echo", initial_source="test"))  # no e-mail either
    session.flush()
    return ids


def insert_emails(session, rows: list[tuple[int, str]]) -> None:
    """As a bulk import writes identities: one set-based INSERT, no ORM."""
    now = sa.func.now()
    session.execute(
        sa.insert(Identity).values(first_seen_at=now, last_seen_at=now),
        [{"profile_id": pid, "kind": "email", "value": value, "source_type": "file"} for pid, value in rows],
    )


def test_sorts_by_primary_email_missing_last_both_ways(session, people):
    assert names(session, EMAIL) == ["Bravo", "Delta", "Alpha", "Charlie", "Echo"]
    assert names(session, EMAIL, descending=True) == ["Alpha", "Delta", "Bravo", "Echo", "Charlie"]


def test_pages_do_not_overlap_and_the_tail_reads_backwards(session, people):
    for index in range(60):
        session.add(Profile(full_name=f"Filler {index:02}", initial_source="test"))
    session.flush()
    fillers = session.execute(sa.select(Profile.id).where(Profile.full_name.like("Filler%"))).scalars()
    insert_emails(session, [(pid, f"f{pid % 5}-{pid:03}@y.example") for pid in fillers if pid % 2])
    total = 65
    for descending in (False, True):
        # pages past the middle are read from the other end
        listed = [n for page in (1, 2, 3) for n in names(session, EMAIL, descending=descending, page=page)]
        assert len(listed) == total and len(set(listed)) == total
        ordered = session.execute(
            sa.select(Profile.full_name).order_by(
                sa.case((Profile.email_sort.is_(None), 1), else_=0),
                Profile.email_sort.desc() if descending else Profile.email_sort,
                Profile.id.desc() if descending else Profile.id,
            )
        ).scalars()
        assert listed == list(ordered)


def test_the_key_follows_edits_merges_and_unmerges(session, people):
    def key(name: str) -> str | None:
        return session.execute(sa.select(Profile.email_sort).where(Profile.id == people[name])).scalar_one()

    add_identity(session=session, actor=ADMIN, profile_id=people["Charlie"], kind="email", value="0@x.example")
    assert names(session, EMAIL)[0] == "Charlie"
    first = session.execute(
        sa.select(Identity.id).where(Identity.profile_id == people["Bravo"]).order_by(Identity.id).limit(1)
    ).scalar_one()
    remove_identity(session=session, actor=ADMIN, profile_id=people["Bravo"], identity_id=first)
    assert key("Bravo") == "z@x.example"
    merged = merge_profiles(
        session=session, actor=ADMIN, survivor_id=people["Delta"], merged_id=people["Alpha"], reason="same person"
    )
    # Alpha's e-mail moved in; its identity is older, so it is Delta's first one now
    assert key("Delta") == "c@x.example" and key("Alpha") is None
    session.execute(sa.update(Identity).where(Identity.value == "b@x.example").values(value="y@x.example"))
    assert key("Delta") == "c@x.example"
    unmerge(session=session, actor=ADMIN, merge_id=merged.merge_id)
    assert key("Alpha") == "c@x.example" and key("Delta") == "y@x.example"
    # a key written by the triggers is not a change of the profile (edits compare versions)
    version = session.execute(sa.select(Profile.version).where(Profile.id == people["Delta"])).scalar_one()
    session.execute(sa.update(Identity).where(Identity.value == "y@x.example").values(value="d@x.example"))
    assert key("Delta") == "d@x.example"
    assert session.execute(sa.select(Profile.version).where(Profile.id == people["Delta"])).scalar_one() == version


def test_a_kind_stored_encrypted_is_not_sortable(session, people, monkeypatch):
    monkeypatch.setattr(get_settings(), "encrypted_identity_kinds", ["email"])
    with pytest.raises(ProfileError, match="Cannot sort by 'identity:email'"):
        names(session, EMAIL)
    options = {o.key: o for o in column_options(session=session, actor=ADMIN)}
    assert not options[EMAIL].sortable and "encrypted" in options[EMAIL].not_sortable_because
    assert options["identity:phone"].sortable


def test_sorted_pages_walk_the_index(session, people):
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's plan")
    from profile_ui.services.identity_sort import identity_sorted_ids

    query = identity_sorted_ids(
        Profile.status == "active", EMAIL, descending=True, nulls_last=True, rows_needed=50
    ).limit(50)
    text = str(query.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    plan = " ".join(str(r) for r in session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + text))
    assert "ix_profiles_status_email_sort" in plan
    # only the merged page (at most 2 x 50 rows) is sorted, never the table
    assert plan.count("TEMP B-TREE") <= 1
