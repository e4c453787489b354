"""Job faults in the production shape: PostgreSQL, a redis-server of the test's own, two
`profile-ui worker` processes. A worker is killed mid-import and mid-export, Redis is
restarted, the database connection is dropped mid-apply, two imports of the same people
run at once: each time the job rows, profiles and files end as if nothing had happened
(or the job failed cleanly, never half-applied)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from profile_ui.jobs import export_job, import_job
from profile_ui.models import AuditEvent, ExportJob, Identity, ImportJob, ImportRowResult, Profile, utcnow
from profile_ui.services.exporting import export_profiles
from profile_ui.services.importing.jobs import RUN_KEY
from profile_ui.services.permissions import SYSTEM_ACTOR
from profile_ui.services.profiles import ProfileFilter
from profile_ui.services.users import actor_for_email, create_user
from tests.services import ThrowawayRedis, terminate_pg_backends
from tests.unit.jobs.test_jobs import _start_worker, _stop, _wait_for, count, job_row, people_file, submit, write_csv

pytestmark = pytest.mark.postgres
RECOVERY_S = 150  # the recovery sweep runs every minute in each worker


class Shape:
    """The app's settings pointed at a fresh PostgreSQL database and a throwaway Redis."""

    def __init__(self, engine: sa.Engine, env: dict[str, str], redis: ThrowawayRedis, database: str, log: Path) -> None:
        self.engine, self.env, self.redis, self.database, self.log = engine, env, redis, database, log
        self.workers: list[subprocess.Popen] = []

    def worker(self, **env: str) -> subprocess.Popen:
        proc = _start_worker({**self.env, **env}, self.log)
        self.workers.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        os.killpg(proc.pid, signal.SIGKILL)  # a crash: no clean-up of any kind
        proc.wait()

    def apply_holds_its_writes(self) -> bool:
        """Whether an apply has written profiles and not committed (row locks held)."""
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                        "WHERE c.relname = 'profiles' AND l.mode = 'RowExclusiveLock' "
                        "AND l.pid <> pg_backend_pid()"
                    )
                ).scalar_one()
                > 0
            )

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def shape(app_env, pg_url: str, tmp_path: Path) -> Iterator[Shape]:
    try:
        redis = ThrowawayRedis(tmp_path).start()
    except FileNotFoundError:
        if os.environ.get("CI"):
            raise
        pytest.skip("redis-server is not installed")
    data_dir = app_env(pg_url, REDIS_URL=redis.url(), EXPORT_SYNC_LIMIT="1")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in (import_job.TEST_APPLY_DELAY_ENV, export_job.TEST_EXPORT_DELAY_ENV)
    }
    env.update(
        DATABASE_URL=pg_url,
        DATA_DIR=str(data_dir),
        REDIS_URL=redis.url(),
        EXPORT_SYNC_LIMIT="1",
        PYTHONPATH=str(Path(__file__).resolve().parents[3]),
    )
    engine = sa.create_engine(pg_url, pool_pre_ping=True)
    result = Shape(engine, env, redis, sa.engine.make_url(pg_url).database, tmp_path / "workers.log")
    try:
        yield result
    finally:
        for proc in result.workers:
            _stop(proc, signal.SIGKILL)
        engine.dispose()
        redis.stop()


def _done(shape: Shape, job_id: int) -> bool:
    return job_row(shape.engine, job_id).status in ("completed", "failed")


def _emails(shape: Shape) -> list[str]:
    with shape.engine.connect() as conn:
        return sorted(conn.execute(sa.select(Identity.value).where(Identity.kind == "email")).scalars())


def test_a_worker_killed_mid_import_another_running_worker_finishes_it_once(shape: Shape, tmp_path: Path) -> None:
    (job_id,) = submit(people_file(tmp_path, count=200), enqueue=True)
    first = shape.worker(**{import_job.TEST_APPLY_DELAY_ENV: "120"})
    _wait_for(lambda: job_row(shape.engine, job_id).status == "running", 60, "the apply to start")
    _wait_for(shape.apply_holds_its_writes, 60, "the apply to hold its writes")
    shape.worker()  # the second worker is running when the first dies
    shape.kill(first)

    _wait_for(lambda: _done(shape, job_id), RECOVERY_S, "the other worker to finish the job")
    job = job_row(shape.engine, job_id)
    assert job.status == "completed", shape.logs()
    assert job.counts["created"] == 200 and job.options[RUN_KEY]["attempt"] == 2
    assert count(shape.engine, Profile) == 200
    assert _emails(shape) == sorted(f"p{i}@example.com" for i in range(200))
    assert count(shape.engine, ImportRowResult, ImportRowResult.job_id == job_id) == 200
    assert count(shape.engine, AuditEvent, AuditEvent.action == "import.apply") == 1


def _marketer() -> object:
    from profile_ui.db import session_scope

    with session_scope() as session:
        create_user(
            session=session, actor=SYSTEM_ACTOR, email="m@example.com", password="a-long-password-1", role="marketer"
        )
    with session_scope() as session:
        return actor_for_email(session=session, email="m@example.com")


