"""Dry run and apply of validated frames: outcomes, field diffs, merges, policies, locks, tags,
consent, segment files (SQLite and PostgreSQL)."""

from datetime import date

import polars as pl
import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from profile_ui.models import (
    AttributeProvenance,
    AuditEvent,
    Consent,
    FieldDefinition,
    Identity,
    ImportRowResult,
    LinkedObject,
    Profile,
    ProfileTag,
    Segment,
    SegmentMember,
    Tag,
    TagGroup,
    utcnow,
)
from profile_ui.services.importing import ROW_COL, ImportOptions
from profile_ui.services.importing.apply import apply_import
from profile_ui.services.importing.reports import ImportPlanError
from profile_ui.services.importing.results import store_row_results
from profile_ui.services.importing.segments_apply import apply_segments, plan_segments, segment_frame
from profile_ui.services.permissions import PermissionDenied

from .frames import (
    MARKETER,
    VIEWER,
    dry_run,
    ensure_custom_fields,
    give_tag,
    identities_of,
    lock_field,
    make_tag,
    mapping_for,
    new_job,
    outcomes,
    profile,
    rule,
    run_import,
    seed_profiles,
    validated,
)


@pytest.fixture
def people(session):
    """Ann (email), Bob (phone, score 3), Cy (user id u3), each with a name and a city."""
    ensure_custom_fields(session)
    ids = seed_profiles(
        session,
        [
            {"full_name": "Ann", "email": "ann@x.com", "city": "Hanoi"},
            {"full_name": "Bob", "phone": "+84901", "city": "Hue", "attributes": {"score": 3}},
            {"full_name": "Cy", "user_id": "u3", "city": "Da Nang"},
        ],
    )
    session.commit()
    return ids


def _changes(plan, row):
    return next(r["changes"] for r in plan.page(limit=1000) if r["row_number"] == row)


def _errors(plan, row):
    return next(r["errors"] for r in plan.page(limit=1000) if r["row_number"] == row)


def _counts(session) -> dict[str, int]:
    return {
        t.name: session.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
        for t in SQLModel.metadata.sorted_tables
    }


# ---------------------------------------------------------------- outcomes
def test_new_updated_unchanged_invalid(session, people):
    ann, bob, _cy = people
    sync = rule(session, ["user_id", "email", "phone"])
    frame = validated(
        [
            {"email": "ann@x.com", "city": "Saigon", "score": 7.0},  # updated
            {"phone": "+84901", "full_name": "Bob", "city": "Hue"},  # unchanged
            {"email": "dan@x.com", "full_name": "Dan", "birthday": date(1990, 5, 1)},  # new
            {"email": "nope", "errors": [("Email", "not a valid e-mail address")]},  # invalid
        ]
    )
    job, plan = run_import(session, frame, sync=sync)
    assert outcomes(plan) == {2: "updated", 3: "unchanged", 4: "new", 5: "invalid"}
    changes = _changes(plan, 2)
    assert changes.pop("@updated_at")[1] == plan._work.now.isoformat()  # for undo (see undo.py)
    assert changes == {"city": ["Hanoi", "Saigon"], "score": [None, 7]}
    assert _errors(plan, 5) == [{"column": "Email", "message": "not a valid e-mail address"}]
    assert {k: plan.totals[k] for k in ("rows", "created", "updated", "unchanged", "invalid", "conflicts")} == {
        "rows": 4,
        "created": 1,
        "updated": 1,
        "unchanged": 1,
        "invalid": 1,
        "conflicts": 0,
    }

    assert profile(session, ann).city == "Saigon" and profile(session, ann).attributes == {"score": 7}
    dan_id = plan.rows.filter(pl.col(ROW_COL) == 4)["profile_id"][0]
    dan = profile(session, dan_id)
    assert (dan.full_name, dan.birthday, dan.initial_source, dan.status) == (
        "Dan",
        date(1990, 5, 1),
        "people.xlsx",
        "active",
    )
    identity = session.execute(sa.select(Identity).where(Identity.value == "dan@x.com")).scalar_one()
    assert (identity.profile_id, identity.kind, identity.source_type, identity.source_name) == (
        dan_id,
        "email",
        "file",
        "people.xlsx",
    )

    # provenance: every value written to an existing profile says it came from this file
    # and job; a created profile's values are its initial source's (no rows needed)
    prov = {(p.profile_id, p.field_key): p for p in session.execute(sa.select(AttributeProvenance)).scalars()}
    assert {k for k in prov if k[0] in (ann, dan_id)} == {(ann, "city"), (ann, "score")}
    assert all(p.source_name == "people.xlsx" and p.import_job_id == job.id for p in prov.values())
    assert (bob, "city") not in prov  # unchanged: nothing written

    stored = session.execute(
        sa.select(ImportRowResult.row_number, ImportRowResult.outcome).where(ImportRowResult.job_id == job.id)
    ).all()
    assert dict(stored) == outcomes(plan)
    session.refresh(job)
    assert job.counts["created"] == 1 and job.counts["rows"] == 4
    audit = session.execute(sa.select(AuditEvent).where(AuditEvent.action == "import.apply")).scalar_one()
    assert audit.object_id == str(job.id) and audit.details["counts"]["updated"] == 1


