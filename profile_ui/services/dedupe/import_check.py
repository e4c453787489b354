"""An import's possible duplicates, checked once: in the dry run, reused by the apply.

The apply's incremental check (scan.scan_profile_ids over the created profiles) used to
redo what the dry run's look-alike check had just done: key, read and score the same new
people against the same base. Here the dry run does it once for both:

`check_new_people(people)` takes the file's new people as the import will create them
(a people frame, `id` = the person's key) and scores each against the base and the other
new people, with the blocks and term frequencies the apply's check would use (base keys
plus the new people's). It returns the look-alikes (the dry run's flag: the best existing
profile at or above the threshold, blocks capped on the base alone as `scan.look_alikes`
does) and `pairs`: every pair at or above STORE_FLOOR the apply's check would store, the
file's people as negative ids (so they never meet a profile id).

`store_new_pairs` (the apply) puts those pairs in the review queue under the created
profiles' ids. What the pairs depend on is checked by the caller first
(importing/possible_duplicates.py): no change to the base since the dry run
(`base_unchanged`: no audit event but harmless ones), the same new people with the same
values (`people_hash`). Profiles the apply changed (updated in a compared fact, merged)
are checked as before with scan.scan_profile_ids; a new person whose blocks their new keys
join is checked with them (`touched_by`), and pairs with a changed profile are left to that
check, so the stored pairs are those the full check would store.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session, col

from ...models import STATUS_ACTIVE, AuditEvent, Profile, utcnow
from ...models.duplicate import SOURCE_IMPORT
from ..bulk_writer import BulkWriter
from ..sql_batches import in_batches, in_filter
from . import bound_cache
from .blocking import MAX_BLOCK, blocking_keys, key_frequencies
from .features import PEOPLE_SCHEMA, person_features
from .people import load_people
from .scan import scan_profile_ids, score_with_partners, store_candidates, stored_keys
from .scoring import DEFAULT_THRESHOLD, bound_integers, reasons_for

# audit actions that change no profile, identity or blocking key: after them the base is as
# the dry run saw it. Any other action since the dry run (an edit, a merge, another import,
# a scan...) and the apply checks again from scratch.
# a dry run's look-alike check, after its commit (importing/duplicate_checks.py): it writes
# the preview's flags, no profile or key; an apply's check writes blocking keys and pairs (a
# change: another import's dry run before it could not pair with the profiles it keys)
PREVIEW_CHECK_ACTION = "import.look_alikes"
APPLIED_CHECK_ACTION = "import.duplicates_check"
HARMLESS_ACTIONS = (
    PREVIEW_CHECK_ACTION,
    "user.sign_in",
    "import.submit",
    "import.confirm",
    "import.cancel",
    "import.error_file_download",
    "profiles.export_queued",
    "profiles.export",
    "export.download",
    "audit.export",
    "mapping_template.create",
    "settings.list_view.default",
)
APPLY_ACTION = "import.apply"  # an apply's own audit event (importing/apply.py)
# PostgreSQL hands out audit ids before commit, so an id below the stamp can commit after
# it: events this close before the dry run count as after it (the check is then redone)
ID_ORDER_MARGIN = timedelta(seconds=60)
_FIELDS = pl.Struct(dict.fromkeys(("full_name", "birthday", "email", "phone", "city", "user_id"), pl.Utf8))
PAIRS_SCHEMA = pl.Schema(
    {
        "a": pl.Int64(),
        "b": pl.Int64(),
        "score": pl.Float64(),
        "reasons": pl.Utf8(),
        "fields": _FIELDS,
    }
)


@dataclass
class NewPeopleCheck:
    look_alikes: pl.DataFrame  # id (the person), profile_id, score, reasons: the dry run's flag
    pairs: pl.DataFrame  # PAIRS_SCHEMA: what the apply's check would store; the file's people as -id
    keys: pl.DataFrame  # key_hash, id: the new people's blocking keys (ids < 0)
    near: pl.DataFrame  # a, b: new people in a block with a profile the import updates
    integers: pl.DataFrame  # the new people's scoring.bound_integers (ids < 0): the apply caches them
    people_hash: str
    audit_stamp: int
    checked_at: datetime
    compared: int  # pairs scored

    @staticmethod
    def frame_bytes(frame: pl.DataFrame) -> bytes:
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        return buffer.getvalue()


def read_frame(data: bytes) -> pl.DataFrame:
    return pl.read_parquet(io.BytesIO(data))


def audit_stamp(session: Session) -> int:
    """The last audit event's id (0 when there is none)."""
    return int(session.execute(sa.select(sa.func.coalesce(sa.func.max(AuditEvent.id), 0))).scalar_one())