def test_a_worker_killed_mid_export_another_writes_the_same_file_once(shape: Shape, tmp_path: Path) -> None:
    (job_id,) = submit(people_file(tmp_path, count=50))
    import_job.run_batch(job_row(shape.engine, job_id).batch_id)  # 50 people to export
    actor = _marketer()
    from profile_ui.db import session_scope

    with session_scope() as session:
        queued = export_profiles(
            session=session, actor=actor, flt=ProfileFilter(), columns=["full_name", "identity:email", "city"]
        )
    assert queued.background
    first = shape.worker(**{export_job.TEST_EXPORT_DELAY_ENV: "120"})
    _wait_for(lambda: _export(shape, queued.export_id).status == "running", 60, "the export to start")
    shape.worker()
    shape.kill(first)

    _wait_for(
        lambda: _export(shape, queued.export_id).status in ("completed", "failed"),
        RECOVERY_S,
        "the other worker to write the export",
    )
    job = _export(shape, queued.export_id)
    assert job.status == "completed", shape.logs()
    assert job.row_count == 50
    with open(job.file_path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == 51 and sorted(r[2] for r in rows[1:]) == sorted(f"p{i}@example.com" for i in range(50))
    assert [p.name for p in Path(job.file_path).parent.iterdir()] == [Path(job.file_path).name]  # no .part left
    assert count(shape.engine, AuditEvent, AuditEvent.action == "profiles.export") == 1


def _export(shape: Shape, export_id: int) -> ExportJob:
    with Session(shape.engine, expire_on_commit=False) as session:
        return session.get(ExportJob, export_id)


def test_after_a_redis_restart_queued_jobs_are_recovered_from_their_rows(shape: Shape, tmp_path: Path) -> None:
    (lost,) = submit(people_file(tmp_path, "lost.csv", count=20), enqueue=True)  # its message is in Redis
    shape.redis.restart()  # nothing kept on disk: the message is gone
    with shape.engine.begin() as conn:  # ... and it has waited past a lease since
        options = conn.execute(sa.select(ImportJob.options).where(ImportJob.id == lost)).scalar_one()
        run = {**options.get(RUN_KEY, {}), "queued_at": (utcnow() - timedelta(minutes=5)).isoformat()}
        conn.execute(
            sa.update(ImportJob)
            .where(ImportJob.id == lost)
            .values(options={**options, RUN_KEY: run}, created_at=utcnow() - timedelta(minutes=5))
        )
    worker = shape.worker(**{import_job.TEST_APPLY_DELAY_ENV: "3"})
    _wait_for(lambda: _done(shape, lost), 60, "the worker to recover the lost job")
    assert job_row(shape.engine, lost).status == "completed", shape.logs()

    # a job running while Redis restarts finishes; the queue works again afterwards
    (running,) = submit(people_file(tmp_path, "running.csv", count=20, city="Vinh"), enqueue=True)
    _wait_for(shape.apply_holds_its_writes, 60, "the next apply")
    shape.redis.restart()
    _wait_for(lambda: _done(shape, running), 60, "the running job")
    (after,) = submit(
        write_csv(tmp_path / "after.csv", [["Full Name", "Email"], ["New", "new@example.com"]]), enqueue=True
    )
    _wait_for(lambda: _done(shape, after), 60, "a job queued after the restart")
    assert [job_row(shape.engine, i).status for i in (lost, running, after)] == ["completed"] * 3, shape.logs()
    assert count(shape.engine, Profile) == 21  # the second file updated the same 20 people
    assert count(shape.engine, AuditEvent, AuditEvent.action == "import.apply") == 3
    assert worker.poll() is None  # the worker survived both restarts


def test_a_dropped_database_connection_mid_apply_leaves_nothing_half_applied(shape: Shape, tmp_path: Path) -> None:
    (job_id,) = submit(people_file(tmp_path, count=200), enqueue=True)
    shape.worker(**{import_job.TEST_APPLY_DELAY_ENV: "5"})
    _wait_for(shape.apply_holds_its_writes, 60, "the apply to hold its writes")
    assert terminate_pg_backends(shape.database) >= 1  # the network/PostgreSQL drops the connection

    _wait_for(lambda: _done(shape, job_id), RECOVERY_S, "the job to end")
    job = job_row(shape.engine, job_id)
    profiles = count(shape.engine, Profile)
    results = count(shape.engine, ImportRowResult, ImportRowResult.job_id == job_id)
    if job.status == "completed":  # retried: applied once, whole
        assert (profiles, results, job.counts["created"]) == (200, 200, 200)
    else:  # failed, saying why, with nothing of it in the database
        assert job.status == "failed" and job.error, shape.logs()
        assert (profiles, results) == (0, 0)
    assert count(shape.engine, AuditEvent, AuditEvent.action == "import.apply") == (job.status == "completed")


def test_two_imports_of_the_same_people_on_two_workers_end_as_if_run_one_after_the_other(
    shape: Shape, tmp_path: Path
) -> None:
    people = [[f"Person {i}", f"p{i}@example.com"] for i in range(300)]
    cities = write_csv(tmp_path / "cities.csv", [["Full Name", "Email", "City"]] + [[*p, "Huế"] for p in people])
    levels = write_csv(
        tmp_path / "levels.csv", [["Full Name", "Email", "Member level"]] + [[*p, "Gold"] for p in reversed(people)]
    )
    first = submit(cities, enqueue=True)[0]
    second = submit(levels, enqueue=True)[0]  # another batch: free to run beside the first
    shape.worker(**{import_job.TEST_APPLY_DELAY_ENV: "2"})
    shape.worker(**{import_job.TEST_APPLY_DELAY_ENV: "2"})
    _wait_for(lambda: _done(shape, first) and _done(shape, second), 120, "both imports")

    assert [job_row(shape.engine, i).status for i in (first, second)] == ["completed"] * 2, shape.logs()
    assert count(shape.engine, Profile) == 300  # nobody twice
    assert _emails(shape) == sorted(p[1] for p in people)
    with shape.engine.connect() as conn:
        both = conn.execute(
            sa.select(sa.func.count()).select_from(Profile).where(Profile.city == "Huế", Profile.member_level == "Gold")
        ).scalar_one()
    assert both == 300  # each file's values on every person: no update lost
    created = sorted(job_row(shape.engine, i).counts["created"] for i in (first, second))
    assert created == [0, 300]  # whichever ran second found them all
