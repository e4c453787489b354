"""Folded names for bulk writes: `name_folded` (models.fold_name) computed column-wise.

Every frame of profile rows that carries `full_name` gets its `name_folded` here (the
bulk writer adds it to each such frame; the seed calls it directly), so imports, undo,
merges and the seed keep the query box's folded index in step without an ORM object per
row. fold_name runs once per distinct name, not once per row.
"""

from __future__ import annotations

import polars as pl

from ..models import fold_name


def folded_names(names: pl.Series) -> pl.Series:
    """fold_name of each value of `names` (null stays null), named "name_folded"."""
    names = names.cast(pl.Utf8)
    distinct = names.drop_nulls().unique()
    folded = [fold_name(name) for name in distinct.to_list()]
    return names.replace_strict(distinct, pl.Series(folded, dtype=pl.Utf8), default=None, return_dtype=pl.Utf8).alias(
        "name_folded"
    )


def with_folded_names(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with name_folded added when it carries full_name (and not name_folded yet)."""
    if "full_name" not in frame.columns or "name_folded" in frame.columns:
        return frame
    return frame.with_columns(folded_names(frame["full_name"]))