def test_rows_of_one_person_make_one_profile(session, people):
    sync = rule(session, ["email", "phone"])
    frame = validated(
        [
            {"email": "eve@x.com", "full_name": "Eve", "city": "Hue"},
            {"email": "eve@x.com", "phone": "+84999", "city": "Hanoi"},  # same person, later city wins
            {"phone": "+84999", "score": 5.0},  # same person through the phone
        ]
    )
    _job, plan = run_import(session, frame, sync=sync)
    assert set(outcomes(plan).values()) == {"new"}
    assert plan.totals["created"] == 1 and plan.totals["rows_new"] == 3
    (eve_id,) = set(plan.rows["profile_id"].to_list())
    eve = profile(session, eve_id)
    assert (eve.full_name, eve.city, eve.attributes) == ("Eve", "Hanoi", {"score": 5})
    assert identities_of(session, eve_id) == {("email", "eve@x.com"), ("phone", "+84999")}


def test_a_second_import_of_the_same_file_changes_nothing(session, people):
    sync = rule(session, ["email"])
    frame = validated(
        [
            {
                "email": "new@x.com",
                "full_name": "New",
                "since": date(2020, 1, 2),
                "vip": True,
                "interests": ["golf", "tea"],
            }
        ]
    )
    run_import(session, frame, sync=sync)
    _job, again = run_import(session, frame, sync=sync, file_name="again.xlsx")
    assert outcomes(again) == {2: "unchanged"}
    assert again.totals["created"] == 0


def test_match_by_each_identifier_in_rule_order(session, people):
    ann, bob, cy = people
    sync = rule(session, ["user_id", "email", "phone"])
    frame = validated(
        [{"email": "ann@x.com", "note": "a"}, {"phone": "+84901", "note": "b"}, {"user_id": "u3", "note": "c"}]
    )
    _job, plan = run_import(session, frame, sync=sync)
    assert dict(plan.rows.select(ROW_COL, "profile_id").iter_rows()) == {2: ann, 3: bob, 4: cy}
    assert [profile(session, p).attributes["note"] for p in (ann, bob, cy)] == ["a", "b", "c"]


def test_identifiers_outside_the_rule_are_stored_not_matched(session, people):
    ann, bob, _ = people
    sync = rule(session, ["email"])
    frame = validated(
        [
            {"email": "ann@x.com", "phone": "+84901"},  # Bob's phone: not Ann's to take
            {"email": "ann@x.com", "phone": "+84777"},
        ]
    )
    _job, plan = run_import(session, frame, sync=sync)
    assert outcomes(plan) == {2: "updated", 3: "updated"}
    assert identities_of(session, ann) == {("email", "ann@x.com"), ("phone", "+84777")}
    assert identities_of(session, bob) == {("phone", "+84901")}
    assert _changes(plan, 2)["@not_added"] == [["phone", "+84901", bob]]


