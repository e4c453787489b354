"""Faults in the production shape (PostgreSQL + Redis, 2 backend workers, 2 job workers):
something real breaks while a marketer works, and what the user sees and what the
database holds are checked. Runs only against the scaled app (`make run-scale`)."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from profile_ui.models import AuditEvent, Identity, Profile, utcnow

from .helpers import RunningApp, app_db, insert_profiles, sign_in_page
from .test_profiles_detail import _field_row, _start_edit

pytestmark = pytest.mark.e2e
APP_SHAPES = ("scaled",)


def _processes(app: RunningApp) -> list[psutil.Process]:
    return psutil.Process(app.pid).children(recursive=True)


def _backend_workers(app: RunningApp) -> list[psutil.Process]:
    """Granian's worker processes: forked by the `reflex run` Python process, so they are
    the Python processes whose parent is a Python process running `reflex run`."""
    workers = []
    for proc in _processes(app):
        try:
            parent = proc.parent()
            if parent is not None and _is_reflex_python(proc) and _is_reflex_python(parent):
                workers.append(proc)
        except psutil.NoSuchProcess:
            continue
    return workers


def _is_reflex_python(proc: psutil.Process) -> bool:
    cmd = proc.cmdline()
    return bool(cmd) and "python" in os.path.basename(cmd[0]) and any(part.endswith("reflex") for part in cmd[1:2])


def _job_workers(app: RunningApp) -> list[psutil.Process]:
    found = []
    for proc in _processes(app):
        try:
            cmd = proc.cmdline()
        except psutil.NoSuchProcess:
            continue
        if any(part.endswith("profile-ui") for part in cmd) and "worker" in cmd:
            found.append(proc)
    return found


def _serving(proc: psutil.Process, port: int) -> bool:
    try:
        return any(
            c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port for c in proc.net_connections(kind="tcp")
        )
    except psutil.NoSuchProcess:
        return False


def _new_profile(app: RunningApp, name: str, email: str) -> int:
    now = utcnow()
    with app_db(app) as session:
        pid = (session.exec(select(sa.func.max(Profile.id))).one() or 0) + 1
        insert_profiles(
            session,
            [
                {
                    "id": pid,
                    "full_name": name,
                    "city": "Huế",
                    "status": "active",
                    "initial_source": "e2e",
                    "attributes": {},
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        session.execute(
            sa.insert(Identity),
            [
                {
                    "profile_id": pid,
                    "kind": "email",
                    "value": email,
                    "is_encrypted": False,
                    "source_type": "seed",
                    "source_name": "e2e",
                    "first_seen_at": now,
                    "last_seen_at": now,
                }
            ],
        )
    return pid


def _edit_city(page: Page, value: str) -> None:
    _row, editor = _start_edit(page, "City")
    editor.fill(value)
    editor.press("Enter")


def _city_edits(app: RunningApp, profile_id: int) -> list[dict]:
    with app_db(app) as session:
        return [
            e.details["changes"]["city"]
            for e in session.exec(
                select(AuditEvent)
                .where(AuditEvent.action == "profile.edit", AuditEvent.object_id == str(profile_id))
                .order_by(AuditEvent.id)
            ).all()
        ]


def _city(app: RunningApp, profile_id: int) -> str:
    with app_db(app) as session:
        return session.get(Profile, profile_id).city


def _marketer(browser: Browser, app: RunningApp) -> Page:
    context = browser.new_context(base_url=app.url, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    sign_in_page(page, app.url, "marketer")
    return page


def test_it_runs_two_backend_workers_and_two_job_workers(running_app: RunningApp) -> None:
    assert len(_backend_workers(running_app)) == 2
    assert len(_job_workers(running_app)) == 2


def test_two_marketers_editing_one_field_the_later_is_told_and_nothing_is_lost(
    browser: Browser, running_app: RunningApp
) -> None:
    app = running_app
    person = _new_profile(app, "Conflict Person", "conflict.person@e2e.example.com")
    first, second = _marketer(browser, app), _marketer(browser, app)
    for page in (first, second):
        page.goto(f"/profiles/{person}")
        expect(page.get_by_role("heading", name="Conflict Person")).to_be_visible()

    _edit_city(first, "Hà Nội")
    expect(first.get_by_text("Saved City")).to_be_visible()
    _edit_city(second, "Đà Nẵng")  # opened before the first saved
    expect(second.get_by_text("City: changed by someone else or an import since you opened")).to_be_visible()
    row = _field_row(second, "City")
    expect(row).to_contain_text("Hà Nội")  # the page now shows what is saved
    assert _city(app, person) == "Hà Nội"
    assert _city_edits(app, person) == [["Huế", "Hà Nội"]]

    _edit_city(second, "Đà Nẵng")  # decided again, on the current version: saved
    expect(second.get_by_text("Saved City")).to_be_visible()
    assert _city_edits(app, person) == [["Huế", "Hà Nội"], ["Hà Nội", "Đà Nẵng"]]
    first.context.close()
    second.context.close()


def test_a_killed_backend_worker_keeps_the_marketer_signed_in_and_the_next_edit_is_stored_once(
    browser: Browser, running_app: RunningApp
) -> None:
    app = running_app
    port = int(app.url.rsplit(":", 1)[1])
    person = _new_profile(app, "Crash Person", "crash.person@e2e.example.com")
    page = _marketer(browser, app)
    page.goto(f"/profiles/{person}")
    expect(page.get_by_role("heading", name="Crash Person")).to_be_visible()

    serving = [p for p in _backend_workers(app) if _serving(p, port)]
    assert serving, "no backend worker holds the page's connection"
    for proc in serving:
        os.kill(proc.pid, signal.SIGKILL)  # a crash: no clean-up of any kind
    psutil.wait_procs(serving, timeout=10)

    # Granian replaces the dead worker; the page reconnects, still signed in
    deadline = time.monotonic() + 60
    while len(_backend_workers(app)) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(_backend_workers(app)) == 2, app.log_tail()
    _edit_city(page, "Vinh")
    expect(page.get_by_text("Saved City")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Crash Person")).to_be_visible()
    assert _city(app, person) == "Vinh"
    assert _city_edits(app, person) == [["Huế", "Vinh"]]
    page.context.close()


def test_after_a_redis_restart_open_pages_reconnect_still_signed_in(browser: Browser, running_app: RunningApp) -> None:
    """Redis keeps nothing on disk here: a restart loses every tab's state and the queue.
    The session lives in the browser's cookie and PostgreSQL, so pages reconnect signed in."""
    app = running_app
    person = _new_profile(app, "Redis Person", "redis.person@e2e.example.com")
    page = _marketer(browser, app)
    page.goto(f"/profiles/{person}")
    expect(page.get_by_role("heading", name="Redis Person")).to_be_visible()

    app.redis.restart()

    # the open page's next event finds its state gone: the session comes back from the
    # cookie and the page loads again, signed in
    row = _field_row(page, "City")
    with page.expect_event("load", timeout=30_000):
        row.hover()
        row.get_by_role("button", name="Edit City").click()
    expect(page.get_by_role("heading", name="Redis Person")).to_be_visible()
    _edit_city(page, "Cần Thơ")
    expect(page.get_by_text("Saved City")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Profiles").click()
    expect(page.get_by_role("table", name="Profiles")).to_be_visible()
    assert _city(app, person) == "Cần Thơ"
    assert _city_edits(app, person) == [["Huế", "Cần Thơ"]]
    page.context.close()
