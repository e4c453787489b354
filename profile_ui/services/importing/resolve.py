"""Resolve: which person each row is, and which existing profiles that person matches.

Rows of one file that share an identifier value are one person; so are rows whose
identifiers lead to the same existing profile. This is a connected-components problem
over rows and identifier values, solved here with vectorized label propagation in polars
(a plain union-find takes over for pathological chains). Existing owners of all
identifier values are found with one batched lookup per identity kind, so the work
grows with the file, not with the database.
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session

from ...models import Identity
from ..crypto import is_encrypted_kind, lookup_values, stored_values
from ..sql_batches import in_batches, in_filter  # the pipeline's modules take them from here
from . import IDENTITY_PREFIX, ROW_COL, VALID_COL

PERSON_COL = "__person__"  # Int64: the row number of the person's first row (valid rows only)
MATCHES_COL = "__matches__"  # List(Int64): existing profiles the person matches, ascending
MATCHED_BY_COL = "__matched_by__"  # Utf8: first identifier kind, in sync-rule order, that matched
CLASS_COL = "__class__"  # Utf8: see CLASS_* below
OWNER_PREFIX = "__owner__:"  # + kind, Int64: the profile that owns this row's value of that kind

CLASS_NEW = "new"  # no existing profile: one is created for the person
CLASS_MATCH = "match"  # exactly one existing profile
CLASS_CONFLICT = "conflict"  # two or more different existing profiles
CLASS_INVALID = "invalid"  # the row failed validation
CLASS_NO_IDENTIFIER = "no_identifier"  # valid, but none of the identifier kinds that count

_MAX_PROPAGATION_ROUNDS = 40


def identity_column(kind: str) -> str:
    return f"{IDENTITY_PREFIX}{kind}"


def owner_column(kind: str) -> str:
    return f"{OWNER_PREFIX}{kind}"


def identity_kinds_in(frame: pl.DataFrame) -> list[str]:
    """Identity kinds that have a column in the frame, in column order."""
    return [c[len(IDENTITY_PREFIX) :] for c in frame.columns if c.startswith(IDENTITY_PREFIX)]


def stored_identity_values(kind: str, values: pl.Series) -> pl.Series:
    """The form an identity value is stored in (Identity.value) for a normalized value.

    The normalized value itself, or its keyed hash (HMAC, current key) when the kind is
    stored encrypted (services/crypto.py); every lookup and insert goes through here.
    """
    return stored_values(kind, values)


def with_stored_values(frame: pl.DataFrame) -> pl.DataFrame:
    """A frame of (kind, value) with its values as stored, kind by kind (stored_identity_values)."""
    parts = [
        part.with_columns(stored_identity_values(kind, part["value"]).alias("value"))
        for (kind,), part in frame.partition_by("kind", as_dict=True).items()
    ]
    return pl.concat(parts) if parts else frame


def find_identity_owners(*, session: Session, kind: str, values: pl.Series) -> pl.DataFrame:
    """The one lookup of existing identities: normalized values -> owning profile.

    Returns columns "value" (the normalized value as given) and "profile_id" (Int64),
    one row per value that exists.
    """
    values = values.drop_nulls().unique()
    schema = {"value": pl.Utf8, "profile_id": pl.Int64}
    if values.is_empty():
        return pl.DataFrame(schema=schema)
    # an encrypted kind: its hash under the current key, and under older keys (rotation)
    back = lookup_values(kind, values) if is_encrypted_kind(kind) else None
    stored = back["stored"] if back is not None else values
    rows = in_batches(
        session,
        stored.to_list(),
        lambda bound: sa.select(Identity.value, Identity.profile_id).where(
            Identity.kind == kind, in_filter(Identity.value, bound)
        ),
    )
    found = pl.DataFrame(rows, schema=schema, orient="row")
    if back is None:
        return found
    return (
        found.rename({"value": "stored"})
        .join(back, on="stored")
        .select("value", "profile_id")
        .unique("value", keep="first", maintain_order=True)
    )


def resolve_identities(frame: pl.DataFrame, *, session: Session, identifier_kinds: list[str]) -> pl.DataFrame:
    """Add each row's person, matched profiles, match kind and class (see the *_COL names).

    `identifier_kinds` are the kinds that identify a person, in sync-rule order; other
    identity columns are looked up too (their owner columns tell apply whether a value is
    free) but neither link rows nor match profiles. Invalid rows get no person.
    """
    kinds_in_frame = identity_kinds_in(frame)
    counting = [k for k in identifier_kinds if k in kinds_in_frame]
    out = frame.with_row_index("__idx__")

    # 1. who owns each value today: one batched lookup per kind
    for kind in kinds_in_frame:
        col = identity_column(kind)
        owners = find_identity_owners(session=session, kind=kind, values=frame[col])
        out = out.join(
            owners.rename({"value": col, "profile_id": owner_column(kind)}),
            on=col,
            how="left",
            maintain_order="left",
        )

    # 2. links: a row to each of its identifier values, and to each profile they lead to
    valid = out.filter(pl.col(VALID_COL))
    edge_parts = []
    for kind in counting:
        col = identity_column(kind)
        edge_parts.append(
            valid.filter(pl.col(col).is_not_null()).select("__idx__", key=pl.lit(f"{kind}\x1f") + pl.col(col))
        )
        edge_parts.append(
            valid.filter(pl.col(owner_column(kind)).is_not_null()).select(
                "__idx__", key=pl.lit("\x1fprofile\x1f") + pl.col(owner_column(kind)).cast(pl.Utf8)
            )
        )
    edges = (
        pl.concat(edge_parts) if edge_parts else pl.DataFrame(schema={"__idx__": pl.UInt32, "key": pl.Utf8})
    ).unique()
    labels = _components(edges)  # __idx__ -> label (the smallest __idx__ of its component)

    # 3. the person key is the first row's number; matches are the person's profiles
    out = out.join(labels, on="__idx__", how="left", maintain_order="left")
    first_row = (
        out.filter(pl.col("__label__").is_not_null()).group_by("__label__").agg(pl.col(ROW_COL).min().alias(PERSON_COL))
    )
    out = out.join(first_row, on="__label__", how="left", maintain_order="left")

    matches, matched_by = _person_matches(out, counting)
    out = out.join(matches, on=PERSON_COL, how="left", maintain_order="left").join(
        matched_by, on=PERSON_COL, how="left", maintain_order="left"
    )
    n_matches = pl.col(MATCHES_COL).list.len().fill_null(0)
    out = out.with_columns(
        pl.when(~pl.col(VALID_COL))
        .then(pl.lit(CLASS_INVALID))
        .when(pl.col(PERSON_COL).is_null())
        .then(pl.lit(CLASS_NO_IDENTIFIER))
        .when(n_matches == 0)
        .then(pl.lit(CLASS_NEW))
        .when(n_matches == 1)
        .then(pl.lit(CLASS_MATCH))
        .otherwise(pl.lit(CLASS_CONFLICT))
        .alias(CLASS_COL),
        pl.when(pl.col(VALID_COL)).then(pl.col(PERSON_COL)).alias(PERSON_COL),
    )
    return out.drop("__idx__", "__label__")


def _person_matches(out: pl.DataFrame, counting: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per person: the distinct profiles matched, and the first kind (rule order) that matched."""
    parts = []
    for rank, kind in enumerate(counting):
        parts.append(
            out.filter(pl.col(PERSON_COL).is_not_null() & pl.col(owner_column(kind)).is_not_null()).select(
                PERSON_COL, profile_id=pl.col(owner_column(kind)), rank=pl.lit(rank), kind=pl.lit(kind)
            )
        )
    if not parts:
        return (
            pl.DataFrame(schema={PERSON_COL: pl.Int64, MATCHES_COL: pl.List(pl.Int64)}),
            pl.DataFrame(schema={PERSON_COL: pl.Int64, MATCHED_BY_COL: pl.Utf8}),
        )
    hits = pl.concat(parts)
    matches = hits.group_by(PERSON_COL).agg(pl.col("profile_id").unique().sort().alias(MATCHES_COL))
    matched_by = hits.sort("rank").group_by(PERSON_COL).agg(pl.col("kind").first().alias(MATCHED_BY_COL))
    return matches, matched_by


