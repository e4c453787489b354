"""Export jobs: a filtered list written to a file, downloadable by its owner until expiry."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from .base import dt_column, json_column, utcnow


class ExportJob(SQLModel, table=True):
    __tablename__ = "export_jobs"
    id: int | None = Field(default=None, primary_key=True)
    created_by: int = Field(foreign_key="users.id", index=True)
    status: str = Field(default="queued", max_length=16)  # queued | running | completed | failed
    format: str = Field(default="csv", max_length=8)  # csv | xlsx | zip
    fields_mode: str = Field(default="displayed", max_length=16)  # displayed | all
    filter: dict = Field(default_factory=dict, sa_column=json_column(nullable=False))
    columns: list[str] = Field(default_factory=list, sa_column=json_column(nullable=False))
    row_count: int = 0
    file_path: str | None = Field(default=None, max_length=1024)
    error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=dt_column(nullable=True))
    expires_at: datetime | None = Field(default=None, sa_column=dt_column(nullable=True))
    # who is writing it (jobs/runner.py Owner) and until when its claim holds: a worker
    # that dies mid-export is seen as dead and the export is written again by another
    claim: dict | None = Field(default=None, sa_column=json_column(nullable=True))
