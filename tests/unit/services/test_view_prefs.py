"""Column display of the profile list: a user's own choice, the admin default, the
built-in default; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import select

from profile_ui.models import AuditEvent, Tag, TagGroup
from profile_ui.services.permissions import BUILTIN_ROLES, Actor, PermissionDenied
from profile_ui.services.view_prefs import (
    DEFAULT_COLUMNS,
    ViewPrefsError,
    column_options,
    get_default_list_view,
    get_list_view,
    reset_list_view,
    save_default_list_view,
    save_list_view,
)
from profile_ui.services.workspace_settings import create_field, delete_field, delete_tag

ADMIN = Actor(user_id=1, email="admin@example.com", role="admin", permissions=frozenset(BUILTIN_ROLES["admin"][1]))
ANN = Actor(user_id=2, email="ann@example.com", role="marketer", permissions=frozenset(BUILTIN_ROLES["marketer"][1]))
BOB = Actor(user_id=3, email="bob@example.com", role="viewer", permissions=frozenset(BUILTIN_ROLES["viewer"][1]))


@pytest.fixture
def stage(session) -> int:
    group = TagGroup(name="Lifecycle")
    session.add(group)
    session.flush()
    tag = Tag(group_id=group.id, name="Stage")
    session.add(tag)
    session.commit()
    return tag.id


def test_builtin_default_then_admin_default_then_own_choice(session, stage):
    view = get_list_view(session=session, actor=ANN)
    assert (view.columns, view.page_size, view.source) == (DEFAULT_COLUMNS, 50, "builtin")

    save_default_list_view(
        session=session, actor=ADMIN, columns=["full_name", f"tag:{stage}", "identity:email"], page_size=100
    )
    session.commit()
    for user in (ANN, BOB):
        view = get_list_view(session=session, actor=user)
        assert (view.columns, view.page_size, view.source) == (
            ["full_name", f"tag:{stage}", "identity:email"],
            100,
            "default",
        )

    save_list_view(session=session, actor=ANN, columns=["identity:phone", "city", "full_name", "city"], page_size=25)
    session.commit()
    view = get_list_view(session=session, actor=ANN)
    assert (view.columns, view.page_size, view.source) == (["identity:phone", "city", "full_name"], 25, "user")
    assert get_list_view(session=session, actor=BOB).source == "default"  # others keep the default

    assert reset_list_view(session=session, actor=ANN).source == "default"
    session.commit()
    (event,) = session.exec(select(AuditEvent).where(AuditEvent.action == "settings.list_view.default")).all()
    assert event.details["after"]["page_size"] == 100 and event.actor_email == ADMIN.email


def test_only_admins_save_the_default(session):
    with pytest.raises(PermissionDenied):
        save_default_list_view(session=session, actor=ANN, columns=["full_name"])
    assert get_default_list_view(session=session, actor=BOB).source == "builtin"


def test_bad_choices_are_refused(session):
    for columns, page_size, message in [
        ([], 50, "at least one column"),
        (["full_name", "shoe_size"], 50, "'shoe_size' is not a column"),
        (["tag:999"], 50, "'tag:999' is not a column"),
        (["full_name"], 30, "rows per page"),
    ]:
        with pytest.raises(ViewPrefsError, match=message):
            save_list_view(session=session, actor=ANN, columns=columns, page_size=page_size)


def test_removed_fields_and_tags_drop_out_of_saved_columns(session, stage):
    create_field(session=session, actor=ADMIN, label="Store")
    save_list_view(session=session, actor=ANN, columns=["store", f"tag:{stage}", "full_name"])
    session.commit()
    delete_field(session=session, actor=ADMIN, key="store")
    delete_tag(session=session, actor=ADMIN, tag_id=stage)
    session.commit()
    assert get_list_view(session=session, actor=ANN).columns == ["full_name"]


def test_column_options_list_fields_identities_and_tags(session, stage):
    options = {o.key: o for o in column_options(session=session, actor=BOB)}
    assert options["full_name"].sortable and options["created_at"].sortable
    # the primary e-mail sorts (identity_sort.py); other identity kinds do not
    assert options["identity:email"].group == "Identities" and options["identity:email"].sortable
    assert not any(
        o.sortable
        for k, o in options.items()
        if k.startswith("identity:") and k != "identity:email" and k != "identity:phone"
    )
    assert options[f"tag:{stage}"].label == "Lifecycle: Stage"
    assert options[f"tag:{stage}"].sortable  # by its value (profiles/tag_sort.py)
