"""Read profiles as a people frame (features.PEOPLE_SCHEMA), in bulk.

One query for the profiles' own columns and one for their identities (the first value of
each kind per profile, by id), each read in bulk (sql_batches.bulk_frame: COPY on
PostgreSQL, one packed value on SQLite; no Python object per value): a million profiles in
a few seconds. Identity kinds stored encrypted are left out: their stored value is a
keyed hash, good for equality only, and blocking on it would need the plain value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session

from ...models import STATUS_ACTIVE
from ...models.duplicate import COMPARED_IDENTITY_KINDS
from ..crypto import is_encrypted_kind
from ..sql_batches import bulk_frame, frame_in_batches, in_filter
from .features import PEOPLE_SCHEMA, empty_people

# identity kind -> people-frame column (the same names)
IDENTITY_FIELDS = {kind: kind for kind in COMPARED_IDENTITY_KINDS}


def load_people(*, session: Session, profile_ids: Sequence[int] | None = None) -> pl.DataFrame:
    """Active profiles (all, or those of `profile_ids`) as a people frame."""
    profiles = sa.table(
        "profiles",
        sa.column("id"),
        sa.column("full_name"),
        sa.column("birthday"),
        sa.column("city"),
        sa.column("status"),
    )
    identities = sa.table("identities", sa.column("id"), sa.column("profile_id"), sa.column("kind"), sa.column("value"))

    def fetch(query_for: Callable[[Any], sa.Select], schema: dict[str, pl.DataType]) -> pl.DataFrame:
        if profile_ids is None:
            return bulk_frame(session, query_for(None), schema)
        return frame_in_batches(session, list(profile_ids), query_for, schema)

    def base(bound: object) -> sa.Select:
        query = sa.select(profiles.c.id, profiles.c.full_name, profiles.c.birthday, profiles.c.city)
        if bound is None:
            return query.where(profiles.c.status == STATUS_ACTIVE)
        # by id alone, the status checked on the row: with both, SQLite walks every active
        # profile of a (status, ...) index and tests each against the list
        return query.where(in_filter(profiles.c.id, bound), sa.func.coalesce(profiles.c.status, "") == STATUS_ACTIVE)

    # the date as text: SQLite keeps what it was given, and a value that is not a date reads as none
    people = fetch(base, {"id": pl.Int64, "full_name": pl.Utf8, "birthday": pl.Utf8, "city": pl.Utf8})
    if people.is_empty():
        return empty_people()
    people = people.with_columns(pl.col("birthday").str.slice(0, 10).str.to_date(strict=False))
    kinds = [kind for kind in IDENTITY_FIELDS if not is_encrypted_kind(kind)]

    def identity_values(bound: object) -> sa.Select:
        # by profile alone: the (profile_id, id, kind, value, ...) index answers it; a filter
        # on kind first would send SQLite through the (kind, value) index, every row of a kind
        query = sa.select(identities.c.profile_id, identities.c.id, identities.c.kind, identities.c.value)
        if bound is None:
            return query.where(identities.c.kind.in_(kinds))
        return query.where(in_filter(identities.c.profile_id, bound))

    schema = {"id": pl.Int64, "identity_id": pl.Int64, "kind": pl.Utf8, "value": pl.Utf8}
    values = fetch(identity_values, schema) if kinds else pl.DataFrame(schema=schema)
    first = (
        values.filter(pl.col("kind").is_in(kinds))
        .sort("identity_id")
        .unique(["id", "kind"], keep="first")
        .pivot("kind", index="id", values="value")
    )
    people = people.join(first, on="id", how="left")
    people = people.with_columns(
        [
            pl.lit(None, pl.Utf8).alias(IDENTITY_FIELDS[k])
            for k in IDENTITY_FIELDS
            if IDENTITY_FIELDS[k] not in people.columns
        ]
    )
    return people.select(list(PEOPLE_SCHEMA))
