"""Load bench: V virtual marketers working at once, while imports and an export run.

    .venv/bin/python benchmarks/load_bench.py --start embedded --users 10 --duration 60
    .venv/bin/python benchmarks/load_bench.py --start scaled --users 10,25,50,100 \
        --profiles 1000000 --import-rows 50000 --export-rows 1000000
    .venv/bin/python benchmarks/load_bench.py --url http://127.0.0.1:3000 --users 25   # a running app
                                              # (DATABASE_URL etc. of that app in the environment)

Each virtual marketer is a socket.io client speaking Reflex's event protocol exactly as
the browser does (the events the pages send, with the router data of the page; follow-up
events the server asks the page to send are sent back, as the page would), in a thread
of its own. It signs in through the login form's event, then loops until the run ends,
with an exponential think time (mean --think seconds) between actions:

    list query     the profile list's filter form (a name fragment, a member level)
    open User 360  a profile's page (its on_load)
    inline edit    City on that profile (start_edit + submit_inline), a value of its own
    batch tag      3 rows of the list selected, tagged through the tag picker

Each marketer edits only its own profiles, so every saved edit must be in the database
afterwards: the bench checks the audit log and the profiles after each run and prints
"edits stored". In the background, --imports files of --import-rows rows (half updating
existing people, half new) are submitted and one export of every profile (--export-rows
profiles are seeded first with --start) is queued when the marketers start.

Printed per V: per action p50 / p95 / p99 in ms, count, errors (no answer within
--timeout, or an error toast), events/s over the whole run, and the background jobs'
outcome. `--start embedded` runs `reflex run --env prod` (SQLite, jobs in-process);
`--start scaled` runs `make run-scale` (a fresh PostgreSQL database and an own
redis-server, 2 backend + 2 job workers). Table format: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import csv
import os
import queue
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NAMESPACE = "/_event"
PASSWORD = "bench-password-1"
LEVELS = ["Bronze", "Silver", "Gold", "Platinum", ""]
NAME_PARTS = ["Nguyen", "Tran", "Le", "Pham", "Hoang", "Anh", "Minh", "Linh", ""]
QUIET_S = 0.15  # an event's further updates arrive within this (not counted in its time)
ACTIONS = ["sign in", "list query", "open User 360", "inline edit", "batch tag"]


# ---------------------------------------------------------------- one virtual marketer
class Failed(Exception):
    pass


class Marketer:
    """A socket.io client that sends the app's events as a browser tab would."""

    def __init__(self, url: str, email: str, timeout: float) -> None:
        import socketio

        from profile_ui.state.base import AppState

        self.email, self.timeout = email, timeout
        self.prefix = AppState.get_full_name().split(".")[0]
        self.updates: queue.Queue[dict] = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("event", self.updates.put, namespace=NAMESPACE)
        self.sio.connect(
            f"{url}?token={uuid.uuid4()}",
            socketio_path=NAMESPACE,
            namespaces=[NAMESPACE],
            transports=["websocket"],
            wait_timeout=30,
        )
        self.path = "/login"
        self.events = 0
        self.busy_ms = 0.0  # time waiting for answers to this tab's events

    def send(self, handler: str, payload: dict | None = None, path: str | None = None) -> list[dict]:
        """One event and the follow-ups the page would send; the updates they caused.

        Reflex tags no update with the event that caused it, so each event is answered by
        its first update (a handler's return is one update): the time to it is added to
        `busy_ms`; updates that follow within QUIET_S (a yielding handler, the rest of a
        chain) are collected without being timed, so none is taken for the next event's."""
        self.path = path or self.path
        pending = [(handler, payload or {})]
        received: list[dict] = []
        while pending:
            name, args = pending.pop(0)
            started = time.perf_counter()
            self.sio.emit(
                "event",
                {"name": name, "payload": args, "router_data": {"pathname": self.path, "asPath": self.path}},
                namespace=NAMESPACE,
            )
            self.events += 1
            try:
                update = self.updates.get(timeout=self.timeout)
            except queue.Empty:
                raise Failed(f"no answer to {name.rsplit('.', 1)[-1]} in {self.timeout} s") from None
            self.busy_ms += (time.perf_counter() - started) * 1000
            batch = [update, *self._trailing()]
            received += batch
            for item in batch:
                for event in item.get("events") or []:
                    if str(event.get("name", "")).startswith(self.prefix):
                        pending.append((event["name"], event.get("payload") or {}))
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
    until: float,
    think: float,
    timeout: float,
    results: Results,
) -> None:
    rng = random.Random(index)
    states = _states()
    email = f"bench{index}@bench.example.com"
    try:
        tab = Marketer(url, email, timeout)
    except Exception as exc:  # noqa: BLE001
        results.errors["sign in"].append(f"connect: {exc}"[:200])
        return
    try:
        tab.send(f"{tab.prefix}.hydrate_and_load", {"vars": {}}, path="/login")
        if not results.timed(
            "sign in",
            tab,
            lambda: tab.send(
                f"{states['login']}.submit", {"form_data": {"email": email, "password": PASSWORD}}, path="/login"
            ),
        ):
            return
        tab.send(f"{states['list']}.on_load", path="/profiles")
        edit = 0
        while time.monotonic() < until:
            time.sleep(rng.expovariate(1 / think))
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
                value = f"Bench {index}-{edit}"

                def save() -> None:
                    tab.send(f"{states['detail']}.on_load", path=f"/profiles/{pid}")
                    tab.send(f"{states['detail']}.start_edit", {"key": "city"})
                    answer = tab.send(
                        f"{states['detail']}.submit_inline", {"form_data": {"field_key": "city", "value": value}}
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
                    tab.send(f"{states['list']}.open_batch_tag")
                    tab.send(f"{states['picker']}.choose_group", {"group_id": str(tag[0])})
                    tab.send(f"{states['picker']}.choose_tag", {"tag_id": str(tag[1])})
                    answer = tab.send(
                        f"{states['list']}.apply_batch_tag",
                        {"form_data": {"policy": "ignore", "tag_value": f"bench-{index}"}},
                    )
                    if "Tagged" not in repr(answer):
                        raise Failed(f"no confirmation of the tagging: {repr(answer)[:300]}")

                results.timed(action, tab, batch_tag)
    except Exception as exc:  # noqa: BLE001 - a broken connection ends this marketer
        results.errors["connection"].append(str(exc)[:200])
    finally:
        with results.lock:
            results.events += tab.events
        tab.close()


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


def edits_stored(saved: list[tuple[int, str]]) -> tuple[int, int]:
    """(saved edits found in the audit log, saved edits); and the last of each profile is its city."""
    from sqlmodel import select

    from profile_ui.db import session_scope
    from profile_ui.models import AuditEvent, Profile

    wanted = set(saved)
    with session_scope() as session:
        found = set()
        for event in session.exec(select(AuditEvent).where(AuditEvent.action == "profile.edit")):
            change = (event.details or {}).get("changes", {}).get("city")
            if change and (int(event.object_id), change[1]) in wanted:
                found.add((int(event.object_id), change[1]))
        last: dict[int, str] = {}
        for pid, value in saved:
            last[pid] = value
        wrong = [pid for pid, value in last.items() if session.get(Profile, pid).city != value]
    return len(found) - len(wrong), len(wanted)


def start_background_jobs(import_rows: int, imports: int, export: bool, work: Path) -> tuple[list[int], int | None]:
    from profile_ui.db import session_scope
    from profile_ui.services.exporting import export_profiles
    from profile_ui.services.importing.jobs import ImportFile, submit_import
    from profile_ui.services.profiles import ProfileFilter
    from profile_ui.services.users import actor_for_email

    job_ids: list[int] = []
    for n in range(imports if import_rows else 0):
        path = work / f"bench-import-{n}-{uuid.uuid4().hex[:6]}.csv"
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["Full Name", "Email", "City", "Member level"])
            for i in range(import_rows):
                writer.writerow(
                    [f"Import Person {i}", f"import{i}@bench-import.example.com", f"City {n}", LEVELS[i % 4]]
                )
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
            result = export_profiles(
                session=session,
                actor=actor,
                flt=ProfileFilter(),
                columns=["full_name", "identity:email", "city", "member_level"],
            )
            export_id = result.export_id if result.background else None
    return job_ids, export_id


