"""Undo of a completed import, and what it keeps because someone changed it since (SQLite and PostgreSQL)."""

from datetime import date

import polars as pl
import pytest
import sqlalchemy as sa

from profile_ui.models import (
    AttributeProvenance,
    AuditEvent,
    Consent,
    Identity,
    ImportJob,
    Profile,
    ProfileTag,
    Segment,
    SegmentMember,
    utcnow,
)
from profile_ui.services.importing import ROW_COL, ImportOptions
from profile_ui.services.importing.segments_apply import apply_segments, segment_frame
from profile_ui.services.importing.undo import ImportUndoError, undo_import
from profile_ui.services.permissions import PermissionDenied

from .frames import (
    MARKETER,
    VIEWER,
    ensure_custom_fields,
    give_tag,
    identities_of,
    make_tag,
    new_job,
    profile,
    rule,
    run_import,
    seed_profiles,
    validated,
)


@pytest.fixture
def people(session):
    ensure_custom_fields(session)
    ids = seed_profiles(
        session,
        [
            {
                "full_name": "Ann",
                "email": "ann@x.com",
                "city": "Hanoi",
                "birthday": date(1980, 1, 2),
                "attributes": {"score": 1},
            },
            {"full_name": "Bob", "phone": "+84901", "city": "Hue"},
        ],
    )
    session.execute(
        sa.insert(AttributeProvenance).values(
            profile_id=ids[0], field_key="city", source_type="table", source_name="crm", set_at=utcnow()
        )
    )
    session.commit()
    return ids


def _tag_names(session, pid):
    from profile_ui.models import Tag

    return set(
        session.execute(
            sa.select(Tag.name).join(ProfileTag, ProfileTag.tag_id == Tag.id).where(ProfileTag.profile_id == pid)
        ).scalars()
    )


def test_undo_removes_created_profiles_and_restores_changed_fields(session, people):
    ann, bob = people
    stale = make_tag(session, "Imported", "stale")
    give_tag(session, ann, stale, source="import")
    session.commit()
    frame = validated(
        [
            {
                "email": "ann@x.com",
                "phone": "+84555",
                "city": "Saigon",
                "birthday": date(1981, 3, 4),
                "score": 9.0,
                "note": "hello",
                "tags": ["vip"],
            },
            {"email": "new@x.com", "full_name": "New", "tags": ["vip"]},
        ]
    )
    options = ImportOptions(tags_mode="replace", consent={"email": "granted"})
    job, plan = run_import(session, frame, sync=rule(session, ["email", "phone"]), options=options)
    new_id = plan.rows.filter(pl.col(ROW_COL) == 3)["profile_id"][0]
    assert profile(session, ann).city == "Saigon" and _tag_names(session, ann) == {"vip"}

    report = undo_import(session=session, actor=MARKETER, job_id=job.id)
    session.commit()
    assert report.profiles_removed == 1 and report.profiles_kept == []
    assert report.fields_restored == 4 and report.fields_kept == []
    assert profile(session, new_id) is None
    assert session.execute(sa.select(Identity).where(Identity.value == "new@x.com")).first() is None
    restored = profile(session, ann)
    assert (restored.city, restored.birthday, restored.attributes) == ("Hanoi", date(1980, 1, 2), {"score": 1})
    assert identities_of(session, ann) == {("email", "ann@x.com")}
    assert _tag_names(session, ann) == {"stale"}  # the replaced tag is back, the added one gone
    assert session.execute(sa.select(Consent).where(Consent.profile_id == ann)).first() is None
    # provenance back to what it was: the CRM's city, nothing for the others
    prov = {
        p.field_key: p
        for p in session.execute(sa.select(AttributeProvenance).where(AttributeProvenance.profile_id == ann)).scalars()
    }
    assert set(prov) == {"city"} and prov["city"].source_name == "crm"
    session.refresh(job := session.get(ImportJob, job.id))
    assert job.status == "undone" and job.undone_at is not None
    event = session.execute(sa.select(AuditEvent).where(AuditEvent.action == "import.undo")).scalar_one()
    assert event.details["profiles_removed"] == 1
    assert profile(session, bob).city == "Hue"


