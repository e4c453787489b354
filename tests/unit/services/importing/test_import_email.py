"""When an import ends, the person who started it gets a bell notification and an e-mail
(through a real SMTP server here) with the counts and a link to the report."""

from __future__ import annotations

import csv
import socket
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from profile_ui.db import make_engine, session_scope
from profile_ui.jobs.import_job import run_batch
from profile_ui.models import Notification
from profile_ui.services.importing.jobs import ImportFile, submit_import
from profile_ui.services.permissions import SYSTEM_ACTOR
from profile_ui.services.users import actor_for_email, create_user

APP_URL = "http://profiles.example.test"


class Inbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def inbox(app_env, sqlite_url: str):
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    app_env(
        sqlite_url,
        SMTP_ENABLED="true",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(controller.port),
        SMTP_FROM="imports@profiles.example.test",
        APP_URL=APP_URL,
    )
    yield handler
    controller.stop()


def import_as(email: str, path: Path) -> int:
    with session_scope() as session:
        create_user(
            session=session, actor=SYSTEM_ACTOR, email=email, password="long-enough-1", role="marketer", full_name="Mia"
        )
    with session_scope() as session:
        actor = actor_for_email(session=session, email=email)
        (job,) = submit_import(
            session=session, actor=actor, enqueue=False, files=[ImportFile(file_name=path.name, stored_path=path)]
        )
        job_id, batch_id = job.id, job.batch_id
    run_batch(batch_id)
    return job_id


def test_a_completed_import_is_mailed_with_counts_and_report_link(
    inbox: Inbox, tmp_path: Path, sqlite_url: str
) -> None:
    path = tmp_path / "spring leads.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(
            [
                ["Full Name", "Email", "City"],
                ["An", "an@example.com", "Huế"],
                ["Bình", "binh@example.com", "Huế"],
                ["Chi", "not-an-email", "Huế"],
            ]
        )

    job_id = import_as("mia@example.com", path)

    (message,) = inbox.messages
    assert message["To"] == "mia@example.com" and message["X-Envelope-To"] == "mia@example.com"
    assert message["From"] == "imports@profiles.example.test"
    assert message["Subject"] == "Import completed: spring leads.csv"
    body = message.get_content()
    # the words of the dry run and the report
    assert "3 rows: 2 new, 0 updated, 0 merged, 0 unchanged, 1 invalid, 0 conflicts" in body
    assert f"{APP_URL}/imports/{job_id}" in body
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        bell = conn.execute(sa.select(Notification.title, Notification.link, Notification.read_at)).all()
    engine.dispose()
    assert bell == [("Import completed: spring leads.csv", f"/imports/{job_id}", None)]


def test_a_refused_file_is_mailed_with_the_reason(inbox: Inbox, tmp_path: Path) -> None:
    path = tmp_path / "contacts.xlsx"
    path.write_bytes(b"%PDF-1.7 not a workbook")

    job_id = import_as("mia@example.com", path)

    (message,) = inbox.messages
    assert message["Subject"] == "Import failed: contacts.xlsx"
    body = message.get_content()
    assert "contacts.xlsx" in body and f"{APP_URL}/imports/{job_id}" in body
