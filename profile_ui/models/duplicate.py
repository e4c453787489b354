"""Possible duplicates: pairs of profiles that look like one person, and the decision on each.

A pair is stored once, smaller profile id first (`profile_a_id < profile_b_id`). Its status
is the reviewer's decision: `open` (waiting), `not_same` (remembered: scans never suggest the
pair again), `merged`, `skipped` (set aside; not reopened by scans, still listed under its
status). `DedupeKey` holds every active profile's blocking keys (hashed), so an import can
find the profiles its rows look like without reading the whole base. `ImportDedupeCheck`
keeps an import dry run's check for its apply, which reuses it instead of checking again.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .base import dt_column, json_column, utcnow

DUPLICATE_OPEN = "open"
DUPLICATE_NOT_SAME = "not_same"
DUPLICATE_MERGED = "merged"
DUPLICATE_SKIPPED = "skipped"
DUPLICATE_STATUSES = (DUPLICATE_OPEN, DUPLICATE_NOT_SAME, DUPLICATE_MERGED, DUPLICATE_SKIPPED)
# statuses a scan leaves alone: a person decided
DUPLICATE_DECIDED = (DUPLICATE_NOT_SAME, DUPLICATE_MERGED, DUPLICATE_SKIPPED)

# what the duplicate check compares, besides a profile's status: a change of any of these
# makes a profile's kept bound integers stale (DedupeStale, migration 0018's triggers)
COMPARED_PROFILE_FACTS = ("full_name", "birthday", "city")
COMPARED_IDENTITY_KINDS = ("email", "phone", "user_id")
# the triggers of migration 0018 a bulk writer turns off and does the work of itself
STALE_IDENTITY_INSERT_TRIGGER = "dedupe_stale_identities_insert"
STALE_PROFILE_UPDATE_TRIGGER = "dedupe_stale_profiles_update"

SOURCE_SCAN = "scan"
SOURCE_IMPORT = "import"


class DuplicateCandidate(SQLModel, table=True):
    __tablename__ = "duplicate_candidates"
    __table_args__ = (
        sa.UniqueConstraint("profile_a_id", "profile_b_id", name="uq_duplicate_candidates_pair"),
        sa.CheckConstraint("profile_a_id < profile_b_id", name="ck_duplicate_candidates_order"),
        # the review page: open pairs, best first
        sa.Index("ix_duplicate_candidates_status_score", "status", "score", "id"),
        sa.Index("ix_duplicate_candidates_import", "import_job_id", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    profile_a_id: int = Field(foreign_key="profiles.id", ondelete="CASCADE")
    profile_b_id: int = Field(foreign_key="profiles.id", index=True, ondelete="CASCADE")
    score: float  # match probability, 0..1
    reasons: str = Field(default="", max_length=1000)  # in words, for a person to read
    # {field: "same" | "near" | "differ"} for the side-by-side view's highlighting
    fields: dict = Field(default_factory=dict, sa_column=json_column(nullable=False))
    source: str = Field(default=SOURCE_SCAN, max_length=16)  # scan | import
    import_job_id: int | None = Field(default=None, foreign_key="import_jobs.id", ondelete="SET NULL")
    status: str = Field(default=DUPLICATE_OPEN, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
    decided_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    decided_at: datetime | None = Field(default=None, sa_column=dt_column(nullable=True))


class DedupeKey(SQLModel, table=True):
    """One blocking key of one profile (see services/dedupe/blocking.py), as a 64-bit hash."""

    __tablename__ = "dedupe_keys"
    # SQLite: the primary key is the table (no rowid b-tree beside it), so a full scan's
    # millions of keys, written in key order, are appended rather than scattered
    __table_args__ = {"sqlite_with_rowid": False}
    # No foreign key and no index by profile on purpose: a full scan rewrites millions of rows.
    # Keys of a profile that is gone or changed only pair it once more with someone the
    # scoring then reads as it is now; the next full scan rewrites them all.
    key_hash: int = Field(sa_column=sa.Column(sa.BigInteger(), primary_key=True, autoincrement=False))
    profile_id: int = Field(sa_column=sa.Column(sa.BigInteger(), primary_key=True, autoincrement=False))


class ImportDedupeCheck(SQLModel, table=True):
    """An import dry run's possible-duplicate check, kept with its job until the apply reuses
    it (services/importing/possible_duplicates.py); the apply deletes it."""

    __tablename__ = "import_dedupe_checks"
    job_id: int = Field(
        sa_column=sa.Column(
            sa.Integer(), sa.ForeignKey("import_jobs.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
        )
    )
    audit_stamp: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))  # last audit event id it saw
    checked_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
    people_hash: str = Field(max_length=64)  # the new people as they will be created
    # the pairs found (a, b, score, reasons, fields), a Parquet file: ids < 0 are the file's people
    pairs: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    # their blocking keys (key_hash, id < 0), a Parquet file: the apply stores them as they are
    keys: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    # (a < 0, b): new people in a block with a profile the import updates, a Parquet file
    near: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    # the new people's bound integers (id < 0), a Parquet file: the apply caches them
    bounds: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary(), nullable=True))


CHECK_PREVIEW = "preview"  # a dry run's look-alike flags, filled into its preview after its commit
CHECK_APPLIED = "applied"  # an apply's created and changed profiles, checked after its commit
PENDING_CHECK_STAGES = (CHECK_PREVIEW, CHECK_APPLIED)


class ImportPendingCheck(SQLModel, table=True):
    """An import's possible-duplicate check still to run, off the import's path: the dry run
    or the apply commits, then a task (jobs/import_check.py) runs the check and deletes the
    row, in one transaction; the recovery sweep sends the task again for a row left behind
    (services/importing/possible_duplicates.py). One row per job: an apply replaces its dry
    run's row (the apply checks everything the preview would have flagged)."""

    __tablename__ = "import_pending_checks"
    job_id: int = Field(
        sa_column=sa.Column(
            sa.Integer(), sa.ForeignKey("import_jobs.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
        )
    )
    stage: str = Field(default=CHECK_APPLIED, max_length=16)  # one of PENDING_CHECK_STAGES
    queued_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
    # applied: the last audit event id before the apply's writes, and when it was read (a
    # change to the base after them, other than the apply, means the dry run's check is not reused)
    audit_stamp: int = Field(default=0, sa_column=sa.Column(sa.BigInteger(), nullable=False))
    stamped_at: datetime = Field(default_factory=utcnow, sa_column=dt_column(nullable=False))
    mode: str = Field(default="review", max_length=16)  # ImportOptions.possible_duplicates: review | create
    reuse: bool = False  # applied: the dry run's check (ImportDedupeCheck) holds for the created profiles
    # Parquet files. applied: (person, profile_id) of the created profiles; preview: the people
    # the apply would create (a people frame, id = person)
    created: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary(), nullable=True))
    # applied: (profile_id) of the profiles it changed in a compared fact; preview: those it would update
    changed: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary(), nullable=True))
    # preview: the file's new people as flagged when they differ from `created` (a people
    # frame), and (row, person) of the rows of new people, whose changes get the flag
    flagged: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary(), nullable=True))
    rows: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary(), nullable=True))


