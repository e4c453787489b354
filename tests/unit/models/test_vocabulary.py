"""models/vocabulary.py: each word defined once, and equal to what the database stores."""

from __future__ import annotations

from profile_ui.models import (
    FIELD_TYPES,
    IMPORT_STATUSES,
    MERGE_POLICIES,
    SYSTEM_COLUMNS,
    FieldType,
    ImportStatus,
    MergePolicy,
    Profile,
)
from profile_ui.services.bootstrap import SYSTEM_FIELDS
from profile_ui.services.importing import jobs as import_jobs


def test_system_columns_are_the_system_fields_and_real_profile_columns() -> None:
    assert tuple(key for key, *_ in SYSTEM_FIELDS) == SYSTEM_COLUMNS
    assert set(SYSTEM_COLUMNS) <= set(Profile.__table__.c.keys())
    assert {type_ for _key, _label, type_, *_ in SYSTEM_FIELDS} <= set(FIELD_TYPES)


def test_enum_members_are_the_stored_strings() -> None:
    assert ImportStatus.AWAITING_CONFIRMATION == "awaiting_confirmation"
    assert f"{MergePolicy.FILL_EMPTY}" == "fill_empty" and FieldType("single_choice") is FieldType.SINGLE_CHOICE
    assert "undone" in IMPORT_STATUSES and MERGE_POLICIES == ("overwrite", "fill_empty", "never")
    assert import_jobs.OPEN_STATUSES == ("queued", "validating", "awaiting_confirmation", "running")
