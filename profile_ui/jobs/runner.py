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
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from huey import RedisHuey, SqliteHuey, crontab
from huey.api import Huey, TaskWrapper
from huey.consumer import Consumer

from ..services import dispatch
from ..settings import get_settings
from .dedupe import register_dedupe_tasks
from .export_job import register_export_tasks
from .import_check import recover_import_checks, run_import_check
from .import_job import recover_import_jobs, run_batch
from .purge import register_purge_tasks

log = logging.getLogger(__name__)

RECOVERY_SCHEDULE = crontab(minute="*")  # every minute, in each consumer's scheduler


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
    write_export: TaskWrapper
    check_import_duplicates: TaskWrapper


@lru_cache
def get_queue() -> JobQueue:
    """The Huey instance for the configured database, with the job tasks registered."""
    settings = get_settings()
    name = _queue_name(settings.database_url)
    if settings.redis_url:
        huey: Huey = RedisHuey(name, url=settings.redis_url, results=False)
    else:
        huey = SqliteHuey(name, filename=str((settings.data_dir / "job-queue.db").resolve()), results=False)

    @huey.task(name="import.run_batch")
    def run_import_batch(batch_id: str) -> None:
        run_batch(batch_id)

    @huey.task(name=dispatch.IMPORT_DUPLICATES)
    def check_import_duplicates(job_id: int) -> None:
        run_import_check(job_id)

    @huey.periodic_task(RECOVERY_SCHEDULE, name="jobs.recover")
    def recover() -> None:
        recover_jobs()

    write_export = register_export_tasks(huey)
    register_purge_tasks(huey)
    register_dedupe_tasks(huey)
    return JobQueue(
        huey=huey,
        run_import_batch=run_import_batch,
        write_export=write_export,
        check_import_duplicates=check_import_duplicates,
    )


def get_huey() -> Huey:
    return get_queue().huey


def enqueue_import_batch(batch_id: str) -> None:
    """Ask a consumer to run the batch's queued jobs (in order). Safe to call twice."""
    get_queue().run_import_batch(batch_id)


def enqueue_export(export_id: int) -> None:
    """Ask a consumer to write the export's file. Safe to call twice."""
    get_queue().write_export(export_id)


def enqueue_import_check(job_id: int) -> None:
    """Ask a consumer to run an applied import's possible-duplicate check. Safe to call twice."""
    get_queue().check_import_duplicates(job_id)


# services reach the queue through this port (services never import jobs)
dispatch.install(dispatch.IMPORT_BATCH, enqueue_import_batch)
dispatch.install(dispatch.IMPORT_DUPLICATES, enqueue_import_check)
dispatch.install(dispatch.EXPORT_FILE, enqueue_export)


def recover_jobs() -> list[int]:
    """Put jobs whose worker died back in the queue, and send again the possible-duplicate
    checks left behind; returns the jobs' ids."""
    try:
        requeued = recover_import_jobs()
    except Exception:  # a locked database now is retried on the next sweep
        log.exception("job recovery failed")
        requeued = []
    try:
        recover_import_checks()
    except Exception:  # the same; the checks' rows wait for the next sweep
        log.exception("recovery of possible-duplicate checks failed")
    return requeued


# ---------------------------------------------------------------- consumers
class _EmbeddedConsumer(Consumer):
    """A consumer living in threads of a host process (the app): it leaves signals alone."""

    def _set_signal_handlers(self) -> None:
        pass


_embedded_lock = threading.Lock()
_embedded: Consumer | None = None


# two threads: an import's possible-duplicate check (a task sent after each of its commits)
# runs beside the next import or export instead of ahead of it (a marketer who confirms as
# soon as the preview shows does not wait for its look-alike flags)
EMBEDDED_WORKERS = 2


def start_embedded_consumer(workers: int = EMBEDDED_WORKERS) -> Consumer | None:
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
        consumer = _EmbeddedConsumer(
            get_huey(), workers=workers, worker_type="thread", periodic=True, check_worker_health=False
        )
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