def background_outcome(job_ids: list[int], export_id: int | None) -> str:
    from profile_ui.db import session_scope
    from profile_ui.models import ExportJob, ImportJob

    with session_scope() as session:
        imports = [session.get(ImportJob, i).status for i in job_ids]
        export = session.get(ExportJob, export_id).status if export_id else "none"
    return f"imports {imports or 'none'}, export {export}"


# ---------------------------------------------------------------- starting the app
class App:
    """The app under test in a shape, on a fresh workspace of its own."""

    def __init__(self, shape: str, profiles: int, work: Path) -> None:
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
        bun = ROOT / ".tools" / "bun" / "node_modules" / ".bin" / "bun"
        env.setdefault("REFLEX_BUN_PATH", str(bun))
        env["PATH"] = f"{Path(env['REFLEX_BUN_PATH']).parent}:{Path(sys.executable).parent}:{env['PATH']}"
        if shape == "scaled":
            self.redis = ThrowawayRedis(work).start()
            self.pg_name = create_pg_database("pu_load")
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
        subprocess.run([cli, "seed", "--profiles", str(profiles)], env=env, cwd=ROOT, check=True, capture_output=True)
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

    def use_its_settings(self) -> None:
        """Point this process's settings (get_settings, get_engine, the queue) at the app's."""
        for name in ("DATA_DIR", "DATABASE_URL", "REDIS_URL"):
            if name in self.env:
                os.environ[name] = self.env[name]
            else:
                os.environ.pop(name, None)

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
        if self.pg_name is not None:
            from profile_ui.db import get_engine

            get_engine().dispose()
            drop_pg_database(self.pg_name)