def base_unchanged(session: Session, *, stamp: int, checked_at: datetime, applied_job: int | None = None) -> bool:
    """No audit event but HARMLESS_ACTIONS since the dry run that took `stamp` at `checked_at`;
    `applied_job`: that import's own apply event does not count either (its check, run after
    its commit, knows what the apply wrote)."""
    since = col(AuditEvent.id) > stamp
    if session.connection().dialect.name == "postgresql":
        since = since | (col(AuditEvent.at) >= checked_at - ID_ORDER_MARGIN)
    changes: sa.ColumnElement[bool] = col(AuditEvent.action).not_in(HARMLESS_ACTIONS)
    if applied_job is not None:
        changes = changes & ~(
            (col(AuditEvent.action) == APPLY_ACTION)
            & (col(AuditEvent.object_type) == "import_job")
            & (col(AuditEvent.object_id) == str(applied_job))
        )
    query = sa.select(col(AuditEvent.id)).where(since, changes).limit(1)
    return session.execute(query).first() is None


def people_hash(people: pl.DataFrame) -> str:
    """A people frame's values, as one text (same people, same values: same text)."""
    frame = people.select([pl.col(c).cast(t) for c, t in PEOPLE_SCHEMA.items()]).sort("id")
    return hashlib.sha256(frame.write_csv().encode()).hexdigest()


def check_new_people(
    *, session: Session, people: pl.DataFrame, updated: Sequence[int] = (), threshold: float = DEFAULT_THRESHOLD
) -> NewPeopleCheck:
    """The file's new people (a people frame, `id` = the caller's positive key for each)
    against the base and each other (see the module docstring); `updated`: the profiles
    the import updates (`near`: who shares a block with them). Writes nothing."""
    stamp, checked_at = audit_stamp(session), utcnow()
    own = person_features(people.with_columns(id=-pl.col("id").cast(pl.Int64)))
    own_integers = bound_integers(own)
    keys = blocking_keys(own)
    stored = stored_keys(session, keys)
    with_own = pl.concat([stored, keys])
    pairs = _new_pairs(keys, with_own)
    scored = score_with_partners(session, pairs.select("a", "b"), own, own_integers, key_frequencies(with_own))
    found = reasons_for(scored) if scored.height else pl.DataFrame(schema=PAIRS_SCHEMA)
    applied = pairs.filter(pl.col("applied")).select("a", "b")
    best = (
        found.filter(pl.col("b") > 0)  # every pair with a profile is one the flag looks at
        .filter(pl.col("score") >= threshold)
        .sort(["score", "b"], descending=[True, False])
        .unique("a", keep="first")
    )
    return NewPeopleCheck(
        look_alikes=best.select(id=-pl.col("a"), profile_id="b", score="score", reasons="reasons"),
        pairs=found.join(applied, on=["a", "b"], how="semi").select(list(PAIRS_SCHEMA)).cast(PAIRS_SCHEMA),
        keys=keys,
        near=pairs.filter(pl.col("b").is_in(pl.Series(list(updated), dtype=pl.Int64).implode())).select("a", "b"),
        integers=own_integers,
        people_hash=people_hash(people),
        audit_stamp=stamp,
        checked_at=checked_at,
        compared=pairs.height,
    )


def _new_pairs(keys: pl.DataFrame, with_own: pl.DataFrame) -> pl.DataFrame:
    """(a = a new person, b = a profile or another new person, applied): the pairs sharing a
    block. With a profile: blocks capped on the base alone, as scan.look_alikes pairs them
    for the flag; `applied`: also in a block capped on the base and the new people, as the
    apply's check (scan.scan_profile_ids) pairs them. Two new people: once, a < b, applied."""
    blocks = with_own.group_by("key_hash").agg(everyone=pl.len(), base=(pl.col("id") > 0).sum().cast(pl.UInt32))
    members = with_own.join(blocks.filter(pl.col("base") <= MAX_BLOCK), on="key_hash")
    joined = keys.join(members.select("key_hash", b="id", everyone="everyone"), on="key_hash").filter(
        (pl.col("b") > 0) | ((pl.col("id") < pl.col("b")) & (pl.col("everyone") <= MAX_BLOCK))
    )
    return joined.group_by(a="id", b="b").agg(applied=(pl.col("everyone").min() <= MAX_BLOCK))


def touched_by(session: Session, changed: pl.DataFrame, created_keys: pl.DataFrame) -> list[int]:
    """Created profiles (of `created_keys`: key_hash, id) in a block that changed profiles'
    (`changed`: their features) new keys join: their blocks and term frequencies are not
    those of the dry run."""
    if changed.is_empty() or created_keys.is_empty():
        return []
    keys = blocking_keys(changed)
    fresh = keys.join(stored_keys(session, keys), on=["key_hash", "id"], how="anti")
    return created_keys.join(fresh.select("key_hash").unique(), on="key_hash", how="semi")["id"].unique().to_list()