def test_dry_run_writes_nothing(session, people):
    sync = rule(session, ["email", "phone"], auto_merge=True)
    group_tag = make_tag(session, "Campaign", "Spring")
    session.commit()
    before = _counts(session)
    frame = validated(
        [
            {"email": "ann@x.com", "city": "Saigon", "tags": ["vip"]},
            {"email": "zed@x.com", "full_name": "Zed"},
            {"email": "ann@x.com", "phone": "+84901"},  # merges Ann and Bob
        ]
    )
    plan = dry_run(session, frame, sync=sync, options=ImportOptions(consent={"email": "granted"}, tag_ids=[group_tag]))
    assert outcomes(plan) == {2: "merged", 3: "new", 4: "merged"}
    assert plan.new_tags == ["vip"]
    session.rollback()
    assert _counts(session) == before


# ---------------------------------------------------------------- conflicts and merges
def test_conflict_is_held_when_auto_merge_is_off(session, people):
    ann, bob, _ = people
    sync = rule(session, ["email", "phone"], auto_merge=False)
    frame = validated(
        [{"email": "ann@x.com", "phone": "+84901", "city": "Nowhere"}, {"email": "fay@x.com", "full_name": "Fay"}]
    )
    _job, plan = run_import(session, frame, sync=sync)
    assert outcomes(plan) == {2: "conflict", 3: "new"}
    assert plan.totals["conflicts"] == 1
    message = _errors(plan, 2)[0]["message"]
    assert f"profile {ann} by email ann@x.com" in message and f"profile {bob} by phone +84901" in message
    assert profile(session, ann).city == "Hanoi" and profile(session, bob).city == "Hue"
    assert profile(session, bob).status == "active"
    assert identities_of(session, ann) == {("email", "ann@x.com")}


def test_conflict_is_merged_when_the_rule_allows(session, people):
    ann, bob, _ = people
    sync = rule(session, ["email", "phone"], auto_merge=False)
    seg = Segment(name="Loyal")
    session.add(seg)
    session.flush()
    session.execute(sa.insert(SegmentMember).values(segment_id=seg.id, profile_id=bob, value="yes", added_at=utcnow()))
    session.execute(sa.insert(Consent).values(profile_id=bob, channel="sms", status="granted", updated_at=utcnow()))
    session.execute(
        sa.insert(LinkedObject).values(profile_id=bob, object_type="ticket", name="T-1", created_at=utcnow())
    )
    give_tag(session, bob, make_tag(session, "Manual", "Friend"))
    session.commit()
    frame = validated([{"email": "ann@x.com", "phone": "+84901", "full_name": "Ann B"}])
    _job, plan = run_import(session, frame, sync=sync, options=ImportOptions(auto_merge=True))
    assert outcomes(plan) == {2: "merged"}
    assert plan.totals["merged"] == 1
    survivor, loser = min(ann, bob), max(ann, bob)
    changes = _changes(plan, 2)
    assert changes["@merged"] == [loser] and changes["full_name"] == ["Ann", "Ann B"]
    assert changes["score"] == [None, 3]  # a value only the merged profile had moves over

    kept = profile(session, survivor)
    assert kept.full_name == "Ann B" and kept.attributes == {"score": 3} and kept.status == "active"
    gone = profile(session, loser)
    assert gone.status == "deleted" and gone.deleted_reason == f"merged into {survivor}"
    assert identities_of(session, survivor) == {("email", "ann@x.com"), ("phone", "+84901")}
    assert identities_of(session, loser) == set()
    owners = lambda model: set(session.execute(sa.select(model.profile_id)).scalars())  # noqa: E731
    assert owners(SegmentMember) == owners(Consent) == owners(LinkedObject) == owners(ProfileTag) == {survivor}
    merge = session.execute(sa.select(AuditEvent).where(AuditEvent.action == "profile.merge")).scalar_one()
    assert merge.details["survivor"] == survivor and merge.details["merged"] == loser


