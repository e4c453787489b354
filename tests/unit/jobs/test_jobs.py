"""Import jobs: the job row is the truth; batches run in order; crashes resume exactly once."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from profile_ui.db import make_engine, session_scope
from profile_ui.jobs import import_job, leases, runner
from profile_ui.jobs.import_job import recover_import_jobs, run_batch, run_job
from profile_ui.models import AuditEvent, Identity, ImportJob, ImportRowResult, Profile, SyncRule, utcnow
from profile_ui.services import dispatch
from profile_ui.services.importing.jobs import (
    RUN_KEY,
    ImportFile,
    ImportJobError,
    cancel_import,
    confirm_import,
    list_imports,
    submit_import,
)
from profile_ui.services.permissions import SYSTEM_ACTOR, PermissionDenied
from profile_ui.services.users import actor_for_email, create_user

ROOT = Path(__file__).resolve().parents[3]


def _point_app_at(app_env, url: str):
    app_env(url)
    return make_engine(url)


@pytest.fixture
def app(app_env, db_url: str):
    """The app's settings on a fresh database (SQLite, PostgreSQL); yields an engine for checking."""
    engine = _point_app_at(app_env, db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_app(app_env, sqlite_url: str):
    engine = _point_app_at(app_env, sqlite_url)
    yield engine
    engine.dispose()


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def people_file(tmp_path: Path, name: str = "people.csv", city: str = "Huế", count: int = 3) -> Path:
    rows = [["Full Name", "Email", "City"]]
    rows += [[f"Person {i}", f"p{i}@example.com", city] for i in range(count)]
    return write_csv(tmp_path / name, rows)


def submit(*paths: Path, dry_run: bool = False, enqueue: bool = False, actor=SYSTEM_ACTOR) -> list[int]:
    with session_scope() as session:
        jobs = submit_import(
            session=session,
            actor=actor,
            dry_run=dry_run,
            enqueue=enqueue,
            files=[ImportFile(file_name=p.name, stored_path=p) for p in paths],
        )
        return [job.id for job in jobs]


def job_row(engine: sa.Engine, job_id: int) -> ImportJob:
    with Session(engine, expire_on_commit=False) as session:
        return session.get(ImportJob, job_id)


def count(engine: sa.Engine, table: type, *where: sa.ColumnElement) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


# ---------------------------------------------------------------- the job row
def test_files_submitted_together_run_one_after_another_in_order(app, tmp_path: Path) -> None:
    first = people_file(tmp_path, "first.csv", city="Huế")
    second = people_file(tmp_path, "second.csv", city="Đà Nẵng")
    first_id, second_id = submit(first, second)
    assert [job_row(app, i).status for i in (first_id, second_id)] == ["queued", "queued"]

    assert run_batch(job_row(app, first_id).batch_id) == [first_id, second_id]

    one, two = job_row(app, first_id), job_row(app, second_id)
    assert (one.status, two.status) == ("completed", "completed")
    assert two.started_at >= one.finished_at
    assert (one.rows_total, one.rows_done) == (3, 3)
    assert one.counts["created"] == 3 and two.counts["updated"] == 3
    with app.connect() as conn:  # the later file's values are the ones that stay
        assert set(conn.execute(sa.select(Profile.city)).scalars()) == {"Đà Nẵng"}
    assert count(app, Profile) == 3


def test_dry_run_waits_for_confirmation_then_applies_once(app, tmp_path: Path) -> None:
    (job_id,) = submit(people_file(tmp_path), dry_run=True)

    run_batch(job_row(app, job_id).batch_id)

    job = job_row(app, job_id)
    assert job.status == "awaiting_confirmation"
    assert job.counts["created"] == 3
    assert count(app, ImportRowResult, ImportRowResult.job_id == job_id) == 3  # the preview
    assert count(app, Profile) == 0 and count(app, Identity) == 0

    with session_scope() as session:
        assert confirm_import(session=session, actor=SYSTEM_ACTOR, job_id=job_id, enqueue=False).status == "queued"
    run_batch(job.batch_id)

    job = job_row(app, job_id)
    assert job.status == "completed" and job.counts["created"] == 3
    assert count(app, Profile) == 3
    assert count(app, ImportRowResult, ImportRowResult.job_id == job_id) == 3  # replaced, not added
    with session_scope() as session, pytest.raises(ImportJobError, match="completed"):
        confirm_import(session=session, actor=SYSTEM_ACTOR, job_id=job_id)


def test_a_cancelled_job_is_skipped_and_the_batch_goes_on(app, tmp_path: Path) -> None:
    first_id, second_id = submit(people_file(tmp_path, "a.csv"), people_file(tmp_path, "b.csv", city="Huế"))
    with session_scope() as session:
        cancel_import(session=session, actor=SYSTEM_ACTOR, job_id=first_id)

    assert run_batch(job_row(app, first_id).batch_id) == [second_id]

    assert job_row(app, first_id).status == "cancelled"
    assert job_row(app, second_id).status == "completed"
    with session_scope() as session, pytest.raises(ImportJobError, match="already ended"):
        cancel_import(session=session, actor=SYSTEM_ACTOR, job_id=second_id)
    with session_scope() as session:
        jobs, total = list_imports(session=session, actor=SYSTEM_ACTOR)
    assert total == 2 and [j.id for j in jobs] == [first_id, second_id]


def test_a_job_runs_once_however_often_it_is_delivered(app, tmp_path: Path) -> None:
    ids = submit(people_file(tmp_path, "a.csv", count=20), people_file(tmp_path, "b.csv", count=20))
    batch_id = job_row(app, ids[0]).batch_id
    ran: list[list[int]] = []

    threads = [threading.Thread(target=lambda: ran.append(run_batch(batch_id))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(i for r in ran for i in r) == ids  # every job by exactly one runner
    assert run_job(ids[0]) is None  # a late, duplicate delivery finds nothing to do
    assert [job_row(app, i).status for i in ids] == ["completed", "completed"]
    assert count(app, Profile) == 20
    assert count(app, AuditEvent, AuditEvent.action == "import.apply") == 2


def test_only_importers_submit(app, tmp_path: Path) -> None:
    with session_scope() as session:
        create_user(session=session, actor=SYSTEM_ACTOR, email="v@example.com", password="long-enough-1", role="viewer")
    with session_scope() as session:
        viewer = actor_for_email(session=session, email="v@example.com")
    with pytest.raises(PermissionDenied):
        submit(people_file(tmp_path), actor=viewer)
    assert count(app, ImportJob) == 0


# ---------------------------------------------------------------- crashes
def _claimed_by(engine: sa.Engine, job_id: int, status: str, owner: dict, lease_seconds: float) -> None:
    now = utcnow()
    with engine.begin() as conn:
        options = conn.execute(sa.select(ImportJob.options).where(ImportJob.id == job_id)).scalar_one()
        run = {
            **options.get(RUN_KEY, {}),
            "owner": owner,
            "lease_until": (now + timedelta(seconds=lease_seconds)).isoformat(),
        }
        conn.execute(
            sa.update(ImportJob)
            .where(ImportJob.id == job_id)
            .values(status=status, started_at=now, options={**options, RUN_KEY: run})
        )


def test_recovery_requeues_jobs_whose_worker_died_or_whose_lease_ran_out(
    app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []
    monkeypatch.setitem(dispatch.SENDERS, dispatch.IMPORT_BATCH, sent.append)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    me = leases.Owner.current().to_json()
    elsewhere = {"host": "another-machine@1", "pid": 1, "pid_started": 0.0}
    dead_here, alive_here, expired_elsewhere, live_elsewhere = submit(
        *(people_file(tmp_path, f"{n}.csv") for n in "abcd")
    )
    _claimed_by(app, dead_here, "running", {**me, "pid": dead.pid}, lease_seconds=600)
    _claimed_by(app, alive_here, "running", me, lease_seconds=600)
    _claimed_by(app, expired_elsewhere, "validating", elsewhere, lease_seconds=-1)
    _claimed_by(app, live_elsewhere, "validating", elsewhere, lease_seconds=600)

    assert sorted(recover_import_jobs()) == [dead_here, expired_elsewhere]

    statuses = [job_row(app, i).status for i in (dead_here, alive_here, expired_elsewhere, live_elsewhere)]
    assert statuses == ["queued", "running", "queued", "validating"]
    # it was applying: the next attempt applies again (from the file, nothing was committed)
    assert job_row(app, dead_here).options[RUN_KEY]["confirmed"] is True
    assert sent == [job_row(app, dead_here).batch_id]
    assert run_job(dead_here) == "completed"


def test_a_worker_that_lost_its_claim_writes_nothing(app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (job_id,) = submit(people_file(tmp_path))

    original_update = import_job._update_held

    def fenced(conn, claim, statuses, renew=False, **values):
        if values.get("status") == "completed":  # another worker re-claimed the job meanwhile
            conn.execute(
                sa.update(ImportJob)
                .where(ImportJob.id == claim.job_id)
                .values(started_at=claim.started_at + timedelta(seconds=5))
            )
        return original_update(conn, claim, statuses, renew, **values)

    monkeypatch.setattr(import_job, "_update_held", fenced)

    assert run_job(job_id) == "lost"

    assert count(app, Profile) == 0 and count(app, Identity) == 0
    assert count(app, ImportRowResult) == 0
    assert job_row(app, job_id).status == "running"  # the other attempt's business now


def _write_locked(db_path: Path) -> bool:
    """Whether a transaction holds SQLite's write lock (the apply has written, not committed)."""
    conn = sqlite3.connect(db_path, timeout=0)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.rollback()
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()


def _start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "profile_ui.cli", "worker"],
        cwd=ROOT,
        env=env,
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen, sig: int = signal.SIGINT) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_a_worker_killed_mid_apply_is_resumed_by_the_next_and_imports_once(
    sqlite_app, tmp_path: Path, sqlite_url: str
) -> None:
    app = sqlite_app
    db_path = Path(sqlite_url.removeprefix("sqlite:///"))
    env = {k: v for k, v in os.environ.items() if k != import_job.TEST_APPLY_DELAY_ENV}
    env.update(DATABASE_URL=sqlite_url, DATA_DIR=os.environ["DATA_DIR"], PYTHONPATH=str(ROOT))
    log_path = tmp_path / "worker.log"
    (job_id,) = submit(people_file(tmp_path, count=200), enqueue=True)  # queued once committed

    first = _start_worker({**env, import_job.TEST_APPLY_DELAY_ENV: "60"}, log_path)
    try:
        _wait_for(lambda: job_row(app, job_id).status == "running", 60, "the worker to start applying")
        _wait_for(lambda: _write_locked(db_path), 30, "the apply to hold its transaction open")
        os.killpg(first.pid, signal.SIGKILL)  # a crash: no clean-up of any kind
        first.wait()
    finally:
        _stop(first, signal.SIGKILL)

    job = job_row(app, job_id)
    assert job.status == "running"  # as the dead worker left it
    assert count(app, Profile) == 0 and count(app, ImportRowResult) == 0  # rolled back whole

    second = _start_worker(env, log_path)
    try:
        _wait_for(
            lambda: job_row(app, job_id).status in ("completed", "failed"), 90, "the next worker to finish the job"
        )
    finally:
        _stop(second)

    job = job_row(app, job_id)
    assert job.status == "completed", log_path.read_text(errors="replace")
    assert job.counts["created"] == 200
    assert job.options[RUN_KEY]["attempt"] == 2
    assert count(app, Profile) == 200  # every person exactly once
    with app.connect() as conn:
        emails = conn.execute(sa.select(Identity.value).where(Identity.kind == "email")).scalars().all()
    assert sorted(emails) == sorted(f"p{i}@example.com" for i in range(200))
    assert count(app, ImportRowResult, ImportRowResult.job_id == job_id) == 200
    assert count(app, AuditEvent, AuditEvent.action == "import.apply") == 1


# ---------------------------------------------------------------- the queue
def test_the_embedded_consumer_runs_what_is_submitted(app, tmp_path: Path) -> None:
    consumer = runner.start_embedded_consumer()
    try:
        assert runner.start_embedded_consumer() is consumer  # once per process
        first_id, second_id = submit(people_file(tmp_path, "a.csv"), people_file(tmp_path, "b.csv"), enqueue=True)
        _wait_for(lambda: job_row(app, second_id).status == "completed", 30, "the consumer")
    finally:
        runner.stop_embedded_consumer()
    assert job_row(app, first_id).status == "completed"
    assert count(app, Profile) == 3


def _redis_url() -> str | None:
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:  # noqa: BLE001 - any failure means: no Redis here
        return None
    return url


def test_with_redis_the_queue_lives_in_redis(app_env, sqlite_url: str, tmp_path: Path) -> None:
    url = _redis_url()
    if url is None:
        pytest.skip("Redis not reachable")
    app_env(sqlite_url, REDIS_URL=url)
    huey = runner.get_huey()
    assert type(huey).__name__ == "RedisHuey"
    assert not (Path(os.environ["DATA_DIR"]) / "job-queue.db").exists()
    engine = make_engine(sqlite_url)
    consumer = runner.start_embedded_consumer()
    try:
        (job_id,) = submit(people_file(tmp_path), enqueue=True)
        _wait_for(lambda: job_row(engine, job_id).status == "completed", 30, "the consumer")
    finally:
        runner.stop_embedded_consumer()
        huey.flush()  # this test's queue only (named after the test database)
        engine.dispose()
    assert consumer is not None


def test_a_live_worker_on_this_host_keeps_its_job_past_the_lease(app, tmp_path: Path) -> None:
    (job_id,) = submit(people_file(tmp_path))
    _claimed_by(app, job_id, "running", leases.Owner.current().to_json(), lease_seconds=-60)

    assert recover_import_jobs() == []
    assert job_row(app, job_id).status == "running"


def test_totals_are_said_in_one_vocabulary_with_thousands_separators() -> None:
    from profile_ui.models import OUTCOME_COUNTS
    from profile_ui.services.importing.jobs import report_counts, totals_text

    counts = {
        "rows": 2030,
        "created": 2000,
        "updated": 30,
        "merged": 0,
        "unchanged": 0,
        "invalid": 0,
        "conflicts": 0,
        "rows_new": 2000,
    }
    assert totals_text(counts) == "2,030 rows: 2,000 new, 30 updated, 0 merged, 0 unchanged, 0 invalid, 0 conflicts"
    # the CLI's JSON keys are the same words, in the same order
    assert (
        list(report_counts(counts))
        == list(OUTCOME_COUNTS)
        == ["rows", "new", "updated", "merged", "unchanged", "invalid", "conflicts"]
    )
    assert totals_text({"rows": 1, "created": 1}).startswith("1 row: 1 new")


def test_an_import_job_without_a_sync_rule_matches_by_the_default_rule(app, tmp_path: Path) -> None:
    """No rule set up (services/catalog.py): the second file's e-mails find the people the
    first one created, as a hand-made profile and a membership file would (test_sync_rule.py)."""
    with app.begin() as conn:
        conn.execute(sa.delete(SyncRule))
    first_id, second_id = submit(
        people_file(tmp_path, "first.csv", city="Huế"), people_file(tmp_path, "second.csv", city="Đà Nẵng")
    )
    run_batch(job_row(app, first_id).batch_id)
    assert job_row(app, first_id).counts["created"] == 3
    assert job_row(app, second_id).counts["updated"] == 3
    assert count(app, Profile) == 3
