"""`seed_workspace`: the demo users to sign in with (optional) and `profiles` realistic
profiles, with the custom fields, tags, segments and groups they refer to; audited as
`profiles.seed`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..db import get_engine
from ..models import FieldDefinition, Group, Profile, Segment, Tag, TagGroup, User
from ..services.attribute_sort import ensure_sort_index
from ..services.audit import record_event
from ..services.bootstrap import ensure_reference_data
from ..services.permissions import SYSTEM_ACTOR
from ..services.users import create_user
from .demo_people import CUSTOM_FIELDS, GROUPS, SEGMENTS, TAG_CATALOG
from .generate import SeedCatalog
from .load import Echo, PostgresLoader, SqliteLoader


@dataclass(frozen=True)
class DemoUser:
    email: str
    password: str
    role: str
    full_name: str


# Fixed on purpose: `make setup` prints them and the browser tests sign in with them.
DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin@demo.local", "demo-admin-pass", "admin", "Demo Admin"),
    DemoUser("marketer@demo.local", "demo-marketer-pass", "marketer", "Demo Marketer"),
    DemoUser("viewer@demo.local", "demo-viewer-pass", "viewer", "Demo Viewer"),
)


# ---------------------------------------------------------------- result
@dataclass
class SeedSummary:
    """What one run did: rows written per table (empty when it skipped)."""

    skipped: bool = False
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    demo_users: list[DemoUser] = field(default_factory=list)


# ---------------------------------------------------------------- entry point
def seed_workspace(
    *,
    profiles: int,
    random_seed: int = 42,
    demo_users: bool = False,
    only_if_empty: bool = False,
    echo: Echo = print,
    engine: Engine | None = None,
) -> SeedSummary:
    """Create the demo users (optional) and `profiles` realistic profiles.

    With `only_if_empty`, profiles are only made when there are none yet; the demo
    credentials are printed on every run either way.
    """
    if profiles < 0:
        raise ValueError("--profiles must be zero or more")
    if engine is None:
        engine = get_engine()
    summary = SeedSummary()
    with Session(engine, expire_on_commit=False) as session:
        ensure_reference_data(session=session)
        if demo_users:
            summary.demo_users = _ensure_demo_users(session=session)
        session.commit()
        existing = session.exec(select(sa.func.count()).select_from(Profile)).one()
    if summary.demo_users:
        echo("Demo sign-ins:")
        for user in summary.demo_users:
            echo(f"  {user.role:<8}  {user.email:<22}  password: {user.password}")
    if only_if_empty and existing:
        echo(f"{existing:,} profiles exist already: no demo profiles added")
        summary.skipped = True
        return summary
    if profiles == 0:
        return summary

    started = time.perf_counter()
    with Session(engine, expire_on_commit=False) as session:
        catalog = _ensure_catalog(session=session)
        session.commit()
    echo(f"seeding {profiles:,} profiles (seed {random_seed}) into {engine.dialect.name}…")
    loader = PostgresLoader(engine) if engine.dialect.name == "postgresql" else SqliteLoader(engine)
    summary.rows = loader.run(
        profiles=profiles,
        existing_profiles=existing,
        random_seed=random_seed,
        catalog=catalog,
        echo=echo,
        started=started,
    )
    summary.seconds = time.perf_counter() - started
    with Session(engine) as session:
        record_event(
            session=session,
            actor=SYSTEM_ACTOR,
            action="profiles.seed",
            object_type="profile",
            details={"seed": random_seed, "rows": summary.rows},
        )
        session.commit()
    echo(
        f"seeded {profiles:,} profiles and {sum(summary.rows.values()) - profiles:,} related "
        f"rows in {summary.seconds:.1f} s"
    )
    return summary


def _ensure_demo_users(*, session: Session) -> list[DemoUser]:
    existing = set(session.exec(select(User.email).where(col(User.email).in_([u.email for u in DEMO_USERS]))).all())
    for user in DEMO_USERS:
        if user.email not in existing:
            create_user(
                session=session,
                actor=SYSTEM_ACTOR,
                email=user.email,
                password=user.password,
                role=user.role,
                full_name=user.full_name,
            )
    return list(DEMO_USERS)


def _saved_id(row: TagGroup | Tag | Segment | Group) -> int:
    """The id of a row the session has flushed (the database gave it one)."""
    if row.id is None:
        raise RuntimeError(f"{type(row).__name__} '{row.name}' has no id: it was not flushed")
    return row.id


def _ensure_catalog(*, session: Session) -> SeedCatalog:
    """Get or create the custom fields, tags, segments and groups the seed refers to."""
    fields = {f.key for f in session.exec(select(FieldDefinition)).all()}
    position = len(fields)
    for key, label, type_ in CUSTOM_FIELDS:
        if key not in fields:
            session.add(FieldDefinition(key=key, label=label, type=type_, position=position))
            ensure_sort_index(session, key)
            position += 1
    tag_ids: dict[str, int] = {}
    for group_name, tags in TAG_CATALOG.items():
        group = session.exec(select(TagGroup).where(TagGroup.name == group_name)).first()
        if group is None:
            group = TagGroup(name=group_name)
            session.add(group)
            session.flush()
        for tag_name, kind, _values in tags:
            tag = session.exec(select(Tag).where(Tag.group_id == group.id, Tag.name == tag_name)).first()
            if tag is None:
                tag = Tag(group_id=_saved_id(group), name=tag_name, kind=kind)
                session.add(tag)
                session.flush()
            tag_ids[tag_name] = _saved_id(tag)
    segment_ids: dict[str, int] = {}
    for name in SEGMENTS:
        segment = session.exec(select(Segment).where(Segment.name == name)).first()
        if segment is None:
            segment = Segment(name=name, source="import", description="Demo segment made by `profile-ui seed`")
            session.add(segment)
            session.flush()
        segment_ids[name] = _saved_id(segment)
    group_ids: dict[str, int] = {}
    for name, description in GROUPS.items():
        group_row = session.exec(select(Group).where(Group.name == name)).first()
        if group_row is None:
            group_row = Group(name=name, description=description)
            session.add(group_row)
            session.flush()
        group_ids[name] = _saved_id(group_row)
    return SeedCatalog(tag_ids=tag_ids, segment_ids=segment_ids, group_ids=group_ids)
