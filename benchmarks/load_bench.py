"""Load bench: V virtual marketers working at once, while imports and an export run.

    .venv/bin/python benchmarks/load_bench.py --start scaled,embedded --users 10,25,50,100 \
        --profiles 200000 --import-rows 50000
    .venv/bin/python benchmarks/load_bench.py --start scaled --users 50 --profiles 1000000
    .venv/bin/python benchmarks/load_bench.py --url http://127.0.0.1:3000 --users 25   # a running app
                                              # (DATABASE_URL etc. of that app in the environment)

Stop it with SIGTERM (`kill PID`), not Ctrl-C: socket.io's client takes SIGINT for itself.

Each virtual marketer is a socket.io client speaking Reflex's event protocol exactly as
the browser does (the events the pages send, with the router data of the page; follow-up
events the server asks the page to send are sent back, as the page would), in a thread
of its own. It signs in through the login form's event; once every marketer has signed
in, the steady-state window opens (--duration seconds) and the background jobs are
queued: --imports CSV files of --import-rows rows (half the same people in every run,
half new), applied at once, and one "All fields" export of every active profile. In the
window each marketer loops with an exponential think time (mean --think seconds):

    list query     the profile list's filter form (a name fragment, a member level)
    open User 360  a profile's page (its on_load)
    inline edit    City on that profile (on_load, start_edit, submit_inline), a new value
    batch tag      3 rows of the list selected, tagged through the tag picker

An action's time is the sum of the server's answer times of its events (think time
excluded): the time to the event's first update, or for the edit and the tagging to the
update carrying their confirmation toast. Updates left over from an earlier event are
dropped before each event is sent. The exact count the list asks for after a page with
an estimated total is timed apart. Each marketer edits only its own profiles, so every
confirmed edit must be in the database afterwards: the bench checks the audit log and the
profiles after each run and prints "edits stored". After the window it waits (up to
--job-wait s) for the background jobs, so the next V starts without them.

Printed per V: per action p50 / p95 / p99 in ms, count, errors (no answer within
--timeout, or an error toast), events/s in the window, the 1-minute load average at its
end, the background jobs' outcome and time from submission, and (scaled) the Redis state
locks Reflex logged as held over its warning threshold and any that expired. At the end:
one summary row per shape and V (the table of benchmarks/README.md) and the V where a
list query's p95 passes 1 s. `--start embedded` runs `reflex run --env prod` (SQLite, jobs
in-process); `--start scaled` runs `make run-scale` (PostgreSQL, an own redis-server, 2
backend + 2 job workers). Both start from a copy of a seeded workspace cached by
export_bench.py's helpers (a SQLite file under --cache, a PostgreSQL template database
pu_export_bench_v1_<n>), so only the first run of a size seeds.
"""

from __future__ import annotations

import argparse
import csv
import os
import queue
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NAMESPACE = "/_event"
PASSWORD = "bench-password-1"
LEVELS = ["Bronze", "Silver", "Gold", "Platinum", ""]
NAME_PARTS = ["Nguyen", "Tran", "Le", "Pham", "Hoang", "Anh", "Minh", "Linh", ""]
QUIET_S = 0.15  # an event's further updates arrive within this (not counted in its time)
EXACT_COUNT = "exact count (after a list)"
COUNTED_APART = ".count_exactly"  # the list's follow-up when its total was estimated
FINAL_STATUSES = ("completed", "failed", "cancelled", "undone")  # an import or export job that has ended
ACTIONS = ["sign in", "list query", "open User 360", "inline edit", "batch tag", EXACT_COUNT]


# ---------------------------------------------------------------- one virtual marketer
class Failed(Exception):
    pass


