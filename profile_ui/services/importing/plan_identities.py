"""The identities of a plan: which identifier values to add to a profile, which it already
has (seen again), which are refused because another profile owns them, and the message of
a row that matches several profiles (a conflict).
"""

from __future__ import annotations

import polars as pl

from ..crypto import audit_value
from . import ROW_COL
from .resolve import PERSON_COL, identity_column, owner_column


def person_identities(candidates: pl.DataFrame, kinds: list[str]) -> pl.DataFrame:
    """(person, kind, value, owner) for every identity value of every candidate row."""
    parts = [
        candidates.filter(pl.col(identity_column(k)).is_not_null()).select(
            pl.col(PERSON_COL).alias("person"),
            kind=pl.lit(k),
            value=pl.col(identity_column(k)),
            owner=pl.col(owner_column(k)).cast(pl.Int64),
            row=pl.col(ROW_COL),
        )
        for k in kinds
    ]
    schema = {"person": pl.Int64, "kind": pl.Utf8, "value": pl.Utf8, "owner": pl.Int64, "row": pl.Int64}
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts).unique(["person", "kind", "value"], keep="first").sort("row")


def plan_identities(
    identity_long: pl.DataFrame, applied: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, dict[int, list]]:
    """Identities to add (free values), to mark seen (already the person's), and refused
    ones (owned by another profile, or claimed by an earlier person in the same file)."""
    ids = identity_long.join(
        applied.select("person", "target", "losers", pl.col("kind").alias("kind_of_person")), on="person", how="inner"
    )
    ids = ids.with_columns(
        mine=pl.col("owner").is_not_null()
        & ((pl.col("owner") == pl.col("target")) | pl.col("losers").list.contains(pl.col("owner"))).fill_null(False)
    )
    touches = ids.filter(pl.col("mine")).select("kind", "value").unique()
    # stable: a person's values keep the file's order, the order apply.py writes them in
    # (a profile's first e-mail is the one the possible-duplicate check compares)
    free = ids.filter(pl.col("owner").is_null()).sort("person", maintain_order=True)
    free = free.with_columns(first=pl.struct("kind", "value").is_first_distinct())
    adds = free.filter(pl.col("first"))
    refused = pl.concat(
        [
            ids.filter(pl.col("owner").is_not_null() & ~pl.col("mine")).select("person", "kind", "value", "owner"),
            free.filter(~pl.col("first"))
            .join(adds.select("kind", "value", owner_person="person"), on=["kind", "value"])
            .select("person", "kind", "value", pl.col("owner_person").alias("owner")),
        ]
    )
    not_added: dict[int, list] = {}
    for person, kind, value, owner in refused.iter_rows():
        not_added.setdefault(person, []).append([kind, audit_value(kind, value), owner])
    return adds.select("person", "kind_of_person", "kind", "value"), touches, not_added


def conflict_message(
    identity_long: pl.DataFrame, person: int, matches: list[int], identifier_kinds: list[str], headers: dict[str, str]
) -> dict[str, str]:
    hits = identity_long.filter(
        (pl.col("person") == person) & pl.col("owner").is_in(matches) & pl.col("kind").is_in(identifier_kinds)
    )
    parts = [
        f"profile {owner} by {kind} {audit_value(kind, value)}"
        for kind, value, owner in hits.select("kind", "value", "owner").unique(maintain_order=True).iter_rows()
    ]
    first_kind = hits["kind"][0] if hits.height else ""
    return {
        "column": headers.get(identity_column(first_kind), first_kind),
        "message": f"matches {len(matches)} different profiles ({'; '.join(parts)}); "
        "held for review: nothing was written for this row",
    }


def first_added_values(identity_adds: pl.DataFrame, people: pl.DataFrame, kinds: list[str]) -> pl.DataFrame:
    """Per person of `people` (a frame with `person`), the first value of each of `kinds`
    that an apply of `identity_adds` (person, kind, value) writes: identities get their ids
    in that frame's order, so this is the profile's first identity of the kind once
    written. Columns: person, then one Utf8 column per kind (null where it adds none)."""
    firsts = (
        identity_adds.join(people.select("person"), on="person", how="semi", maintain_order="left")
        .filter(pl.col("kind").is_in(kinds))
        .unique(["person", "kind"], keep="first", maintain_order=True)
    )
    values = people.select("person")
    for kind in kinds:
        found = firsts.filter(pl.col("kind") == kind).select("person", pl.col("value").cast(pl.Utf8).alias(kind))
        values = values.join(found, on="person", how="left", maintain_order="left")
    return values
