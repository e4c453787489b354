"""Direct database access to the running app's database, for arranging and checking."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from profile_ui.db import make_engine
from profile_ui.models import Notification, User
from profile_ui.services.notify import notify_user

# small, so the over-the-limit upload test sends little
UPLOAD_MAX_BYTES = 200_000
UPLOAD_MAX_ROWS = 2_000  # and low, so a file over the row limit stays under the byte limit
PASSWORD = "e2e-password-1"
USERS = {role: f"{role}@e2e.example.com" for role in ("admin", "marketer", "viewer")}


@dataclass(frozen=True)
class RunningApp:
    url: str
    data_dir: Path
    database_url: str
    log: Path
    # every e-mail the app sent (a local SMTP server the app is pointed at), oldest first
    inbox: list = field(default_factory=list)
    shape: str = "embedded"  # or "scaled": PostgreSQL + Redis, 2 backend + 2 job workers
    redis: Any = None  # the scaled shape's own ThrowawayRedis (fault tests restart it)
    pg_name: str | None = None  # the scaled shape's own PostgreSQL database
    pid: int = 0  # the process that started the app (its group holds every process)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextmanager
def app_db(app: RunningApp) -> Iterator[Session]:
    engine = make_engine(app.database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
            session.commit()
    finally:
        engine.dispose()


def user_id(app: RunningApp, email: str) -> int:
    with app_db(app) as session:
        return session.exec(select(User.id).where(User.email == email)).one()


def add_notification(app: RunningApp, email: str, title: str, link: str | None = None) -> int:
    uid = user_id(app, email)
    with app_db(app) as session:
        notify_user(session=session, user_id=uid, title=title, link=link)
        session.flush()
        return session.exec(select(sa.func.max(Notification.id))).one()


def unread_titles(app: RunningApp, email: str) -> list[str]:
    uid = user_id(app, email)
    with app_db(app) as session:
        return list(
            session.exec(
                select(Notification.title).where(Notification.user_id == uid, Notification.read_at.is_(None))
            ).all()
        )


# ------------------------------------------------------------ profile pages (issue 4)
# Known profiles, tags, a group and a segment, made once per test session through the
# services (as the system), beside generated profiles so lists have several pages.

E2E_TAG_GROUP = "E2E"
GENERATED_PROFILES = 120


@dataclass
class KnownProfile:
    id: int
    name: str
    email: str
    phone: str = ""
    user_id: str = ""


@dataclass
class ProfileData:
    """What the session fixture `profile_data` made (ids as the database gave them)."""

    profiles: dict[str, KnownProfile] = field(default_factory=dict)
    tier_tag_id: int = 0  # E2E: Tier (text)
    hobby_tag_id: int = 0  # E2E: Hobby (multi-value)
    group_id: int = 0  # E2E Newsletter
    segment_id: int = 0  # E2E VIPs


# key -> (full name, e-mail, phone, user id, member level, city, in the group)
_KNOWN = {
    "linh": ("Trần Thị Linh", "linh.tran@e2e.example.com", "+84912000001", "E2E-0001", "Gold", "Hà Nội", True),
    "minh": ("Lê Văn Minh", "minh.le@e2e.example.com", "+84912000002", "E2E-0002", "Gold", "Huế", False),
    "hoa": ("Phạm Thu Hoa", "hoa.pham@e2e.example.com", "+84912000003", "E2E-0003", "Silver", "Đà Nẵng", True),
    "overwrite": (
        "Policy Overwrite",
        "policy.overwrite@e2e.example.com",
        "+84912000004",
        "E2E-0004",
        "Bronze",
        "Cần Thơ",
        False,
    ),
    "ignore": (
        "Policy Ignore",
        "policy.ignore@e2e.example.com",
        "+84912000005",
        "E2E-0005",
        "Bronze",
        "Cần Thơ",
        False,
    ),
    "edit": ("Vũ Quốc Edit", "edit.vu@e2e.example.com", "+84912000006", "E2E-0006", "Silver", "Vinh", False),
    "viewer": ("Đỗ Minh Xem", "xem.do@e2e.example.com", "+84912000007", "E2E-0007", "Silver", "Huế", False),
}


def seed_profile_data(app: RunningApp) -> ProfileData:
    from profile_ui.services import profile_edit, workspace_settings
    from profile_ui.services.permissions import SYSTEM_ACTOR
    from profile_ui.services.profiles import add_profiles_to_group

    data = ProfileData()
    with app_db(app) as session:
        _insert_generated_profiles(session, GENERATED_PROFILES)
        actor = SYSTEM_ACTOR
        group = workspace_settings.create_tag_group(session=session, actor=actor, name=E2E_TAG_GROUP)
        data.tier_tag_id = workspace_settings.create_tag(
            session=session, actor=actor, group_id=group.id, name="Tier", kind="text"
        ).id
        data.hobby_tag_id = workspace_settings.create_tag(
            session=session, actor=actor, group_id=group.id, name="Hobby", kind="multi"
        ).id
        data.group_id = workspace_settings.create_group(session=session, actor=actor, name="E2E Newsletter").id
        data.segment_id = workspace_settings.create_segment(session=session, actor=actor, name="E2E VIPs").id
        in_group = []
        for key, (name, email, phone, user, level, city, member) in _KNOWN.items():
            result = profile_edit.create_profile(
                session=session,
                actor=actor,
                values={"full_name": name, "member_level": level, "city": city},
                identities={"email": email, "phone": phone, "user_id": user},
            )
            data.profiles[key] = KnownProfile(result.profile_id, name, email, phone, user)
            if member:
                in_group.append(result.profile_id)
        add_profiles_to_group(session=session, actor=actor, group_id=data.group_id, profile_ids=in_group)
    return data


def insert_profiles(session: Session, rows: list[dict]) -> None:
    """Insert profile rows whose ids the test chose; on PostgreSQL the id sequence then
    moves past them, so the app's next new profile does not collide with them."""
    from profile_ui.models import Profile, with_folded_name

    session.execute(sa.insert(Profile), [with_folded_name(row) for row in rows])
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            sa.text("SELECT setval(pg_get_serial_sequence('profiles', 'id'), (SELECT max(id) FROM profiles))")
        )