# ---------------------------------------------------------------- the run
def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def run_once(url: str, users: int, args: argparse.Namespace, work: Path) -> None:
    own, tag = prepare_workspace(users, args.per_user)
    job_ids, export_id = start_background_jobs(args.import_rows, args.imports, args.export_rows > 0, work)
    results = Results()
    started = time.monotonic()
    until = started + args.duration
    threads = [
        threading.Thread(
            target=run_marketer, args=(url, i, own[i], tag, until, args.think, args.timeout, results), daemon=True
        )
        for i in range(users)
    ]
    for thread in threads:
        thread.start()
        time.sleep(args.ramp / max(users, 1))
    for thread in threads:
        thread.join(timeout=args.duration + 10 * args.timeout)
    elapsed = time.monotonic() - started
    stored, saved = edits_stored(results.saved_edits)
    load = os.getloadavg()[0]
    print(
        f"\n{args.label} · V={users} · {elapsed:.0f} s · load {load:.1f} · "
        f"{results.events / elapsed:.1f} events/s · edits stored {stored}/{saved} · "
        f"{background_outcome(job_ids, export_id)}"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running app (its DATABASE_URL, DATA_DIR, REDIS_URL in the environment)")
    where.add_argument("--start", choices=["embedded", "scaled"], help="start the app in this shape")
    parser.add_argument("--users", default="10", help="comma-separated V values, e.g. 10,25,50,100")
    parser.add_argument("--duration", type=float, default=60, help="seconds of work per V")
    parser.add_argument("--think", type=float, default=3.0, help="mean think time between actions (s)")
    parser.add_argument("--ramp", type=float, default=5.0, help="seconds over which the marketers sign in")
    parser.add_argument("--timeout", type=float, default=30.0, help="an event unanswered this long is an error")
    parser.add_argument("--per-user", type=int, default=10, help="profiles each marketer edits")
    parser.add_argument("--profiles", type=int, default=5000, help="profiles seeded with --start")
    parser.add_argument("--imports", type=int, default=2)
    parser.add_argument("--import-rows", type=int, default=50_000)
    parser.add_argument("--export-rows", type=int, default=1, help="0: no background export")
    args = parser.parse_args()
    users = [int(v) for v in args.users.split(",")]
    work = Path(tempfile.mkdtemp(prefix="load-bench-"))
    app = None
    try:
        if args.start:
            app = App(args.start, max(args.profiles, args.export_rows, max(users) * args.per_user), work)
            app.use_its_settings()
            url = app.url
            args.label = args.start
        else:
            url, args.label = args.url, args.url
        for v in users:
            run_once(url, v, args, work)
    finally:
        if app is not None:
            app.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
