"""Membership sync review: a member file against a group -> invite / update / missing
proposals and their actions (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from profile_ui.models import AuditEvent, Group, GroupMembership, Identity, ImportJob, ImportRowResult, Profile
from profile_ui.services.importing import ImportMapping
from profile_ui.services.importing import membership as ms
from profile_ui.services.permissions import BUILTIN_ROLES, Actor, PermissionDenied

from .frames import MARKETER, VIEWER, lock_field, seed_profiles

ADMIN = Actor(user_id=None, email="admin@example.com", role="admin", permissions=frozenset(BUILTIN_ROLES["admin"][1]))
HEADERS = ["Email", "Full name", "City", "Status"]
MAPPING = ImportMapping(
    columns={"Email": "identity:email", "Full name": "full_name", "City": "city", "Status": None}, identifiers=["email"]
)


@pytest.fixture
def sent(monkeypatch):
    """E-mails the service sends (to, subject), instead of SMTP."""
    mails: list[tuple[str, str]] = []
    monkeypatch.setattr(ms.notify, "send_email", lambda *, to, subject, body: mails.append((to, subject)) or True)
    return mails


@pytest.fixture
def world(session):
    """A group with Ann (active, moves city), Bob and Cy (active, not in the files), Dee
    (deactivated), Eve (no membership) and Ivy (invited, not in the files)."""
    ids = seed_profiles(
        session,
        [
            {"full_name": "Ann", "email": "ann@x.com", "city": "Hanoi"},
            {"full_name": "Bob", "email": "bob@x.com", "city": "Hue"},
            {"full_name": "Cy", "email": "cy@x.com", "city": "Hue"},
            {"full_name": "Dee", "email": "dee@x.com", "city": "Vinh"},
            {"full_name": "Eve", "email": "eve@x.com", "city": "Vinh"},
            {"full_name": "Ivy", "email": "ivy@x.com", "city": "Vinh"},
        ],
    )
    group = Group(name=f"Club {uuid.uuid4().hex[:6]}")
    session.add(group)
    session.flush()
    ann, bob, cy, dee, _eve, ivy = ids
    for pid, state in ((ann, "active"), (bob, "active"), (cy, "active"), (dee, "deactivated"), (ivy, "invited")):
        session.add(GroupMembership(group_id=group.id, profile_id=pid, state=state))
    session.commit()
    return dict(zip(("ann", "bob", "cy", "dee", "eve", "ivy"), ids)) | {"group": group.id}


def _job(session, tmp_path: Path, group_id: int, rows: list[list[str]], name: str = "members.csv"):
    path = tmp_path / f"{uuid.uuid4().hex[:6]}-{name}"
    with open(path, "w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows([HEADERS, *rows])
    job = ImportJob(
        batch_id=str(uuid.uuid4()),
        kind="membership",
        group_id=group_id,
        file_name=name,
        stored_path=str(path),
        status="awaiting_confirmation",
        dry_run=True,
        mapping=MAPPING.to_json(),
        options={},
    )
    session.add(job)
    session.commit()
    return job.id


def _state(session, group_id: int, profile_id: int) -> str | None:
    return session.execute(
        select(GroupMembership.state).where(
            GroupMembership.group_id == group_id, GroupMembership.profile_id == profile_id
        )
    ).scalar()


def _keys(review: dict, section: str, email: str) -> list[str]:
    return [i["key"] for i in review[section] if i["email"] == email]


FIRST_FILE = [
    ["ann@x.com", "Ann", "Saigon", "active"],  # member, city differs -> update
    ["dee@x.com", "Dee", "Vinh", "inactive"],  # deactivated, stays so
    ["eve@x.com", "Eve", "Vinh", ""],  # profile, no membership -> invite
    ["new@x.com", "Nguyen New", "Hue", "active"],  # no profile -> invite (created)
]


def test_review_lists_invites_updates_and_missing(session, world, tmp_path):
    job_id = _job(session, tmp_path, world["group"], FIRST_FILE)
    review = ms.prepare_review(session=session, actor=MARKETER, job_id=job_id)
    session.commit()
    assert sorted(i["email"] for i in review["invite"]) == ["eve@x.com", "new@x.com"]
    new = next(i for i in review["invite"] if i["email"] == "new@x.com")
    assert new["profile_id"] is None and new["name"] == "Nguyen New"
    [update] = review["update"]
    assert update["profile_id"] == world["ann"] and update["diff"] == [["City", "Hanoi", "Saigon"]]
    assert sorted(i["email"] for i in review["missing"]) == ["bob@x.com", "cy@x.com", "ivy@x.com"]
    assert ms.review_counts(review)["missing"] == {"total": 3, "pending": 3}
    page, total = ms.review_page(review, "missing", offset=1, limit=1)
    assert total == 3 and len(page) == 1
    # nothing changed yet; stored on the job, read back as is
    assert session.get(Profile, world["ann"]).city == "Hanoi"
    assert ms.get_review(session=session, actor=MARKETER, job_id=job_id)["update"] == review["update"]
    assert session.execute(select(AuditEvent.action).where(AuditEvent.action == "membership.review")).scalar()


def test_invites_create_profiles_set_invited_and_send_mail(session, world, tmp_path, sent):
    job_id = _job(session, tmp_path, world["group"], FIRST_FILE)
    ms.prepare_review(session=session, actor=MARKETER, job_id=job_id)
    result = ms.send_invites(session=session, actor=MARKETER, job_id=job_id, keys=None)
    assert sent == []  # only once the transaction commits
    session.commit()
    assert (result.invited, result.emailed, result.without_email) == (2, 2, 0)
    assert sorted(to for to, _ in sent) == ["eve@x.com", "new@x.com"]
    assert all("You are invited to join Club" in subject for _, subject in sent)
    new_id = session.execute(select(Identity.profile_id).where(Identity.value == "new@x.com")).scalar()
    assert session.get(Profile, new_id).full_name == "Nguyen New"
    row = session.get(GroupMembership, (world["group"], new_id))
    assert row.state == "invited" and row.invited_at is not None
    assert _state(session, world["group"], world["eve"]) == "invited"
    # the engine ran as its own job with its row results; Ann was not touched by the invite
    child = session.exec(select(ImportJob).where(ImportJob.id != job_id)).one()
    assert child.kind == "membership" and child.status == "completed"
    assert child.options["membership_of"] == job_id
    assert session.execute(select(ImportRowResult.outcome).where(ImportRowResult.job_id == child.id)).scalar() == "new"
    assert session.get(Profile, world["ann"]).city == "Hanoi"
    review = ms.get_review(session=session, actor=MARKETER, job_id=job_id)
    assert {i["done"] for i in review["invite"]} == {"invited"}
    assert next(i for i in review["invite"] if i["email"] == "new@x.com")["profile_id"] == new_id
    with pytest.raises(ms.MembershipError, match="at least one"):
        ms.send_invites(session=session, actor=MARKETER, job_id=job_id, keys=None)
    event = session.execute(select(AuditEvent).where(AuditEvent.action == "membership.invite")).scalar_one()
    assert event.details["count"] == 2 and event.details["emailed"] == 2


def test_update_applies_approved_diffs_and_respects_locked_fields(session, world, tmp_path):
    lock_field(session, world["bob"], "city")
    session.commit()
    job_id = _job(
        session,
        tmp_path,
        world["group"],
        [
            ["ann@x.com", "Ann", "Saigon", "active"],
            ["bob@x.com", "Bob B", "Da Lat", "active"],  # city locked: only the name changes
            ["cy@x.com", "Cy", "Can Tho", "active"],  # not approved
            ["ivy@x.com", "Ivy", "Vinh", "active"],
        ],
    )
    review = ms.prepare_review(session=session, actor=MARKETER, job_id=job_id)
    bob = next(i for i in review["update"] if i["profile_id"] == world["bob"])
    assert bob["diff"] == [["Full name", "Bob", "Bob B"]]
    updated = ms.apply_updates(
        session=session,
        actor=MARKETER,
        job_id=job_id,
        keys=_keys(review, "update", "ann@x.com") + _keys(review, "update", "bob@x.com"),
    )
    session.commit()
    assert updated == 2
    assert session.get(Profile, world["ann"]).city == "Saigon"
    assert (session.get(Profile, world["bob"]).full_name, session.get(Profile, world["bob"]).city) == ("Bob B", "Hue")
    assert session.get(Profile, world["cy"]).city == "Hue"
    done = {i["email"]: i["done"] for i in ms.get_review(session=session, actor=MARKETER, job_id=job_id)["update"]}
    assert done == {"ann@x.com": "updated", "bob@x.com": "updated", "cy@x.com": ""}
    with pytest.raises(PermissionDenied):
        ms.apply_updates(session=session, actor=VIEWER, job_id=job_id, keys=None)


def test_missing_members_deactivated_removed_deleted_then_reactivated(session, world, tmp_path):
    job_id = _job(session, tmp_path, world["group"], FIRST_FILE)
    review = ms.prepare_review(session=session, actor=MARKETER, job_id=job_id)
    session.commit()
    key = {i["email"]: i["key"] for i in review["missing"]}
    # deleting needs profiles.delete (a marketer has not) and a reason
    with pytest.raises(PermissionDenied):
        ms.resolve_missing(
            session=session, actor=MARKETER, job_id=job_id, choices={key["cy@x.com"]: "delete"}, reason="left"
        )
    session.rollback()
    with pytest.raises(ms.MembershipError, match="reason"):
        ms.resolve_missing(session=session, actor=ADMIN, job_id=job_id, choices={key["cy@x.com"]: "delete"})
    session.rollback()
    counts = ms.resolve_missing(
        session=session,
        actor=ADMIN,
        job_id=job_id,
        reason="Left the club",
        choices={key["bob@x.com"]: "deactivate", key["cy@x.com"]: "delete", key["ivy@x.com"]: "remove"},
    )
    session.commit()
    assert counts == {"deactivate": 1, "remove": 1, "delete": 1}
    assert _state(session, world["group"], world["bob"]) == "deactivated"
    assert _state(session, world["group"], world["ivy"]) is None
    cy = session.get(Profile, world["cy"])
    assert cy.status == "deleted" and cy.deleted_reason == "Left the club"
    actions = set(session.execute(select(AuditEvent.action).where(AuditEvent.action.like("membership.%"))).scalars())
    assert {"membership.deactivate", "membership.remove", "membership.delete"} <= actions
    assert session.execute(select(AuditEvent.id).where(AuditEvent.action == "profiles.delete")).scalar()

    # a later file: Bob with Status active is reactivated (from the Update section); the
    # deleted Cy is no member to keep, and Dee (inactive in the first file) stays deactivated
    second = _job(
        session,
        tmp_path,
        world["group"],
        [
            ["bob@x.com", "Bob", "Hue", "active"],
            ["ann@x.com", "Ann", "Hanoi", "active"],
            ["dee@x.com", "Dee", "Vinh", ""],
        ],
        name="members 2.csv",
    )
    review = ms.prepare_review(session=session, actor=MARKETER, job_id=second)
    [bob] = review["update"]
    assert bob["reactivate"] and bob["diff"] == [["Membership", "deactivated", "active"]]
    assert review["invite"] == [] and review["missing"] == []
    ms.apply_updates(session=session, actor=MARKETER, job_id=second, keys=[bob["key"]])
    session.commit()
    assert _state(session, world["group"], world["bob"]) == "active"
    assert _state(session, world["group"], world["dee"]) == "deactivated"


def test_status_inactive_member_is_proposed_for_deactivation(session, world, tmp_path):
    job_id = _job(
        session,
        tmp_path,
        world["group"],
        [
            ["ann@x.com", "Ann", "Hanoi", "Inactive"],
            ["bob@x.com", "Bob", "Hue", "active"],
            ["cy@x.com", "Cy", "Hue", "active"],
            ["ivy@x.com", "Ivy", "Vinh", "active"],
        ],
    )
    review = ms.prepare_review(session=session, actor=MARKETER, job_id=job_id)
    assert [(i["profile_id"], i["reason"]) for i in review["missing"]] == [
        (world["ann"], "Status in the file: inactive")
    ]


def test_refusals(session, world, tmp_path):
    job_id = _job(session, tmp_path, world["group"], FIRST_FILE)
    with pytest.raises(PermissionDenied):
        ms.prepare_review(session=session, actor=VIEWER, job_id=job_id)
    with pytest.raises(ms.MembershipError, match="not been reviewed"):
        ms.send_invites(session=session, actor=MARKETER, job_id=job_id)
    ms.prepare_review(session=session, actor=MARKETER, job_id=job_id)
    with pytest.raises(ms.MembershipError, match="Unknown action"):
        ms.resolve_missing(session=session, actor=MARKETER, job_id=job_id, choices={"p1": "explode"})
    with pytest.raises(PermissionDenied):
        ms.send_invites(session=session, actor=VIEWER, job_id=job_id)
    session.execute(sa.update(ImportJob).where(ImportJob.id == job_id).values(status="cancelled"))
    with pytest.raises(ms.MembershipError, match="was cancelled"):
        ms.send_invites(session=session, actor=MARKETER, job_id=job_id)
    profiles_job = ImportJob(batch_id="b", kind="profiles", file_name="p.csv", status="completed")
    session.add(profiles_job)
    session.flush()
    with pytest.raises(ms.MembershipError, match="not a membership file"):
        ms.prepare_review(session=session, actor=MARKETER, job_id=profiles_job.id)
    assert (
        session.execute(
            sa.select(sa.func.count()).select_from(ImportJob).where(ImportJob.kind == "membership")
        ).scalar()
        == 1
    )


def test_bulk_choices_and_exclusions(session, world, tmp_path, sent):
    job_id = _job(session, tmp_path, world["group"], FIRST_FILE)
    review = ms.prepare_review(session=session, actor=MARKETER, job_id=job_id)
    result = ms.send_invites(
        session=session, actor=MARKETER, job_id=job_id, keys=None, exclude=_keys(review, "invite", "new@x.com")
    )
    assert result.invited == 1
    key = {i["email"]: i["key"] for i in review["missing"]}
    counts = ms.resolve_missing(
        session=session,
        actor=MARKETER,
        job_id=job_id,
        default_action="deactivate",
        choices={key["ivy@x.com"]: "remove", key["cy@x.com"]: ""},
    )
    session.commit()
    assert counts == {"deactivate": 1, "remove": 1, "delete": 0}
    assert _state(session, world["group"], world["bob"]) == "deactivated"
    assert _state(session, world["group"], world["cy"]) == "active"
    assert _state(session, world["group"], world["ivy"]) is None
    assert sent == [("eve@x.com", sent[0][1])]


def test_membership_jobs_are_reviewed_not_confirmed(session, world, tmp_path):
    from profile_ui.services.importing import jobs as import_jobs
    from profile_ui.services.users import user_emails

    path = tmp_path / "m.csv"
    path.write_text("Email\nann@x.com\n", encoding="utf-8")
    item = import_jobs.ImportFile(file_name="m.csv", stored_path=path)
    for kwargs in ({"group_id": None, "dry_run": True}, {"group_id": world["group"], "dry_run": False}):
        with pytest.raises(import_jobs.ImportJobError, match="membership file"):
            import_jobs.submit_import(
                session=session, actor=MARKETER, files=[item], kind="membership", enqueue=False, **kwargs
            )
    [job] = import_jobs.submit_import(
        session=session,
        actor=MARKETER,
        files=[item],
        kind="membership",
        group_id=world["group"],
        dry_run=True,
        enqueue=False,
    )
    job.status = "awaiting_confirmation"
    session.add(job)
    session.flush()
    with pytest.raises(import_jobs.ImportJobError, match="review page"):
        import_jobs.confirm_import(session=session, actor=MARKETER, job_id=job.id, enqueue=False)
    jobs, total = import_jobs.list_imports(session=session, actor=MARKETER, kind="membership")
    assert total == 1 and jobs[0].id == job.id
    assert import_jobs.list_imports(session=session, actor=MARKETER, kind="segments")[1] == 0
    assert user_emails(session=session, actor=MARKETER, user_ids={0}) == {}
    with pytest.raises(PermissionDenied):
        user_emails(
            session=session, actor=Actor(user_id=None, email="x", role="", permissions=frozenset()), user_ids={1}
        )
