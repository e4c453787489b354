"""Foundation storage behaviour, on SQLite and PostgreSQL."""

import pytest
import sqlalchemy as sa
from sqlmodel import select

from profile_ui.models import AuditEvent, Role
from profile_ui.services.audit import record_event
from profile_ui.services.permissions import SYSTEM_ACTOR


def test_builtin_roles_exist(session):
    names = set(session.exec(select(Role.name)).all())
    assert {"viewer", "marketer", "admin"} <= names


@pytest.mark.parametrize("statement", ["UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"])
def test_audit_rows_cannot_be_changed(session, statement):
    record_event(session=session, actor=SYSTEM_ACTOR, action="test.event", object_type="test")
    session.commit()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        session.execute(sa.text(statement))
        session.commit()
    session.rollback()
    assert session.exec(select(AuditEvent.action)).all() == ["test.event"]


def test_audit_table_cannot_be_truncated_on_postgres(pg_url):
    from sqlmodel import Session

    from profile_ui.db import make_engine

    engine = make_engine(pg_url)
    with Session(engine) as session:
        record_event(session=session, actor=SYSTEM_ACTOR, action="test.event", object_type="test")
        session.commit()
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            session.execute(sa.text("TRUNCATE audit_events"))
        session.rollback()
        assert session.exec(select(sa.func.count()).select_from(AuditEvent)).one() == 1
    engine.dispose()


def test_an_event_commits_or_rolls_back_with_the_change_it_describes(session):
    record_event(
        session=session,
        actor=SYSTEM_ACTOR,
        action="profile.edit",
        object_type="profile",
        object_id=7,
        reason="typo",
        details={"full_name": ["Lan", "Lân"]},
    )
    session.rollback()
    assert session.exec(select(AuditEvent)).all() == []
    record_event(
        session=session,
        actor=SYSTEM_ACTOR,
        action="profile.edit",
        object_type="profile",
        object_id=7,
        reason="typo",
        details={"full_name": ["Lan", "Lân"]},
    )
    session.commit()
    [event] = session.exec(select(AuditEvent)).all()
    assert (event.object_id, event.reason, event.actor_email) == ("7", "typo", "system")
    assert event.details == {"full_name": ["Lan", "Lân"]} and event.at.tzinfo is not None


def _actor(role):
    from profile_ui.services.permissions import BUILTIN_ROLES, Actor

    return Actor(user_id=1, email=f"{role}@example.com", role=role, permissions=frozenset(BUILTIN_ROLES[role][1]))


def test_only_admins_read_the_audit_log(session):
    from profile_ui.services.audit import list_events
    from profile_ui.services.permissions import PermissionDenied

    for role in ("viewer", "marketer"):
        with pytest.raises(PermissionDenied, match="audit.view"):
            list_events(session=session, actor=_actor(role))
    assert list_events(session=session, actor=_actor("admin")) == ([], 0)


def test_audit_log_filters_and_pages_newest_first(session):
    from profile_ui.services.audit import list_events
    from profile_ui.services.permissions import Actor

    ana = Actor(user_id=5, email="ana@example.com", role="marketer")
    for i in range(5):
        record_event(session=session, actor=ana, action="profile.edit", object_type="profile", object_id=i)
    record_event(session=session, actor=SYSTEM_ACTOR, action="user.create", object_type="user")
    session.commit()
    admin = _actor("admin")
    rows, total = list_events(session=session, actor=admin, actor_email="ana@example.com", limit=2)
    assert total == 5 and [r.object_id for r in rows] == ["4", "3"]
    rows, total = list_events(session=session, actor=admin, action="profile.edit", offset=4)
    assert total == 5 and [r.object_id for r in rows] == ["0"]
    rows, total = list_events(session=session, actor=admin, object_type="user")
    assert total == 1 and rows[0].action == "user.create"