class Marketer:
    """A socket.io client that sends the app's events as a browser tab would."""

    def __init__(self, url: str, email: str, timeout: float) -> None:
        from profile_ui.state.base import AppState

        self.email, self.timeout = email, timeout
        self.prefix = AppState.get_full_name().split(".")[0]
        self.updates: queue.Queue[dict] = queue.Queue()
        self.url = url
        self.sio = self._connect(cookie=None)
        self.path = "/login"
        self.events = 0
        self.events_before_window = 0  # sign-in events are not in the window's events/s
        self.busy_ms = 0.0  # time waiting for answers to this tab's events
        self.count_ms: list[float] = []  # the exact counts that follow estimated totals

    def send(
        self, handler: str, payload: dict | None = None, path: str | None = None, until: tuple[str, ...] = ()
    ) -> list[dict]:
        """One event and the follow-ups the page would send; the updates they caused.

        Reflex tags no update with the event that caused it. Updates still queued from an
        earlier event are dropped before sending (the page has them long since); then the
        event is answered by its first update, or with `until` by the first update holding
        one of those texts (the toast the marketer waits for), and the time to it is added
        to `busy_ms`. Updates that follow within QUIET_S (a yielding handler, the rest of a
        chain) are collected untimed. The exact count the list asks for after showing a
        page with an estimated total is timed apart (`count_ms`): the page is shown first."""
        self.path = path or self.path
        pending = [(handler, payload or {}, until)]
        received: list[dict] = []
        while pending:
            name, args, wanted = pending.pop(0)
            self._drain()
            started = time.perf_counter()
            self.sio.emit(
                "event",
                {"name": name, "payload": args, "router_data": {"pathname": self.path, "asPath": self.path}},
                namespace=NAMESPACE,
            )
            self.events += 1
            batch = []
            while True:
                try:
                    update = self.updates.get(timeout=max(0.01, started + self.timeout - time.perf_counter()))
                except queue.Empty:
                    raise Failed(f"no answer to {name.rsplit('.', 1)[-1]} in {self.timeout} s") from None
                batch.append(update)
                if not wanted or any(text in repr(update) for text in wanted):
                    break
            took = (time.perf_counter() - started) * 1000
            if name.endswith(COUNTED_APART):
                self.count_ms.append(took)
            else:
                self.busy_ms += took
            batch += self._trailing()
            received += batch
            for item in batch:
                for event in item.get("events") or []:
                    if str(event.get("name", "")).startswith(self.prefix):
                        pending.append((event["name"], event.get("payload") or {}, ()))
        text = repr([u.get("events") for u in received])
        if "toast" in text and "error" in text.lower() and "changed by someone" not in text:
            raise Failed(f"error shown: {text[:300]}")
        return received

    def _trailing(self) -> list[dict]:
        more = []
        while True:
            try:
                more.append(self.updates.get(timeout=QUIET_S))
            except queue.Empty:
                return more

    def _drain(self) -> None:
        while True:
            try:
                self.updates.get_nowait()
            except queue.Empty:
                return

    def _connect(self, cookie: str | None) -> Any:
        import socketio

        sio = socketio.Client(reconnection=False)
        sio.on("event", self.updates.put, namespace=NAMESPACE)
        sio.connect(
            f"{self.url}?token={uuid.uuid4()}",
            # as a browser's socket carries the HttpOnly session cookie (state/base.py reads
            # who is signed in from it, never from a state var)
            headers={"cookie": cookie} if cookie else {},
            socketio_path=NAMESPACE,
            namespaces=[NAMESPACE],
            transports=["websocket"],
            wait_timeout=30,
        )
        return sio

    def finish_sign_in(self, answer: list[dict]) -> None:
        """What the sign-in page's script does with the one-time code it got: post it to
        /auth/session for the HttpOnly cookie, then load the app again (a new socket)."""
        found = re.search(r'\\?"code\\?": \\?"([^"\\]+)', repr(answer))
        if not found:
            raise Failed(f"sign-in answered with no one-time code: {repr(answer)[-240:]}")
        body = urllib.parse.urlencode({"code": found.group(1), "next": "/profiles"}).encode()
        request = urllib.request.Request(
            f"{self.url}/auth/session", data=body, method="POST", headers={"Origin": self.url}
        )

        class _NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        try:
            response = urllib.request.build_opener(_NoRedirect).open(request, timeout=self.timeout)
            headers = response.headers
        except urllib.error.HTTPError as exc:  # the 303 to the first page
            headers = exc.headers
        cookie = next((c.split(";", 1)[0] for c in headers.get_all("Set-Cookie") or [] if "HttpOnly" in c), None)
        if cookie is None:
            raise Failed("POST /auth/session set no session cookie")
        self.close()
        self.sio = self._connect(cookie=cookie)
        self.send(f"{self.prefix}.hydrate_and_load", {"vars": {}}, path="/profiles")

    def close(self) -> None:
        try:
            self.sio.disconnect()
        except Exception:  # noqa: BLE001 - closing a broken connection
            pass


