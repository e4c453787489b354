"""One parser per field type: the import (a whole column) and the inline edit (one value)
read the same text the same way, and refuse the same text with the same message."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from profile_ui.services.importing import ERRORS_COL, ImportMapping
from profile_ui.services.importing.field_values import CUSTOM_TEXT_MAX, parse_field_value
from profile_ui.services.importing.normalize import InvalidValue
from profile_ui.services.importing.validate import validate_rows
from tests.unit.services.importing.test_validate import FIELDS, sheet

# (field key, what a person types or a file holds, the typed value or the message refusing it)
CASES: list[tuple[str, str | None, object]] = [
    ("full_name", "  Nguyễn   Văn  An ", "Nguyễn Văn An"),
    ("full_name", "   ", None),
    ("full_name", "x" * 256, "The value is longer than 255 characters (the most Full name can hold)"),
    ("city", " Huế ", "Huế"),
    ("note", "y" * (CUSTOM_TEXT_MAX + 1), f"The value is longer than {CUSTOM_TEXT_MAX} characters"),
    ("note", "y" * CUSTOM_TEXT_MAX, "y" * CUSTOM_TEXT_MAX),
    ("birthday", "31/12/1990", date(1990, 12, 31)),
    ("birthday", "31/31/1990", "'31/31/1990' is not a date"),
    ("registered_at", "2024-05-01 09:30", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
    ("registered_at", "soon", "'soon' is not a date and time"),
    ("score", "1.234,5", 1234.5),
    ("score", "lots", "'lots' is not a number"),
    ("vip", "có", True),
    ("vip", "maybe", "'maybe' is not yes or no"),
    ("work_email", " An@Example.COM ", "an@example.com"),
    ("work_email", "an@", "'an@' is not a valid e-mail address"),
    ("gender", "nam", "Male"),
    ("gender", "robot", "'robot' is not one of the choices for Gender: Male, Female, Other"),
    ("member_level", "gold member", "Gold"),
    ("interests", "sport; MUSIC | sport", ["Sport", "Music"]),
    ("interests", "Sport|Chess|Poker", "'Chess', 'Poker' is not one of the choices for Interests"),
]


def _imported(key: str, raw: str | None) -> tuple[object, list[str]]:
    """The typed value and the messages of one file row holding `raw` in the field's column
    (a refused row imports nothing, whatever its typed column holds)."""
    frame = validate_rows(
        sheet([{"Mail": "someone@example.com", "Value": raw}]),
        ImportMapping(columns={"Mail": "identity:email", "Value": key}),
        fields=FIELDS,
        default_region="VN",
    )
    messages = [e["message"] for e in frame.get_column(ERRORS_COL)[0].to_list() if e["column"] == "Value"]
    return (None if messages else frame.get_column(key).to_list()[0]), messages


def _edited(key: str, raw: str | None) -> tuple[object, list[str]]:
    """The typed value or the message of the same text typed into the inline editor."""
    try:
        return parse_field_value(FIELDS[key], raw, region="VN"), []
    except InvalidValue as exc:
        return None, [str(exc)]


@pytest.mark.parametrize(("key", "raw", "expected"), CASES, ids=[f"{k}:{str(r)[:20]}" for k, r, _ in CASES])
def test_import_and_inline_edit_read_a_value_alike(key, raw, expected):
    imported, edited = _imported(key, raw), _edited(key, raw)
    assert imported == edited
    value, messages = edited
    if isinstance(expected, str) and messages:
        assert messages[0].startswith(expected)
    else:
        assert (value, messages) == (expected, [])
