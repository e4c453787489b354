"""Creating profiles by hand, inline edits with locks, unlocking, identities, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from profile_ui.models import AttributeProvenance, AuditEvent, Consent, FieldDefinition, Identity, Profile, SyncRule
from profile_ui.services.permissions import BUILTIN_ROLES, Actor, PermissionDenied
from profile_ui.services.profile_edit import (
    ProfileValidationError,
    add_identity,
    create_profile,
    locked_fields,
    remove_identity,
    set_consent,
    unlock_field,
    update_profile_fields,
)
from profile_ui.services.profiles import ProfileError
from tests.unit.services.importing.frames import rule, run_import, validated

ADMIN = Actor(user_id=1, email="admin@example.com", role="admin", permissions=frozenset(BUILTIN_ROLES["admin"][1]))
MARKETER = Actor(
    user_id=2, email="marketer@example.com", role="marketer", permissions=frozenset(BUILTIN_ROLES["marketer"][1])
)
VIEWER = Actor(user_id=3, email="viewer@example.com", role="viewer", permissions=frozenset(BUILTIN_ROLES["viewer"][1]))


def create(session, values=None, identities=None, consent=None, actor=MARKETER):
    result = create_profile(
        session=session, actor=actor, values=values or {}, identities=identities or {}, consent=consent or {}
    )
    session.commit()
    return result


def events(session, action: str) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all())


@pytest.fixture
def points_field(session):
    session.add(FieldDefinition(key="points", label="Loyalty points", type="number", position=50))
    session.commit()


# ---------------------------------------------------------------- create


def test_create_a_new_profile(session, points_field):
    result = create(
        session,
        values={
            "full_name": "  Nguyễn   Văn An ",
            "member_level": "gold",
            "birthday": "12/03/1990",
            "points": "1.200",
            "city": "",
        },
        identities={"email": "An@Example.com ", "phone": "0912 345 678", "user_id": ""},
        consent={"email": "granted", "sms": ""},
    )
    assert not result.matched_existing and result.message == f"Profile {result.profile_id} created"
    profile = session.get(Profile, result.profile_id)
    assert (profile.full_name, profile.member_level, profile.birthday, profile.city) == (
        "Nguyễn Văn An",
        "Gold",
        date(1990, 3, 12),
        None,
    )
    assert profile.attributes == {"points": 1.2}
    assert profile.initial_source == "Created manually" and profile.status == "active"
    identities = session.exec(select(Identity).where(Identity.profile_id == profile.id)).all()
    assert {(i.kind, i.value, i.source_type) for i in identities} == {
        ("email", "an@example.com", "manual"),
        ("phone", "+84912345678", "manual"),
    }
    provenance = session.exec(select(AttributeProvenance).where(AttributeProvenance.profile_id == profile.id)).all()
    assert {(p.field_key, p.source_type, p.locked) for p in provenance} == {
        ("full_name", "manual", False),
        ("member_level", "manual", False),
        ("birthday", "manual", False),
        ("points", "manual", False),
    }
    assert [(c.channel, c.status) for c in session.exec(select(Consent)).all()] == [("email", "granted")]
    (event,) = events(session, "profile.create")
    assert event.object_id == str(profile.id) and event.details["identities"] == ["email", "phone"]


def test_create_refuses_missing_required_fields_and_contact(session, points_field):
    session.get(FieldDefinition, "points").required_on_create = True
    session.commit()
    with pytest.raises(ProfileValidationError) as caught:
        create(session, values={"city": "Huế"}, identities={"user_id": "U1"})
    assert caught.value.errors == {
        "full_name": "Full name is required",
        "points": "Loyalty points is required",
        "identity:email": "Enter a phone number or an e-mail address",
        "identity:phone": "Enter a phone number or an e-mail address",
    }
    assert session.exec(select(Profile)).all() == []


def test_create_refuses_unreadable_values_with_messages_per_field(session):
    with pytest.raises(ProfileValidationError) as caught:
        create(
            session,
            values={"full_name": "An", "birthday": "31/02/1990", "member_level": "Diamond", "shoe_size": "42"},
            identities={"email": "an@@example", "phone": "12"},
        )
    errors = caught.value.errors
    assert errors["identity:email"] == "'an@@example' is not a valid e-mail address"
    assert errors["identity:phone"].startswith("'12' is not a valid phone number")
    assert errors["birthday"].startswith("'31/02/1990' is not a date")
    assert errors["member_level"].startswith("'Diamond' is not one of the choices for Member level")
    assert errors["shoe_size"] == "'shoe_size' is not a field of this workspace"
    assert session.exec(select(Profile)).all() == []


def test_create_matched_by_the_sync_rule_updates_the_existing_profile(session):
    existing = create(
        session,
        values={"full_name": "Bình", "city": "Huế", "gender": "Female"},
        identities={"email": "binh@example.com"},
        consent={"sms": "denied"},
    )
    sync = session.exec(select(SyncRule)).first()
    sync.field_policies = {"gender": "never", "member_level": "fill_empty", "full_name": "fill_empty"}
    session.add(sync)
    city = session.get(AttributeProvenance, (existing.profile_id, "city"))
    city.locked = True  # as after an edit
    session.add(city)
    session.commit()

    result = create(
        session,
        values={"full_name": "Trần Thị Bình", "city": "Hà Nội", "gender": "Male", "member_level": "Silver"},
        identities={"email": "BINH@example.com", "phone": "0912000111"},
        consent={"sms": "granted"},
    )

    assert result.matched_existing and result.profile_id == existing.profile_id and result.matched_by == "email"
    assert "already exists" in result.message and "updated instead" in result.message
    assert result.changes == {"member_level": [None, "Silver"]}
    assert set(result.kept) == {"full_name", "city", "gender"}
    assert "locked" in result.kept["city"]
    profile = session.get(Profile, existing.profile_id)
    assert (profile.full_name, profile.city, profile.gender, profile.member_level) == (
        "Bình",
        "Huế",
        "Female",
        "Silver",
    )
    kinds = {i.kind: i.value for i in session.exec(select(Identity).where(Identity.profile_id == profile.id)).all()}
    assert kinds == {"email": "binh@example.com", "phone": "+84912000111"}
    assert session.get(Consent, (profile.id, "sms")).status == "granted"
    assert len(session.exec(select(Profile)).all()) == 1
    (event,) = events(session, "profile.create_matched")
    assert event.details["matched_by"] == "email" and event.details["identities_added"] == ["phone"]


def test_create_refuses_identifiers_of_two_different_profiles(session):
    a = create(session, values={"full_name": "A"}, identities={"email": "a@example.com"})
    b = create(session, values={"full_name": "B"}, identities={"phone": "0912000222"})
    with pytest.raises(ProfileValidationError) as caught:
        create(session, values={"full_name": "C"}, identities={"email": "a@example.com", "phone": "0912000222"})
    message = caught.value.errors["identity:email"]
    assert f"profile {a.profile_id}" in message and f"profile {b.profile_id}" in message
    # an identity kind outside the sync rule must still be free
    sync = session.exec(select(SyncRule)).first()
    sync.identifier_kinds = ["email"]
    session.add(sync)
    session.commit()
    with pytest.raises(ProfileValidationError) as caught:
        create(session, values={"full_name": "D"}, identities={"email": "d@example.com", "phone": "0912000222"})
    assert caught.value.errors == {"identity:phone": f"This phone already belongs to profile {b.profile_id}"}


def test_viewer_cannot_create_or_edit(session):
    with pytest.raises(PermissionDenied):
        create(session, values={"full_name": "X"}, identities={"email": "x@example.com"}, actor=VIEWER)
    made = create(session, values={"full_name": "X"}, identities={"email": "x@example.com"})
    with pytest.raises(PermissionDenied):
        update_profile_fields(session=session, actor=VIEWER, profile_id=made.profile_id, values={"city": "Huế"})
    with pytest.raises(PermissionDenied):
        add_identity(session=session, actor=VIEWER, profile_id=made.profile_id, kind="user_id", value="U9")


# ---------------------------------------------------------------- inline edit and locks


@pytest.fixture
def an(session):
    return create(
        session, values={"full_name": "Nguyễn Văn An", "city": "Huế"}, identities={"email": "an@example.com"}
    ).profile_id


def test_edit_saves_locks_and_audits(session, an, points_field):
    version = session.get(Profile, an).version
    edit = update_profile_fields(
        session=session,
        actor=MARKETER,
        profile_id=an,
        values={"city": "Hà Nội", "registered_at": "2024-05-01 09:30", "points": "15", "full_name": "Nguyễn Văn An"},
    )
    session.commit()
    assert edit.changes == {
        "city": ["Huế", "Hà Nội"],
        "registered_at": [None, "2024-05-01T09:30:00+00:00"],
        "points": [None, 15],
    }
    profile = session.get(Profile, an)
    assert profile.city == "Hà Nội" and profile.attributes == {"points": 15}
    assert locked_fields(session=session, profile_id=an) == ["city", "points", "registered_at"]
    provenance = session.get(AttributeProvenance, (an, "city"))
    assert (provenance.source_type, provenance.set_by, provenance.locked) == ("manual", MARKETER.user_id, True)
    (event,) = events(session, "profile.edit")
    assert event.details["changes"]["city"] == ["Huế", "Hà Nội"] and event.actor_email == MARKETER.email
    # what the page shows next comes with the edit: the changed fields as saved, locked, in
    # display order; the new version (the next edit is checked against it); the history line
    assert {f.key: (f.value, f.locked) for f in edit.fields} == {
        "city": ("Hà Nội", True),
        "registered_at": (profile.registered_at, True),
        "points": (15, True),
    }
    assert edit.header.version == profile.version > version and edit.header.full_name == "Nguyễn Văn An"
    assert (edit.event.action, edit.event.details) == ("profile.edit", event.details)
    # saving the same value again changes nothing
    again = update_profile_fields(session=session, actor=MARKETER, profile_id=an, values={"city": "Hà Nội"})
    assert (again.changes, again.fields, again.event) == ({}, [], None)


def test_edit_refuses_invalid_values_identities_and_emptied_required_fields(session, an):
    for values, key, message in [
        ({"birthday": "yesterday"}, "birthday", "is not a date"),
        ({"gender": "robot"}, "gender", "is not one of the choices for Gender"),
        ({"email": "new@example.com"}, "email", "is an identity and cannot be edited"),
        ({"identity:phone": "0912000333"}, "identity:phone", "add or remove it under Identity information"),
        ({"full_name": "  "}, "full_name", "is required and cannot be emptied"),
    ]:
        with pytest.raises(ProfileValidationError) as caught:
            update_profile_fields(session=session, actor=MARKETER, profile_id=an, values={"city": "Vinh", **values})
        assert message in caught.value.errors[key], values
    session.rollback()
    assert session.get(Profile, an).city == "Huế"  # nothing of a refused edit is saved
    assert locked_fields(session=session, profile_id=an) == []
    with pytest.raises(ProfileError, match="does not exist"):
        update_profile_fields(session=session, actor=MARKETER, profile_id=999_999, values={"city": "Vinh"})


def test_a_locked_value_survives_imports_until_an_admin_unlocks_it(session, an):
    update_profile_fields(session=session, actor=MARKETER, profile_id=an, values={"city": "Đà Nẵng"})
    session.commit()
    sync = rule(session, ["email"])
    run_import(session, validated([{"email": "an@example.com", "city": "Cần Thơ", "member_level": "Gold"}]), sync=sync)
    session.expire_all()
    profile = session.get(Profile, an)
    assert (profile.city, profile.member_level) == ("Đà Nẵng", "Gold")

    with pytest.raises(PermissionDenied):
        unlock_field(session=session, actor=MARKETER, profile_id=an, field_key="city")
    assert unlock_field(session=session, actor=ADMIN, profile_id=an, field_key="city") is True
    assert unlock_field(session=session, actor=ADMIN, profile_id=an, field_key="city") is False
    session.commit()
    (event,) = events(session, "profile.unlock")
    assert event.details == {"field": "city"} and event.actor_email == ADMIN.email

    run_import(session, validated([{"email": "an@example.com", "city": "Cần Thơ"}]), sync=sync)
    session.expire_all()
    assert session.get(Profile, an).city == "Cần Thơ"


def test_set_consent(session, an):
    assert set_consent(session=session, actor=MARKETER, profile_id=an, channel="push", status="Denied") is True
    assert set_consent(session=session, actor=MARKETER, profile_id=an, channel="push", status="denied") is False
    with pytest.raises(ProfileValidationError):
        set_consent(session=session, actor=MARKETER, profile_id=an, channel="fax", status="granted")
    session.commit()
    assert session.get(Consent, (an, "push")).status == "denied"
    assert [e.details["consent"] for e in events(session, "profile.consent")] == [{"push": [None, "denied"]}]


# ---------------------------------------------------------------- identities


def test_add_and_remove_identities(session, an):
    other = create(session, values={"full_name": "Other"}, identities={"phone": "0912000444"}).profile_id
    added = add_identity(session=session, actor=MARKETER, profile_id=an, kind="phone", value="0912 000 555")
    session.commit()
    assert (added.value, added.source_type, added.source_name) == ("+84912000555", "manual", MARKETER.email)

    for kind, value, message in [
        ("phone", "+84912000444", f"Phone +84912000444 already belongs to profile {other}"),
        ("email", "AN@example.com", "This profile already has e-mail an@example.com"),
        ("email", "not an email", "is not a valid e-mail address"),
        ("fax", "123", "'fax' is not an identity kind"),
    ]:
        with pytest.raises(ProfileValidationError) as caught:
            add_identity(session=session, actor=MARKETER, profile_id=an, kind=kind, value=value)
        assert message in caught.value.errors[f"identity:{kind}"]

    remove_identity(session=session, actor=MARKETER, profile_id=an, identity_id=added.id)
    session.commit()
    (email,) = session.exec(select(Identity).where(Identity.profile_id == an)).all()
    with pytest.raises(ProfileValidationError, match="only identity"):
        remove_identity(session=session, actor=MARKETER, profile_id=an, identity_id=email.id)
    with pytest.raises(ProfileError, match="is not on profile"):
        remove_identity(session=session, actor=MARKETER, profile_id=other, identity_id=email.id)
    assert [
        (e.action, e.details["kind"])
        for e in session.exec(
            select(AuditEvent).where(AuditEvent.action.like("identity.%")).order_by(AuditEvent.id)
        ).all()
    ] == [("identity.add", "phone"), ("identity.remove", "phone")]


def test_create_matching_a_deactivated_or_deleted_profile(session):
    made = create(session, values={"full_name": "Dũng"}, identities={"phone": "0912000777"})
    profile = session.get(Profile, made.profile_id)
    profile.status = "deactivated"
    session.add(profile)
    session.commit()
    again = create(session, values={"full_name": "Dũng", "city": "Vinh"}, identities={"phone": "+84912000777"})
    assert again.matched_existing and "deactivated" in again.message
    profile.status = "deleted"
    session.add(profile)
    session.commit()
    with pytest.raises(ProfileValidationError) as caught:
        create(session, values={"full_name": "Dũng"}, identities={"phone": "0912000777", "email": "d@example.com"})
    assert caught.value.errors == {
        "identity:phone": f"Matches profile {made.profile_id}, which is in the trash: restore it instead"
    }