def test_a_row_matching_a_profile_in_the_trash_is_skipped(session, people):
    ann, _, _ = people
    session.execute(sa.update(Profile).where(Profile.id == ann).values(status="deleted"))
    session.commit()
    _job, plan = run_import(session, validated([{"email": "ann@x.com", "city": "X"}]), sync=rule(session, ["email"]))
    assert outcomes(plan) == {2: "skipped"}
    assert "trash" in _errors(plan, 2)[0]["message"]
    assert profile(session, ann).city == "Hanoi"


# ---------------------------------------------------------------- merge policies and locks
@pytest.mark.parametrize(
    "policy, city, score",
    [
        ("overwrite", "Saigon", 9),  # the file wins
        ("fill_empty", "Hue", 3),  # only empty fields are filled: Bob has both
        ("never", "Hue", 3),
    ],
)
def test_merge_policy_from_the_sync_rule(session, people, policy, city, score):
    _, bob, _ = people
    sync = rule(session, ["phone"], default_policy=policy)
    frame = validated([{"phone": "+84901", "city": "Saigon", "score": 9.0, "note": "new note"}])
    _job, plan = run_import(session, frame, sync=sync)
    bob_now = profile(session, bob)
    assert (bob_now.city, bob_now.attributes.get("score")) == (city, score)
    # an empty field is filled by overwrite and fill_empty alike, never by "never"
    assert bob_now.attributes.get("note") == (None if policy == "never" else "new note")
    assert outcomes(plan) == {2: "unchanged" if policy == "never" else "updated"}


def test_per_field_policy_from_options_beats_the_rule(session, people):
    ann, _, _ = people
    sync = rule(session, ["email"], default_policy="overwrite", field_policies={"city": "never", "full_name": "never"})
    frame = validated([{"email": "ann@x.com", "city": "Saigon", "full_name": "Annie"}])
    run_import(session, frame, sync=sync, options=ImportOptions(field_policies={"city": "overwrite"}))
    assert (profile(session, ann).city, profile(session, ann).full_name) == ("Saigon", "Ann")


def test_a_locked_field_is_never_changed_and_the_plan_says_so(session, people):
    ann, _, _ = people
    lock_field(session, ann, "city")
    session.commit()
    frame = validated([{"email": "ann@x.com", "city": "Saigon", "full_name": "Annie"}])
    _job, plan = run_import(session, frame, sync=rule(session, ["email"]))
    changes = _changes(plan, 2)
    assert changes["@locked"] == {"city": ["Hanoi", "Saigon"]}
    assert "city" not in changes and changes["full_name"] == ["Ann", "Annie"]
    assert profile(session, ann).city == "Hanoi"
    prov = session.get(AttributeProvenance, (ann, "city"))
    assert prov.locked and prov.source_type == "manual"


# ---------------------------------------------------------------- required fields, permission
def test_required_on_create_makes_a_new_row_invalid_but_not_an_update(session, people):
    _ann, _, _ = people
    field = session.get(FieldDefinition, "city")
    field.required_on_create = True
    session.commit()
    frame = validated(
        [
            {"email": "new@x.com", "full_name": "New"},  # no city: cannot be created
            {"email": "ann@x.com", "note": "fine"},
        ]
    )  # update: not required
    _job, plan = run_import(session, frame, sync=rule(session, ["email"]))
    assert outcomes(plan) == {2: "invalid", 3: "updated"}
    assert _errors(plan, 2) == [{"column": "City", "message": "City is required to create a new profile"}]
    assert session.execute(sa.select(Identity).where(Identity.value == "new@x.com")).first() is None


def test_importing_needs_the_import_permission(session, people):
    frame = validated([{"email": "x@x.com", "full_name": "X"}])
    with pytest.raises(PermissionDenied):
        dry_run(session, frame, sync=rule(session, ["email"]), actor=VIEWER)
    with pytest.raises(PermissionDenied):
        apply_import(
            session=session,
            actor=VIEWER,
            job=new_job(session),
            frame=frame,
            mapping=mapping_for(frame),
            options=ImportOptions(),
            sync_rule=rule(session, ["email"]),
        )


