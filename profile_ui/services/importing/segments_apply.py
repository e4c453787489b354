"""Segment files: "User ID, Segment Name, Segment Value" rows -> segments and memberships.

The id column holds one identity kind (options.segment_identifier: user_id, email, phone
or a custom kind). Segments that do not exist are created; each row sets the profile's
membership of that segment with its value. A row whose id no profile has is invalid with
the reason. Same plan-then-apply shape as profile files: `plan_segments` writes nothing,
`apply_segments` writes in bulk inside the caller's transaction.

Row `changes`: {"segment_value": [before, after]} plus "@segment": {"name", "created"
(this import created the segment), "existed" (the membership was there before),
"before" (its value then)} for undo.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session

from ...models import ImportJob, ImportRowResult, Profile, Segment, SegmentMember, utcnow
from ...models.profile import STATUS_DELETED
from ..audit import record_event
from ..bulk_writer import BulkWriter
from ..crypto import is_encrypted_kind
from ..permissions import PROFILES_IMPORT, Actor
from . import ERRORS_COL, ROW_COL, VALID_COL, ImportMapping, ImportOptions
from .normalize import phone_expr
from .reports import (
    OUT_INVALID,
    OUT_NEW,
    OUT_SKIPPED,
    OUT_UNCHANGED,
    OUT_UPDATED,
    OUTCOMES,
    ImportPlan,
    ImportPlanError,
)
from .resolve import find_identity_owners, identity_column, in_batches, in_filter

SEGMENT_NAME = "segment_name"
SEGMENT_VALUE = "segment_value"
DEFAULT_HEADERS = {"user id": None, "segment name": SEGMENT_NAME, "segment value": SEGMENT_VALUE}


def segment_frame(
    sheet_frame: pl.DataFrame, mapping: ImportMapping | None, options: ImportOptions, *, default_region: str = "VN"
) -> tuple[pl.DataFrame, dict[str, str]]:
    """From the file as read (Utf8 columns + ROW_COL) to ROW_COL, identity:<kind>,
    segment_name, segment_value, and the header each came from (for messages).

    Mapping targets: "identity:<kind>" (or "id"), "segment_name", "segment_value";
    without a mapping the headers User ID / Segment Name / Segment Value are recognised
    (case and spacing ignored)."""
    kind = options.segment_identifier
    targets: dict[str, str] = {}
    for header in sheet_frame.columns:
        if header == ROW_COL:
            continue
        target = mapping.columns.get(header) if mapping and mapping.columns else None
        if target is None and not (mapping and mapping.columns):
            key = " ".join(header.lower().split())
            if key in DEFAULT_HEADERS:
                target = DEFAULT_HEADERS[key] or identity_column(kind)
        if target in ("id", identity_column(kind)):
            targets.setdefault(identity_column(kind), header)
        elif target in (SEGMENT_NAME, SEGMENT_VALUE):
            targets.setdefault(target, header)
    missing = [t for t in (identity_column(kind), SEGMENT_NAME) if t not in targets]
    if missing:
        names = {identity_column(kind): f"the {kind} column", SEGMENT_NAME: "Segment Name"}
        raise ImportPlanError("a segment file needs " + " and ".join(names[m] for m in missing))
    ident = pl.col(targets[identity_column(kind)]).str.strip_chars()
    if kind == "email":
        ident = ident.str.to_lowercase()
    elif kind == "phone":
        ident = phone_expr(ident, default_region)
    value = pl.col(targets[SEGMENT_VALUE]).str.strip_chars() if SEGMENT_VALUE in targets else pl.lit(None, pl.Utf8)
    frame = sheet_frame.select(
        ROW_COL,
        ident.replace("", None).alias(identity_column(kind)),
        pl.col(targets[SEGMENT_NAME]).str.strip_chars().replace("", None).alias(SEGMENT_NAME),
        value.replace("", None).alias(SEGMENT_VALUE),
    )
    return frame, targets


def plan_segments(
    *,
    session: Session,
    actor: Actor,
    frame: pl.DataFrame,
    options: ImportOptions,
    file_name: str = "file",
    headers: dict[str, str] | None = None,
) -> ImportPlan:
    """The dry run of a segment file: every row's outcome; writes nothing."""
    actor.require(PROFILES_IMPORT)
    return _plan(session, frame, options, headers or {})