@dataclass
class Results:
    timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    saved_edits: list[tuple[int, str]] = field(default_factory=list)
    events: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(self, action: str, tab: "Marketer", run) -> bool:  # noqa: ANN001
        """Run one action of `tab`; its time is the server's answer time of its events."""
        before = tab.busy_ms
        try:
            run()
        except Exception as exc:  # noqa: BLE001 - any failure is an error of that action
            with self.lock:
                self.errors[action].append(str(exc)[:300])
            return False
        with self.lock:
            self.timings[action].append(tab.busy_ms - before)
        return True


def _states() -> dict[str, str]:
    from profile_ui.pages.login import LoginState
    from profile_ui.pages.profiles.detail_state import ProfileDetailState
    from profile_ui.pages.profiles.list_state import ProfilesListState
    from profile_ui.pages.profiles.tag_picker import TagPickerState

    return {
        "login": LoginState.get_full_name(),
        "list": ProfilesListState.get_full_name(),
        "detail": ProfileDetailState.get_full_name(),
        "picker": TagPickerState.get_full_name(),
    }


def run_marketer(
    url: str,
    index: int,
    own_profiles: list[int],
    tag: tuple[int, int],
    window: Window,
    think: float,
    timeout: float,
    results: Results,
) -> None:
    """One marketer: signs in, waits for the window to open (every marketer signed in),
    then works until it closes."""
    rng = random.Random(index)
    states = _states()
    email = f"bench{index}@bench.example.com"
    tab = None
    try:
        tab = Marketer(url, email, timeout)
        tab.send(f"{tab.prefix}.hydrate_and_load", {"vars": {}}, path="/login")
        signed_in = results.timed(
            "sign in",
            tab,
            lambda: tab.finish_sign_in(
                tab.send(
                    f"{states['login']}.submit",
                    {"form_data": {"email": email, "password": PASSWORD}},
                    path="/login",
                    # the answer is the update with the one-time code: a late update of the
                    # sign-in page's own load (its on_load) may come first
                    until=("code",),
                )
            ),
        )
        if signed_in:
            tab.send(f"{states['list']}.on_load", path="/profiles")
    except Exception as exc:  # noqa: BLE001 - a marketer that cannot connect is an error
        results.errors["sign in"].append(f"connect: {exc}"[:200])
        signed_in = False
    window.ready()
    if not signed_in or tab is None:
        if tab is not None:
            tab.close()
        return
    window.opened.wait()
    tab.events_before_window, tab.count_ms = tab.events, []
    try:
        edit = 0
        while True:
            time.sleep(rng.expovariate(1 / think))
            if time.monotonic() >= window.until:
                break
            action = rng.choices(["list query", "open User 360", "inline edit", "batch tag"], weights=[4, 3, 2, 1])[0]
            if action == "list query":
                form = {"q": rng.choice(NAME_PARTS), "member_level": rng.choice(LEVELS), "status": "active"}
                results.timed(
                    action,
                    tab,
                    lambda: tab.send(f"{states['list']}.apply_query", {"form_data": form}, path="/profiles"),
                )
            elif action == "open User 360":
                pid = rng.choice(own_profiles)
                results.timed(action, tab, lambda: tab.send(f"{states['detail']}.on_load", path=f"/profiles/{pid}"))
            elif action == "inline edit":
                pid = rng.choice(own_profiles)
                edit += 1
                value = f"Bench {window.run}.{index}-{edit}"  # never the value it holds: a save

                def save() -> None:
                    tab.send(f"{states['detail']}.on_load", path=f"/profiles/{pid}")
                    tab.send(f"{states['detail']}.start_edit", {"key": "city"})
                    answer = tab.send(
                        f"{states['detail']}.submit_inline",
                        {"form_data": {"field_key": "city", "value": value}},
                        until=("Saved City", "changed by someone"),
                    )
                    if "Saved City" in repr(answer):
                        with results.lock:
                            results.saved_edits.append((pid, value))
                    elif "changed by someone" not in repr(answer):
                        raise Failed(f"no confirmation of the edit: {repr(answer)[-300:]}")

                results.timed(action, tab, save)
            else:
                rows = rng.sample(own_profiles, k=min(3, len(own_profiles)))

                def batch_tag() -> None:
                    tab.send(f"{states['list']}.on_load", path="/profiles")
                    for pid in rows:
                        tab.send(f"{states['list']}.toggle_row", {"row_id": str(pid), "checked": True})
                    tab.send(f"{states['list']}.open_tag_picker")
                    tab.send(f"{states['picker']}.choose_group", {"group_id": str(tag[0])})
                    tab.send(f"{states['picker']}.choose_tag", {"tag_id": str(tag[1])})
                    answer = tab.send(
                        f"{states['list']}.apply_tag",
                        {"form_data": {"policy": "ignore", "tag_value": f"bench-{index}"}},
                        until=("Tagged",),
                    )
                    if "Tagged" not in repr(answer):
                        raise Failed(f"no confirmation of the tagging: {repr(answer)[:300]}")

                results.timed(action, tab, batch_tag)
    except Exception as exc:  # noqa: BLE001 - a broken connection ends this marketer
        results.errors["connection"].append(str(exc)[:200])
    finally:
        with results.lock:
            results.events += tab.events - tab.events_before_window
            results.timings[EXACT_COUNT] += tab.count_ms
        tab.close()