class DedupeBoundSegment(SQLModel, table=True):
    """Some profiles' bound integers (services/dedupe/bound_cache.py), an Arrow IPC file:
    written by a full scan (in segments of the whole base) and by an import's apply (its
    created profiles), read by an import's look-alike check instead of the partners' texts.
    A row of a later segment replaces an earlier one's; a profile with a DedupeStale row is
    read from its tables instead."""

    __tablename__ = "dedupe_bound_segments"
    id: int | None = Field(default=None, primary_key=True)
    # the code that made them (bound_cache.cache_version): another version is not read
    version: str = Field(max_length=200)
    profiles: int = Field(sa_column=sa.Column(sa.Integer(), nullable=False))
    data: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))


class DedupeStale(SQLModel, table=True):
    """A profile whose compared facts (COMPARED_PROFILE_FACTS, its status, an identity of
    COMPARED_IDENTITY_KINDS) changed since its bound integers were kept: written by triggers
    on profiles and identities (migration 0018), so no writer can forget it. `changed_at`:
    the last change, in microseconds since the epoch (a scan removes only the marks it saw)."""

    __tablename__ = "dedupe_stale"
    profile_id: int = Field(sa_column=sa.Column(sa.BigInteger(), primary_key=True, autoincrement=False))
    changed_at: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))
