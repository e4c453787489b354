"""No lost update: an edit sent from a page showing an older version of a profile (another
marketer saved, an import updated it) is refused and says so; nothing is overwritten."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from profile_ui.models import AuditEvent, Profile
from profile_ui.services.profile_edit import ProfileChanged, create_profile, update_profile_fields
from tests.unit.services.importing.frames import rule, run_import, validated
from tests.unit.services.profile_edit.test_profile_edit import MARKETER

OTHER = MARKETER.__class__(user_id=9, email="other@example.com", role="marketer", permissions=MARKETER.permissions)


def _version(session: Session, profile_id: int) -> int:
    session.expire_all()
    return session.get(Profile, profile_id).version


@pytest.fixture
def an(session: Session) -> int:
    result = create_profile(
        session=session,
        actor=MARKETER,
        values={"full_name": "An", "city": "Huế"},
        identities={"email": "an@example.com"},
    )
    session.commit()
    return result.profile_id


def _edits(session: Session) -> list[dict]:
    return [
        e.details["changes"]
        for e in session.exec(
            select(AuditEvent).where(AuditEvent.action == "profile.edit").order_by(AuditEvent.id)
        ).all()
    ]


def test_every_update_of_a_profile_raises_its_version(session: Session, an: int) -> None:
    first = _version(session, an)
    update_profile_fields(session=session, actor=MARKETER, profile_id=an, values={"city": "Vinh"})
    session.commit()
    assert _version(session, an) == first + 1
    session.execute(sa.update(Profile).where(Profile.id == an).values(member_level="Gold"))
    session.commit()
    assert _version(session, an) == first + 2


def test_the_later_of_two_marketers_is_told_and_nothing_is_overwritten(session: Session, an: int) -> None:
    opened = _version(session, an)  # both pages opened the profile at this version
    update_profile_fields(
        session=session, actor=MARKETER, profile_id=an, values={"city": "Hà Nội"}, expected_version=opened
    )
    session.commit()
    with pytest.raises(ProfileChanged, match="City: changed by someone else or an import since you opened"):
        update_profile_fields(
            session=session, actor=OTHER, profile_id=an, values={"city": "Đà Nẵng"}, expected_version=opened
        )
    session.rollback()
    assert session.get(Profile, an).city == "Hà Nội"
    assert _edits(session) == [{"city": ["Huế", "Hà Nội"]}]
    # after reloading, the page shows the new version: the same edit now goes through
    update_profile_fields(
        session=session, actor=OTHER, profile_id=an, values={"city": "Đà Nẵng"}, expected_version=_version(session, an)
    )
    session.commit()
    assert session.get(Profile, an).city == "Đà Nẵng"


def test_an_import_that_updated_the_profile_meanwhile_refuses_the_edit(session: Session, an: int) -> None:
    opened = _version(session, an)
    run_import(session, validated([{"email": "an@example.com", "city": "Cần Thơ"}]), sync=rule(session, ["email"]))
    with pytest.raises(ProfileChanged):
        update_profile_fields(
            session=session, actor=MARKETER, profile_id=an, values={"city": "Vinh"}, expected_version=opened
        )
    session.rollback()
    assert session.get(Profile, an).city == "Cần Thơ"


@pytest.mark.postgres
def test_two_edits_sent_at_the_same_moment_store_one_and_refuse_the_other(pg_url: str) -> None:
    """The row lock orders them: the second waits for the first, then sees its version."""
    engine = sa.create_engine(pg_url)
    try:
        with Session(engine) as setup:
            an = create_profile(
                session=setup,
                actor=MARKETER,
                values={"full_name": "An", "city": "Huế"},
                identities={"email": "an@example.com"},
            ).profile_id
            setup.commit()
            opened = _version(setup, an)
        first = Session(engine)
        update_profile_fields(
            session=first, actor=MARKETER, profile_id=an, values={"city": "Hà Nội"}, expected_version=opened
        )  # holds the row lock, not committed
        outcome: list[BaseException | None] = []

        def second_marketer() -> None:
            with Session(engine) as second:
                try:
                    update_profile_fields(
                        session=second, actor=OTHER, profile_id=an, values={"city": "Đà Nẵng"}, expected_version=opened
                    )
                    second.commit()
                    outcome.append(None)
                except ProfileChanged as exc:
                    outcome.append(exc)

        thread = threading.Thread(target=second_marketer)
        thread.start()
        thread.join(timeout=1)
        assert thread.is_alive()  # waiting for the first edit's lock, not writing beside it
        first.commit()
        first.close()
        thread.join(timeout=30)
        assert len(outcome) == 1 and isinstance(outcome[0], ProfileChanged)
        with Session(engine) as check:
            assert check.get(Profile, an).city == "Hà Nội"
            assert _edits(check) == [{"city": ["Huế", "Hà Nội"]}]
    finally:
        engine.dispose()