def test_undo_keeps_and_reports_what_someone_changed_since(session, people):
    ann, _ = people
    frame = validated(
        [{"email": "ann@x.com", "city": "Saigon", "full_name": "Annie"}, {"email": "kim@x.com", "full_name": "Kim"}]
    )
    job, plan = run_import(session, frame, sync=rule(session, ["email"]))
    kim = plan.rows.filter(pl.col(ROW_COL) == 3)["profile_id"][0]
    # a person edits Ann's city by hand, and Kim's name
    for pid, key, value in ((ann, "city", "Hai Phong"), (kim, "full_name", "Kimberly")):
        session.execute(sa.update(Profile).where(Profile.id == pid).values({key: value, "updated_at": utcnow()}))
        session.execute(
            sa.update(AttributeProvenance)
            .where(AttributeProvenance.profile_id == pid, AttributeProvenance.field_key == key)
            .values(source_type="manual", source_name=None, import_job_id=None, locked=True)
        )
    session.commit()

    report = undo_import(session=session, actor=MARKETER, job_id=job.id)
    session.commit()
    assert report.fields_kept == [
        {"profile_id": ann, "field": "city", "reason": "changed since the import (by a person's edit)"}
    ]
    assert report.profiles_kept == [{"profile_id": kim, "reason": "edited by hand since the import"}]
    assert report.fields_restored == 1
    after = profile(session, ann)
    assert (after.city, after.full_name) == ("Hai Phong", "Ann")
    assert profile(session, kim).full_name == "Kimberly"


def test_only_a_completed_import_can_be_undone_once(session, people):
    job, _plan = run_import(
        session, validated([{"email": "ann@x.com", "city": "X"}]), sync=rule(session, ["email"]), complete=False
    )
    with pytest.raises(ImportUndoError, match="only a completed import"):
        undo_import(session=session, actor=MARKETER, job_id=job.id)
    job.status = "completed"
    session.commit()
    with pytest.raises(PermissionDenied):
        undo_import(session=session, actor=VIEWER, job_id=job.id)
    undo_import(session=session, actor=MARKETER, job_id=job.id)
    session.commit()
    with pytest.raises(ImportUndoError, match="undone"):
        undo_import(session=session, actor=MARKETER, job_id=job.id)


def test_undo_of_a_segment_file(session, people):
    ann, bob = people
    gold = Segment(name="Gold")
    session.add(gold)
    session.flush()
    session.execute(sa.insert(SegmentMember).values(segment_id=gold.id, profile_id=bob, value="old", added_at=utcnow()))
    session.commit()
    sheet = pl.DataFrame(
        {
            ROW_COL: [2, 3, 4],
            "User ID": ["ann@x.com", "+84901", "ann@x.com"],
            "Segment Name": ["Gold", "Gold", "Fresh"],
            "Segment Value": ["1", "2", "3"],
        }
    )
    mapping_options = ImportOptions(segment_identifier="email")
    frame, headers = segment_frame(sheet, None, mapping_options)
    job = new_job(session, "seg.csv", kind="segments")
    apply_segments(session=session, actor=MARKETER, job=job, frame=frame, options=mapping_options, headers=headers)
    job.status = "completed"
    session.commit()
    members = lambda: set(  # noqa: E731
        session.execute(
            sa.select(Segment.name, SegmentMember.profile_id, SegmentMember.value).join(
                Segment, Segment.id == SegmentMember.segment_id
            )
        ).all()
    )
    assert members() == {("Gold", ann, "1"), ("Gold", bob, "old"), ("Fresh", ann, "3")}

    report = undo_import(session=session, actor=MARKETER, job_id=job.id)
    session.commit()
    assert members() == {("Gold", bob, "old")}
    assert report.memberships_removed == 2 and report.segments_removed == 1
    assert set(session.execute(sa.select(Segment.name)).scalars()) == {"Gold"}


def test_undo_leaves_merges_and_the_values_they_brought(session, people):
    ann, bob = people
    session.execute(sa.update(Profile).where(Profile.id == bob).values(attributes={"note": "from bob"}))
    session.commit()
    frame = validated([{"email": "ann@x.com", "phone": "+84901", "city": "Saigon"}])
    job, _plan = run_import(session, frame, sync=rule(session, ["email", "phone"], auto_merge=True))
    assert profile(session, ann).attributes == {"score": 1, "note": "from bob"}

    report = undo_import(session=session, actor=MARKETER, job_id=job.id)
    session.commit()
    assert report.merges_kept == [{"survivor": ann, "merged": bob}]
    assert report.fields_kept == [] and report.fields_restored == 1
    after = profile(session, ann)
    assert after.city == "Hanoi" and after.attributes == {"score": 1, "note": "from bob"}
    assert profile(session, bob).status == "deleted"


