"""What the delete dialog, the trash page and the audit log page compute on the server:
the audit filters (object id, the values the filters offer, dates read from the form),
the trash's days left, the delete dialog's refusal and consequence texts (SQLite and
PostgreSQL for the queries)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from profile_ui.models import AuditEvent
from profile_ui.pages.audit_state import (
    AuditFilterError,
    details_text,
    event_line,
    filters_from_form,
    service_filters,
)
from profile_ui.pages.profiles.delete_state import consequence_text, too_many_text
from profile_ui.pages.trash_state import days_left_text, trash_line
from profile_ui.services.audit import event_choices, list_events, record_event
from profile_ui.services.permissions import BUILTIN_ROLES, SYSTEM_ACTOR, Actor, PermissionDenied
from profile_ui.services.trash import TrashItem

ADMIN = Actor(user_id=1, email="admin@example.com", role="admin", permissions=frozenset(BUILTIN_ROLES["admin"][1]))
MARKETER = Actor(
    user_id=2, email="ana@example.com", role="marketer", permissions=frozenset(BUILTIN_ROLES["marketer"][1])
)
NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)


# ------------------------------------------------------------ audit service additions
def test_audit_log_filters_by_object_id_and_offers_the_values_it_holds(session):
    for pid in (7, 8):
        record_event(session=session, actor=MARKETER, action="profile.edit", object_type="profile", object_id=pid)
    record_event(
        session=session, actor=ADMIN, action="profiles.delete", object_type="profile", object_id=7, reason="Duplicate"
    )
    record_event(session=session, actor=SYSTEM_ACTOR, action="profiles.purge", object_type="profile")
    session.commit()

    rows, total = list_events(session=session, actor=ADMIN, object_type="profile", object_id="7")
    assert total == 2 and [r.action for r in rows] == ["profiles.delete", "profile.edit"]
    rows, total = list_events(
        session=session, actor=ADMIN, object_id="7", action="profile.edit", actor_email="ana@example.com"
    )
    assert total == 1 and rows[0].object_id == "7"

    choices = event_choices(session=session, actor=ADMIN)
    assert choices.actors == ["admin@example.com", "ana@example.com", "system"]
    assert choices.actions == ["profile.edit", "profiles.delete", "profiles.purge"]
    assert choices.object_types == ["profile"]
    with pytest.raises(PermissionDenied, match="audit.view"):
        event_choices(session=session, actor=MARKETER)


# ------------------------------------------------------------ audit page helpers
def test_audit_filters_from_the_form():
    form = {
        "actor": "any",
        "action": "profiles.delete",
        "object_type": "any",
        "object_id": " 42 ",
        "since": "2026-05-01",
        "until": "2026-05-03",
    }
    filters = filters_from_form(form)
    assert filters == {
        "actor": "",
        "action": "profiles.delete",
        "object_type": "",
        "object_id": "42",
        "since": "2026-05-01",
        "until": "2026-05-03",
    }
    kwargs = service_filters(filters)
    assert kwargs["actor_email"] is None and kwargs["object_type"] is None
    assert kwargs["object_id"] == "42" and kwargs["action"] == "profiles.delete"
    assert kwargs["since"] == datetime(2026, 5, 1, tzinfo=UTC)
    assert kwargs["until"] == datetime(2026, 5, 4, tzinfo=UTC)  # the "To" day is included
    assert service_filters({}) == dict.fromkeys(("actor_email", "action", "object_type", "object_id", "since", "until"))

    with pytest.raises(AuditFilterError, match="'May 1' is not a date for 'From'"):
        filters_from_form({"since": "May 1"})
    with pytest.raises(AuditFilterError, match="ends before it starts"):
        filters_from_form({"since": "2026-05-03", "until": "2026-05-01"})


def test_audit_line_shows_the_object_and_a_short_details_text():
    event = AuditEvent(
        id=3,
        at=NOW,
        actor_email=None,
        action="profiles.purge",
        object_type="profile",
        object_id=None,
        reason=None,
        details={"count": 2, "profile_ids": [4, 5]},
    )
    line = event_line(event)
    assert (line.when, line.actor, line.object, line.reason) == ("2026-05-10 12:00:00", "system", "profile", "")
    assert line.details == "count: 2; profile_ids: [4, 5]"
    long = details_text({"profile_ids": list(range(500))})
    assert len(long) == 240 and long.endswith("…")
    assert details_text({}) == "" and details_text({"note": "Café"}) == "note: Café"


# ------------------------------------------------------------ trash page helpers
def _item(**values) -> TrashItem:
    base = {
        "profile_id": 9,
        "full_name": None,
        "deleted_at": NOW - timedelta(days=3),
        "deleted_by": "admin@example.com",
        "reason": "Duplicate",
        "purge_after": NOW + timedelta(days=27),
        "restorable": True,
    }
    return TrashItem(**{**base, **values})


def test_trash_lines_say_how_many_days_are_left():
    line = trash_line(_item(), NOW)
    assert (line.id, line.name, line.deleted_at, line.days_left, line.restorable) == (
        "9",
        "Profile 9",
        "2026-05-07 12:00",
        "27 days",
        True,
    )
    assert days_left_text(_item(purge_after=NOW + timedelta(hours=5)), NOW) == "1 day"
    assert days_left_text(_item(purge_after=NOW - timedelta(seconds=1)), NOW) == "Purged at the next run"
    assert days_left_text(_item(reason="merged into 12"), NOW) == "Merged: cannot be restored"
    assert trash_line(_item(deleted_by=None, full_name="An"), NOW).deleted_by == "unknown user"


# ------------------------------------------------------------ delete dialog texts
def test_delete_dialog_texts():
    assert too_many_text(1234) == ("Select at most 100 profiles to delete at once (you selected 1,234)")
    with_trash = consequence_text(30)
    assert "links to accounts, opportunities, tickets and tasks" in with_trash
    assert "from the trash for 30 days" in with_trash
    assert "immediately and for good" in consequence_text(0)
