"""Workspace settings: fields, tags, segments, groups, sync rule, identity kinds, roles and
users; every change audited, refused for viewers and marketers. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import select

from profile_ui.models import (
    AttributeProvenance,
    AuditEvent,
    FieldDefinition,
    GroupMembership,
    Identity,
    Profile,
    ProfileTag,
    Role,
    SegmentMember,
    SyncRule,
    Tag,
    User,
)
from profile_ui.services import workspace_settings as ws
from profile_ui.services.permissions import BUILTIN_ROLES, Actor, PermissionDenied
from profile_ui.services.profile_edit import ProfileValidationError, create_profile, update_profile_fields
from profile_ui.services.users import create_user
from profile_ui.services.workspace_settings import SettingsError

ADMIN = Actor(user_id=1, email="admin@example.com", role="admin", permissions=frozenset(BUILTIN_ROLES["admin"][1]))
MARKETER = Actor(
    user_id=2, email="marketer@example.com", role="marketer", permissions=frozenset(BUILTIN_ROLES["marketer"][1])
)
VIEWER = Actor(user_id=3, email="viewer@example.com", role="viewer", permissions=frozenset(BUILTIN_ROLES["viewer"][1]))


def audit(session) -> list[tuple[str, str | None]]:
    return [
        (e.action, e.object_id)
        for e in session.exec(
            select(AuditEvent).where(AuditEvent.action.like("settings.%")).order_by(AuditEvent.id)
        ).all()
    ]


def person(session, name: str, email: str, **values: str) -> int:
    result = create_profile(
        session=session, actor=MARKETER, values={"full_name": name, **values}, identities={"email": email}
    )
    session.commit()
    return result.profile_id


# ---------------------------------------------------------------- fields


def test_custom_field_lifecycle(session):
    field = ws.create_field(session=session, actor=ADMIN, label="Điểm thưởng", type="number", is_pii=False)
    assert field.key == "diem_thuong" and not field.is_system
    ws.create_field(session=session, actor=ADMIN, label="Size", type="single_choice", options=["S", " M ", "S", "L"])
    session.commit()
    assert session.get(FieldDefinition, "size").options == ["S", "M", "L"]
    with pytest.raises(SettingsError, match="already used"):
        ws.create_field(session=session, actor=ADMIN, label="Diem thuong")
    with pytest.raises(SettingsError, match="already used"):
        ws.create_field(session=session, actor=ADMIN, label="Email")  # an identity kind
    with pytest.raises(SettingsError, match="needs at least one option"):
        ws.create_field(session=session, actor=ADMIN, label="Shoe", type="multiple_choice")
    with pytest.raises(SettingsError, match="Unknown field type"):
        ws.create_field(session=session, actor=ADMIN, label="Shoe", type="colour")

    ws.update_field(session=session, actor=ADMIN, key="diem_thuong", label="Loyalty points", is_pii=True)
    ws.update_field(session=session, actor=ADMIN, key="diem_thuong", type="text")  # no values yet: allowed
    ws.update_field(session=session, actor=ADMIN, key="diem_thuong", type="number")
    session.commit()
    an = person(session, "An", "an@example.com", diem_thuong="120")
    with pytest.raises(SettingsError, match="already hold values"):
        ws.update_field(session=session, actor=ADMIN, key="diem_thuong", type="date")
    keep = person(session, "Bình", "binh@example.com", size="m")
    assert session.get(Profile, an).attributes == {"diem_thuong": 120}

    ws.delete_field(session=session, actor=ADMIN, key="diem_thuong")
    session.commit()
    session.expire_all()
    assert session.get(FieldDefinition, "diem_thuong") is None
    assert session.get(Profile, an).attributes == {}
    assert session.get(Profile, keep).attributes == {"size": "M"}
    assert session.get(AttributeProvenance, (an, "diem_thuong")) is None
    assert audit(session) == [
        ("settings.field.create", "diem_thuong"),
        ("settings.field.create", "size"),
        ("settings.field.update", "diem_thuong"),
        ("settings.field.update", "diem_thuong"),
        ("settings.field.update", "diem_thuong"),
        ("settings.field.delete", "diem_thuong"),
    ]


def test_system_fields_change_only_required_and_options(session):
    ws.update_field(session=session, actor=ADMIN, key="member_level", options=["Bronze", "Silver", "Gold", "Diamond"])
    ws.update_field(session=session, actor=ADMIN, key="city", required_on_create=True)
    session.commit()
    assert session.get(FieldDefinition, "member_level").options[-1] == "Diamond"
    for change in ({"label": "Town"}, {"type": "number"}, {"is_pii": True}):
        with pytest.raises(SettingsError, match="system field"):
            ws.update_field(session=session, actor=ADMIN, key="city", **change)
    with pytest.raises(SettingsError, match="has no options"):
        ws.update_field(session=session, actor=ADMIN, key="city", options=["Huế"])
    with pytest.raises(SettingsError, match="cannot be deleted"):
        ws.delete_field(session=session, actor=ADMIN, key="full_name")
    # the create form now requires the city
    with pytest.raises(ProfileValidationError) as caught:
        create_profile(
            session=session, actor=MARKETER, values={"full_name": "An"}, identities={"email": "a@b.co"}, consent={}
        )
    assert caught.value.errors == {"city": "City is required"}


def test_a_new_required_custom_field_is_required_by_the_create_form(session):
    ws.create_field(session=session, actor=ADMIN, label="Store", required_on_create=True)
    session.commit()
    assert [f.key for f in ws.required_on_create(session=session, actor=MARKETER)] == ["full_name", "store"]
    with pytest.raises(ProfileValidationError) as caught:
        create_profile(session=session, actor=MARKETER, values={"full_name": "An"}, identities={"email": "a@b.co"})
    assert caught.value.errors == {"store": "Store is required"}
    assert create_profile(
        session=session, actor=MARKETER, values={"full_name": "An", "store": "Huế"}, identities={"email": "a@b.co"}
    ).profile_id


def test_reorder_fields(session):
    ws.create_field(session=session, actor=ADMIN, label="Store")
    ws.reorder_fields(session=session, actor=ADMIN, keys=["store", "city"])
    session.commit()
    assert [f.key for f in ws.list_fields(session=session, actor=VIEWER)][:3] == ["store", "city", "full_name"]


# ---------------------------------------------------------------- tags, segments, groups


def test_tag_groups_and_tags(session):
    group = ws.create_tag_group(session=session, actor=ADMIN, name=" Interests ")
    interest = ws.create_tag(session=session, actor=ADMIN, group_id=group.id, name="Interest", kind="multi")
    stage = ws.create_tag(session=session, actor=ADMIN, group_id=group.id, name="Stage")
    session.commit()
    with pytest.raises(SettingsError, match="already exists"):
        ws.create_tag(session=session, actor=ADMIN, group_id=group.id, name="Stage")
    with pytest.raises(SettingsError, match="'text' \\(one value\\) or 'multi'"):
        ws.create_tag(session=session, actor=ADMIN, group_id=group.id, name="X", kind="list")
    an = person(session, "An", "an@example.com")
    for value in ("Travel", "Food"):
        session.add(ProfileTag(profile_id=an, tag_id=interest.id, value=value))
    session.commit()
    assert ws.tag_value_suggestions(session=session, actor=VIEWER, tag_id=interest.id) == ["Food", "Travel"]
    with pytest.raises(SettingsError, match="must stay multi-value"):
        ws.update_tag(session=session, actor=ADMIN, tag_id=interest.id, kind="text")
    ws.update_tag(session=session, actor=ADMIN, tag_id=stage.id, name="Lifecycle stage", kind="multi")
    ws.rename_tag_group(session=session, actor=ADMIN, group_id=group.id, name="Hobbies")
    session.commit()
    assert [(g.name, [t.name for t in tags]) for g, tags in ws.list_tag_groups(session=session, actor=VIEWER)] == [
        ("Hobbies", ["Interest", "Lifecycle stage"])
    ]
    assert ws.delete_tag(session=session, actor=ADMIN, tag_id=interest.id) == 2
    assert ws.delete_tag_group(session=session, actor=ADMIN, group_id=group.id) == 0
    session.commit()
    assert session.exec(select(Tag)).all() == [] and session.exec(select(ProfileTag)).all() == []
    assert [a for a, _ in audit(session)] == [
        "settings.tag_group.create",
        "settings.tag.create",
        "settings.tag.create",
        "settings.tag.update",
        "settings.tag_group.rename",
        "settings.tag.delete",
        "settings.tag_group.delete",
    ]


def test_segments_and_groups(session):
    segment = ws.create_segment(
        session=session, actor=ADMIN, name="Big spenders", description="RFM 5", filter={"member_level": "Gold"}
    )
    group = ws.create_group(session=session, actor=ADMIN, name="VIP Club")
    session.commit()
    assert segment.source == "filter"
    with pytest.raises(SettingsError, match="already exists"):
        ws.create_group(session=session, actor=ADMIN, name="VIP Club")
    an = person(session, "An", "an@example.com")
    session.add(SegmentMember(segment_id=segment.id, profile_id=an, value="5"))
    session.add(GroupMembership(group_id=group.id, profile_id=an))
    session.commit()
    ws.update_segment(session=session, actor=ADMIN, segment_id=segment.id, name="Top spenders")
    ws.update_group(session=session, actor=ADMIN, group_id=group.id, description="Gold and Platinum")
    session.commit()
    assert [s.name for s in ws.list_segments(session=session, actor=VIEWER)] == ["Top spenders"]
    assert ws.list_groups(session=session, actor=VIEWER)[0].description == "Gold and Platinum"
    ws.delete_segment(session=session, actor=ADMIN, segment_id=segment.id)
    ws.delete_group(session=session, actor=ADMIN, group_id=group.id)
    session.commit()
    assert session.exec(select(SegmentMember)).all() == [] and session.exec(select(GroupMembership)).all() == []
    assert session.get(Profile, an) is not None
    assert [a for a, _ in audit(session)] == [
        "settings.segment.create",
        "settings.group.create",
        "settings.segment.update",
        "settings.group.update",
        "settings.segment.delete",
        "settings.group.delete",
    ]


# ---------------------------------------------------------------- sync rule, identity kinds, consent


def test_sync_rule_update_is_checked_and_used_by_create(session):
    loyalty = ws.create_identity_kind(session=session, actor=ADMIN, label="Loyalty card")
    assert loyalty.key == "loyalty_card"
    rule = ws.update_sync_rule(
        session=session,
        actor=ADMIN,
        identifier_kinds=["loyalty_card", "email"],
        auto_merge=True,
        default_policy="fill_empty",
        field_policies={"city": "overwrite"},
    )
    session.commit()
    assert (rule.identifier_kinds, rule.auto_merge, rule.default_policy, rule.field_policies) == (
        ["loyalty_card", "email"],
        True,
        "fill_empty",
        {"city": "overwrite"},
    )
    for kwargs, message in [
        ({"identifier_kinds": ["email", "email"]}, "only once"),
        ({"identifier_kinds": ["fax"]}, "not an identity kind"),
        ({"identifier_kinds": []}, "at least one"),
        ({"default_policy": "sometimes"}, "Unknown policy"),
        ({"field_policies": {"shoe": "never"}}, "no field 'shoe'"),
        ({"field_policies": {"city": "always"}}, "Unknown policy"),
    ]:
        with pytest.raises(SettingsError, match=message):
            ws.update_sync_rule(session=session, actor=ADMIN, **kwargs)
    an = create_profile(
        session=session,
        actor=MARKETER,
        values={"full_name": "An", "city": "Huế"},
        identities={"email": "an@example.com", "loyalty_card": "L-1"},
    ).profile_id
    again = create_profile(
        session=session,
        actor=MARKETER,
        values={"full_name": "An Nguyễn", "city": "Vinh", "gender": "Male"},
        identities={"loyalty_card": "L-1", "phone": "0912000999"},
    )
    session.commit()
    assert again.matched_existing and again.profile_id == an and again.matched_by == "loyalty_card"
    profile = session.get(Profile, an)
    assert (profile.full_name, profile.city, profile.gender) == ("An", "Vinh", "Male")  # fill_empty / overwrite
    (event,) = list(session.exec(select(AuditEvent).where(AuditEvent.action == "settings.sync_rule.update")))
    assert event.details["changes"]["identifier_kinds"] == [["user_id", "email", "phone"], ["loyalty_card", "email"]]


def test_identity_kinds(session):
    kind = ws.create_identity_kind(session=session, actor=ADMIN, label="CRM id", key="crm_id")
    ws.rename_identity_kind(session=session, actor=ADMIN, key="crm_id", label="CRM number")
    ws.update_sync_rule(session=session, actor=ADMIN, identifier_kinds=["email", "crm_id"])
    session.commit()
    assert [k.key for k in ws.list_identity_kinds(session=session, actor=VIEWER)] == [
        "user_id",
        "email",
        "phone",
        "crm_id",
    ]
    with pytest.raises(SettingsError, match="built in"):
        ws.delete_identity_kind(session=session, actor=ADMIN, key="email")
    an = person(session, "An", "an@example.com")
    session.add(Identity(profile_id=an, kind="crm_id", value="C1"))
    session.commit()
    with pytest.raises(SettingsError, match="1 profiles have a CRM number"):
        ws.delete_identity_kind(session=session, actor=ADMIN, key=kind.key)
    session.delete(session.exec(select(Identity).where(Identity.kind == "crm_id")).one())
    ws.delete_identity_kind(session=session, actor=ADMIN, key="crm_id")
    session.commit()
    assert session.exec(select(SyncRule)).first().identifier_kinds == ["email"]
    assert ws.consent_channels() == [
        ("email", "E-mail"),
        ("sms", "SMS"),
        ("push", "Push notification"),
        ("phone", "Phone call"),
    ]


# ---------------------------------------------------------------- users and roles


def test_roles_and_users(session):
    admin_user = create_user(
        session=session, actor=ADMIN, email="boss@example.com", password="long-enough-2", role="admin"
    )
    session.commit()
    me = Actor(user_id=admin_user.id, email=admin_user.email, role="admin", permissions=ADMIN.permissions)
    permissions = ws.available_permissions(session=session, actor=ADMIN)
    assert "export.identity.phone" in permissions and "settings.manage" in permissions
    role = ws.create_role(session=session, actor=me, name="Analyst", permissions=["profiles.view", "profiles.export"])
    with pytest.raises(SettingsError, match="Unknown permission"):
        ws.create_role(session=session, actor=me, name="Bad", permissions=["profiles.fly"])
    viewer_role = session.exec(select(Role).where(Role.name == "viewer")).one()
    with pytest.raises(SettingsError, match="built-in"):
        ws.update_role(session=session, actor=me, role_id=viewer_role.id, permissions=["settings.manage"])
    ws.update_role(session=session, actor=me, role_id=role.id, permissions=["profiles.view"])
    user = ws.create_user(session=session, actor=me, email="ana@example.com", password="long-enough-1", role="Analyst")
    session.commit()
    assert {r.name: n for r, n in ws.list_roles(session=session, actor=me)}["Analyst"] == 1
    with pytest.raises(SettingsError, match="give them another role"):
        ws.delete_role(session=session, actor=me, role_id=role.id)
    ws.change_role(session=session, actor=me, user_id=user.id, role="viewer")
    ws.delete_role(session=session, actor=me, role_id=role.id)
    ws.set_user_active(session=session, actor=me, user_id=user.id, active=False)
    session.commit()
    assert session.get(User, user.id).is_active is False
    with pytest.raises(SettingsError, match="your own account"):
        ws.set_user_active(session=session, actor=me, user_id=admin_user.id, active=False)
    assert [a for a, _ in audit(session)] == [
        "settings.role.create",
        "settings.role.update",
        "settings.role.delete",
        "settings.user.deactivate",
    ]


# ---------------------------------------------------------------- permissions


CHANGES = [
    lambda s, a: ws.create_field(session=s, actor=a, label="X"),
    lambda s, a: ws.update_field(session=s, actor=a, key="city", required_on_create=True),
    lambda s, a: ws.delete_field(session=s, actor=a, key="city"),
    lambda s, a: ws.reorder_fields(session=s, actor=a, keys=["city"]),
    lambda s, a: ws.create_tag_group(session=s, actor=a, name="X"),
    lambda s, a: ws.create_tag(session=s, actor=a, group_id=1, name="X"),
    lambda s, a: ws.delete_tag(session=s, actor=a, tag_id=1),
    lambda s, a: ws.create_segment(session=s, actor=a, name="X"),
    lambda s, a: ws.delete_segment(session=s, actor=a, segment_id=1),
    lambda s, a: ws.create_group(session=s, actor=a, name="X"),
    lambda s, a: ws.delete_group(session=s, actor=a, group_id=1),
    lambda s, a: ws.update_sync_rule(session=s, actor=a, auto_merge=True),
    lambda s, a: ws.create_identity_kind(session=s, actor=a, label="X"),
    lambda s, a: ws.delete_identity_kind(session=s, actor=a, key="x"),
    lambda s, a: ws.create_role(session=s, actor=a, name="X", permissions=[]),
    lambda s, a: ws.set_user_active(session=s, actor=a, user_id=1, active=False),
    lambda s, a: ws.create_user(session=s, actor=a, email="x@example.com", password="long-enough", role="viewer"),
    lambda s, a: ws.list_roles(session=s, actor=a),
]


def test_viewers_and_marketers_cannot_change_settings(session):
    for actor in (VIEWER, MARKETER):
        for change in CHANGES:
            with pytest.raises(PermissionDenied, match="settings.manage"):
                change(session, actor)
    assert audit(session) == []
    # reading the catalogues is open to every signed-in role
    assert ws.list_fields(session=session, actor=VIEWER)
    with pytest.raises(PermissionDenied):
        update_profile_fields(session=session, actor=VIEWER, profile_id=1, values={})