class Window:
    """The steady-state window: opens when every marketer has signed in (or failed to),
    so the sign-in storm (Argon2, about a core-second each here) is not in the figures of
    the other actions, and closes `duration` seconds later."""

    def __init__(self, users: int, run: int) -> None:
        self.users, self.run, self.signed = users, run, 0
        self.lock = threading.Lock()
        self.all_ready = threading.Event()
        self.opened = threading.Event()
        self.until = float("inf")

    def ready(self) -> None:
        with self.lock:
            self.signed += 1
            if self.signed >= self.users:
                self.all_ready.set()

    def open(self, duration: float) -> float:
        started = time.monotonic()
        self.until = started + duration
        self.opened.set()
        return started


# ---------------------------------------------------------------- the workspace
def prepare_workspace(users: int, per_user: int) -> tuple[dict[int, list[int]], tuple[int, int]]:
    """Bench users (marketers), the profiles each edits, and a tag to batch-tag with."""
    import sqlalchemy as sa
    from sqlmodel import select

    from profile_ui.db import session_scope
    from profile_ui.models import Profile, User
    from profile_ui.services import workspace_settings
    from profile_ui.services.permissions import SYSTEM_ACTOR
    from profile_ui.services.users import create_user

    with session_scope() as session:
        for i in range(users):
            email = f"bench{i}@bench.example.com"
            if not session.exec(select(User).where(User.email == email)).first():
                create_user(session=session, actor=SYSTEM_ACTOR, email=email, password=PASSWORD, role="marketer")
        ids = list(
            session.exec(
                select(Profile.id).where(Profile.status == "active").order_by(Profile.id).limit(users * per_user)
            ).all()
        )
        if len(ids) < users * per_user:
            raise SystemExit(f"need {users * per_user} active profiles, found {len(ids)}: seed more")
        group = workspace_settings.create_tag_group(
            session=session, actor=SYSTEM_ACTOR, name=f"Bench {uuid.uuid4().hex[:6]}"
        )
        tag = workspace_settings.create_tag(
            session=session, actor=SYSTEM_ACTOR, group_id=group.id, name="Campaign", kind="text"
        )
        session.execute(sa.text("SELECT 1"))
        return ({i: ids[i * per_user : (i + 1) * per_user] for i in range(users)}, (group.id, tag.id))


def count_stored(
    saved: list[tuple[int, str]], audited: set[tuple[int, str]], current: dict[int, str | None]
) -> tuple[int, int]:
    """(edits stored, edits the page confirmed). An edit is stored when the audit log holds
    it; a profile whose City is not its last confirmed value lost that edit."""
    wanted = set(saved)
    last = dict(saved)  # the last confirmed value of each profile
    lost = sum(1 for pid, value in last.items() if current.get(pid) != value)
    return len(wanted & audited) - lost, len(wanted)


