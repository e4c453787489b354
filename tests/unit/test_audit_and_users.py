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
