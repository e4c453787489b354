"""The port through which services hand work to the task queue, without knowing the queue.

Services name a task and its arguments; `profile_ui/jobs/runner.py` installs the function
that really sends each task (Huey), when it is imported, which the app, the worker and the
CLI do. So services never import `jobs` (the layers contract forbids it), and a test can
install a sender of its own.

`after_commit(session, task, *args)` sends once the caller's transaction commits, so a
worker never looks for rows it cannot see yet; nothing is sent if it rolls back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlmodel import Session

IMPORT_BATCH = "import.run_batch"  # args: batch_id — run a batch's queued import jobs in order
IMPORT_DUPLICATES = "import.check_duplicates"  # args: job_id — an applied import's possible-duplicate check
EXPORT_FILE = "export.write"  # args: export_id — write a queued export's file

# task -> the function that puts it on the queue; filled by jobs/runner.py
SENDERS: dict[str, Callable[..., None]] = {}


class NoSender(LookupError):
    """No queue took this task: the process never imported profile_ui.jobs.runner."""


def install(task: str, sender: Callable[..., None]) -> None:
    SENDERS[task] = sender


def send(task: str, *args: Any) -> None:
    """Put the task on the queue now (for jobs re-sending work; services use after_commit)."""
    _sender(task)(*args)


def after_commit(session: Session, task: str, *args: Any) -> None:
    """Put the task on the queue once `session`'s transaction commits."""
    sender = _sender(task)  # fail now, in the caller's transaction, not after its commit

    def on_commit(_session: Session) -> None:
        sender(*args)

    event.listen(session, "after_commit", on_commit, once=True)


def _sender(task: str) -> Callable[..., None]:
    try:
        return SENDERS[task]
    except KeyError:
        raise NoSender(
            f"no task queue takes {task!r}: import profile_ui.jobs.runner first (the app, the worker and the CLI do)"
        ) from None
