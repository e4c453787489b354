"""A small workspace for the export, deletion, trash and audit-export tests: users of each
role (plus a custom role without phone export), profiles with identities, custom
attributes, tags, segments, groups, consent and linked objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from profile_ui.db import make_engine
from profile_ui.models import (
    Consent,
    FieldDefinition,
    Group,
    GroupMembership,
    Identity,
    LinkedObject,
    Profile,
    ProfileTag,
    Role,
    Segment,
    SegmentMember,
    Tag,
    TagGroup,
    User,
    fold_name,
    utcnow,
)
from profile_ui.services.permissions import BUILTIN_ROLES, Actor, export_identity_permission
from profile_ui.services.users import actor_for_user

FORMULA_NAME = '=HYPERLINK("http://evil.example","click")'
FORMULA_CITY = "@SUM(1+1)*cmd|' /C calc'!A0"


def make_role(session: Session, name: str, permissions: list[str]) -> None:
    session.add(Role(name=name, description="test role", permissions=permissions))
    session.flush()


def make_user(session: Session, email: str, role: str) -> Actor:
    role_id = session.exec(select(Role.id).where(Role.name == role)).one()
    user = User(email=email, full_name=email.split("@")[0], password_hash="x", role_id=role_id)
    session.add(user)
    session.flush()
    return actor_for_user(session=session, user=user)


@dataclass
class World:
    admin: Actor
    marketer: Actor
    other_marketer: Actor
    viewer: Actor
    no_phone: Actor
    an: int  # active, every kind of data
    formula: int  # active, formula-looking name and city
    resting: int  # deactivated
    gone: int  # already deleted
    stage_tag: int
    interest_tag: int
    newsletter_tag: int
    segment: int
    group: int


def _profile(session: Session, **values) -> int:
    now = utcnow()
    profile = Profile(created_at=values.pop("created_at", now), updated_at=now, **values)
    session.add(profile)
    session.flush()
    return profile.id


def _identity(session: Session, profile_id: int, kind: str, value: str) -> None:
    session.add(Identity(profile_id=profile_id, kind=kind, value=value, source_type="manual"))


def build_world(session: Session) -> World:
    marketer_perms = list(BUILTIN_ROLES["marketer"][1])
    make_role(session, "no_phone", [p for p in marketer_perms if p != export_identity_permission("phone")])
    actors = {
        name: make_user(session, f"{name}@team.example", role)
        for name, role in (
            ("admin", "admin"),
            ("marketer", "marketer"),
            ("other_marketer", "marketer"),
            ("viewer", "viewer"),
            ("no_phone", "no_phone"),
        )
    }
    for position, (key, label, type_) in enumerate(
        (
            ("loyalty_points", "Loyalty points", "number"),
            ("hobbies", "Hobbies", "multiple_choice"),
            ("vip", "VIP", "boolean"),
        ),
        start=20,
    ):
        session.add(FieldDefinition(key=key, label=label, type=type_, position=position))
    lifecycle, interests = TagGroup(name="Lifecycle"), TagGroup(name="Interests")
    session.add_all([lifecycle, interests])
    session.flush()
    stage = Tag(group_id=lifecycle.id, name="Stage", kind="text")
    interest = Tag(group_id=interests.id, name="Interest", kind="multi")
    newsletter = Tag(group_id=lifecycle.id, name="Newsletter subscriber", kind="text")
    segment, group = Segment(name="RFM tier"), Group(name="VIP Club")
    session.add_all([stage, interest, newsletter, segment, group])
    session.flush()

    an = _profile(
        session,
        full_name="An Nguyễn",
        city="Hà Nội",
        member_level="Gold",
        birthday=date(1990, 5, 17),
        registered_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=utcnow().tzinfo),
        attributes={"loyalty_points": 120, "hobbies": ["Chess", "Travel"], "vip": True},
        created_at=utcnow() - timedelta(days=3),
    )
    formula = _profile(session, full_name=FORMULA_NAME, city=FORMULA_CITY, attributes={"loyalty_points": -5})
    resting = _profile(session, full_name="Resting Person", status="deactivated")
    gone = _profile(session, full_name="Gone Person", status="deleted", deleted_at=utcnow(), deleted_reason="earlier")
    _identity(session, an, "email", "an@example.com")
    _identity(session, an, "phone", "+84901234567")
    _identity(session, an, "user_id", "U001")
    _identity(session, formula, "email", "formula@example.com")
    _identity(session, formula, "phone", "+84907654321")
    _identity(session, resting, "email", "resting@example.com")
    _identity(session, gone, "email", "gone@example.com")
    session.add_all(
        [
            ProfileTag(profile_id=an, tag_id=stage.id, value="Loyal"),
            ProfileTag(profile_id=an, tag_id=interest.id, value="Travel"),
            ProfileTag(profile_id=an, tag_id=interest.id, value="Fashion"),
            ProfileTag(profile_id=an, tag_id=newsletter.id, value=""),
            ProfileTag(profile_id=formula, tag_id=stage.id, value="=1+1"),
            SegmentMember(segment_id=segment.id, profile_id=an, value="Champions"),
            GroupMembership(group_id=group.id, profile_id=an, state="active", updated_at=utcnow()),
            Consent(profile_id=an, channel="email", status="granted"),
            LinkedObject(profile_id=an, object_type="ticket", name="Late delivery", external_id="TCK-1"),
            LinkedObject(profile_id=an, object_type="account", name="Loyalty card", external_id="ACC-1"),
        ]
    )
    session.commit()
    return World(
        **actors,
        an=an,
        formula=formula,
        resting=resting,
        gone=gone,
        stage_tag=stage.id,
        interest_tag=interest.id,
        newsletter_tag=newsletter.id,
        segment=segment.id,
        group=group.id,
    )


def count_rows(session: Session, model: type, *where: sa.ColumnElement) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar_one()


def add_profiles(session: Session, n: int, *, prefix: str = "Bulk") -> list[int]:
    """n plain active profiles with an e-mail each (bulk insert); their ids."""
    now = utcnow()
    start = (session.execute(sa.select(sa.func.max(Profile.id))).scalar() or 0) + 1
    ids = list(range(start, start + n))
    session.execute(
        sa.insert(Profile),
        [
            {
                "id": pid,
                "full_name": f"{prefix} {pid}",
                "name_folded": fold_name(f"{prefix} {pid}"),
                "status": "active",
                "attributes": {},
                "created_at": now,
                "updated_at": now,
            }
            for pid in ids
        ],
    )
    session.execute(
        sa.insert(Identity),
        [
            {
                "profile_id": pid,
                "kind": "email",
                "value": f"{prefix.lower()}{pid}@example.com",
                "source_type": "manual",
                "first_seen_at": now,
                "last_seen_at": now,
                "is_encrypted": False,
            }
            for pid in ids
        ],
    )
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            sa.text("SELECT setval(pg_get_serial_sequence('profiles', 'id'), (SELECT max(id) FROM profiles))")
        )
    session.commit()
    return ids


def build_committed_world(db_url: str) -> World:
    """build_world in its own committed transaction on `db_url` (for code that opens its own
    sessions through session_scope, such as jobs and the services the pages call)."""
    engine = make_engine(db_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            return build_world(session)
    finally:
        engine.dispose()