# ---------------------------------------------------------------- tags and consent
def _tags(session, profile_id) -> set[str]:
    return set(
        session.execute(
            sa.select(Tag.name).join(ProfileTag, ProfileTag.tag_id == Tag.id).where(ProfileTag.profile_id == profile_id)
        ).scalars()
    )


def test_tags_column_append_keeps_existing_tags(session, people):
    ann, _, _ = people
    give_tag(session, ann, make_tag(session, "Imported", "old"), source="import")
    session.commit()
    frame = validated(
        [{"email": "ann@x.com", "tags": ["vip", "2024"]}, {"email": "gil@x.com", "full_name": "Gil", "tags": ["vip"]}]
    )
    _job, plan = run_import(session, frame, sync=rule(session, ["email"]), options=ImportOptions(tags_mode="append"))
    assert _tags(session, ann) == {"old", "vip", "2024"}
    gil = plan.rows.filter(pl.col(ROW_COL) == 3)["profile_id"][0]
    assert _tags(session, gil) == {"vip"}
    group = session.execute(sa.select(TagGroup).where(TagGroup.name == "Imported")).scalar_one()
    assert set(session.execute(sa.select(Tag.name).where(Tag.group_id == group.id)).scalars()) == {"old", "vip", "2024"}


def test_tags_column_replace_respects_each_tags_policy(session, people):
    ann, _, _ = people
    names = {
        "by_import": ("import", None),
        "batch_overwrite": ("manual", "overwrite"),
        "batch_ignore": ("manual", "ignore"),
        "hand_made": ("manual", None),
    }
    for name, (source, policy) in names.items():
        give_tag(session, ann, make_tag(session, "Imported", name), source=source, policy=policy)
    other_group = make_tag(session, "Other", "elsewhere")
    give_tag(session, ann, other_group, source="import")
    session.commit()
    frame = validated([{"email": "ann@x.com", "tags": ["vip"]}])
    _job, plan = run_import(session, frame, sync=rule(session, ["email"]), options=ImportOptions(tags_mode="replace"))
    # data wins over import tags and batch tags marked overwrite; "ignore" and hand-made ones stay;
    # tags of other groups are not this column's business
    assert _tags(session, ann) == {"vip", "batch_ignore", "hand_made", "elsewhere"}
    removed = {row[1] for row in _changes(plan, 2)["@tags_removed"]}
    assert removed == {""} and len(_changes(plan, 2)["@tags_removed"]) == 2


def test_an_empty_tags_cell_leaves_tags_alone_even_in_replace_mode(session, people):
    ann, _, _ = people
    give_tag(session, ann, make_tag(session, "Imported", "keep"), source="import")
    session.commit()
    frame = validated([{"email": "ann@x.com", "tags": None, "note": "x"}])
    run_import(session, frame, sync=rule(session, ["email"]), options=ImportOptions(tags_mode="replace"))
    assert _tags(session, ann) == {"keep"}


def test_whole_file_tags_and_consent(session, people):
    ann, bob, _ = people
    spring = make_tag(session, "Campaign", "Spring")
    session.execute(sa.insert(Consent).values(profile_id=bob, channel="email", status="denied", updated_at=utcnow()))
    session.commit()
    frame = validated([{"email": "ann@x.com"}, {"phone": "+84901"}, {"email": "hal@x.com", "full_name": "Hal"}])
    options = ImportOptions(tag_ids=[spring], tag_value="2024", consent={"email": "granted", "sms": "denied"})
    _job, plan = run_import(session, frame, sync=rule(session, ["email", "phone"]), options=options)
    hal = plan.rows.filter(pl.col(ROW_COL) == 4)["profile_id"][0]
    for pid in (ann, bob, hal):
        assert (
            session.execute(
                sa.select(ProfileTag.value).where(ProfileTag.profile_id == pid, ProfileTag.tag_id == spring)
            ).scalar_one()
            == "2024"
        )
        consent = dict(
            session.execute(sa.select(Consent.channel, Consent.status).where(Consent.profile_id == pid)).all()
        )
        assert consent == {"email": "granted", "sms": "denied"}
    assert _changes(plan, 3)["@consent"] == {"email": ["denied", "granted"], "sms": [None, "denied"]}
    assert (
        session.execute(
            sa.select(Consent.source).where(Consent.profile_id == ann, Consent.channel == "email")
        ).scalar_one()
        == "people.xlsx"
    )


