"""services/dispatch.py: services hand work to the queue only once their transaction commits."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from profile_ui.jobs import runner
from profile_ui.services import dispatch


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    calls: list[tuple] = []
    monkeypatch.setitem(dispatch.SENDERS, dispatch.IMPORT_BATCH, lambda *args: calls.append(args))
    return calls


def test_a_task_goes_to_the_queue_when_the_transaction_commits(sent: list[tuple]) -> None:
    with Session(sa.create_engine("sqlite://")) as session:
        session.execute(sa.text("SELECT 1"))
        dispatch.after_commit(session, dispatch.IMPORT_BATCH, "batch-1")
        assert sent == []  # a worker must not look for rows it cannot see yet
        session.commit()
    assert sent == [("batch-1",)]


def test_nothing_is_sent_when_the_transaction_rolls_back(sent: list[tuple]) -> None:
    with Session(sa.create_engine("sqlite://")) as session:
        session.execute(sa.text("SELECT 1"))
        dispatch.after_commit(session, dispatch.IMPORT_BATCH, "batch-1")
        session.rollback()
    assert sent == []


def test_a_task_without_a_queue_fails_in_the_callers_transaction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(dispatch.SENDERS, dispatch.EXPORT_FILE, raising=False)
    with Session(sa.create_engine("sqlite://")) as session, pytest.raises(dispatch.NoSender, match="jobs.runner"):
        dispatch.after_commit(session, dispatch.EXPORT_FILE, 7)


def test_the_job_runner_installs_the_senders() -> None:
    assert dispatch.SENDERS[dispatch.IMPORT_BATCH] is runner.enqueue_import_batch
    assert dispatch.SENDERS[dispatch.EXPORT_FILE] is runner.enqueue_export
