"""A periodic task registered by jobs/periodic.py: on the queue under its name, and a run
that fails is logged, not raised (the next run on the schedule is its retry)."""

from __future__ import annotations

import logging

import pytest
from huey import MemoryHuey, crontab

from profile_ui.jobs.periodic import register_periodic


def test_a_failed_run_is_logged_and_the_task_stays_registered(caplog: pytest.LogCaptureFixture) -> None:
    huey = MemoryHuey("periodic-test")
    runs: list[int] = []

    def run() -> None:
        runs.append(1)
        raise RuntimeError("database is locked")

    task = register_periodic(
        huey, crontab(minute="0"), name="test.nightly", run=run, log=logging.getLogger("test"), failure="nightly failed"
    )
    with caplog.at_level(logging.ERROR, logger="test"):
        task.func()  # what the consumer's scheduler calls
    assert runs == [1]
    assert [r.getMessage() for r in caplog.records] == ["nightly failed"]
    assert "test.nightly" in {t.__name__ for t in huey._registry._periodic_tasks}
