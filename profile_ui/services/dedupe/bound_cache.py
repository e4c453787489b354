"""The profiles' bound integers, kept: an import's look-alike check reads them for its
partners instead of the partners' names and identities (tables: migration 0018).

An import's check pairs each new person with the profiles sharing one of its blocks: ~30
each at 1,000,000 profiles, 1.5 million pairs and ~600,000 partners for 50,000 rows. The
integer bound (scoring.bounded_pairs) drops ~90% of those pairs, but it needs every
partner's integers (scoring.bound_integers), and making them meant reading and folding
every partner. Here they are kept, so only the partners of the pairs the bound keeps are
read.

- `stale_marks` then `write_all` (a full scan, which reads every profile anyway): the marks
  it saw before reading, then every segment replaced and exactly those marks removed.
- `write_created` (an import's apply): the profiles it created, from its dry run's check.
- `cached_integers` (the check): the kept integers of some profiles, and the profiles whose
  kept integers are missing or may be out of date, which the caller reads as before.

A kept row holds while its profile has no `dedupe_stale` mark: triggers mark every change
of a compared fact, in the changing transaction. A full scan reads the marks before the
profiles, so a change it did not see keeps its mark: one committed after that read was
never read, and a mark rewritten since (a later change) carries another time and is not
the one the scan removes (on PostgreSQL its DELETE waits for the writer's commit and reads
the row again). A segment of another `cache_version` (the code that makes the integers,
the hashes' polars, the folding's anyascii, the nickname list) is not read. So the check's
pairs and scores are those it finds without the cache; tests compare both.
"""

from __future__ import annotations

import io
from functools import lru_cache
from importlib.metadata import version as package_version

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session, col

from ...models.duplicate import DedupeBoundSegment, DedupeStale
from ..bulk_writer import BulkWriter
from ..sql_batches import bulk_frame
from .features import empty_people, person_features
from .scoring import bound_integers

FORMAT = "1"  # raise when scoring.bound_integers changes what it computes
SEGMENT_ROWS = 100_000
# partners below which reading their texts is quicker than reading every segment
CACHE_FROM = 20_000


@lru_cache(maxsize=1)
def cache_version() -> str:
    packages = ("polars", "anyascii", "nicknames")
    return f"bounds {FORMAT}; " + "; ".join(f"{name} {package_version(name)}" for name in packages)


@lru_cache(maxsize=1)
def _schema() -> pl.Schema:
    return bound_integers(person_features(empty_people())).schema


def _segment_bytes(integers: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    integers.write_ipc(buffer, compression="uncompressed")
    return buffer.getvalue()


def _insert_segments(session: Session, integers: pl.DataFrame) -> None:
    integers = integers.select(list(_schema())).sort("id")
    for start in range(0, integers.height, SEGMENT_ROWS):
        part = integers.slice(start, SEGMENT_ROWS)
        session.execute(
            sa.insert(DedupeBoundSegment).values(
                version=cache_version(), profiles=part.height, data=_segment_bytes(part)
            )
        )


def stale_marks(session: Session) -> pl.DataFrame:
    """(profile_id, changed_at): every stale mark, as a full scan reads them before the profiles."""
    return bulk_frame(
        session,
        sa.select(col(DedupeStale.profile_id), col(DedupeStale.changed_at)),
        {"profile_id": pl.Int64(), "changed_at": pl.Int64()},
    )


def write_all(*, session: Session, integers: pl.DataFrame, seen: pl.DataFrame) -> None:
    """A full scan's: the integers of every active profile (bound_integers of what it read
    after `seen`, stale_marks' frame) replace every segment; the marks it saw are removed."""
    session.execute(sa.delete(DedupeBoundSegment))
    _insert_segments(session, integers)
    BulkWriter(session).delete("dedupe_stale", seen)


def write_created(*, session: Session, integers: pl.DataFrame) -> None:
    """An apply's: the integers of the profiles it created (their ids), as its dry run made
    them from the values it wrote. Their marks come from the apply's own writes (its
    identities), made in this transaction, before these: removed."""
    if integers.is_empty():
        return
    _insert_segments(session, integers)
    BulkWriter(session).delete("dedupe_stale", integers.select(profile_id="id"))


def cached_integers(*, session: Session, profile_ids: list[int]) -> tuple[pl.DataFrame, list[int]]:
    """(bound integers of those of `profile_ids` whose kept rows hold, the other ids)."""
    schema = _schema()
    empty = pl.DataFrame(schema=schema)
    segments = session.execute(
        sa.select(col(DedupeBoundSegment.data))
        .where(col(DedupeBoundSegment.version) == cache_version())
        .order_by(col(DedupeBoundSegment.id))
    ).all()
    if not segments or not profile_ids:
        return empty, list(profile_ids)
    wanted = pl.DataFrame({"id": profile_ids}, schema={"id": pl.Int64})
    parts = []
    for number, (data,) in enumerate(segments):
        frame = pl.read_ipc(io.BytesIO(data))
        if frame.schema != schema:  # written by other code under the same version: not used
            continue
        parts.append(frame.join(wanted, on="id", how="semi").with_columns(__segment=pl.lit(number, pl.Int32)))
    if not parts:
        return empty, list(profile_ids)
    # a later segment's row replaces an earlier one's; a marked profile's is not used
    cached = pl.concat(parts).sort("__segment").unique("id", keep="last")
    marked = stale_marks(session).select(id="profile_id")
    holding = cached.join(marked, on="id", how="anti").select(list(schema))
    missing = wanted.join(holding.select("id"), on="id", how="anti")["id"].to_list()
    return holding, missing