def _plan(session: Session, frame: pl.DataFrame, options: ImportOptions, headers: dict[str, str]) -> ImportPlan:
    kind = options.segment_identifier
    id_col = identity_column(kind)
    if id_col not in frame.columns or SEGMENT_NAME not in frame.columns:
        raise ImportPlanError(f"a segment file needs the {kind} column and Segment Name")
    if SEGMENT_VALUE not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Utf8).alias(SEGMENT_VALUE))
    id_header = headers.get(id_col, kind)
    name_header = headers.get(SEGMENT_NAME, "Segment Name")

    owners = find_identity_owners(session=session, kind=kind, values=frame[id_col])
    rows = frame.join(owners.rename({"value": id_col}), on=id_col, how="left", maintain_order="left")
    ids = rows["profile_id"].drop_nulls().unique().to_list()
    deleted = (
        {
            pid
            for (pid,) in in_batches(
                session,
                ids,
                lambda bound: sa.select(Profile.id).where(
                    in_filter(Profile.id, bound), Profile.status == STATUS_DELETED
                ),
            )
        }
        if ids
        else set()
    )

    def error(column: str, message: str) -> str:
        return json.dumps([{"column": column, "message": message}])

    upstream = pl.col(ERRORS_COL) if ERRORS_COL in rows.columns else None
    message = (
        pl.when(pl.col(id_col).is_null())
        .then(pl.lit(f"the {kind} is missing"))
        .when(pl.col(SEGMENT_NAME).is_null())
        .then(pl.lit("the segment name is missing"))
        .when(pl.col("profile_id").is_null())
        .then(
            pl.lit(f"no profile has this {kind}")  # an encrypted kind's value is not quoted
            if is_encrypted_kind(kind)
            else pl.lit(f"no profile has this {kind}: ") + pl.col(id_col)
        )
        .when(pl.col("profile_id").is_in(list(deleted)))
        .then(pl.lit("this profile is in the trash"))
    )
    column = (
        pl.when(pl.col(id_col).is_not_null() & pl.col(SEGMENT_NAME).is_null())
        .then(pl.lit(name_header))
        .otherwise(pl.lit(id_header))
    )
    rows = rows.with_columns(
        errors=pl.when(message.is_not_null()).then(
            pl.lit("[") + pl.struct(column.alias("column"), message.alias("message")).struct.json_encode() + pl.lit("]")
        )
    )
    if upstream is not None and VALID_COL in rows.columns:
        rows = rows.with_columns(
            errors=pl.when(~pl.col(VALID_COL))
            .then(pl.lit("[") + upstream.list.eval(pl.element().struct.json_encode()).list.join(", ") + pl.lit("]"))
            .otherwise(pl.col("errors"))
        )
    valid = rows.filter(pl.col("errors").is_null())
    # one membership per (segment, profile): the last row in the file wins
    valid = valid.with_columns(last=pl.col(ROW_COL) == pl.col(ROW_COL).max().over(SEGMENT_NAME, "profile_id"))

    names = valid[SEGMENT_NAME].unique().to_list()
    existing_segments = (
        dict(session.connection().execute(sa.select(Segment.name, Segment.id).where(Segment.name.in_(names))).all())
        if names
        else {}
    )
    valid = valid.with_columns(
        segment_id=pl.col(SEGMENT_NAME).replace_strict(existing_segments, default=None, return_dtype=pl.Int64)
    )
    m = SegmentMember
    seg_ids = list(existing_segments.values())
    have = pl.DataFrame(
        in_batches(
            session,
            valid["profile_id"].unique().to_list(),
            lambda bound: sa.select(m.segment_id, m.profile_id, m.value).where(
                in_filter(m.profile_id, bound), m.segment_id.in_(seg_ids)
            ),
        )
        if seg_ids
        else [],
        schema={"segment_id": pl.Int64, "profile_id": pl.Int64, "before": pl.Utf8},
        orient="row",
    ).with_columns(existed=pl.lit(True))
    valid = valid.join(have, on=["segment_id", "profile_id"], how="left").with_columns(
        existed=pl.col("existed").fill_null(False), created=pl.col("segment_id").is_null()
    )
    valid = valid.with_columns(
        outcome=pl.when(~pl.col("last"))
        .then(pl.lit(OUT_SKIPPED))
        .when(~pl.col("existed"))
        .then(pl.lit(OUT_NEW))
        .when(pl.col("before").ne_missing(pl.col(SEGMENT_VALUE)))
        .then(pl.lit(OUT_UPDATED))
        .otherwise(pl.lit(OUT_UNCHANGED))
    )
    segment_info = pl.struct(pl.col(SEGMENT_NAME).alias("name"), "created", "existed", "before").struct.json_encode()
    value_pair = (
        pl.struct(pl.concat_list([pl.col("before"), pl.col(SEGMENT_VALUE)]).alias("v"))
        .struct.json_encode()
        .str.slice(5)
        .str.strip_suffix("}")
    )
    valid = valid.with_columns(
        changes=pl.when(pl.col("outcome").is_in([OUT_NEW, OUT_UPDATED]))
        .then(pl.lit('{"segment_value": ') + value_pair + pl.lit(', "@segment": ') + segment_info + pl.lit("}"))
        .otherwise(pl.lit("{}")),
        errors=pl.when(pl.col("outcome") == OUT_SKIPPED)
        .then(pl.lit(error(name_header, "the same profile and segment appear again further down; that row wins")))
        .otherwise(pl.lit("[]")),
    )
    out = rows.join(
        valid.select(ROW_COL, "outcome", "changes", pl.col("errors").alias("v_errors"), "segment_id", "existed"),
        on=ROW_COL,
        how="left",
        maintain_order="left",
    )
    out = out.with_columns(
        outcome=pl.col("outcome").fill_null(OUT_INVALID),
        errors=pl.coalesce("v_errors", "errors"),
        changes=pl.col("changes").fill_null("{}"),
        person=pl.lit(None, dtype=pl.Int64),
    ).with_columns(profile_id=pl.when(pl.col("outcome") == OUT_INVALID).then(None).otherwise(pl.col("profile_id")))
    result_rows = out.select(ROW_COL, "outcome", "profile_id", "errors", "changes", "person")
    by_outcome = dict(result_rows.group_by("outcome").len().iter_rows())
    new_segments = sorted(
        valid.filter(pl.col("created") & (pl.col("outcome") != OUT_SKIPPED))[SEGMENT_NAME].unique().to_list()
    )
    totals = {
        "rows": result_rows.height,
        "created": int(by_outcome.get(OUT_NEW, 0)),
        "updated": int(by_outcome.get(OUT_UPDATED, 0)),
        "unchanged": int(by_outcome.get(OUT_UNCHANGED, 0)),
        "merged": 0,
        "invalid": int(by_outcome.get(OUT_INVALID, 0)),
        "conflicts": 0,
        "skipped": int(by_outcome.get(OUT_SKIPPED, 0)),
        "segments_created": len(new_segments),
    }
    totals.update({f"rows_{o}": int(by_outcome.get(o, 0)) for o in OUTCOMES})
    plan = ImportPlan(rows=result_rows, totals=totals, new_tags=[])
    plan._inputs = {
        "segment_writes": valid.filter(pl.col("outcome").is_in([OUT_NEW, OUT_UPDATED])).select(
            SEGMENT_NAME, "segment_id", "profile_id", SEGMENT_VALUE
        ),
        "new_segments": new_segments,
    }
    return plan