def _insert_generated_profiles(session: Session, count: int) -> None:
    """`count` plain profiles ("Generated Person 001"...) with an e-mail each, in bulk,
    created over the past days (older than the known profiles)."""
    from datetime import timedelta

    from profile_ui.models import Identity, Profile, utcnow

    now = utcnow()
    levels = ("Bronze", "Silver", "Gold", "Platinum")
    start = (session.exec(select(sa.func.max(Profile.id))).one() or 0) + 1
    ids = list(range(start, start + count))
    insert_profiles(
        session,
        [
            {
                "id": pid,
                "full_name": f"Generated Person {n:03d}",
                "member_level": levels[n % 4],
                "city": "Hà Nội",
                "status": "active",
                "initial_source": "generated",
                "attributes": {},
                "created_at": now - timedelta(days=n + 1),
                "updated_at": now - timedelta(days=n + 1),
            }
            for n, pid in enumerate(ids, start=1)
        ],
    )
    session.execute(
        sa.insert(Identity),
        [
            {
                "profile_id": pid,
                "kind": "email",
                "value": f"generated.{n:03d}@e2e.example.com",
                "is_encrypted": False,
                "source_type": "seed",
                "source_name": "e2e",
                "first_seen_at": now,
                "last_seen_at": now,
            }
            for n, pid in enumerate(ids, start=1)
        ],
    )


def active_profile_count(app: RunningApp) -> int:
    from profile_ui.models import Profile

    with app_db(app) as session:
        return session.exec(select(sa.func.count()).select_from(Profile).where(Profile.status == "active")).one()


def run_import(app: RunningApp, rows: list[dict[str, str]], mapping: dict, tmp_dir: Path) -> dict:
    """Import `rows` (a CSV) into the running app's database with `profile-ui import`,
    as an operator would; returns the CLI's JSON report."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    path = tmp_dir / f"import-{len(list(tmp_dir.iterdir()))}.csv"
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    mapping_path = path.with_suffix(".json")
    mapping_path.write_text(json.dumps(mapping), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "REFLEX_REDIS_URL")}
    env.update(DATA_DIR=str(app.data_dir), DATABASE_URL=app.database_url, ENVIRONMENT="test")
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "profile-ui"),
            "import",
            str(path),
            "--mapping",
            str(mapping_path),
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["status"] == "completed", report
    return report


def sign_in_page(page: Page, base_url: str, role: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("E-mail").fill(USERS[role])
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
