"""Import jobs (one file each), their per-row results and saved mapping templates."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .base import dt_column, json_column, utcnow

IMPORT_KINDS = ("profiles", "segments", "membership")


class ImportJob(SQLModel, table=True):
    __tablename__ = "import_jobs"
    __table_args__ = (
        sa.Index("ix_import_jobs_created", "created_at"),
        sa.Index("ix_import_jobs_batch", "batch_id", "position"),
    )
    id: int | None = Field(default=None, primary_key=True)
    batch_id: str = Field(max_length=36)  # files submitted together run in `position` order
    position: int = 0
    kind: str = Field(default="profiles", max_length=16)
    group_id: int | None = Field(default=None, foreign_key="groups.id")
    file_name: str = Field(max_length=255)
    stored_path: str | None = Field(default=None, max_length=1024)
    sheet: str | None = Field(default=None, max_length=255)
    status: str = Field(default="queued", max_length=32)
    dry_run: bool = False
    mapping: dict = Field(default_factory=dict, sa_column=json_column(nullable=False))
    options: dict = Field(default_factory=dict, sa_column=json_column(nullable=False))
    counts: dict = Field(default_factory=dict, sa_column=json_column(nullable=False))
    rows_total: int = 0
    rows_done: int = 0
    error: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    error_file_path: str | None = Field(default=None, max_length=1024)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
    started_at: datetime | None = Field(default=None, sa_column=dt_column(nullable=True))
    finished_at: datetime | None = Field(default=None, sa_column=dt_column(nullable=True))
    undone_at: datetime | None = Field(default=None, sa_column=dt_column(nullable=True))


class ImportRowResult(SQLModel, table=True):
    __tablename__ = "import_row_results"
    __table_args__ = (
        sa.Index("ix_import_row_results_job", "job_id", "outcome", "row_number"),
        # a profile's own rows: its User 360 history, and purge/erasure dropping their values
        sa.Index("ix_import_row_results_profile", "profile_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    # No foreign key on purpose (as attribute_provenance): its per-row check slowed the bulk
    # writes of imports; a trigger on import_jobs removes these rows with their job (0003).
    job_id: int
    row_number: int  # as the user sees it in the spreadsheet (header = 1)
    outcome: str = Field(max_length=16)
    profile_id: int | None = None
    errors: list = Field(default_factory=list, sa_column=json_column(nullable=False))
    # {field: [before, after]}, the before-values undo needs
    changes: dict = Field(default_factory=dict, sa_column=json_column(nullable=False))


class MappingTemplate(SQLModel, table=True):
    __tablename__ = "mapping_templates"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128)
    kind: str = Field(default="profiles", max_length=16)
    headers_signature: str = Field(max_length=64, index=True)
    mapping: dict = Field(default_factory=dict, sa_column=json_column(nullable=False))
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
