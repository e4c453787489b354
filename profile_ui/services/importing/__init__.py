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
apply.py     the diff (new / updated / merged / unchanged / invalid / conflict) as a dry
             run, or applied in one transaction with bulk SQL; row results with the
             before-values undo needs; undo.
results.py   per-row results, totals, the error file (xlsx and csv).

Mapping targets (ImportMapping.columns values): a field key ("full_name", "city",
custom keys), "identity:<kind>" (identity:email, identity:phone, identity:user_id, custom
kinds), "tags" (a `a|b` tags column), or None (ignored).
"""

ROW_COL = "__row__"
ERRORS_COL = "__errors__"
VALID_COL = "__valid__"
IDENTITY_PREFIX = "identity:"
TAGS_TARGET = "tags"
