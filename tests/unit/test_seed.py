"""`profile-ui seed`: realistic demo profiles in bulk, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from datetime import UTC, date, datetime

import phonenumbers
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlmodel import Session, select

from profile_ui.db import make_engine
from profile_ui.models import (
    MEMBERSHIP_STATES,
    AuditEvent,
    Consent,
    FieldDefinition,
    Group,
    GroupMembership,
    Identity,
    LinkedObject,
    Profile,
    ProfileTag,
    Segment,
    SegmentMember,
    Tag,
    TagGroup,
    User,
)
from profile_ui.seed import DEMO_USERS, seed_workspace
from profile_ui.services.users import sign_in
from tests.unit.test_migrations import schema_differences

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
N = 300


def seed(engine, lines=None, **options):
    options = {"profiles": N, "random_seed": 7, "demo_users": False, "only_if_empty": False, **options}
    return seed_workspace(engine=engine, echo=(lines if lines is not None else []).append, **options)


def count(session, model, *where) -> int:
    return session.exec(select(sa.func.count()).select_from(model).where(*where)).one()


def test_seed_makes_realistic_profiles_with_everything_attached(engine, session):
    lines: list[str] = []
    summary = seed(engine, lines)
    assert count(session, Profile) == N
    assert summary.rows["profiles"] == N and not summary.skipped
    assert any("300 / 300 profiles" in line for line in lines)

    profiles = session.exec(select(Profile).order_by(Profile.id)).all()
    assert [p.id for p in profiles] == list(range(1, N + 1))
    names = [p.full_name for p in profiles]
    assert any("Nguyễn" in n or "Trần" in n for n in names)  # Vietnamese names
    assert any(re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", n) for n in names)  # English names
    statuses = Counter(p.status for p in profiles)
    assert statuses["active"] > 0.85 * N and set(statuses) <= {"active", "deactivated", "deleted"}
    assert all(p.deleted_at is not None for p in profiles if p.status == "deleted")
    first = profiles[0]
    assert first.created_at.tzinfo is not None and first.created_at <= datetime.now(UTC)
    assert {p.gender for p in profiles} >= {"Female", "Male"}
    assert all(isinstance(p.birthday, date) for p in profiles if p.birthday)
    assert {p.member_level for p in profiles} >= {"Bronze", "Silver", "Gold", "Platinum"}
    assert {"Hồ Chí Minh", "Hà Nội"} <= {p.city for p in profiles}
    points = [p.attributes["loyalty_points"] for p in profiles if "loyalty_points" in p.attributes]
    stores = [p.attributes["preferred_store"] for p in profiles if "preferred_store" in p.attributes]
    assert len(points) > N / 2 and all(isinstance(v, int) for v in points)
    assert "Vincom Đồng Khởi" in stores or "Aeon Mall Tân Phú" in stores
    custom = {f.key: f.type for f in session.exec(select(FieldDefinition)).all() if not f.is_system}
    assert custom == {"loyalty_points": "number", "preferred_store": "text"}

    # identities: every profile has one, each value belongs to one profile only
    identities = session.exec(select(Identity)).all()
    assert {i.profile_id for i in identities} == {p.id for p in profiles}
    assert len({(i.kind, i.value) for i in identities}) == len(identities)
    by_kind = Counter(i.kind for i in identities)
    assert set(by_kind) == {"user_id", "email", "phone"}
    for identity in identities:
        assert identity.source_type == "seed" and not identity.is_encrypted
        if identity.kind == "email":
            assert re.fullmatch(r"[a-z0-9._]+@[a-z0-9.]+\.[a-z]+", identity.value), identity.value
        elif identity.kind == "phone":
            assert re.fullmatch(r"\+84\d{9}", identity.value), identity.value
            assert phonenumbers.is_valid_number(phonenumbers.parse(identity.value)), identity.value
        else:
            assert re.fullmatch(r"U\d{7}", identity.value), identity.value

    # tags, segments, groups, consent, linked objects
    assert {g.name for g in session.exec(select(TagGroup)).all()} >= {"Lifecycle", "Interests", "Campaigns"}
    tagged = session.exec(select(Tag.name, Tag.kind, ProfileTag.value).join(ProfileTag)).all()
    assert {name for name, _, _ in tagged} >= {"Stage", "Interest", "Newsletter subscriber"}
    interests_per_profile = Counter(
        pid for pid in session.exec(select(ProfileTag.profile_id).join(Tag).where(Tag.name == "Interest"))
    )
    assert max(interests_per_profile.values()) >= 2  # a multi-value tag holds several values
    segment_values = session.exec(select(Segment.name, SegmentMember.value).join(SegmentMember)).all()
    assert {name for name, _ in segment_values} == {"RFM tier", "Churn risk", "Last purchase channel"}
    assert all(value for _, value in segment_values)
    states = set(session.exec(select(GroupMembership.state)).all())
    assert states <= set(MEMBERSHIP_STATES) and {"active", "invited"} <= states
    assert count(session, Group) == 3
    consents = session.exec(select(Consent)).all()
    assert {c.channel for c in consents} == {"email", "sms", "push", "phone"}
    assert {c.status for c in consents} <= {"granted", "denied", "unknown"}
    links = session.exec(select(LinkedObject)).all()
    assert {link.object_type for link in links} == {"account", "opportunity", "ticket", "task"}
    assert len({link.external_id for link in links}) == len(links)

    # the counts it reports are what it wrote, and the audit log has the run
    assert summary.rows["identities"] == len(identities)
    assert summary.rows["consents"] == len(consents)
    [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "profiles.seed")).all()
    assert event.details["rows"]["profiles"] == N


def test_schema_and_ids_are_intact_after_a_bulk_load(engine, session):
    """Indexes and foreign keys dropped for the load are back, and new rows get new ids."""
    seed(engine)
    assert schema_differences(engine) == []
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.execute(sa.text("PRAGMA foreign_key_check")).all() == []
            assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    profile = Profile(full_name="Added by hand")
    session.add(profile)
    session.flush()
    session.add(Identity(profile_id=profile.id, kind="email", value="hand@example.com"))
    session.commit()
    assert profile.id == N + 1
    # the database still refuses a second profile for a seeded identity value
    taken = session.exec(select(Identity).where(Identity.kind == "user_id")).first()
    session.add(Identity(profile_id=profile.id, kind="user_id", value=taken.value))
    with pytest.raises(sa.exc.IntegrityError):
        session.commit()
    session.rollback()
    # deleting a profile removes what hangs off it
    session.execute(sa.delete(Profile).where(Profile.id == taken.profile_id))
    session.commit()
    assert count(session, Identity, Identity.profile_id == taken.profile_id) == 0


def test_seeding_again_appends_without_collisions(engine, session):
    seed(engine)
    seed(engine)  # same seed on purpose: the same people again, as new profiles
    assert count(session, Profile) == 2 * N
    assert session.exec(select(sa.func.max(Profile.id))).one() == 2 * N
    values = session.exec(select(Identity.kind, Identity.value)).all()
    assert len(values) == len(set(values))
    assert count(session, Segment) == 3 and count(session, Group) == 3
    assert count(session, TagGroup) == 3
    assert len(session.exec(select(Profile.full_name).where(Profile.id.in_([1, N + 1]))).all()) == 2


def test_values_already_taken_are_not_seeded_twice(engine, session):
    owner = Profile(full_name="Imported earlier")
    session.add(owner)
    session.flush()
    # the seed's next profile (id 2) would get user id U0000002
    session.add(Identity(profile_id=owner.id, kind="user_id", value="U0000002", source_type="file"))
    session.commit()
    seed(engine)
    assert count(session, Profile) == N + 1
    holder = session.exec(select(Identity).where(Identity.value == "U0000002")).one()
    assert holder.profile_id == owner.id
    values = session.exec(select(Identity.kind, Identity.value)).all()
    assert len(values) == len(set(values))


def test_if_empty_skips_profiles_but_still_prints_the_demo_sign_ins(engine, session):
    seed(engine, demo_users=True, only_if_empty=True)
    lines: list[str] = []
    summary = seed(engine, lines, demo_users=True, only_if_empty=True)
    assert summary.skipped and count(session, Profile) == N
    printed = "\n".join(lines)
    for user in DEMO_USERS:
        assert user.email in printed and user.password in printed
    assert "exist already" in printed
    # created once, through the user service (so the audit log has them), and usable
    assert count(session, User) == len(DEMO_USERS)
    created = session.exec(select(AuditEvent.details).where(AuditEvent.action == "user.create")).all()
    assert sorted(d["email"] for d in created) == sorted(u.email for u in DEMO_USERS)
    for user in DEMO_USERS:
        _token, actor = sign_in(session=session, email=user.email, password=user.password)
        assert actor.role == user.role


def test_the_same_seed_gives_the_same_people(sqlite_template, tmp_path):
    def people(name: str, random_seed: int) -> list[tuple]:
        path = tmp_path / name
        shutil.copyfile(sqlite_template, path)
        engine = make_engine(f"sqlite:///{path}")
        seed_workspace(
            profiles=50,
            random_seed=random_seed,
            demo_users=False,
            only_if_empty=False,
            echo=lambda _line: None,
            engine=engine,
        )
        with Session(engine) as session:
            rows = session.exec(
                select(Profile.full_name, Profile.city, Profile.birthday, Profile.attributes).order_by(Profile.id)
            ).all()
            rows += session.exec(select(Identity.value).order_by(Identity.id)).all()
        engine.dispose()
        return [tuple(r) if isinstance(r, tuple) else r for r in rows]

    assert people("a.db", 3) == people("b.db", 3)
    assert people("c.db", 3) != people("d.db", 4)


@pytest.fixture
def cli_database(sqlite_url, monkeypatch):
    """DATABASE_URL pointing at a test database for commands that read the settings."""
    from profile_ui.db import get_engine
    from profile_ui.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield sqlite_url
    get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


def test_seed_command(cli_database):
    from profile_ui.cli import main

    runner = CliRunner()
    first = runner.invoke(main, ["seed", "--profiles", "40", "--demo", "--if-empty"])
    assert first.exit_code == 0, first.output
    assert "seeded 40 profiles" in first.output and "demo-admin-pass" in first.output
    again = runner.invoke(main, ["seed", "--profiles", "40", "--demo", "--if-empty"])
    assert again.exit_code == 0, again.output
    assert "exist already" in again.output and "demo-viewer-pass" in again.output
    more = runner.invoke(main, ["seed", "--profiles", "10", "--seed", "9"])
    assert more.exit_code == 0 and "seeded 10 profiles" in more.output
    engine = make_engine(cli_database)
    with Session(engine) as session:
        assert count(session, Profile) == 50
    engine.dispose()


def test_user_create_command_is_audited(cli_database):
    from profile_ui.cli import main

    runner = CliRunner()
    result = runner.invoke(
        main, ["user", "create", "--email", "Lan@Example.com", "--password", "long enough", "--role", "viewer"]
    )
    assert result.exit_code == 0, result.output
    assert "created viewer lan@example.com" in result.output
    duplicate = runner.invoke(
        main, ["user", "create", "--email", "lan@example.com", "--password", "long enough", "--role", "admin"]
    )
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    engine = make_engine(cli_database)
    with Session(engine) as session:
        [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "user.create")).all()
        assert event.details == {"email": "lan@example.com", "role": "viewer"}
    engine.dispose()
