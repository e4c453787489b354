"""Who runs a job, and the leases that let another worker take over a job whose worker died.

Each claim of a job records its owner (host, process) and a lease; `claim_is_stale` says
when the claim no longer protects the job. Used by the job modules (import_job.py) and the
recovery sweep; knows nothing of the queue.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import psutil

from ..models import utcnow

# How long a claim stays valid without a heartbeat. A job renews it between its stages; one
# stage (at most one file of settings.upload_max_rows rows) takes seconds, and on SQLite the
# single apply transaction blocks other writers, heartbeats included, until it commits.
LEASE_SECONDS = 120


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
        return cls(
            host=str(data.get("host", "")), pid=int(data["pid"]), pid_started=float(data.get("pid_started", 0.0))
        )

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
