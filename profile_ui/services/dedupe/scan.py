"""Finding possible duplicates: over the whole base, for some profiles, or for import rows.

`scan_all` reads every active profile, blocks and scores (blocking.py, scoring.py),
rewrites every profile's blocking keys (`dedupe_keys`) and bound integers (bound_cache.py)
and stores the pairs scoring at least STORE_FLOOR in `duplicate_candidates` (the page
filters by score from there).
`scan_profiles` does the same for some profiles against the base, looking their keys up
in `dedupe_keys` instead of reading everything: the incremental check after an import.
`look_alikes` finds, for rows that are not profiles yet (an import's new people), the
existing profile each looks most like, without writing anything: the dry run's flag.

Stored pairs: a pair a person decided on (not the same / merged / skipped) is never
touched again, so "Not the same person" stays remembered however often scans run. An
open pair is updated with its new score; a full scan removes open pairs it no longer
finds (the profiles changed). All writes happen in the caller's transaction.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session

from ...models import utcnow
from ...models.duplicate import (
    DUPLICATE_OPEN,
    DUPLICATE_SKIPPED,
    SOURCE_IMPORT,
    SOURCE_SCAN,
    DedupeKey,
    DuplicateCandidate,
)
from ..audit import record_event
from ..bulk_writer import BulkWriter
from ..permissions import Actor
from ..sql_batches import frame_in_batches, in_filter
from . import PROFILES_MERGE, bound_cache
from .blocking import blocking_keys, candidate_pairs, cross_pairs, key_frequencies
from .bound_cache import stale_marks, write_all
from .features import person_features
from .people import load_people
from .scoring import (
    DEFAULT_THRESHOLD,
    SCORE_CHUNK,
    STORE_FLOOR,
    bound_integers,
    bounded_pairs,
    reasons_for,
    score_bounded,
    score_kept,
    with_frequencies,
)

FOUND_SCHEMA = {"a": pl.Int64, "b": pl.Int64, "score": pl.Float64, "reasons": pl.Utf8}


@dataclass
class ScanReport:
    profiles: int  # profiles read
    compared: int  # pairs scored (after blocking)
    stored: int  # pairs at or above STORE_FLOOR, kept or updated
    new: int  # pairs stored for the first time
    suggested: int  # open pairs at or above the default threshold after the scan
    seconds: float

    def summary(self) -> str:
        return (
            f"{self.profiles:,} profiles, {self.compared:,} pairs compared, "
            f"{self.new:,} new possible duplicates, {self.suggested:,} open at or above "
            f"{DEFAULT_THRESHOLD:.0%} ({self.seconds:.1f} s)"
        )


def scan_all(*, session: Session, actor: Actor) -> ScanReport:
    """The full scan: every active profile against every other (through blocking)."""
    actor.require(PROFILES_MERGE)
    started = time.perf_counter()
    seen = stale_marks(session)  # before the profiles: see bound_cache
    features = person_features(load_people(session=session))
    integers = bound_integers(features)
    keys = blocking_keys(features)
    pairs = candidate_pairs(keys)
    found = reasons_for(score_kept(pairs, features, frequencies=key_frequencies(keys), integers=integers))
    write_all(session=session, integers=integers, seen=seen)
    writer = BulkWriter(session)
    session.execute(sa.delete(DedupeKey))
    writer.insert("dedupe_keys", keys.sort("key_hash", "id").rename({"id": "profile_id"}))
    new = store_candidates(
        session=session, writer=writer, found=found, source=SOURCE_SCAN, import_job_id=None, remove_stale=True
    )
    report = ScanReport(
        profiles=features.height,
        compared=pairs.height,
        stored=found.height,
        new=new,
        suggested=_open_suggested(session),
        seconds=time.perf_counter() - started,
    )
    record_event(
        session=session,
        actor=actor,
        action="duplicates.scan",
        object_type="duplicates",
        details={
            "scope": "all",
            "profiles": report.profiles,
            "compared": report.compared,
            "new": report.new,
            "suggested": report.suggested,
        },
    )
    return report


def scan_profiles(*, session: Session, actor: Actor, profile_ids: Sequence[int]) -> ScanReport:
    """The incremental check: these profiles (created or changed) against the whole base."""
    actor.require(PROFILES_MERGE)
    return scan_profile_ids(session=session, profile_ids=profile_ids)


def scan_profile_ids(
    *,
    session: Session,
    profile_ids: Sequence[int],
    import_job_id: int | None = None,
    skip_pairs_of: Sequence[int] = (),
    read: pl.DataFrame | None = None,
) -> ScanReport:
    """scan_profiles without the permission check, for a service that checked its own (an
    import's apply). New pairs touching `skip_pairs_of` are stored as skipped. `read`: the
    features of some of these profiles, as the caller just read them (not read again)."""
    started = time.perf_counter()
    ids = sorted(set(profile_ids))
    known = read.filter(pl.col("id").is_in(ids)) if read is not None else None
    unread = ids if known is None else sorted(set(ids) - set(known["id"].to_list()))
    features = person_features(load_people(session=session, profile_ids=unread))
    if known is not None and known.height:
        features = pl.concat([known, features], how="vertical_relaxed").sort("id")
    keys = blocking_keys(features)
    writer = BulkWriter(session)
    pairs, frequencies, stored = _pairs_with_base(session, keys, with_own=True)
    # two of these profiles pair both ways: scored once (a score is the same either way)
    pairs = pairs.filter(~pl.col("b").is_in(pl.Series(ids, dtype=pl.Int64).implode()) | (pl.col("a") < pl.col("b")))
    # their keys as they are now, for the next imports (keys they had before stay until the
    # next full scan: they can only pair them with someone to score, never suggest wrongly)
    writer.insert(
        "dedupe_keys",
        keys.join(stored, on=["key_hash", "id"], how="anti").sort("key_hash").rename({"id": "profile_id"}),
    )
    found = reasons_for(_score_against_base(session, pairs, features, frequencies))
    new = store_candidates(
        session=session,
        writer=writer,
        found=found,
        source=SOURCE_IMPORT if import_job_id else SOURCE_SCAN,
        import_job_id=import_job_id,
        remove_stale=False,
        skip_pairs_of=skip_pairs_of,
    )
    return ScanReport(
        profiles=features.height,
        compared=pairs.height,
        stored=found.height,
        new=new,
        suggested=_open_suggested(session),
        seconds=time.perf_counter() - started,
    )


def look_alikes(*, session: Session, people: pl.DataFrame, threshold: float = DEFAULT_THRESHOLD) -> pl.DataFrame:
    """For people not in the base yet (a people frame; `id` = the caller's own key), the one
    existing profile each looks most like at or above `threshold`: columns id, profile_id,
    score, reasons. Reads the stored blocking keys; writes nothing."""
    empty = pl.DataFrame(schema={"id": pl.Int64, "profile_id": pl.Int64, "score": pl.Float64, "reasons": pl.Utf8})
    if people.is_empty():
        return empty
    features = person_features(people)
    keys = blocking_keys(features)
    pairs, frequencies, _stored = _pairs_with_base(session, keys, exclude_self=False)
    # these people are not in the base yet: each of their keys counts them once more
    frequencies = pl.concat([frequencies, key_frequencies(keys)]).group_by("key_hash").agg(pl.col("count").sum())
    # only the best pair at or above `threshold` is kept: the bound drops the rest unread
    scored = _score_against_base(session, pairs, features, frequencies, ordered=False, floor=threshold)
    if scored.is_empty():
        return empty
    best = scored.sort("score", descending=True).unique("a", keep="first")
    return reasons_for(best).select(id="a", profile_id="b", score="score", reasons="reasons")


# ---------------------------------------------------------------------- helpers
def _pairs_with_base(
    session: Session, keys: pl.DataFrame, *, exclude_self: bool = True, with_own: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(a = one of `keys`' people, b = a stored profile, or with `with_own` one of `keys`'
    people too) sharing a small enough block, the frequency of each key among them, and
    the stored keys read (key_hash, id)."""
    stored = stored_keys(session, keys)
    base = pl.concat([stored, keys.join(stored, on=["key_hash", "id"], how="anti")]) if with_own else stored
    pairs = cross_pairs(keys, base)
    return (pairs.filter(pl.col("a") != pl.col("b")) if exclude_self else pairs), key_frequencies(base), stored


def stored_keys(session: Session, keys: pl.DataFrame) -> pl.DataFrame:
    """(key_hash, id): the stored blocking keys of every profile sharing one of `keys`."""
    return frame_in_batches(
        session,
        keys["key_hash"].unique().to_list(),
        lambda bound: sa.select(DedupeKey.key_hash, DedupeKey.profile_id).where(in_filter(DedupeKey.key_hash, bound)),
        {"key_hash": pl.Int64(), "id": pl.Int64()},
    )


def _score_against_base(
    session: Session,
    pairs: pl.DataFrame,
    features: pl.DataFrame,
    frequencies: pl.DataFrame,
    *,
    ordered: bool = True,
    floor: float = STORE_FLOOR,
) -> pl.DataFrame:
    """Score (a from `features`, b from the base); `ordered` (`features` are profiles, b may
    be one of them: not read again): each pair once, a < b. Keeps pairs at or above `floor`."""
    paired = pairs.select(id=pl.col("b").unique())
    if ordered:  # `features` are profiles (scan_profile_ids): the pairs among them have them as b
        scored = score_with_partners(session, pairs, features, bound_integers(features), frequencies, floor=floor)
    else:  # `features` are not profiles: their ids are the caller's own keys
        base = person_features(load_people(session=session, profile_ids=paired["id"].to_list()))
        scored = score_kept(pairs, features, base, frequencies, floor=floor)
    if not ordered:
        return scored
    flipped = pl.col("a") > pl.col("b")
    return scored.with_columns(
        a=pl.when(flipped).then(pl.col("b")).otherwise(pl.col("a")),
        b=pl.when(flipped).then(pl.col("a")).otherwise(pl.col("b")),
    ).unique(["a", "b"], keep="first")


def score_with_partners(
    session: Session,
    pairs: pl.DataFrame,
    own: pl.DataFrame,
    own_integers: pl.DataFrame,
    frequencies: pl.DataFrame,
    *,
    floor: float = STORE_FLOOR,
) -> pl.DataFrame:
    """The pairs (a: one of `own`, a feature frame with its bound_integers `own_integers`;
    b: another of them or a stored profile, its partner) scoring at least `floor`. The bound
    runs on integers first, the partners' kept ones (bound_cache) where they hold, so only
    the partners of the pairs it keeps are read and folded; the rest as before."""
    partners = pairs.select(id=pl.col("b").unique()).join(own.select("id"), on="id", how="anti")
    partner_ids = partners["id"].sort().to_list()
    if len(partner_ids) >= bound_cache.CACHE_FROM:
        cached, missing = bound_cache.cached_integers(session=session, profile_ids=partner_ids)
    else:
        cached, missing = pl.DataFrame(schema=own_integers.schema), partner_ids
    loaded = person_features(load_people(session=session, profile_ids=missing))
    integers = pl.concat([own_integers, cached, bound_integers(loaded)], how="vertical_relaxed")
    # everyone once, a's and b's alike (`own` may be both): the bound's columns made once
    bounds = with_frequencies(integers, frequencies)
    kept = pl.concat(
        [
            bounded_pairs(pairs.slice(start, SCORE_CHUNK), bounds, bounds, floor=floor)
            for start in range(0, max(pairs.height, 1), SCORE_CHUNK)
        ],
        how="vertical_relaxed",
    )
    unread = (
        kept.select(id=pl.col("b").unique())
        .join(own.select("id"), on="id", how="anti")
        .join(loaded.select("id"), on="id", how="anti")
    )
    texts = pl.concat(
        [own, loaded, person_features(load_people(session=session, profile_ids=unread["id"].sort().to_list()))],
        how="vertical_relaxed",
    )
    scored = pl.concat(
        [
            score_bounded(kept.slice(start, SCORE_CHUNK), texts, texts)
            for start in range(0, max(kept.height, 1), SCORE_CHUNK)
        ],
        how="vertical_relaxed",
    )
    return scored.filter(pl.col("score") >= floor)


def _open_suggested(session: Session) -> int:
    return session.execute(
        sa.select(sa.func.count())
        .select_from(DuplicateCandidate)
        .where(DuplicateCandidate.status == DUPLICATE_OPEN, DuplicateCandidate.score >= DEFAULT_THRESHOLD)
    ).scalar_one()


def store_candidates(
    *,
    session: Session,
    writer: BulkWriter,
    found: pl.DataFrame,
    source: str,
    import_job_id: int | None,
    remove_stale: bool,
    skip_pairs_of: Sequence[int] = (),
) -> int:
    """Insert or refresh found pairs (a < b, score, reasons, fields); how many were new.

    Pairs a person decided on stay as they are. `remove_stale` (full scans): open pairs not
    found any more are removed. New pairs touching `skip_pairs_of` are stored as skipped
    (an import told to create its look-alikes anyway)."""
    now = utcnow()
    table = DuplicateCandidate.__table__
    existing = pl.DataFrame(
        session.connection()
        .execute(sa.select(table.c.id, table.c.profile_a_id, table.c.profile_b_id, table.c.status))
        .all(),
        schema={"id": pl.Int64, "a": pl.Int64, "b": pl.Int64, "status": pl.Utf8},
        orient="row",
    )
    found = (
        found.with_columns(fields=pl.col("fields").struct.json_encode())
        if found.height
        else found.with_columns(pl.col("fields").cast(pl.Utf8))
    )
    joined = found.join(existing, on=["a", "b"], how="left")
    fresh = joined.filter(pl.col("id").is_null())
    refresh = joined.filter(pl.col("status") == DUPLICATE_OPEN)
    writer.insert(
        "duplicate_candidates",
        fresh.select(
            profile_a_id="a",
            profile_b_id="b",
            score="score",
            reasons=pl.col("reasons").str.slice(0, 1000),
            fields="fields",
            source=pl.lit(source),
            import_job_id=pl.lit(import_job_id, dtype=pl.Int64),
            status=pl.when(pl.col("a").is_in(list(skip_pairs_of)) | pl.col("b").is_in(list(skip_pairs_of)))
            .then(pl.lit(DUPLICATE_SKIPPED))
            .otherwise(pl.lit(DUPLICATE_OPEN)),
            created_at=pl.lit(now),
            updated_at=pl.lit(now),
        ),
    )
    writer.update(
        "duplicate_candidates",
        refresh.select(
            "id", "score", reasons=pl.col("reasons").str.slice(0, 1000), fields="fields", updated_at=pl.lit(now)
        ),
        key=["id"],
    )
    if remove_stale:
        stale = existing.filter(pl.col("status") == DUPLICATE_OPEN).join(found, on=["a", "b"], how="anti")
        writer.delete("duplicate_candidates", stale.select("id"))
    return fresh.height