def _components(edges: pl.DataFrame) -> pl.DataFrame:
    """Connected components of rows linked through shared keys: (__idx__, __label__).

    Min-label propagation (row -> key -> row) with pointer jumping; a few rounds settle
    real files. Labels are row indexes, so a label always points at a row of its own
    component, which is what makes the jump `label = label[label]` safe.
    """
    alone = edges.select("__idx__").unique().with_columns(pl.col("__idx__").alias("__label__"))
    # keys on one row link nothing: most of a real file, so drop them before iterating
    edges = edges.filter(pl.len().over("key") > 1)
    if edges.is_empty():
        return alone
    edges = edges.with_columns(pl.col("key").rank("dense").cast(pl.UInt32).alias("key"))
    linked = _propagate(edges)
    return alone.join(linked, on="__idx__", how="left", suffix="_linked").select(
        "__idx__", pl.coalesce("__label___linked", "__label__").alias("__label__")
    )


def _propagate(edges: pl.DataFrame) -> pl.DataFrame:
    labels = edges.select("__idx__").unique().with_columns(pl.col("__idx__").alias("__label__"))
    for _ in range(_MAX_PROPAGATION_ROUNDS):
        key_min = edges.join(labels, on="__idx__").group_by("key").agg(pl.col("__label__").min())
        new = edges.join(key_min, on="key").group_by("__idx__").agg(pl.col("__label__").min())
        new = _jump(new)
        changed = (
            new.join(labels, on="__idx__", suffix="_old").filter(pl.col("__label__") != pl.col("__label___old")).height
        )
        labels = new
        if not changed:
            return labels
    return _union_find(edges)


def _jump(labels: pl.DataFrame) -> pl.DataFrame:
    """label <- label[label] until stable (path halving for the propagation)."""
    for _ in range(_MAX_PROPAGATION_ROUNDS):
        hop = labels.join(labels.rename({"__idx__": "__label__", "__label__": "__next__"}), on="__label__", how="left")
        hop = hop.with_columns(pl.coalesce("__next__", "__label__").alias("__next__"))
        if hop.filter(pl.col("__next__") != pl.col("__label__")).is_empty():
            break
        labels = hop.select("__idx__", pl.col("__next__").alias("__label__"))
    return labels


def _union_find(edges: pl.DataFrame) -> pl.DataFrame:
    """Fallback for long chains of rows: a plain union-find (still linear in the file)."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = x
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    first_by_key: dict[int, int] = {}
    for idx, key in edges.select("__idx__", "key").iter_rows():
        find(idx)
        other = first_by_key.setdefault(key, idx)
        a, b = find(idx), find(other)
        if a != b:
            parent[max(a, b)] = min(a, b)
    idxs = list(parent)
    return pl.DataFrame(
        {"__idx__": idxs, "__label__": [find(i) for i in idxs]}, schema={"__idx__": pl.UInt32, "__label__": pl.UInt32}
    )
