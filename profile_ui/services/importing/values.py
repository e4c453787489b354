"""Value mapping for choice fields: "map values with matching words".

A file's raw values ("Nam", "f", "GOLD ") are matched to a field's options ("Male",
"Female", "Gold") by, in order: equality ignoring case and accents, known synonyms
(M/Male/Nam/男 -> Male ...), then a unique prefix ("Plat" -> "Platinum", "Gold member" ->
"Gold"). What stays unmatched is listed for the user to map by hand.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from .normalize import fold_text
from .read import SheetData

# Each group is one meaning; a raw value in a group maps to the option in the same group.
# Written folded (fold_text: lower-case, no accents, đ -> d).
VALUE_SYNONYMS: tuple[frozenset[str], ...] = tuple(
    frozenset(group)
    for group in (
        {
            "male",
            "m",
            "man",
            "men",
            "nam",
            "trai",
            "boy",
            "mr",
            "homme",
            "masculin",
            "hombre",
            "masculino",
            "mannlich",
            "maennlich",
            "herr",
            "男",
            "男性",
        },
        {
            "female",
            "f",
            "woman",
            "women",
            "nu",
            "gai",
            "girl",
            "mrs",
            "ms",
            "miss",
            "femme",
            "feminin",
            "mujer",
            "femenino",
            "weiblich",
            "frau",
            "女",
            "女性",
        },
        {"other", "o", "khac", "autre", "otro", "andere", "divers", "其他", "其它"},
        {"yes", "y", "true", "co", "dung", "oui", "si", "ja", "是"},
        {"no", "n", "false", "khong", "sai", "non", "nein", "否"},
        {"bronze", "dong", "bronce", "铜", "铜牌"},
        {"silver", "bac", "argent", "plata", "silber", "银", "银牌"},
        {"gold", "vang", "or", "oro", "金", "金牌"},
        {"platinum", "bach kim", "platine", "platino", "platin", "白金", "铂金"},
        {"diamond", "kim cuong", "diamant", "diamante", "钻石"},
    )
)
_MIN_PREFIX = 2  # a one-letter prefix ("s") is a guess, not a match


def _synonym_group(folded: str) -> frozenset[str] | None:
    for group in VALUE_SYNONYMS:
        if folded in group:
            return group
    return None


def match_value(raw: str, options: list[str]) -> str | None:
    """The option `raw` means, or None when no rule is sure."""
    folded = fold_text(raw)
    if not folded:
        return None
    by_fold = {fold_text(option): option for option in options}
    if folded in by_fold:
        return by_fold[folded]
    group = _synonym_group(folded)
    if group is not None:
        hits = [option for key, option in by_fold.items() if key in group]
        if len(hits) == 1:
            return hits[0]
    if len(folded) >= _MIN_PREFIX:
        # "plat" -> "Platinum"; "gold member" -> "Gold" (a whole word at the start)
        hits = [option for key, option in by_fold.items() if key.startswith(folded) or folded.startswith(key + " ")]
        if len(hits) == 1:
            return hits[0]
    return None


def same_values(raw_values: list[str], options: list[str]) -> dict[str, str]:
    """{raw: option} for the raw values that ARE an option, ignoring case, accents and
    surrounding spaces ("silver", "GOLD ", "Bạc" for "Bac"): mapped from the start; the
    other rules of match_value wait for the user's "map values with matching words"."""
    by_fold = {fold_text(option): option for option in options}
    return {raw: by_fold[folded] for raw in raw_values if (folded := fold_text(raw)) and folded in by_fold}


def match_values(raw_values: list[str], options: list[str]) -> dict[str, str]:
    """{raw: option} for every raw value a rule matches ("map values with matching words")."""
    matched: dict[str, str] = {}
    for raw in raw_values:
        option = match_value(raw, options)
        if option is not None:
            matched[raw] = option
    return matched


def unmapped_values(raw_values: list[str], value_map: dict[str, str]) -> list[str]:
    """The raw values the map does not cover, in their given order (left for the user)."""
    return [raw for raw in raw_values if raw not in value_map]


def distinct_values(frame: pl.DataFrame, column: str, limit: int = 200, *, separators: str | None = None) -> list[str]:
    """A column's distinct trimmed non-empty values, most frequent first (ties by value).

    `separators` (e.g. "|;") splits multiple-choice cells into their items first.
    """
    values = frame.get_column(column).cast(pl.Utf8)
    if separators:
        pattern = "[" + "".join("\\" + sep for sep in separators) + "]"
        values = values.str.replace_all(pattern, "\x1f").str.split("\x1f").explode()
    values = values.str.strip_chars()
    counts = (
        values.filter(values.is_not_null() & (values.str.len_chars() > 0))
        .value_counts(name="n")
        .sort(["n", column], descending=[True, False])
        .head(limit)
    )
    return counts.get_column(column).to_list()


def file_summary(sheet_data: SheetData, limit: int = 200) -> dict[str, Any]:
    """What the mapping step shows of a file: its headers, row count, three samples and the
    distinct values of each column (small: the page keeps it server-side)."""
    frame = sheet_data.frame
    summary: dict[str, Any] = {"headers": list(sheet_data.headers), "samples": {}, "distinct": {}, "rows": frame.height}
    for header in sheet_data.headers:
        summary["samples"][header] = frame.get_column(header).drop_nulls().head(3).to_list()
        summary["distinct"][header] = distinct_values(frame, header, limit=limit, separators="|;")
    return summary
