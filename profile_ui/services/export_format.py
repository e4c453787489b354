"""The shape of an export file: formats, column keys, limits, errors (neutralizing formulas
is the one sheet writer's job: services/sheet_writer.py).

What both the export service (exporting.py: what to export, for whom) and the file writer
(export_writer.py: writing it) need, so that neither imports the other's internals.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    "id": "Profile ID",
    "initial_source": "Initial source",
    "status": "Status",
    "created_at": "Created at",
    "updated_at": "Updated at",
}
DATETIME_COLUMNS = {"registered_at", "created_at", "updated_at"}
DATE_COLUMNS = {"birthday"}


class ExportError(ValueError):
    """Bad export request (or an export that cannot be downloaded); safe to show."""


class ExportExpired(ExportError):
    """The export's download link has expired."""


class ExportNotFound(ExportError):
    """No export with that id that the actor may download; the message is the same whether
    it does not exist or is someone else's, so ids cannot be probed."""

    def __init__(self, export_id: int) -> None:
        super().__init__(f"Export {export_id} does not exist, or it is not yours to download")


@dataclass(frozen=True)
class ExportColumn:
    """One column of the file: its list key, its header, where its values come from."""

    key: str
    header: str
    source: str  # profile | attribute | identity | tag | segments | groups
    ref: str  # profile column, attribute key, identity kind, or tag id
    value_type: str = "text"  # text | number | boolean | list (how to render the value)
