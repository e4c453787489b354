"""One meaning of "the active sync rule" (services/catalog.py) for the three ways a person
arrives: a hand-made profile, an import row and a row of a membership file.

The rule an administrator set up decides; with none set up, the default rule (user id, else
e-mail, else phone) does, so a hand-made profile finds its person as an import does. Each
test runs on SQLite and PostgreSQL (the `session` fixture); the whole import job without a
rule is tested in test_jobs.py.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from profile_ui.models import DEFAULT_IDENTIFIER_KINDS, Group, GroupMembership, SyncRule
from profile_ui.services import catalog
from profile_ui.services import workspace_settings as ws
from profile_ui.services.importing import ImportOptions
from profile_ui.services.importing import membership as ms
from profile_ui.services.importing.plan import plan_import
from profile_ui.services.permissions import BUILTIN_ROLES, Actor
from profile_ui.services.profile_edit import ProfileValidationError, create_profile
from tests.unit.services.importing.frames import MARKETER, mapping_for, seed_profiles, validated

ADMIN = Actor(user_id=None, email="admin@example.com", role="admin", permissions=frozenset(BUILTIN_ROLES["admin"][1]))
EMAIL, PHONE = "an@example.com", "+84912000111"


@pytest.fixture
def an(session) -> dict[str, int]:
    """An, member of a group, known by e-mail and phone."""
    (profile_id,) = seed_profiles(session, [{"full_name": "An", "city": "Hue", "email": EMAIL, "phone": PHONE}])
    group = Group(name=f"Club {uuid.uuid4().hex[:6]}")
    session.add(group)
    session.flush()
    session.add(GroupMembership(group_id=group.id, profile_id=profile_id, state="active"))
    session.commit()
    return {"profile": profile_id, "group": group.id}


def no_rule_set_up(session) -> None:
    session.execute(sa.delete(SyncRule))
    session.commit()


def admin_sets_phone_only(session) -> None:
    ws.update_sync_rule(session=session, actor=ADMIN, identifier_kinds=["phone"])
    session.commit()


def hand_made_match(session, identities: dict[str, str]) -> int | None:
    """The profile a hand-made profile with these identities was matched to (None: created)."""
    try:
        result = create_profile(
            session=session, actor=MARKETER, values={"full_name": "An Nguyen"}, identities=identities, consent={}
        )
    except ProfileValidationError:  # the identity belongs to someone it is not matched to
        session.rollback()
        return None
    session.rollback()
    return result.profile_id if result.matched_existing else None


def import_match(session, row: dict[str, str]) -> int | None:
    """The profile the import's dry run matched the row to (None: a new profile, or a row
    without an identifier of the rule)."""
    frame = validated([{"full_name": "An Nguyen", **row}])
    plan = plan_import(
        session=session,
        actor=MARKETER,
        frame=frame,
        mapping=mapping_for(frame),
        options=ImportOptions(),
        file_name="people.xlsx",
    )
    matched = plan.rows["outcome"][0] in ("updated", "unchanged", "merged")
    return plan.rows["profile_id"][0] if matched else None


def membership_match(session, group_id: int, row: dict[str, str]) -> int | None:
    """The profile a member file's row was matched to (None: a new person to invite, or a row
    without an identifier of the rule)."""
    frame = validated([{"full_name": "An Nguyen", "city": "Hanoi", **row}])
    review = ms.plan_membership(
        session=session,
        actor=MARKETER,
        group_id=group_id,
        frame=frame,
        mapping=mapping_for(frame),
        options=ImportOptions(),
    )
    return next((entry["profile_id"] for entry in review["invite"] + review["update"]), None)


def matches(session, an: dict[str, int], identity: dict[str, str]) -> list[int | None]:
    return [
        hand_made_match(session, identity),
        import_match(session, identity),
        membership_match(session, an["group"], identity),
    ]


def test_without_a_rule_the_default_rule_applies_to_all_three(session, an):
    no_rule_set_up(session)
    rule = catalog.active_sync_rule(session)
    assert rule.id is None and rule.identifier_kinds == list(DEFAULT_IDENTIFIER_KINDS)
    assert matches(session, an, {"email": EMAIL}) == [an["profile"]] * 3
    assert matches(session, an, {"phone": PHONE}) == [an["profile"]] * 3


def test_an_admin_set_rule_applies_to_all_three(session, an):
    admin_sets_phone_only(session)
    assert catalog.active_sync_rule(session).identifier_kinds == ["phone"]
    assert matches(session, an, {"phone": PHONE}) == [an["profile"]] * 3
    # the e-mail is no identifier now: none of the three takes it for An
    assert matches(session, an, {"email": EMAIL}) == [None] * 3


def test_a_new_workspace_starts_with_the_default_rule_saved(session):
    saved = catalog.saved_sync_rule(session)
    assert saved is not None and saved.identifier_kinds == list(DEFAULT_IDENTIFIER_KINDS)
    assert (saved.auto_merge, saved.default_policy) == (False, "overwrite")


def test_the_settings_screen_shows_the_active_rule_and_its_first_change_saves_it(session):
    no_rule_set_up(session)
    shown = ws.get_sync_rule(session=session, actor=ADMIN)
    assert shown.id is None and shown.identifier_kinds == list(DEFAULT_IDENTIFIER_KINDS)
    ws.update_sync_rule(session=session, actor=ADMIN, identifier_kinds=["phone", "email"])
    session.commit()
    saved = catalog.saved_sync_rule(session)
    assert saved is not None and saved.identifier_kinds == ["phone", "email"]
    assert catalog.active_sync_rule(session).id == saved.id
