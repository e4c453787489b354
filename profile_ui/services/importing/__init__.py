"""The import pipeline: rows -> diff -> apply, with a dry run and per-row results.

Stages and the data each hands to the next (one module each):

read.py      upload/paste -> `SheetData`: `frame` is a polars DataFrame with one Utf8
             column per header (every value text or null: nothing is type-guessed), plus
             ROW_COL (Int64), the row number as the user sees it (header = row 1; pasted
             rows start at 1). Bad files raise `FileRejected(file_name, reason)`.
mapping.py   headers -> `ColumnSuggestion`s (field key or identity target, confidence);
             saved templates by header signature.
values.py    choice fields: raw value -> option ("map values with matching words").
validate.py  SheetData + ImportMapping -> validated frame: one typed column per mapped
             target (system fields typed, custom attributes JSON-ready), identity columns
             normalized (email lower-case, phone E.164), ERRORS_COL (list of
             {"column", "message"}) and VALID_COL (bool).
resolve.py   validated frame + sync rule -> each row's person (rows sharing an identifier
             are one person) and the existing profile(s) it matches, in bulk queries.
plan.py      the diff (new / updated / merged / unchanged / invalid / conflict) of the
             resolved rows against the database: the dry run, and the work an apply
             writes; row results with the before-values undo needs. Its pieces:
             plan_fields.py, plan_diff.py, plan_identities.py, plan_tags.py, changes_json.py.
apply.py     the plan (made again under locks) written in one transaction with bulk SQL.
undo.py      an applied import taken back from its row results.
results.py   per-row results, totals, the error file (xlsx and csv).
pipeline.py  the stages above for one kind of file (pipeline_profiles.py,
             pipeline_segments.py), as jobs/import_job.py runs them.

Mapping targets (ImportMapping.columns values): a field key ("full_name", "city",
custom keys), "identity:<kind>" (identity:email, identity:phone, identity:user_id, custom
kinds), "tags" (a `a|b` tags column), or None (ignored).
"""

ROW_COL = "__row__"
ERRORS_COL = "__errors__"
VALID_COL = "__valid__"
TAGS_TARGET = "tags"

# The validated frame (validate.py -> resolve.py/plan.py), column by column:
#   ROW_COL            Int64, row number as the user sees it
#   "<field key>"      typed by the field: text/email/phone/single_choice -> Utf8 (choice = the
#                      option after value mapping); number -> Float64; boolean -> Boolean;
#                      date -> Date; datetime -> Datetime("us", "UTC"); multiple_choice -> List(Utf8).
#                      System fields: full_name, gender, city, member_level Utf8; birthday Date;
#                      registered_at Datetime. null = empty in the file = leave the profile's value.
#   "identity:<kind>"  Utf8, normalized (email lower-case, phone E.164), null when absent/invalid
#   TAGS_TARGET        List(Utf8), the values of a `a|b` tags column
#   ERRORS_COL         List(Struct{"column": Utf8 (header as in the file), "message": Utf8})
#   VALID_COL          Boolean: no errors and at least one usable identifier

from dataclasses import asdict, dataclass, field  # noqa: E402  (after the column contract above)
from typing import Any  # noqa: E402  (as above)

from ...models.vocabulary import IDENTITY_PREFIX as IDENTITY_PREFIX  # noqa: E402  (a mapping target prefix)


@dataclass
class ImportMapping:
    """What the user chose: stored in ImportJob.mapping."""

    columns: dict[str, str | None]  # header -> target (see above) or None = ignore the column
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # field key -> {raw: option}
    # identity kinds that identify the person, in order; empty = every mapped identity column
    identifiers: list[str] = field(default_factory=list)
    # header -> {"key", "label", "type"}: custom fields to create for unmatched columns
    new_fields: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ImportMapping":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class ImportOptions:
    """How to apply: stored in ImportJob.options."""

    # field key -> "overwrite" | "fill_empty" | "never"; a missing key takes the sync rule's
    field_policies: dict[str, str] = field(default_factory=dict)
    consent: dict[str, str] = field(default_factory=dict)  # channel -> granted | denied (whole file)
    tag_ids: list[int] = field(default_factory=list)  # tags given to every row of the file
    tag_value: str = ""  # the value for those tags
    tags_group: str = "Imported"  # tag group that a tags column's values belong to (created if missing)
    tags_mode: str = "append"  # tags column: "append" to a profile's tags, or "replace" them
    auto_merge: bool | None = None  # None = the sync rule's setting
    segment_identifier: str = "user_id"  # segment files: the identity kind in the id column
    # a new person who looks like an existing profile (services/importing/possible_duplicates.py):
    # "review" = create it and queue the pair on /duplicates; "create" = create it anyway
    possible_duplicates: str = "review"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ImportOptions":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