def test_unknown_whole_file_tag_is_refused(session, people):
    with pytest.raises(ImportPlanError, match="tag 999 does not exist"):
        dry_run(
            session,
            validated([{"email": "ann@x.com"}]),
            sync=rule(session, ["email"]),
            options=ImportOptions(tag_ids=[999]),
        )


def test_apply_replaces_a_stored_dry_run_preview(session, people):
    sync = rule(session, ["email"])
    frame = validated([{"email": "ann@x.com", "city": "Saigon"}])
    job = new_job(session)
    store_row_results(session=session, job_id=job.id, plan=dry_run(session, frame, sync=sync))
    apply_import(
        session=session,
        actor=MARKETER,
        job=job,
        frame=frame,
        mapping=mapping_for(frame),
        options=ImportOptions(),
        sync_rule=sync,
    )
    session.commit()
    rows = session.execute(sa.select(ImportRowResult.row_number).where(ImportRowResult.job_id == job.id)).all()
    assert rows == [(2,)]


# ---------------------------------------------------------------- segment files
def test_segment_file_creates_segments_and_memberships(session, people):
    ann, bob, cy = people
    gold = Segment(name="Gold")
    session.add(gold)
    session.flush()
    session.execute(sa.insert(SegmentMember).values(segment_id=gold.id, profile_id=bob, value="old", added_at=utcnow()))
    session.commit()
    sheet = pl.DataFrame(
        {
            ROW_COL: [2, 3, 4, 5, 6],
            "User ID": ["u3", "u3", "nobody", None, "u3"],
            "Segment Name": ["Gold", "Platinum", "Gold", "Gold", "Gold"],
            "Segment Value": ["10", "x", "1", "2", "11"],
        }
    )
    options = ImportOptions(segment_identifier="user_id")
    frame, headers = segment_frame(sheet, None, options)
    preview = plan_segments(session=session, actor=MARKETER, frame=frame, options=options, headers=headers)
    assert outcomes(preview) == {2: "skipped", 3: "new", 4: "invalid", 5: "invalid", 6: "new"}
    assert _errors(preview, 4) == [{"column": "User ID", "message": "no profile has this user_id: nobody"}]
    assert preview.totals["segments_created"] == 1

    job = new_job(session, "segments.csv", kind="segments")
    apply_segments(session=session, actor=MARKETER, job=job, frame=frame, options=options, headers=headers)
    session.commit()
    members = set(
        session.execute(
            sa.select(Segment.name, SegmentMember.profile_id, SegmentMember.value).join(
                Segment, Segment.id == SegmentMember.segment_id
            )
        ).all()
    )
    assert members == {("Gold", bob, "old"), ("Gold", cy, "11"), ("Platinum", cy, "x")}
    assert (
        session.execute(
            sa.select(sa.func.count()).select_from(ImportRowResult).where(ImportRowResult.job_id == job.id)
        ).scalar_one()
        == 5
    )

    # by e-mail, updating a value
    sheet2 = pl.DataFrame({ROW_COL: [2], "Email": [" ANN@x.com "], "Segment": ["Gold"], "Value": ["7"]})
    options2 = ImportOptions(segment_identifier="email")
    mapping = mapping_for(pl.DataFrame())
    mapping.columns = {"Email": "identity:email", "Segment": "segment_name", "Value": "segment_value"}
    frame2, headers2 = segment_frame(sheet2, mapping, options2)
    plan2 = apply_segments(
        session=session,
        actor=MARKETER,
        job=new_job(session, "s2.csv", kind="segments"),
        frame=frame2,
        options=options2,
        headers=headers2,
    )
    assert outcomes(plan2) == {2: "new"}
    session.commit()
    assert session.execute(sa.select(SegmentMember.value).where(SegmentMember.profile_id == ann)).scalar_one() == "7"