# ---------------------------------------------------------------- later imports and hand edits
def _import_a(session):
    """File A: three new people (e-mail and phone); returns (job, {email: profile id})."""
    frame = validated(
        [{"email": f"a{i}@x.com", "phone": f"+8490000{i}", "full_name": f"A{i}", "city": "Hue"} for i in range(3)]
    )
    job, plan = run_import(session, frame, sync=rule(session, ["email", "phone"]), file_name="a.csv")
    ids = dict(zip([f"a{i}@x.com" for i in range(3)], plan.rows.sort(ROW_COL)["profile_id"].to_list(), strict=True))
    return job, ids


def _import_b(session):
    """File B: updates two of A's people, found by phone (a new city, a new e-mail kind: none)."""
    frame = validated([{"phone": f"+8490000{i}", "city": "Da Nang"} for i in range(2)])
    job, plan = run_import(session, frame, sync=rule(session, ["phone"]), file_name="b.csv")
    assert set(plan.rows["outcome"]) == {"updated"}
    return job


def _active(session, ids):
    return {pid for pid in ids if (p := profile(session, pid)) is not None and p.status == "active"}


def test_a_b_undo_b_undo_a_removes_every_profile_a_created(session):
    ensure_custom_fields(session)
    job_a, ids = _import_a(session)
    job_b = _import_b(session)
    undo_b = undo_import(session=session, actor=MARKETER, job_id=job_b.id)
    session.commit()
    assert undo_b.fields_restored == 2 and undo_b.fields_kept == []
    assert profile(session, ids["a0@x.com"]).city == "Hue"

    report = undo_import(session=session, actor=MARKETER, job_id=job_a.id)
    session.commit()
    assert report.profiles_kept == [] and report.profiles_removed == 3
    assert _active(session, ids.values()) == set()
    assert session.execute(sa.select(Identity).where(Identity.value.like("%@x.com"))).first() is None


def test_a_b_undo_a_keeps_and_names_the_later_import(session):
    ensure_custom_fields(session)
    job_a, ids = _import_a(session)
    _import_b(session)
    report = undo_import(session=session, actor=MARKETER, job_id=job_a.id)
    session.commit()
    kept = {ids["a0@x.com"], ids["a1@x.com"]}
    assert report.profiles_kept == [
        {"profile_id": pid, "reason": "changed by the later import b.csv"} for pid in sorted(kept)
    ]
    assert report.profiles_removed == 1 and _active(session, ids.values()) == kept
    assert "2 profiles changed by the later import b.csv" in report.summary()


def test_a_hand_edit_undo_a_keeps_the_edited_profile(session):
    from profile_ui.services.profile_edit import update_profile_fields

    ensure_custom_fields(session)
    job_a, ids = _import_a(session)
    update_profile_fields(session=session, actor=MARKETER, profile_id=ids["a2@x.com"], values={"city": "Vinh"})
    session.commit()
    report = undo_import(session=session, actor=MARKETER, job_id=job_a.id)
    session.commit()
    assert report.profiles_kept == [{"profile_id": ids["a2@x.com"], "reason": "edited by hand since the import"}]
    assert _active(session, ids.values()) == {ids["a2@x.com"]}
    assert profile(session, ids["a2@x.com"]).city == "Vinh"


def test_a_b_hand_edit_undo_b_undo_a_keeps_what_the_person_did(session):
    """The edit after B is live: B's undo keeps the edited field, A's undo keeps the profile."""
    from profile_ui.services.profile_edit import update_profile_fields

    ensure_custom_fields(session)
    job_a, ids = _import_a(session)
    job_b = _import_b(session)
    update_profile_fields(session=session, actor=MARKETER, profile_id=ids["a1@x.com"], values={"full_name": "Anh"})
    session.commit()
    undo_import(session=session, actor=MARKETER, job_id=job_b.id)
    session.commit()
    report = undo_import(session=session, actor=MARKETER, job_id=job_a.id)
    session.commit()
    assert report.profiles_kept == [{"profile_id": ids["a1@x.com"], "reason": "edited by hand since the import"}]
    assert _active(session, ids.values()) == {ids["a1@x.com"]}


def test_undo_gives_back_the_earlier_updated_at_when_nothing_changed_since(session, people):
    ann, _bob = people
    before = profile(session, ann).updated_at
    job, _plan = run_import(
        session, validated([{"email": "ann@x.com", "city": "Saigon"}]), sync=rule(session, ["email"])
    )
    assert profile(session, ann).updated_at != before
    undo_import(session=session, actor=MARKETER, job_id=job.id)
    session.commit()
    session.expire_all()
    assert profile(session, ann).updated_at == before
