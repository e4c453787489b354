"""The task queue that delivers background jobs, and the leases that make them survive crashes.

Huey carries the work: `SqliteHuey` (a file under DATA_DIR) in the embedded default, where a
consumer thread runs inside the app process (`start_embedded_consumer`); `RedisHuey` when
REDIS_URL is set, so `profile-ui worker` processes on other machines (same database) share
the queue. The queue only says "look at batch X"; the job rows stay the truth for status and
progress, and every job is claimed with a compare-and-set on its row, so a task delivered
twice runs the job once.

Huey removes a task from the queue when a worker takes it, so a worker killed mid-job loses
the task. Each claim therefore records its owner (host, process) and a lease; on consumer
start and every minute, jobs whose owner died or whose lease ran out are put back in the
queue (`recover_jobs`).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import logging
import os
import socket
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import psutil
import sqlalchemy as sa
from huey import RedisHuey, SqliteHuey, crontab
from huey.api import Huey, TaskWrapper
from huey.consumer import Consumer

from ..models import utcnow
from ..settings import get_settings

log = logging.getLogger(__name__)

# How long a claim stays valid without a heartbeat. A job renews it between its stages; one
# stage (at most one file of settings.upload_max_rows rows) takes seconds, and on SQLite the
# single apply transaction blocks other writers, heartbeats included, until it commits.
LEASE_SECONDS = 120
RECOVERY_SCHEDULE = crontab(minute="*")  # every minute, in each consumer's scheduler



# ---------------------------------------------------------------- who runs a job
@lru_cache
def _host_id() -> str:
    # boot time tells a rebooted host (where every old pid is dead) from a live one
    return f"{socket.gethostname()}@{int(psutil.boot_time())}"


@dataclass(frozen=True)
class Owner:
    """The process that claimed a job: enough to tell, on the same host, whether it died."""

    host: str
    pid: int
    pid_started: float

    @classmethod
    def current(cls) -> "Owner":
        pid = os.getpid()
        return cls(host=_host_id(), pid=pid, pid_started=_process_start(pid) or 0.0)

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "pid": self.pid, "pid_started": self.pid_started}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> "Owner | None":
        if not data or "pid" not in data:
            return None
        return cls(host=str(data.get("host", "")), pid=int(data["pid"]),
                   pid_started=float(data.get("pid_started", 0.0)))

    def alive(self) -> bool | None:
        """Whether the owner process still runs; None when it runs on another machine."""
        if self.host != _host_id():
            return None  # only its lease can tell
        started = _process_start(self.pid)
        # a recycled pid belongs to a process that started at another time
        return started is not None and abs(started - self.pid_started) <= 1.0


def _process_start(pid: int) -> float | None:
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def lease_until(now: datetime | None = None) -> str:
    return ((now or utcnow()) + timedelta(seconds=LEASE_SECONDS)).isoformat()


def claim_is_stale(run: dict[str, Any], started_at: datetime | None, now: datetime) -> bool:
    """Whether a job's claim (its `run` bookkeeping) no longer protects it.

    On the owner's own host the process table decides (a slow apply that outlives its lease
    is still running); from another host, the lease.
    """
    owner = Owner.from_json(run.get("owner"))
    alive = owner.alive() if owner is not None else None
    if alive is not None:
        return not alive
    until = run.get("lease_until")
    if until:
        return datetime.fromisoformat(until) < now
    # claimed without a lease (should not happen): trust it for one lease from its start
    return started_at is None or started_at + timedelta(seconds=LEASE_SECONDS) < now


# ---------------------------------------------------------------- the queue
def _queue_name(database_url: str) -> str:
    """One queue per database, so test runs (and deployments) sharing a Redis stay apart.

    Only the backend and database name count: a worker that reaches the same database
    through another host name, driver or password shares the app's queue.
    """
    url = sa.engine.make_url(database_url)
    database = url.database or ""
    if url.get_backend_name() == "sqlite":
        database = str(Path(database).resolve())
    key = f"{url.get_backend_name()}:{database}"
    return "profile-ui-" + hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class JobQueue:
    huey: Huey
    run_import_batch: TaskWrapper


@lru_cache
def get_queue() -> JobQueue:
    """The Huey instance for the configured database, with the job tasks registered."""
    from .import_job import run_batch  # the job functions import this module

    settings = get_settings()
    name = _queue_name(settings.database_url)
    if settings.redis_url:
        huey: Huey = RedisHuey(name, url=settings.redis_url, results=False)
    else:
        huey = SqliteHuey(name, filename=str((settings.data_dir / "job-queue.db").resolve()),
                          results=False)

    @huey.task(name="import.run_batch")
    def run_import_batch(batch_id: str) -> None:
        run_batch(batch_id)

    @huey.periodic_task(RECOVERY_SCHEDULE, name="jobs.recover")
    def recover() -> None:
        recover_jobs()

    from .dedupe import register_dedupe_tasks
    from .export_job import register_export_tasks
    from .purge import register_purge_tasks

    register_export_tasks(huey)
    register_purge_tasks(huey)
    register_dedupe_tasks(huey)
    return JobQueue(huey=huey, run_import_batch=run_import_batch)


def get_huey() -> Huey:
    return get_queue().huey


def enqueue_import_batch(batch_id: str) -> None:
    """Ask a consumer to run the batch's queued jobs (in order). Safe to call twice."""
    get_queue().run_import_batch(batch_id)


def recover_jobs() -> list[int]:
    """Put jobs whose worker died back in the queue; returns their ids."""
    from .import_job import recover_import_jobs

    try:
        return recover_import_jobs()
    except Exception:  # a locked database now is retried on the next sweep
        log.exception("job recovery failed")
        return []


# ---------------------------------------------------------------- consumers
class _EmbeddedConsumer(Consumer):
    """A consumer living in threads of a host process (the app): it leaves signals alone."""

    def _set_signal_handlers(self) -> None:
        pass


_embedded_lock = threading.Lock()
_embedded: Consumer | None = None


def start_embedded_consumer(workers: int = 1) -> Consumer | None:
    """Start a job consumer in threads of this process (the app calls it once at startup).

    Idempotent; does nothing when settings.embedded_worker is off (a deployment whose
    `profile-ui worker` processes do all the work). Jobs left behind by a crash of the previous
    process are put back in the queue first.
    """
    global _embedded
    settings = get_settings()
    if not settings.embedded_worker:
        return None
    with _embedded_lock:
        if _embedded is not None:
            return _embedded
        recover_jobs()
        consumer = _EmbeddedConsumer(get_huey(), workers=workers, worker_type="thread",
                                     periodic=True, check_worker_health=False)
        consumer.start()
        _embedded = consumer
        atexit.register(stop_embedded_consumer)
        return consumer


def stop_embedded_consumer() -> None:
    global _embedded
    with _embedded_lock:
        if _embedded is not None:
            _embedded.stop(graceful=False)
            _embedded = None


@contextlib.asynccontextmanager
async def embedded_consumer_lifespan() -> AsyncIterator[None]:
    """For the app's lifespan: `app.register_lifespan_task(embedded_consumer_lifespan)`
    starts the consumer with the backend server and stops it on shutdown."""
    await asyncio.to_thread(start_embedded_consumer)
    try:
        yield
    finally:
        await asyncio.to_thread(stop_embedded_consumer)


def run_worker(workers: int = 1) -> None:
    """`profile-ui worker`: a consumer process (threads) until SIGINT/SIGTERM."""
    recover_jobs()
    consumer = get_huey().create_consumer(workers=workers, worker_type="thread", periodic=True)
    consumer.run()