def apply_segments(
    *,
    session: Session,
    actor: Actor,
    job: ImportJob,
    frame: pl.DataFrame,
    options: ImportOptions,
    headers: dict[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportPlan:
    """Plan and write a segment file in the caller's transaction (flushes, never commits)."""
    actor.require(PROFILES_IMPORT)
    report = progress or (lambda _n: None)
    writer = BulkWriter(session)
    if not writer.postgres:  # SQLite's write lock first, as apply_import does
        session.execute(sa.update(ImportJob).where(ImportJob.id == job.id).values(rows_done=0))
    plan = _plan(session, frame, options, headers or {})
    now = utcnow()
    writes: pl.DataFrame = plan._inputs["segment_writes"]
    new_segments: list[str] = plan._inputs["new_segments"]
    if new_segments:
        session.connection().execute(
            sa.insert(Segment.__table__),
            [
                {
                    "name": n,
                    "description": f"imported from {job.file_name}"[:500],
                    "source": "import",
                    "created_at": now,
                }
                for n in new_segments
            ],
        )
        ids = dict(
            session.connection()
            .execute(sa.select(Segment.name, Segment.id).where(Segment.name.in_(new_segments)))
            .all()
        )
        writes = writes.with_columns(
            pl.coalesce(
                "segment_id", pl.col(SEGMENT_NAME).replace_strict(ids, default=None, return_dtype=pl.Int64)
            ).alias("segment_id")
        )
    report(frame.height // 2)
    writer.upsert(
        "segment_members",
        writes.select(
            "segment_id",
            "profile_id",
            value=pl.col(SEGMENT_VALUE),
            import_job_id=pl.lit(job.id, dtype=pl.Int64),
            added_at=pl.lit(now),
        ),
        conflict=["segment_id", "profile_id"],
        update=["value", "import_job_id"],
    )
    session.execute(sa.delete(ImportRowResult).where(ImportRowResult.job_id == job.id))
    writer.insert(
        "import_row_results",
        plan.rows.select(
            job_id=pl.lit(job.id, dtype=pl.Int64),
            row_number=pl.col(ROW_COL),
            outcome="outcome",
            profile_id="profile_id",
            errors="errors",
            changes="changes",
        ),
    )
    job.counts = dict(plan.totals)
    job.rows_total = frame.height
    job.rows_done = frame.height
    session.add(job)
    record_event(
        session=session,
        actor=actor,
        action="import.apply",
        object_type="import_job",
        object_id=job.id,
        details={
            "file": job.file_name,
            "kind": "segments",
            "counts": plan.totals,
            "segments_created": new_segments,
            "applied_at": now.isoformat(),
        },
    )
    session.flush()
    report(frame.height)
    return plan


__all__ = ["SEGMENT_NAME", "SEGMENT_VALUE", "apply_segments", "plan_segments", "segment_frame"]