def store_new_pairs(
    *,
    session: Session,
    pairs: pl.DataFrame,
    created: pl.DataFrame,
    leave_out: Sequence[int],
    import_job_id: int,
    skip_pairs_of: Sequence[int] = (),
) -> int:
    """The dry run's pairs under the created profiles' ids (`created`: person, profile_id),
    less those touching `leave_out` (checked again by the caller) or a profile no longer
    active; stored with the import's id. Returns how many pairs were new."""
    ids = created.select(key=-pl.col("person").cast(pl.Int64), pid=pl.col("profile_id").cast(pl.Int64))
    found = (
        pairs.join(ids.rename({"key": "a", "pid": "a_id"}), on="a", how="left")
        .join(ids.rename({"key": "b", "pid": "b_id"}), on="b", how="left")
        .with_columns(
            a=pl.when(pl.col("a") < 0).then(pl.col("a_id")).otherwise(pl.col("a")),
            b=pl.when(pl.col("b") < 0).then(pl.col("b_id")).otherwise(pl.col("b")),
        )
        .drop_nulls(["a", "b"])
    )
    out = pl.Series(list(leave_out), dtype=pl.Int64).implode()
    found = found.filter(~pl.col("a").is_in(out) & ~pl.col("b").is_in(out))
    others = found.filter(~pl.col("b").is_in(ids["pid"].implode()))["b"].unique().sort().to_list()
    active = in_batches(
        session,
        others,
        lambda bound: sa.select(col(Profile.id)).where(
            in_filter(col(Profile.id), bound), col(Profile.status) == STATUS_ACTIVE
        ),
        plain=True,
    )
    gone = pl.Series(sorted(set(others) - {row[0] for row in active}), dtype=pl.Int64).implode()
    found = found.filter(~pl.col("b").is_in(gone)).select(
        a=pl.min_horizontal("a", "b"), b=pl.max_horizontal("a", "b"), score="score", reasons="reasons", fields="fields"
    )
    return store_candidates(
        session=session,
        writer=BulkWriter(session),
        found=found.unique(["a", "b"], keep="first"),
        source=SOURCE_IMPORT,
        import_job_id=import_job_id,
        remove_stale=False,
        skip_pairs_of=skip_pairs_of,
    )


def apply_check(
    *,
    session: Session,
    pairs: pl.DataFrame,
    keys: pl.DataFrame,
    near: pl.DataFrame,
    created: pl.DataFrame,
    changed: Sequence[int],
    import_job_id: int,
    skip_pairs_of: Sequence[int] = (),
    integers: pl.DataFrame | None = None,
) -> int:
    """The apply's check with the dry run's `pairs`, `keys` and `near` (the new people as
    -person; `created`: person, profile_id): the created profiles' keys stored, their pairs
    stored, and the changed profiles checked as scan.scan_profile_ids does, with the created
    ones whose blocks their new keys join or that shared a block with them (`near`: a
    changed profile's old keys stay stored, and the full check pairs through them).
    `integers`: the dry run's bound integers of the new people, kept for later checks
    (bound_cache.write_created). Returns how many pairs were new."""
    ids = created.select(id=-pl.col("person").cast(pl.Int64), profile_id=pl.col("profile_id").cast(pl.Int64))
    keys = keys.join(ids, on="id").select("key_hash", id="profile_id")
    changed_ids = pl.Series(list(changed), dtype=pl.Int64).implode()
    shared = near.filter(pl.col("b").is_in(changed_ids)).join(ids, left_on="a", right_on="id")["profile_id"]
    # ON CONFLICT: SQLite may hand a purged profile's id out again, its old keys still stored
    BulkWriter(session).insert(
        "dedupe_keys", keys.sort("key_hash", "id").rename({"id": "profile_id"}), skip_existing=True
    )
    if integers is not None:
        bound_cache.write_created(
            session=session, integers=integers.join(ids, on="id").with_columns(id="profile_id").drop("profile_id")
        )
    # read once: for touched_by, and as the first of the profiles checked again
    changed_features = person_features(load_people(session=session, profile_ids=list(changed)))
    again = sorted({*changed, *touched_by(session, changed_features, keys), *shared.to_list()})
    new = store_new_pairs(
        session=session,
        pairs=pairs,
        created=created,
        leave_out=again,
        import_job_id=import_job_id,
        skip_pairs_of=skip_pairs_of,
    )
    if again:
        new += scan_profile_ids(
            session=session,
            profile_ids=again,
            import_job_id=import_job_id,
            skip_pairs_of=skip_pairs_of,
            read=changed_features,
        ).new
    return new
