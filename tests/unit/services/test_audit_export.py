"""The audit log as CSV: the list's filters, newest first, streamed, admins only; and the
audit trail each export/delete/restore/purge/erase action leaves (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from profile_ui.models import utcnow
from profile_ui.services.audit import list_events, record_event
from profile_ui.services.deletion import delete_profiles, erase_profile
from profile_ui.services.exporting import export_audit_csv, export_profiles
from profile_ui.services.permissions import PermissionDenied
from profile_ui.services.profiles import ProfileFilter
from profile_ui.services.trash import purge_expired, restore_profiles
from profile_ui.settings import get_settings
from tests.unit.profile_world import World, build_world


@pytest.fixture
def world(session: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> World:
    monkeypatch.setattr(get_settings(), "data_dir", tmp_path / "data")
    return build_world(session)


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_audit_csv_follows_the_filters_newest_first(session, world):
    for n in range(5):
        record_event(
            session=session,
            actor=world.marketer,
            action="profile.edit",
            object_type="profile",
            object_id=n,
            details={"n": n},
        )
    record_event(session=session, actor=world.admin, action="user.create", object_type="user", object_id=9)
    session.commit()

    out = io.BytesIO()
    count = export_audit_csv(
        session=session,
        actor=world.admin,
        out=out,
        actor_email="marketer@team.example",
        action="profile.edit",
        chunk_rows=2,
    )
    rows = _rows(out.getvalue())
    assert count == 5 and len(rows) == 5
    assert [r["Object"] for r in rows] == ["4", "3", "2", "1", "0"]
    assert rows[0]["Actor"] == "marketer@team.example" and json.loads(rows[0]["Details"]) == {"n": 4}
    assert list(rows[0]) == ["At (UTC)", "Actor", "Action", "Object type", "Object", "Reason", "Details"]

    listed, total = list_events(
        session=session, actor=world.admin, actor_email="marketer@team.example", action="profile.edit"
    )
    assert total == count and [e.object_id for e in listed] == [r["Object"] for r in rows]


def test_audit_csv_date_range_and_object_filters(session, world, tmp_path):
    record_event(session=session, actor=world.admin, action="a.one", object_type="thing", object_id="7")
    session.commit()
    now = utcnow()
    path = tmp_path / "audit.csv"
    assert (
        export_audit_csv(
            session=session,
            actor=world.admin,
            out=path,
            object_type="thing",
            object_id="7",
            since=now - timedelta(minutes=5),
            until=now + timedelta(minutes=5),
        )
        == 1
    )
    assert _rows(path.read_bytes())[0]["Action"] == "a.one"
    assert (
        export_audit_csv(
            session=session,
            actor=world.admin,
            out=tmp_path / "none.csv",
            object_type="thing",
            since=now + timedelta(minutes=5),
        )
        == 0
    )
    assert (tmp_path / "none.csv").read_bytes().decode("utf-8-sig").startswith("At (UTC),Actor")


def test_audit_csv_neutralizes_formulas_and_is_itself_audited(session, world):
    record_event(session=session, actor=world.admin, action="x", object_type="y", reason="=cmd()")
    session.commit()
    out = io.BytesIO()
    export_audit_csv(session=session, actor=world.admin, out=out, action="x")
    assert _rows(out.getvalue())[0]["Reason"] == "'=cmd()"
    session.commit()
    events, _ = list_events(session=session, actor=world.admin, action="audit.export")
    assert events[0].details["events"] == 1 and events[0].details["filters"]["action"] == "x"


@pytest.mark.parametrize("who", ["viewer", "marketer"])
def test_only_audit_viewers_may_export_the_log(session, world, who):
    with pytest.raises(PermissionDenied, match="audit.view"):
        export_audit_csv(session=session, actor=getattr(world, who), out=io.BytesIO())


def test_each_governed_action_leaves_an_audit_event(session, world):
    export_profiles(session=session, actor=world.marketer, flt=ProfileFilter(), columns=["full_name"])
    delete_profiles(session=session, actor=world.admin, profile_ids=[world.an], reason="Asked")
    restore_profiles(session=session, actor=world.admin, profile_ids=[world.an])
    delete_profiles(session=session, actor=world.admin, profile_ids=[world.formula], reason="Spam")
    purge_expired(session=session, now=utcnow() + timedelta(days=31))
    erase_profile(session=session, actor=world.admin, profile_id=world.an, reason="Request 1")
    session.commit()

    out = io.BytesIO()
    export_audit_csv(session=session, actor=world.admin, out=out)
    actions = [r["Action"] for r in _rows(out.getvalue())]
    assert actions[:6] == [
        "profile.erase",
        "profiles.purge",
        "profiles.delete",
        "profiles.restore",
        "profiles.delete",
        "profiles.export",
    ]
