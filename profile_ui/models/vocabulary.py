"""The app's words, each defined once: statuses, row outcomes, merge policies, field types.

StrEnums compare equal to the plain strings stored in the database and in JSON, so
`job.status == ImportStatus.COMPLETED` and `status in IMPORT_STATUSES` both work; code that
used the bare strings keeps working while it moves over.
"""

from __future__ import annotations

from enum import StrEnum


class ImportStatus(StrEnum):
    """An import job's life: queued -> validating -> awaiting_confirmation -> running -> a final one."""

    QUEUED = "queued"
    VALIDATING = "validating"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNDONE = "undone"


class ExportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class RowOutcome(StrEnum):
    """What an import did (or would do) with one row of a file."""

    NEW = "new"
    UPDATED = "updated"
    MERGED = "merged"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    INVALID = "invalid"
    CONFLICT = "conflict"


class MergePolicy(StrEnum):
    """How a value from a file (or a merged profile) meets a value the profile already has."""

    OVERWRITE = "overwrite"  # the new value wins
    FILL_EMPTY = "fill_empty"  # only an empty value is filled
    NEVER = "never"  # the profile's value stays


class FieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    EMAIL = "email"
    PHONE = "phone"


# the same as plain strings, in order (for messages, select options and `in` checks)
IMPORT_STATUSES: tuple[str, ...] = tuple(s.value for s in ImportStatus)
EXPORT_STATUSES: tuple[str, ...] = tuple(s.value for s in ExportStatus)
ROW_OUTCOMES: tuple[str, ...] = tuple(o.value for o in RowOutcome)
# The one vocabulary of an import's totals, in this order, in the dry run, the report, the
# history, the completion e-mail and the CLI's JSON keys: rows read, then profiles new /
# updated / merged away / unchanged, then rows invalid / held as conflicts. The words are
# the row outcomes' (a count of conflicts is plural). word -> key in ImportJob.counts.
OUTCOME_COUNTS = {
    "rows": "rows",
    "new": "created",
    "updated": "updated",
    "merged": "merged",
    "unchanged": "unchanged",
    "invalid": "invalid",
    "conflicts": "conflicts",
}
MERGE_POLICIES: tuple[str, ...] = tuple(p.value for p in MergePolicy)
FIELD_TYPES: tuple[str, ...] = tuple(t.value for t in FieldType)
CHOICE_TYPES: tuple[str, ...] = (FieldType.SINGLE_CHOICE.value, FieldType.MULTIPLE_CHOICE.value)

# A column (import mapping target, list or export column) that holds an identity of a kind:
# "identity:email", "identity:phone", "identity:<custom kind>".
IDENTITY_PREFIX = "identity:"

# The system fields: real columns of `profiles` (custom fields live in profiles.attributes).
# Their labels, types and options are reference data (services/bootstrap.py).
SYSTEM_COLUMNS: tuple[str, ...] = ("full_name", "gender", "birthday", "city", "member_level", "registered_at")

# The identifier kinds of the sync rule a workspace starts with (and that applies when none
# is set up): a person is the same person when their user id, else e-mail, else phone matches.
DEFAULT_IDENTIFIER_KINDS: tuple[str, ...] = ("user_id", "email", "phone")