def edits_stored(saved: list[tuple[int, str]]) -> tuple[int, int]:
    """count_stored() on the database the app wrote."""
    from sqlmodel import col, select

    from profile_ui.db import session_scope
    from profile_ui.models import AuditEvent, Profile

    pids = sorted({pid for pid, _value in saved})
    with session_scope() as session:
        audited = set()
        for object_id, details in session.exec(
            select(AuditEvent.object_id, AuditEvent.details).where(AuditEvent.action == "profile.edit")
        ):
            change = (details or {}).get("changes", {}).get("city")
            if change:
                audited.add((int(object_id), change[1]))
        current = dict(session.exec(select(Profile.id, Profile.city).where(col(Profile.id).in_(pids))).all())
    return count_stored(saved, audited, current)


def write_import_files(import_rows: int, imports: int, run: int, work: Path) -> list[Path]:
    """`imports` CSV files of `import_rows` rows: the first half the same people in every
    run (new in the first run, updated after), the second half new people."""
    paths = []
    for n in range(imports if import_rows else 0):
        path = work / f"bench-import-{run}-{n}.csv"
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["Full Name", "Email", "City", "Member level"])
            for i in range(import_rows):
                key = f"{n}-{i}" if i < import_rows // 2 else f"{n}-{run}-{i}"
                writer.writerow(
                    [f"Import Person {key}", f"import{key}@bench-import.example.com", f"City {run}", LEVELS[i % 4]]
                )
        paths.append(path)
    return paths


def start_background_jobs(files: list[Path], export: bool) -> tuple[list[int], int | None]:
    """The imports of `files` (applied at once, no dry run) and an export of every
    active profile ("All fields"), queued as bench0."""
    from profile_ui.db import session_scope
    from profile_ui.services.exporting import export_profiles
    from profile_ui.services.importing.jobs import ImportFile, submit_import
    from profile_ui.services.profiles import ProfileFilter
    from profile_ui.services.users import actor_for_email

    job_ids: list[int] = []
    for path in files:
        with session_scope() as session:
            actor = actor_for_email(session=session, email="bench0@bench.example.com")
            jobs = submit_import(
                session=session,
                actor=actor,
                dry_run=False,
                enqueue=True,
                files=[ImportFile(file_name=path.name, stored_path=path)],
            )
            job_ids += [job.id for job in jobs]
    export_id = None
    if export:
        with session_scope() as session:
            actor = actor_for_email(session=session, email="bench0@bench.example.com")
            result = export_profiles(session=session, actor=actor, flt=ProfileFilter(), fields_mode="all")
            export_id = result.export_id if result.background else None
    return job_ids, export_id


def background_outcome(job_ids: list[int], export_id: int | None, wait: float) -> str:
    """Waits up to `wait` s for the jobs to end (so the next V starts without them), then
    says how each ended and how long it took from its submission."""
    from profile_ui.db import session_scope
    from profile_ui.models import ExportJob, ImportJob

    deadline = time.monotonic() + wait
    while True:
        with session_scope() as session:
            imports = [session.get(ImportJob, i) for i in job_ids]
            export = session.get(ExportJob, export_id) if export_id else None
            jobs = [job for job in [*imports, export] if job is not None]
            done = all(getattr(job.status, "value", job.status) in FINAL_STATUSES for job in jobs)
            if done or time.monotonic() >= deadline:

                def took(job: ImportJob | ExportJob) -> str:
                    if job.finished_at is None:
                        return job.status
                    return f"{job.status} {(job.finished_at - job.created_at).total_seconds():.0f} s"

                parts = [f"import {took(job)}" for job in imports if job is not None]
                parts.append(f"export {took(export)}" if export is not None else "no export")
                return ", ".join(parts)
        time.sleep(2)


# ---------------------------------------------------------------- starting the app
def forget_app_config() -> None:
    """Drop this process's cached settings, engine and job queue (the next shape's differ)."""
    from profile_ui.db import get_engine
    from profile_ui.jobs.runner import get_queue
    from profile_ui.settings import get_settings

    if get_engine.cache_info().currsize:
        get_engine().dispose()
    for cached in (get_engine, get_settings, get_queue):
        cached.cache_clear()


