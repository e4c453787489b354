"""Read profiles as a people frame (features.PEOPLE_SCHEMA), in bulk.

One query for the profiles' own columns and one per identity kind (its first value per
profile, by id), read with the driver's cursor: a million profiles in a few seconds, no
ORM objects. Identity kinds stored encrypted are left out: their stored value is a keyed
hash, good for equality only, and blocking on it would need the plain value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session

from ...models import STATUS_ACTIVE
from ..crypto import is_encrypted_kind
from ..sql_batches import in_batches, in_filter
from .features import PEOPLE_SCHEMA, empty_people

IDENTITY_FIELDS = {"email": "email", "phone": "phone", "user_id": "user_id"}


def _rows_frame(rows: Sequence, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    raw = {name: pl.Utf8 if dtype == pl.Date else dtype for name, dtype in schema.items()}
    try:
        frame = pl.DataFrame(rows, schema=raw, orient="row")
        return frame.with_columns(pl.col(n).str.to_date(strict=False) for n, t in schema.items() if t == pl.Date)
    except (TypeError, pl.exceptions.PolarsError):  # PostgreSQL hands back date objects
        return pl.DataFrame(rows, schema=schema, orient="row")


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

    def fetch(query_for: Callable[[list[int] | None], Any]) -> list[tuple]:
        if profile_ids is None:  # the whole base: the driver's cursor, no per-row Result objects
            connection = session.connection()
            sql = query_for(None).compile(
                dialect=connection.dialect,
                compile_kwargs={"literal_binds": True},
            )
            cursor = connection.connection.driver_connection.cursor()
            try:
                cursor.execute(str(sql))
                return cursor.fetchall()
            finally:
                cursor.close()
        return in_batches(session, list(profile_ids), query_for, plain=True)

    def base(bound: object) -> sa.Select:
        query = sa.select(profiles.c.id, profiles.c.full_name, profiles.c.birthday, profiles.c.city)
        if bound is None:
            return query.where(profiles.c.status == STATUS_ACTIVE)
        # by id alone, the status checked on the row: with both, SQLite walks every active
        # profile of a (status, ...) index and tests each against the list
        return query.where(in_filter(profiles.c.id, bound), sa.func.coalesce(profiles.c.status, "") == STATUS_ACTIVE)

    rows = fetch(base)
    if not rows:
        return empty_people()
    people = _rows_frame(rows, {"id": pl.Int64, "full_name": pl.Utf8, "birthday": pl.Date, "city": pl.Utf8})
    kinds = [kind for kind in IDENTITY_FIELDS if not is_encrypted_kind(kind)]

    def identity_values(bound: object) -> sa.Select:
        # by profile alone: the (profile_id, id, kind, value, ...) index answers it; a filter
        # on kind first would send SQLite through the (kind, value) index, every row of a kind
        query = sa.select(identities.c.profile_id, identities.c.id, identities.c.kind, identities.c.value)
        if bound is None:
            return query.where(identities.c.kind.in_(kinds))
        return query.where(in_filter(identities.c.profile_id, bound))

    values = pl.DataFrame(
        fetch(identity_values) if kinds else [],
        orient="row",
        schema={"id": pl.Int64, "identity_id": pl.Int64, "kind": pl.Utf8, "value": pl.Utf8},
    )
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
