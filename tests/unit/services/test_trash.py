"""The trash: listing, restoring within the window, purging after it (the same e-mail then
imports as a new person), the purge job and `profile-ui purge` (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlmodel import Session, select

from profile_ui.jobs.purge import run_purge
from profile_ui.models import AuditEvent, Identity, LinkedObject, Profile, ProfileTag, utcnow
from profile_ui.services.deletion import delete_profiles
from profile_ui.services.permissions import PermissionDenied
from profile_ui.services.profiles import ProfileFilter, list_profiles
from profile_ui.services.trash import TrashError, list_trash, purge_expired, restore_profiles
from profile_ui.settings import get_settings
from tests.unit.profile_world import World, build_world, count_rows


@pytest.fixture
def world(session: Session) -> World:
    built = build_world(session)
    delete_profiles(session=session, actor=built.admin, profile_ids=[built.an], reason="Asked to leave")
    session.commit()
    return built


def _deleted_at(session: Session, profile_id: int):
    return session.execute(sa.select(Profile.deleted_at).where(Profile.id == profile_id)).scalar_one()


def test_trash_lists_deleted_profiles_with_who_why_and_until_when(session, world):
    page = list_trash(session=session, actor=world.admin)
    assert page.total == 2 and page.retention_days == 30
    first = page.items[0]  # the most recent deletion
    assert first.profile_id == world.an and first.full_name == "An Nguyễn"
    assert first.deleted_by == "admin@team.example" and first.reason == "Asked to leave"
    assert first.purge_after == first.deleted_at + timedelta(days=30) and first.restorable
    assert [i.profile_id for i in list_trash(session=session, actor=world.admin, text="an@example.com").items] == [
        world.an
    ]


@pytest.mark.parametrize("who", ["viewer", "marketer"])
def test_only_admins_see_and_manage_the_trash(session, world, who):
    actor = getattr(world, who)
    for call in (
        lambda: list_trash(session=session, actor=actor),
        lambda: restore_profiles(session=session, actor=actor, profile_ids=[world.an]),
        lambda: purge_expired(session=session, actor=actor),
    ):
        with pytest.raises(PermissionDenied, match="trash.manage"):
            call()


def test_restore_within_the_window_brings_the_profile_back_and_is_audited(session, world):
    restored = restore_profiles(
        session=session,
        actor=world.admin,
        profile_ids=[world.an],
        now=_deleted_at(session, world.an) + timedelta(days=29),
    )
    session.commit()

    assert restored == [world.an]
    profile = session.get(Profile, world.an)
    assert profile.status == "active" and profile.deleted_at is None and profile.deleted_reason is None
    page = list_profiles(session=session, actor=world.marketer, flt=ProfileFilter(text="an@example.com"))
    assert [p.id for p in page.rows] == [world.an]
    assert count_rows(session, ProfileTag, ProfileTag.profile_id == world.an) == 4
    assert count_rows(session, LinkedObject, LinkedObject.profile_id == world.an) == 0  # links stay gone
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "profiles.restore")).one()
    assert event.actor_email == "admin@team.example" and event.details["profile_ids"] == [world.an]
    assert list_trash(session=session, actor=world.admin).total == 1


def test_restore_after_the_window_or_of_an_active_profile_is_refused(session, world):
    late = _deleted_at(session, world.an) + timedelta(days=30, seconds=1)
    with pytest.raises(TrashError, match="more than 30 days"):
        restore_profiles(session=session, actor=world.admin, profile_ids=[world.an], now=late)
    with pytest.raises(TrashError, match="not in the trash"):
        restore_profiles(session=session, actor=world.admin, profile_ids=[world.formula])
    assert session.get(Profile, world.an).status == "deleted"
    assert not list_trash(session=session, actor=world.admin, now=late).items[0].restorable


def test_a_profile_merged_by_an_import_cannot_be_restored(session, world):
    session.execute(
        sa.update(Profile).where(Profile.id == world.gone).values(deleted_reason=f"merged into {world.formula}")
    )
    session.commit()
    with pytest.raises(TrashError, match="merged into"):
        restore_profiles(session=session, actor=world.admin, profile_ids=[world.gone])


def test_purge_removes_only_profiles_past_the_window_with_their_identities(session, world):
    deleted_at = _deleted_at(session, world.an)
    assert purge_expired(session=session, now=deleted_at + timedelta(days=29)) == 0
    assert session.get(Profile, world.an) is not None

    assert purge_expired(session=session, now=deleted_at + timedelta(days=30, minutes=1)) == 2
    session.commit()
    session.expire_all()
    assert session.get(Profile, world.an) is None and session.get(Profile, world.gone) is None
    assert count_rows(session, Identity, Identity.profile_id.in_([world.an, world.gone])) == 0
    assert count_rows(session, ProfileTag, ProfileTag.profile_id == world.an) == 0
    assert session.get(Profile, world.formula).status == "active"
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "profiles.purge")).one()
    assert event.actor_email == "system" and event.details["count"] == 2
    assert sorted(event.details["profile_ids"]) == sorted([world.an, world.gone])


def test_after_the_purge_the_same_email_imports_as_a_new_person(session, world):
    from tests.unit.services.importing.frames import outcomes, rule, run_import, validated

    sync = rule(session, ["email"])
    _job, before = run_import(session, validated([{"email": "an@example.com", "full_name": "An Again"}]), sync=sync)
    assert outcomes(before) == {2: "skipped"}  # in the trash: the import leaves it alone

    purge_expired(session=session, now=_deleted_at(session, world.an) + timedelta(days=31))
    session.commit()
    _job, after = run_import(session, validated([{"email": "an@example.com", "full_name": "An Again"}]), sync=sync)
    assert outcomes(after) == {2: "new"}
    owner = session.execute(
        sa.select(Identity.profile_id).where(Identity.kind == "email", Identity.value == "an@example.com")
    ).scalar_one()
    assert owner != world.an and session.get(Profile, owner).full_name == "An Again"


def test_purge_job_and_cli(app_env, sqlite_url):
    from profile_ui.cli import main
    from profile_ui.db import make_engine

    app_env(sqlite_url)
    engine = make_engine(sqlite_url)
    with Session(engine, expire_on_commit=False) as session:
        built = build_world(session)
        delete_profiles(session=session, actor=built.admin, profile_ids=[built.an], reason="r")
        session.execute(
            sa.update(Profile).where(Profile.id == built.gone).values(deleted_at=utcnow() - timedelta(days=40))
        )
        session.commit()
        deleted_at = _deleted_at(session, built.an)

    result = CliRunner().invoke(main, ["purge"])
    assert result.exit_code == 0, result.output
    assert "purged 1 profiles deleted more than 30 days ago" in result.output
    assert run_purge(engine=engine, now=deleted_at + timedelta(days=1)).profiles == 0
    assert run_purge(engine=engine, now=deleted_at + timedelta(days=31)).profiles == 1
    with engine.connect() as conn:
        assert (
            conn.execute(
                sa.select(sa.func.count()).select_from(Profile).where(Profile.status == "deleted")
            ).scalar_one()
            == 0
        )
    engine.dispose()


def test_with_a_zero_window_everything_in_the_trash_is_purged(session, world, monkeypatch):
    monkeypatch.setattr(get_settings(), "trash_retention_days", 0)
    assert purge_expired(session=session, now=utcnow()) == 2