class App:
    """The app under test in a shape, on a fresh workspace of its own."""

    def __init__(self, shape: str, profiles: int, work: Path, cache: Path, extra_env: dict[str, str]) -> None:
        from export_bench import _prepare_postgres, _prepare_sqlite  # the seeds it caches, shared

        from tests.services import ThrowawayRedis, create_pg_database, free_port, pg_url

        self.shape, self.work, self.port = shape, work, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.redis = None
        self.pg_name = None
        data_dir = work / "data"
        data_dir.mkdir(parents=True)
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("REDIS_URL", "REFLEX_REDIS_URL", "DATABASE_URL", "MAKEFLAGS", "MAKELEVEL")
        }
        env.update(
            DATA_DIR=str(data_dir),
            ENVIRONMENT="test",
            APP_URL=self.url,
            REFLEX_WEB_WORKDIR=str(work / "web"),
            PYTHONUNBUFFERED="1",
            REFLEX_TELEMETRY_ENABLED="false",
            REFLEX_CHECK_LATEST_VERSION="false",
        )
        env.update(extra_env)
        bun = ROOT / ".tools" / "bun" / "node_modules" / ".bin" / "bun"
        env.setdefault("REFLEX_BUN_PATH", str(bun))
        env["PATH"] = f"{Path(env['REFLEX_BUN_PATH']).parent}:{Path(sys.executable).parent}:{env['PATH']}"
        if shape == "scaled":
            self.redis = ThrowawayRedis(work).start()
            # a copy of the cached seed (seeded once, kept between runs)
            seeded = _prepare_postgres(profiles).rsplit("/", 1)[-1]
            self.pg_name = create_pg_database("pu_load", template=seeded)
            env.update(DATABASE_URL=pg_url(self.pg_name), REDIS_URL=self.redis.url(), BACKEND_HOST="127.0.0.1")
            command = [
                "make",
                "--no-print-directory",
                "run-scale",
                f"PORT={self.port}",
                "BACKEND_WORKERS=2",
                "JOB_WORKERS=2",
                "SEED_DEMO=0",
            ]
        else:
            seeded = Path(_prepare_sqlite(cache, profiles).removeprefix("sqlite:///"))
            for suffix in ("", "-wal"):  # no WAL is left once the seed's engine is disposed; if one is, it too
                if Path(f"{seeded}{suffix}").exists():
                    shutil.copyfile(f"{seeded}{suffix}", data_dir / f"bench.db{suffix}")
            env["DATABASE_URL"] = f"sqlite:///{data_dir / 'bench.db'}"
            command = [
                str(Path(sys.executable).parent / "reflex"),
                "run",
                "--env",
                "prod",
                "--frontend-port",
                str(self.port),
                "--backend-port",
                str(self.port),
                "--backend-host",
                "127.0.0.1",
            ]
        self.env = env
        cli = str(Path(sys.executable).parent / "profile-ui")
        subprocess.run([cli, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
        self.log = (work / "app.log").open("w")
        self.proc = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait()

    def _wait(self) -> None:
        import httpx

        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the app exited; see {self.work / 'app.log'}")
            try:
                if httpx.get(f"{self.url}/ping", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise SystemExit("the app did not start in 300 s")

    def log_size(self) -> int:
        self.log.flush()
        return (self.work / "app.log").stat().st_size

    def lock_figures(self, since: int) -> str:
        """What Reflex's Redis state manager logged since `since` (scaled shape): state locks
        held over redis_lock_warning_threshold (the longest), and locks that expired."""
        if self.shape != "scaled":
            return "no Redis locks"
        with (self.work / "app.log").open("rb") as log:
            log.seek(since)
            lines = log.read().decode("utf-8", "replace").splitlines()
        # honcho's "time process | " prefixes off, Rich's wrapped lines joined again
        text = " ".join(re.sub(r"^\d\d:\d\d:\d\d \S+\s*\| ", "", line) for line in lines)
        held = [float(m) for m in re.findall(r"time_taken=([0-9.]+)s", text)]
        expired = len(re.findall(r"Lock\s+expired\s+for\s+token", text))
        longest = f" (longest {max(held):.1f} s)" if held else ""
        return f"locks held over the warning {len(held)}{longest}, expired {expired}"

    def use_its_settings(self) -> None:
        """Point this process's settings (get_settings, get_engine, the queue) at the app's."""
        for name in ("DATA_DIR", "DATABASE_URL", "REDIS_URL"):
            if name in self.env:
                os.environ[name] = self.env[name]
            else:
                os.environ.pop(name, None)
        forget_app_config()

    def stop(self) -> None:
        from tests.services import drop_pg_database

        try:
            os.killpg(self.proc.pid, signal.SIGINT if self.shape == "scaled" else signal.SIGTERM)
            self.proc.wait(timeout=60)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.redis is not None:
            self.redis.stop()
        forget_app_config()
        if self.pg_name is not None:
            drop_pg_database(self.pg_name)


# ---------------------------------------------------------------- the run
def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


@dataclass
class RunFigures:
    """One V's figures: what the summary table and the "p95 passes 1 s" line read."""

    label: str
    users: int
    seconds: float
    load: float
    events_per_s: float
    stored: int
    saved: int
    background: str
    locks: str
    timings: dict[str, list[float]]
    errors: dict[str, int]

    def p(self, action: str, q: float) -> float:
        return percentile(self.timings.get(action, []), q)

    def summary_row(self) -> str:
        def ms(action: str, *qs: float) -> str:
            return " / ".join(f"{self.p(action, q):.0f}" for q in qs)

        return (
            f"| {self.label} | {self.users} | {self.seconds:.0f} s | {self.load:.1f} | {self.events_per_s:.1f} | "
            f"{ms('sign in', 50, 95)} | {ms('list query', 50, 95, 99)} | {ms('open User 360', 50, 95, 99)} | "
            f"{ms('inline edit', 50, 95)} | {ms('batch tag', 50, 95)} | {sum(self.errors.values())} | "
            f"{self.stored}/{self.saved} | {self.background} |"
        )


SUMMARY_HEADER = (
    "| shape | V | window | load | events/s | sign in p50/p95 | list query p50/p95/p99 | User 360 p50/p95/p99 | "
    "inline edit p50/p95 | batch tag p50/p95 | errors | edits stored | background (from submission) |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def first_v_over(runs: list[RunFigures], action: str = "list query", limit_ms: float = 1000) -> str:
    """The smallest V of each shape whose p95 of `action` passes `limit_ms`."""
    lines = []
    for label in dict.fromkeys(run.label for run in runs):
        over = [run.users for run in runs if run.label == label and run.p(action, 95) > limit_ms]
        tried = [run.users for run in runs if run.label == label]
        lines.append(
            f"{label}: {action} p95 passes {limit_ms / 1000:g} s at V={min(over)}"
            if over
            else f"{label}: {action} p95 stays under {limit_ms / 1000:g} s up to V={max(tried)}"
        )
    return "\n".join(lines)


def run_once(url: str, users: int, run: int, args: argparse.Namespace, work: Path, app: App | None) -> RunFigures:
    own, tag = prepare_workspace(users, args.per_user)
    files = write_import_files(args.import_rows, args.imports, run, work)
    results = Results()
    window = Window(users, run)
    threads = [
        threading.Thread(
            target=run_marketer, args=(url, i, own[i], tag, window, args.think, args.timeout, results), daemon=True
        )
        for i in range(users)
    ]
    for thread in threads:
        thread.start()
        time.sleep(args.ramp / max(users, 1))
    window.all_ready.wait(timeout=users * args.timeout)
    job_ids, export_id = start_background_jobs(files, args.export)
    log_from = app.log_size() if app else 0
    started = window.open(args.duration)
    for thread in threads:
        thread.join(timeout=args.duration + 10 * args.timeout)
    elapsed = time.monotonic() - started
    load = os.getloadavg()[0]  # the window's last minute
    locks = app.lock_figures(log_from) if app else "locks not seen (--url)"
    stored, saved = edits_stored(results.saved_edits)
    figures = RunFigures(
        label=args.label,
        users=users,
        seconds=elapsed,
        load=load,
        events_per_s=results.events / elapsed,
        stored=stored,
        saved=saved,
        background=background_outcome(job_ids, export_id, args.job_wait),
        locks=locks,
        timings=dict(results.timings),
        errors={action: len(messages) for action, messages in results.errors.items()},
    )
    print(
        f"\n{figures.label} · V={users} · {elapsed:.0f} s · load {load:.1f} · "
        f"{figures.events_per_s:.1f} events/s · edits stored {stored}/{saved} · {figures.background} · {locks}"
    )
    print("| action | n | p50 ms | p95 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|")
    for action in ACTIONS:
        values = results.timings.get(action, [])
        print(
            f"| {action} | {len(values)} | {percentile(values, 50):.0f} | {percentile(values, 95):.0f} | "
            f"{percentile(values, 99):.0f} | {len(results.errors.get(action, []))} |"
        )
    other = results.errors.get("connection", [])
    if other:
        print(f"| (connection lost) | | | | | {len(other)} |")
    for action, messages in results.errors.items():
        print(f"  first {action} error: {messages[0]}")
    sys.stdout.flush()
    return figures


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running app (its DATABASE_URL, DATA_DIR, REDIS_URL in the environment)")
    where.add_argument("--start", help="start the app in these shapes, one after the other: embedded, scaled")
    parser.add_argument("--users", default="10", help="comma-separated V values, e.g. 10,25,50,100")
    parser.add_argument("--duration", type=float, default=60, help="seconds of the steady-state window per V")
    parser.add_argument("--think", type=float, default=5.0, help="mean think time between actions (s)")
    parser.add_argument("--ramp", type=float, default=10.0, help="seconds over which the marketers sign in")
    parser.add_argument("--timeout", type=float, default=30.0, help="an event unanswered this long is an error")
    parser.add_argument("--per-user", type=int, default=10, help="profiles each marketer edits")
    parser.add_argument("--profiles", type=int, default=100_000, help="profiles seeded (cached) with --start")
    parser.add_argument("--imports", type=int, default=2, help="imports queued when each window opens")
    parser.add_argument("--import-rows", type=int, default=50_000, help="rows per import (0: no imports)")
    parser.add_argument("--no-export", dest="export", action="store_false", help="no background export")
    parser.add_argument("--job-wait", type=float, default=600, help="seconds to wait after a window for its jobs")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("TMPDIR", "/tmp")) / "profile-ui-bench",
        help="where seeded SQLite workspaces are kept (PostgreSQL ones are databases pu_export_bench_v1_<n>)",
    )
    parser.add_argument(
        "--app-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the app started, e.g. REFLEX_OPLOCK_ENABLED=true (repeatable)",
    )
    args = parser.parse_args(argv)
    if any("=" not in item for item in args.app_env):
        parser.error("--app-env takes NAME=VALUE")
    args.app_env = dict(item.split("=", 1) for item in args.app_env)
    try:
        args.user_counts = [int(v) for v in args.users.split(",")]
    except ValueError:
        parser.error("--users takes comma-separated whole numbers, e.g. 10,25,50")
    if any(v < 1 for v in args.user_counts):
        parser.error("--users: each V is at least 1")
    args.shapes = [shape.strip() for shape in args.start.split(",")] if args.start else []
    if any(shape not in ("embedded", "scaled") for shape in args.shapes):
        parser.error("--start takes embedded, scaled or both (comma-separated)")
    return args


def main() -> None:
    args = parse_args()
    # stop with SIGTERM (kill PID): the app is stopped and its database dropped; socket.io's
    # client takes SIGINT (Ctrl-C) for itself and only disconnects the marketers
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))
    runs: list[RunFigures] = []
    work = Path(tempfile.mkdtemp(prefix="load-bench-"))
    try:
        for shape in args.shapes or [None]:
            app = None
            shape_work = work / (shape or "url")
            shape_work.mkdir()
            try:
                if shape:
                    needed = max(args.profiles, max(args.user_counts) * args.per_user)
                    app = App(shape, needed, shape_work, args.cache, args.app_env)
                    app.use_its_settings()
                    url, args.label = app.url, shape
                else:
                    url, args.label = args.url, args.url
                for run, users in enumerate(args.user_counts):
                    runs.append(run_once(url, users, run, args, shape_work, app))
            finally:
                if app is not None:
                    app.stop()
        print(
            f"\nprofiles {args.profiles:,} · imports {args.imports} x {args.import_rows:,} rows · think {args.think} s"
        )
        print(SUMMARY_HEADER)
        for figures in runs:
            print(figures.summary_row())
        print(first_v_over(runs))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
