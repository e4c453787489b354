"""Exports of profiles.

`export_profiles_csv`: every active profile to one CSV, all fields (system columns, then
custom attributes) and one column per identity kind the actor may export (several values of
one kind joined with "|"). Written chunk by chunk (keyset over profile id), so memory stays
flat whatever the database holds. Headers are field and identity keys, stable for scripts.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session, select

from ..models import STATUS_ACTIVE, FieldDefinition, Identity, IdentityKind, Profile
from .audit import record_event
from .permissions import PROFILES_EXPORT, Actor, export_identity_permission

EXPORT_CHUNK_ROWS = 100_000
MULTI_VALUE_SEPARATOR = "|"

_SYSTEM_DTYPES: dict[str, pl.DataType] = {
    "birthday": pl.Date(),
    "registered_at": pl.Datetime("us", "UTC"),
}


def _identity_kinds(session: Session, actor: Actor) -> list[str]:
    kinds = session.exec(select(IdentityKind.key).order_by(IdentityKind.position, IdentityKind.key)).all()
    return [kind for kind in kinds if actor.can(export_identity_permission(kind))]


def export_profiles_csv(*, session: Session, actor: Actor, out_path: str | Path,
                        chunk_rows: int = EXPORT_CHUNK_ROWS) -> int:
    """Write the CSV; returns how many profiles it holds.

    Identities stored encrypted are left out here (their column stays empty): the full
    export feature decrypts them for actors allowed to see them.
    """
    actor.require(PROFILES_EXPORT)
    fields = session.exec(select(FieldDefinition).order_by(FieldDefinition.position,
                                                           FieldDefinition.key)).all()
    system_keys = [f.key for f in fields if f.is_system and f.key in Profile.__table__.c]
    custom_keys = [f.key for f in fields if not f.is_system]
    kinds = _identity_kinds(session, actor)
    profile_columns = [Profile.__table__.c[key] for key in system_keys]
    header = ["id", *kinds, *system_keys, *custom_keys, "created_at", "updated_at"]
    schema: dict[str, pl.DataType] = {"id": pl.Int64()}
    schema.update({key: _SYSTEM_DTYPES.get(key, pl.Utf8()) for key in system_keys})
    schema.update({"__attributes": pl.Utf8(), "created_at": pl.Datetime("us", "UTC"),
                   "updated_at": pl.Datetime("us", "UTC")})

    conn = session.connection()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    total, last_id = 0, 0
    with out_path.open("wb") as out:
        while True:
            rows = conn.execute(
                sa.select(Profile.id, *profile_columns, sa.cast(Profile.attributes, sa.Text),
                          Profile.created_at, Profile.updated_at)
                .where(Profile.status == STATUS_ACTIVE, Profile.id > last_id)
                .order_by(Profile.id).limit(chunk_rows)
            ).all()
            chunk = pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")
            chunk = chunk.with_columns(
                [pl.col("__attributes").str.json_path_match(f"$.{key}").alias(key)
                 for key in custom_keys]
            ).drop("__attributes")
            if rows:
                chunk = _with_identities(conn, chunk, kinds, rows[0][0], rows[-1][0])
            else:
                chunk = chunk.with_columns([pl.lit(None, pl.Utf8).alias(k) for k in kinds])
            chunk.select(header).write_csv(out, include_header=total == 0)
            total += chunk.height
            if len(rows) < chunk_rows:
                break
            last_id = rows[-1][0]

    record_event(session=session, actor=actor, action="profiles.export", object_type="profile",
                 details={"format": "csv", "file": out_path.name, "profiles": total,
                          "identity_kinds": kinds})
    return total


def _with_identities(conn: sa.Connection, chunk: pl.DataFrame, kinds: list[str],
                     first_id: int, last_id: int) -> pl.DataFrame:
    if not kinds:
        return chunk
    rows = conn.execute(
        sa.select(Identity.profile_id, Identity.kind, Identity.value)
        .where(Identity.profile_id.between(first_id, last_id), Identity.kind.in_(kinds),
               Identity.is_encrypted.is_(False))
    ).all()
    identities = pl.DataFrame([tuple(r) for r in rows], orient="row",
                              schema={"id": pl.Int64(), "kind": pl.Utf8(), "value": pl.Utf8()})
    joined = (identities.group_by("id", "kind")
              .agg(pl.col("value").sort().str.join(MULTI_VALUE_SEPARATOR))
              .pivot(on="kind", index="id", values="value"))
    missing = [k for k in kinds if k not in joined.columns]
    joined = joined.with_columns([pl.lit(None, pl.Utf8).alias(k) for k in missing])
    return chunk.join(joined.select("id", *kinds), on="id", how="left")
