"""The shape of an export file: formats, column keys, limits, formula neutralization.

What both the export service (exporting.py: what to export, for whom) and the file writer
(export_writer.py: writing it) need, so that neither imports the other's internals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from ..models.vocabulary import IDENTITY_PREFIX as IDENTITY_PREFIX  # an export column key prefix too

EXPORT_FORMATS = ("csv", "xlsx", "zip")
FIELDS_MODES = ("displayed", "all")
EXPORT_CHUNK_ROWS = 50_000
RELATED_READERS = 2  # worker threads reading identities/tags/... of large exports
XLSX_MAX_DATA_ROWS = 1_048_575  # 1,048,576 rows per sheet, one of them the header
MULTI_VALUE_SEPARATOR = "|"
TAG_WITHOUT_VALUE = "Yes"  # a tag that carries no value, in its column
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # UTC

# column keys besides field keys (the list's own, see profiles.page_cells)
TAG_PREFIX = "tag:"
SEGMENTS_COLUMN = "segments"
GROUPS_COLUMN = "groups"
META_COLUMNS: dict[str, str] = {  # profile column -> header
    "id": "Profile ID", "initial_source": "Initial source", "status": "Status",
    "created_at": "Created at", "updated_at": "Updated at",
}
_DATETIME_COLUMNS = {"registered_at", "created_at", "updated_at"}
_DATE_COLUMNS = {"birthday"}

_FORMULA_START = r"^[=+\-@\t\r\x00]"
_PLAIN_NUMBER = r"^[+-]?[0-9]+(\.[0-9]+)?$"
_FORMULA_START_RE = re.compile(_FORMULA_START)
_PLAIN_NUMBER_RE = re.compile(_PLAIN_NUMBER)


class ExportError(ValueError):
    """Bad export request (or an export that cannot be downloaded); safe to show."""


class ExportExpired(ExportError):
    """The export's download link has expired."""


class ExportNotFound(ExportError):
    """No export with that id."""


@dataclass(frozen=True)
class ExportColumn:
    """One column of the file: its list key, its header, where its values come from."""

    key: str
    header: str
    source: str  # profile | attribute | identity | tag | segments | groups
    ref: str  # profile column, attribute key, identity kind, or tag id
    value_type: str = "text"  # text | number | boolean | list (how to render the value)


# ---------------------------------------------------------------- formula neutralization
def neutralize_formula(value: str | None) -> str | None:
    """One text cell made safe for CSV: a leading ' when a spreadsheet would run it."""
    if value and _FORMULA_START_RE.match(value) and not _PLAIN_NUMBER_RE.match(value):
        return "'" + value
    return value


def _neutralized(column: str) -> pl.Expr:
    col = pl.col(column)
    risky = col.str.contains(_FORMULA_START) & ~col.str.contains(_PLAIN_NUMBER)
    return pl.when(risky.fill_null(False)).then(pl.lit("'") + col).otherwise(col).alias(column)
