"""The diff of a validated file against the database, as a dry run or applied in bulk.

`plan_import` computes every row's outcome (new / updated / merged / unchanged /
skipped / invalid / conflict) with its field before/after and writes nothing.
`apply_import` computes the same plan inside the caller's transaction (after locking
what it reads) and writes it with a handful of bulk statements: no ORM object per row.

A row's `changes` (stored in import_row_results) is `{field key: [before, after]}` for
the fields it changed, plus bookkeeping keys that start with "@" (never a field key):
  @created        ISO time the profile was created by this import (new rows)
  @merged         [loser profile ids] merged into this row's profile
  @merged_fields, @merged_extra
                  fields whose value came from the merged profiles (the file's fields it
                  left empty, and fields outside the file): undo leaves them
  @locked         {field: [kept value, the file's value]}: hand-edited, left alone
  @identities     [[kind, value, stored]] identities added to an existing profile; for a kind
                  stored encrypted the value is "(encrypted)" and `stored` its hash (else null)
  @not_added      [[kind, value, owner profile id]] identities that belong to someone else
                  (value "(encrypted)" for encrypted kinds)
  @tags_added     [[tag id, tag name, value]]
  @tags_removed   [[tag id, value, source, policy, created_by, created_at, import_job_id]]
  @consent        {channel: [before, after]}
  @prov           {field: {source_type, source_name, import_job_id, set_by, set_at, locked}}:
                  the provenance each changed field had before (absent = none), for undo
All rows of one person carry the same changes; undo de-duplicates.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session, select

from ...models import (
    MERGE_POLICIES,
    SYSTEM_COLUMNS,
    AttributeProvenance,
    Consent,
    FieldDefinition,
    ImportJob,
    ImportRowResult,
    Profile,
    ProfileTag,
    SyncRule,
    Tag,
    TagGroup,
    utcnow,
    with_folded_name,
)
from ...models.profile import STATUS_DELETED
from ..attribute_sort import ensure_sort_index, sortable_key
from ..audit import record_event
from ..bulk_writer import BulkWriter
from ..catalog import active_sync_rule, field_definitions
from ..crypto import audit_value, identity_bookkeeping, identity_storage
from ..merge_snapshot import move_profile_rows, record_import_merges, retire_merged, snapshot_profiles
from ..permissions import PROFILES_IMPORT, Actor
from . import (
    ERRORS_COL,
    IDENTITY_PREFIX,
    ROW_COL,
    TAGS_TARGET,
    VALID_COL,
    ImportMapping,
    ImportOptions,
    possible_duplicates,
)
from .reports import (
    OUT_CONFLICT,
    OUT_INVALID,
    OUT_MERGED,
    OUT_NEW,
    OUT_SKIPPED,
    OUT_UNCHANGED,
    OUT_UPDATED,
    OUTCOMES,
    ImportPlan,
    ImportPlanError,
)
from .resolve import (
    CLASS_COL,
    CLASS_CONFLICT,
    CLASS_MATCH,
    CLASS_NEW,
    CLASS_NO_IDENTIFIER,
    MATCHES_COL,
    PERSON_COL,
    identity_column,
    identity_kinds_in,
    in_batches,
    in_filter,
    owner_column,
    resolve_identities,
    stored_identity_values,
)

_NON_FIELD_COLUMNS = {ROW_COL, ERRORS_COL, VALID_COL, TAGS_TARGET}
_TAG_REMOVABLE_POLICY = "overwrite"  # a batch tag whose owner let later data replace it
_TAG_KEEP_POLICY = "ignore"


@dataclass
class _FieldInfo:
    key: str
    label: str
    is_system: bool
    required: bool
    header: str | None  # the file's header mapped to it, for messages
    policy: str
    dtype: pl.DataType


@dataclass
class _Work:
    """What apply writes, keyed by person (new profiles get ids at apply time)."""

    now: datetime
    file_name: str
    persons: pl.DataFrame  # person, kind (new|update|merge), target, losers
    new_profiles: pl.DataFrame  # person + system columns + attributes (JSON text)
    updates: pl.DataFrame  # id + the file's system columns + attributes (JSON patch text)
    changed_provenance: pl.DataFrame  # profile_id, field_key
    merges: list[tuple[int, list[int], int]]  # survivor, losers, person
    merge_extra: dict[int, dict[str, tuple[Any, Any]]]  # person -> fields outside the file a merge fills
    merge_provenance: pl.DataFrame  # provenance rows copied from losers to survivors
    identity_adds: pl.DataFrame  # person, kind, value
    identity_touches: pl.DataFrame  # kind, value
    tag_adds: pl.DataFrame  # person, tag_id (null = create by name), tag_name, value
    tag_removes: pl.DataFrame  # id (profile_tags.id)
    consent_writes: pl.DataFrame  # person, channel, status
    tags_group: str
    new_fields: dict[str, dict[str, Any]]


def plan_import(
    *,
    session: Session,
    actor: Actor,
    frame: pl.DataFrame,
    mapping: ImportMapping,
    options: ImportOptions,
    sync_rule: SyncRule | None = None,
    file_name: str | None = None,
    job: ImportJob | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportPlan:
    """The dry run: every row's outcome and the field diff, and totals. Writes nothing.

    `sync_rule` None = the active sync rule; `file_name` None = the job's file name;
    `progress(rows)` is called between the plan's steps (rows of the frame done so far).
    """
    actor.require(PROFILES_IMPORT)
    sync_rule = sync_rule or active_sync_rule(session)
    name = file_name or (job.file_name if job else "") or "file"
    plan = _plan(
        session=session,
        frame=frame,
        mapping=mapping,
        options=options,
        sync_rule=sync_rule,
        file_name=name,
        lock=False,
        progress=progress,
    )
    plan._inputs = {"frame": frame, "mapping": mapping, "options": options, "sync_rule": sync_rule}
    return plan


def _plan(
    *,
    session: Session,
    frame: pl.DataFrame,
    mapping: ImportMapping,
    options: ImportOptions,
    sync_rule: SyncRule,
    file_name: str,
    lock: bool,
    progress: Callable[[int], None] | None = None,
) -> ImportPlan:
    now = utcnow()
    step = progress or (lambda _n: None)
    total = frame.height
    if options.possible_duplicates not in possible_duplicates.MODES:
        raise ImportPlanError(
            f"possible duplicates: '{options.possible_duplicates}' is not one of "
            + ", ".join(possible_duplicates.MODES)
        )
    fields = _field_infos(session, frame, mapping, options, sync_rule)
    kinds = identity_kinds_in(frame)
    identifier_kinds = _identifier_kinds(sync_rule, mapping, kinds)
    headers = _headers_by_target(mapping)
    auto_merge = sync_rule.auto_merge if options.auto_merge is None else options.auto_merge

    resolved = resolve_identities(frame, session=session, identifier_kinds=identifier_kinds)
    if TAGS_TARGET not in resolved.columns:
        resolved = resolved.with_columns(pl.lit(None, dtype=pl.List(pl.Utf8)).alias(TAGS_TARGET))

    # ---- one row per person that could be applied
    candidates = resolved.filter(pl.col(CLASS_COL).is_in([CLASS_NEW, CLASS_MATCH, CLASS_CONFLICT]))
    persons = (
        candidates.sort(ROW_COL)
        .group_by(PERSON_COL, maintain_order=True)
        .agg(
            pl.col(CLASS_COL).first().alias("class"),
            pl.col(MATCHES_COL).first().alias("matches"),
            *[pl.col(f.key).drop_nulls().last().alias(f"in:{f.key}") for f in fields],
            pl.col(TAGS_TARGET)
            .list.explode(keep_nulls=False, empty_as_null=False)
            .unique(maintain_order=True)
            .alias("tags"),
            pl.col(TAGS_TARGET).is_not_null().any().alias("tags_present"),
        )
        .rename({PERSON_COL: "person"})
    )

    step(total // 4)
    matched_ids = persons["matches"].explode().drop_nulls().unique().to_list()
    current, attributes = _fetch_profiles(session, matched_ids, lock=lock)
    deleted = current.filter(pl.col("status") == STATUS_DELETED)["id"].to_list()

    persons = persons.with_columns(
        pl.col("matches").list.eval(pl.element().is_in(deleted)).list.any().fill_null(False).alias("in_trash"),
    ).with_columns(
        pl.when(pl.col("in_trash"))
        .then(pl.lit(OUT_SKIPPED))
        .when(pl.col("class") == CLASS_NEW)
        .then(pl.lit("new"))
        .when(pl.col("class") == CLASS_MATCH)
        .then(pl.lit("update"))
        .when(pl.lit(auto_merge))
        .then(pl.lit("merge"))
        .otherwise(pl.lit(OUT_CONFLICT))
        .alias("kind"),
        pl.col("matches").list.first().alias("target"),
        pl.col("matches").list.slice(1).alias("losers"),
    )

    # ---- new people missing a field that is required on create: invalid
    errors_by_person: dict[int, list[dict[str, str]]] = {}
    required = [f for f in fields if f.required]
    missing_required = [f for f in _required_fields(session) if f.key not in {x.key for x in fields}]
    new_mask = pl.col("kind") == "new"
    if required or missing_required:
        for row in persons.filter(new_mask).select("person", *[f"in:{f.key}" for f in required]).iter_rows():
            person, values = row[0], row[1:]
            problems = [f for f, v in zip(required, values) if v is None] + missing_required
            if problems:
                errors_by_person[person] = [
                    {"column": f.header or f.label, "message": f"{f.label} is required to create a new profile"}
                    for f in problems
                ]
        if errors_by_person:
            persons = persons.with_columns(
                pl.when(pl.col("person").is_in(list(errors_by_person)))
                .then(pl.lit(OUT_INVALID))
                .otherwise(pl.col("kind"))
                .alias("kind")
            )

    # ---- explanations for rows that are not applied
    identity_long = _identity_long(candidates, kinds)
    for person, matches in persons.filter(pl.col("kind") == OUT_CONFLICT).select("person", "matches").iter_rows():
        errors_by_person[person] = [_conflict_message(identity_long, person, matches, identifier_kinds, headers)]
    for person, matches in persons.filter(pl.col("kind") == OUT_SKIPPED).select("person", "matches").iter_rows():
        in_trash = [m for m in matches if m in deleted]
        errors_by_person[person] = [
            {
                "column": "",
                "message": f"matches profile {', '.join(map(str, in_trash))}, which is in the "
                "trash; restore it (or let it be purged) and import again",
            }
        ]

    applied = persons.filter(pl.col("kind").is_in(["new", "update", "merge"]))
    existing = applied.filter(pl.col("kind") != "new")

    # ---- field diff for existing profiles
    provenance = _fetch_provenance(session, existing["target"].to_list(), [f.key for f in fields])
    diff = _diff_fields(existing, current, attributes, fields, provenance)
    merges = [
        (t, list(losers), p)
        for p, t, losers in existing.filter(pl.col("kind") == "merge").select("person", "target", "losers").iter_rows()
    ]
    merge_extra, merge_provenance = _merge_fills(session, merges, current, attributes, fields)

    step(total // 2)
    # ---- identities
    identity_adds, identity_touches, not_added = _plan_identities(identity_long, applied)

    # ---- tags and consent
    tag_plan = _plan_tags(session, applied, options)
    consent_writes, consent_changes = _plan_consent(session, applied, options)

    step(total * 3 // 4)
    # ---- what gets written
    new_profiles = _new_profile_rows(applied.filter(new_mask), fields, file_name, now)
    existing_out = _existing_writes(diff, fields, provenance)

    # ---- per person: outcome and changes (JSON text built column-wise)
    # merges and refused identities are rare: plain dicts; the rest column-wise
    rare: dict[int, dict[str, Any]] = {}
    for _survivor, losers, person in merges:
        rare.setdefault(person, {})["@merged"] = losers
        for key, (before, after) in merge_extra.get(person, {}).items():
            rare[person][key] = [json_value(before), json_value(after)]
        if merge_extra.get(person):
            rare[person]["@merged_extra"] = sorted(merge_extra[person])
    for person, items in not_added.items():
        rare.setdefault(person, {})["@not_added"] = items
    fragment_frames = [
        pl.DataFrame(
            {
                "person": list(rare),
                "frag": [
                    ", ".join(f"{json.dumps(k)}: {json.dumps(v, default=_json_default)}" for k, v in d.items())
                    for d in rare.values()
                ],
                "touches": [bool(d.get("@merged")) for d in rare.values()],
            },
            schema={"person": pl.Int64, "frag": pl.Utf8, "touches": pl.Boolean},
        ),
        _fragment(
            identity_bookkeeping(identity_adds.filter(pl.col("kind_of_person") != "new")),
            "@identities",
            [("kind", pl.Utf8), ("value", pl.Utf8), ("stored", pl.Utf8)],
        ),
        _fragment(tag_plan.adds, "@tags_added", [("tag_id", pl.Int64), ("tag_name", pl.Utf8), ("value", pl.Utf8)]),
        _fragment(
            tag_plan.removed,
            "@tags_removed",
            [
                ("tag_id", pl.Int64),
                ("value", pl.Utf8),
                ("source", pl.Utf8),
                ("policy", pl.Utf8),
                ("created_by", pl.Int64),
                ("created_at", pl.Datetime("us", "UTC")),
                ("import_job_id", pl.Int64),
            ],
        ),
        _fragment(consent_changes, "@consent", [("before", pl.Utf8), ("status", pl.Utf8)], by="channel"),
    ]
    extra_frame = (
        pl.concat(fragment_frames)
        .group_by("person")
        .agg(pl.col("frag").str.join(", ").alias("extra_frag"), pl.col("touches").any().alias("touched"))
    )

    created_frag = f'"@created": {json.dumps(now.isoformat())}'
    # updated_at before the import and the import's own, so undo can put it back (see undo.py)
    stamps = current.select(
        pl.col("id").alias("target"),
        stamp_frag=pl.lit('"@updated_at": [')
        + _json_text(pl.col("updated_at"), pl.Datetime("us", "UTC"))
        + pl.lit(f", {json.dumps(now.isoformat())}]"),
    )
    persons = (
        persons.select("person", "kind", "target")
        .join(stamps, on="target", how="left")
        .join(existing_out.fragments, on="person", how="left")
        .join(extra_frame, on="person", how="left")
    )
    persons = persons.with_columns(
        outcome=pl.when(pl.col("kind") == "new")
        .then(pl.lit(OUT_NEW))
        .when(pl.col("kind") == "merge")
        .then(pl.lit(OUT_MERGED))
        .when(pl.col("kind") == "update")
        .then(
            pl.when(pl.col("any_change").fill_null(False) | pl.col("touched").fill_null(False))
            .then(pl.lit(OUT_UPDATED))
            .otherwise(pl.lit(OUT_UNCHANGED))
        )
        .otherwise(pl.col("kind")),
        changes=pl.lit("{")
        + pl.concat_str(
            [
                pl.when(pl.col("kind") == "new").then(pl.lit(created_frag)),
                "fields_frag",
                "locked_frag",
                "moved_frag",
                "prov_frag",
                "extra_frag",
                pl.when(
                    (pl.col("kind") == "merge")
                    | (
                        (pl.col("kind") == "update")
                        & (pl.col("any_change").fill_null(False) | pl.col("touched").fill_null(False))
                    )
                ).then(pl.col("stamp_frag")),
            ],
            separator=", ",
            ignore_nulls=True,
        )
        + pl.lit("}"),
        p_errors=pl.col("person").replace_strict(
            {p: json.dumps(e) for p, e in errors_by_person.items()}, default=None, return_dtype=pl.Utf8
        ),
    )
    rows = _row_frame(resolved, persons, identifier_kinds, headers)
    if not lock:  # the dry run flags look-alikes; the apply checks what it wrote (apply_import)
        rows = possible_duplicates.flag_new_rows(session=session, rows=rows, resolved=resolved)

    updated = persons.filter(pl.col("outcome").is_in([OUT_UPDATED, OUT_MERGED]))["target"]
    updates = existing_out.updates.filter(pl.col("id").is_in(updated.implode()))
    totals = _totals(rows, persons, sum(len(losers) for _s, losers, _p in merges))
    if not lock:
        totals["possible_duplicates"] = possible_duplicates.flagged_count(rows)
    work = _Work(
        now=now,
        file_name=file_name,
        persons=applied.select("person", "kind", "target", "losers"),
        new_profiles=new_profiles,
        updates=updates,
        changed_provenance=existing_out.written,
        merges=merges,
        merge_extra=merge_extra,
        merge_provenance=merge_provenance,
        identity_adds=identity_adds.select("person", "kind", "value"),
        identity_touches=identity_touches,
        tag_adds=tag_plan.adds,
        tag_removes=tag_plan.removes,
        consent_writes=consent_writes,
        tags_group=options.tags_group,
        new_fields=mapping.new_fields,
    )
    return ImportPlan(rows=rows, totals=totals, new_tags=tag_plan.new_names, _work=work)


# ---------------------------------------------------------------------- fields
def _field_infos(
    session: Session, frame: pl.DataFrame, mapping: ImportMapping, options: ImportOptions, sync_rule: SyncRule
) -> list[_FieldInfo]:
    definitions = field_definitions(session)
    new_fields = {spec.get("key"): spec for spec in mapping.new_fields.values()}
    headers = _headers_by_target(mapping)
    profile_columns = set(Profile.__table__.c.keys())
    infos = []
    for name, dtype in frame.schema.items():
        if name in _NON_FIELD_COLUMNS or name.startswith((IDENTITY_PREFIX, "__")):
            continue
        definition = definitions.get(name)
        is_system = name in SYSTEM_COLUMNS or bool(definition and definition.is_system)
        if name in profile_columns and name not in SYSTEM_COLUMNS:
            raise ImportPlanError(f"'{name}' is not a field an import can set")
        policy = (
            options.field_policies.get(name)
            or (sync_rule.field_policies or {}).get(name)
            or sync_rule.default_policy
            or "overwrite"
        )
        if policy not in MERGE_POLICIES:
            raise ImportPlanError(
                f"unknown merge policy '{policy}' for field '{name}' (expected one of {', '.join(MERGE_POLICIES)})"
            )
        label = definition.label if definition else (new_fields.get(name) or {}).get("label", name)
        infos.append(
            _FieldInfo(
                key=name,
                label=label,
                is_system=is_system,
                required=bool(definition and definition.required_on_create),
                header=headers.get(name),
                policy=policy,
                dtype=dtype,
            )
        )
    return infos


def _required_fields(session: Session) -> list[_FieldInfo]:
    return [
        _FieldInfo(
            key=d.key,
            label=d.label,
            is_system=d.is_system,
            required=True,
            header=None,
            policy="overwrite",
            dtype=pl.Utf8,
        )
        for d in session.exec(select(FieldDefinition).where(FieldDefinition.required_on_create.is_(True))).all()
    ]


def _headers_by_target(mapping: ImportMapping) -> dict[str, str]:
    headers: dict[str, str] = {}
    for header, target in mapping.columns.items():
        if target and target not in headers:
            headers[target] = header
    return headers


def _identifier_kinds(sync_rule: SyncRule, mapping: ImportMapping, kinds: list[str]) -> list[str]:
    """Kinds that identify a person: the sync rule's, in its order, then any the user chose
    explicitly that the rule lacks. Identity columns outside both are stored, not matched."""
    chosen = [k for k in mapping.identifiers if k in kinds] or kinds
    ordered = [k for k in sync_rule.identifier_kinds if k in chosen]
    return ordered + [k for k in mapping.identifiers if k in kinds and k not in ordered]


# ---------------------------------------------------------------------- reading current state
_SYSTEM_DTYPES: dict[str, pl.DataType] = {
    "full_name": pl.Utf8,
    "gender": pl.Utf8,
    "birthday": pl.Date,
    "city": pl.Utf8,
    "member_level": pl.Utf8,
    "registered_at": pl.Datetime("us", "UTC"),
}


def _fetch_profiles(session: Session, ids: list[int], *, lock: bool) -> tuple[pl.DataFrame, dict[int, dict]]:
    """The matched profiles' system columns and updated_at (typed frame) and their attributes (dicts)."""
    cols = [
        Profile.id,
        Profile.status,
        *[getattr(Profile, c) for c in SYSTEM_COLUMNS],
        Profile.updated_at,
        Profile.attributes,
    ]

    def query(bound: Any) -> Any:
        stmt = sa.select(*cols).where(in_filter(Profile.id, bound))
        return stmt.with_for_update() if lock else stmt

    rows = in_batches(session, sorted(ids), query)
    schema = {"id": pl.Int64, "status": pl.Utf8, **_SYSTEM_DTYPES, "updated_at": pl.Datetime("us", "UTC")}
    frame = pl.DataFrame([r[:-1] for r in rows], schema=schema, orient="row")
    return frame, {r[0]: (r[-1] or {}) for r in rows}


def _fetch_provenance(session: Session, profile_ids: list[int], keys: list[str]) -> pl.DataFrame:
    """Provenance rows of these profiles' fields; set_at as the database's text (only
    copied into row results for undo, so it is not worth parsing here)."""
    schema = {
        "profile_id": pl.Int64,
        "field_key": pl.Utf8,
        "source_type": pl.Utf8,
        "source_name": pl.Utf8,
        "import_job_id": pl.Int64,
        "set_by": pl.Int64,
        "set_at": pl.Utf8,
        "locked": pl.Boolean,
    }
    if not profile_ids or not keys:
        return pl.DataFrame(schema=schema)
    p = AttributeProvenance
    rows = in_batches(
        session,
        sorted(set(profile_ids)),
        lambda bound: sa.select(
            p.profile_id,
            p.field_key,
            p.source_type,
            p.source_name,
            p.import_job_id,
            p.set_by,
            sa.cast(p.set_at, sa.Text),
            p.locked,
        ).where(in_filter(p.profile_id, bound), p.field_key.in_(keys)),
    )
    return pl.DataFrame(rows, schema=schema, orient="row")


# ---------------------------------------------------------------------- values
def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def json_value(value: Any) -> Any:
    """A field value as stored in JSON (attributes, changes): ISO dates, whole numbers as int."""
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
            return int(value)
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _attribute_series(values: list[Any], dtype: pl.DataType) -> pl.Series:
    """Stored attribute values (JSON) as a typed series, unparseable values as null."""
    if dtype == pl.Float64 or dtype.is_numeric():
        out = [v if isinstance(v, int | float) and not isinstance(v, bool) else _to_float(v) for v in values]
        return pl.Series(out, dtype=pl.Float64).cast(dtype, strict=False)
    if dtype == pl.Boolean:
        return pl.Series([v if isinstance(v, bool) else None for v in values], dtype=pl.Boolean)
    if dtype == pl.Date:
        return (
            pl.Series([v if isinstance(v, str) else None for v in values], dtype=pl.Utf8)
            .str.slice(0, 10)
            .str.to_date("%Y-%m-%d", strict=False)
        )
    if isinstance(dtype, pl.Datetime):
        s = pl.Series([v if isinstance(v, str) else None for v in values], dtype=pl.Utf8)
        return s.str.to_datetime(time_unit="us", time_zone="UTC", strict=False).cast(dtype, strict=False)
    if isinstance(dtype, pl.List):
        return pl.Series([[str(x) for x in v] if isinstance(v, list) else None for v in values], dtype=pl.List(pl.Utf8))
    return pl.Series([None if v is None else v if isinstance(v, str) else json.dumps(v) for v in values], dtype=pl.Utf8)


def _to_float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _empty(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.Utf8:
        return expr.is_null() | (expr.str.strip_chars() == "")
    if isinstance(dtype, pl.List):
        return expr.is_null() | (expr.list.len() == 0)
    return expr.is_null()


# ---------------------------------------------------------------------- diff
def _current_frame(
    targets: pl.Series, current: pl.DataFrame, attributes: dict[int, dict], fields: list[_FieldInfo]
) -> pl.DataFrame:
    """For each target id: every file field's stored value, typed like the file's column."""
    ids = targets.to_list()
    cols: dict[str, pl.Series] = {"target": pl.Series(ids, dtype=pl.Int64)}
    by_id = pl.DataFrame({"id": ids}, schema={"id": pl.Int64}).join(current, on="id", how="left", maintain_order="left")
    stored = [attributes.get(i) or {} for i in ids]
    for f in fields:
        if f.is_system:
            cols[f"cur:{f.key}"] = (
                by_id[f.key].cast(f.dtype, strict=False) if f.dtype != by_id[f.key].dtype else by_id[f.key]
            )
        else:
            key = f.key
            cols[f"cur:{key}"] = _attribute_series([a.get(key) for a in stored], f.dtype)
    return pl.DataFrame(cols)


def _diff_fields(
    existing: pl.DataFrame,
    current: pl.DataFrame,
    attributes: dict[int, dict],
    fields: list[_FieldInfo],
    provenance: pl.DataFrame,
) -> pl.DataFrame:
    """Per existing person: final value, changed flag and locked report of every file field.

    base = the stored value (for a merge, empty values filled from the merged profiles,
    unless locked); the file's value replaces it when the policy allows and the field
    is not locked; `chg:` says the final value differs from what the profile holds now.
    """
    if existing.is_empty():
        return pl.DataFrame(schema={"person": pl.Int64, "target": pl.Int64})
    cur = _current_frame(existing["target"], current, attributes, fields).unique("target")
    frame = existing.select("person", "target", "losers", *[f"in:{f.key}" for f in fields]).join(
        cur, on="target", how="left"
    )
    fills = _loser_fills(existing, current, attributes, fields)
    frame = frame.join(fills, on="person", how="left")
    locked = provenance.filter(pl.col("locked"))
    exprs = []
    for f in fields:
        inc, now_, fill = pl.col(f"in:{f.key}"), pl.col(f"cur:{f.key}"), pl.col(f"fill:{f.key}")
        lk = pl.col("target").is_in(locked.filter(pl.col("field_key") == f.key)["profile_id"].to_list())
        base = pl.when(lk | ~_empty(now_, f.dtype)).then(now_).otherwise(pl.coalesce(fill, now_))
        if f.policy == "overwrite":
            take = inc.is_not_null() & inc.ne_missing(base)
        elif f.policy == "fill_empty":
            take = inc.is_not_null() & _empty(base, f.dtype)
        else:
            take = pl.lit(False)
        final = pl.when(take & ~lk).then(inc).otherwise(base)
        exprs += [
            final.alias(f"fin:{f.key}"),
            (take & ~lk).alias(f"tk:{f.key}"),
            (lk & inc.is_not_null() & inc.ne_missing(now_)).alias(f"lkr:{f.key}"),
        ]
    frame = frame.with_columns(exprs)
    return frame.with_columns(
        [pl.col(f"fin:{f.key}").ne_missing(pl.col(f"cur:{f.key}")).alias(f"chg:{f.key}") for f in fields]
    )


def _loser_fills(
    existing: pl.DataFrame, current: pl.DataFrame, attributes: dict[int, dict], fields: list[_FieldInfo]
) -> pl.DataFrame:
    """Per merged person: each field's first non-empty value among the merged profiles."""
    schema = {"person": pl.Int64, **{f"fill:{f.key}": f.dtype for f in fields}}
    losers = existing.select("person", "losers").explode("losers").drop_nulls("losers")
    if losers.is_empty():
        return pl.DataFrame(schema=schema)
    cur = _current_frame(losers["losers"], current, attributes, fields)
    values = pl.concat([losers, cur.drop("target")], how="horizontal")
    return (
        values.sort("losers")
        .group_by("person")
        .agg(
            [
                pl.col(f"cur:{f.key}").filter(~_empty(pl.col(f"cur:{f.key}"), f.dtype)).first().alias(f"fill:{f.key}")
                for f in fields
            ]
        )
    )


def _merge_fills(
    session: Session,
    merges: list[tuple[int, list[int], int]],
    current: pl.DataFrame,
    attributes: dict[int, dict],
    fields: list[_FieldInfo],
) -> tuple[dict[int, dict[str, tuple[Any, Any]]], pl.DataFrame]:
    """Values of fields outside the file that a merge moves to the survivor (survivor empty,
    not locked), and the provenance rows that travel with them."""
    extra: dict[int, dict[str, tuple[Any, Any]]] = {}
    prov_rows: list[dict] = []
    if not merges:
        return extra, pl.DataFrame()
    file_keys = {f.key for f in fields}
    all_ids = [i for s, losers, _ in merges for i in (s, *losers)]
    prov = _fetch_provenance(session, all_ids, _all_field_keys(session, attributes, all_ids))
    prov_by = {(r["profile_id"], r["field_key"]): r for r in prov.iter_rows(named=True)}
    sys_by_id = {r["id"]: r for r in current.iter_rows(named=True)}
    for survivor, losers, person in merges:
        moved: dict[str, Any] = {}
        keys = [c for c in SYSTEM_COLUMNS if c not in file_keys]
        attr_keys = []
        for loser in losers:
            attr_keys += [k for k in attributes.get(loser, {}) if k not in file_keys and k not in attr_keys]
        for key in keys + attr_keys:
            is_sys = key in SYSTEM_COLUMNS
            mine = sys_by_id[survivor][key] if is_sys else attributes.get(survivor, {}).get(key)
            if mine not in (None, "", []) or (prov_by.get((survivor, key)) or {}).get("locked"):
                continue
            for loser in losers:
                theirs = sys_by_id[loser][key] if is_sys else attributes.get(loser, {}).get(key)
                if theirs not in (None, "", []):
                    moved[key] = (mine, theirs)
                    if (loser, key) in prov_by:
                        prov_rows.append({**prov_by[(loser, key)], "profile_id": survivor})
                    break
        extra[person] = moved
    return extra, pl.DataFrame(prov_rows) if prov_rows else pl.DataFrame()


def _all_field_keys(session: Session, attributes: dict[int, dict], ids: list[int]) -> list[str]:
    keys = set(SYSTEM_COLUMNS)
    for i in ids:
        keys.update(attributes.get(i, {}))
    return sorted(keys)


@dataclass
class _ExistingWrites:
    updates: pl.DataFrame  # id, the file's system fields (final values), attributes (JSON patch)
    written: pl.DataFrame  # profile_id, field_key: values the file wrote (for provenance)
    fragments: pl.DataFrame  # person, fields_frag, locked_frag, prov_frag (JSON text), any_change


def _existing_writes(diff: pl.DataFrame, fields: list[_FieldInfo], provenance: pl.DataFrame) -> _ExistingWrites:
    """From the diff: profile rows to write back, provenance pairs, and the changes as JSON
    text fragments ({field: [before, after]}, @locked, @prov), all built column-wise."""
    system = [f for f in fields if f.is_system]
    custom = [f for f in fields if not f.is_system]
    if diff.is_empty() or "target" not in diff.columns or not fields:
        empty_frags = pl.DataFrame(
            schema={
                "person": pl.Int64,
                "fields_frag": pl.Utf8,
                "locked_frag": pl.Utf8,
                "moved_frag": pl.Utf8,
                "prov_frag": pl.Utf8,
                "any_change": pl.Boolean,
            }
        )
        return _ExistingWrites(
            pl.DataFrame(schema={"id": pl.Int64, "attributes": pl.Utf8}),
            pl.DataFrame(schema={"profile_id": pl.Int64, "field_key": pl.Utf8}),
            empty_frags,
        )

    def pair(f: _FieldInfo, a: str, b: str) -> pl.Expr:
        return (
            pl.lit(json.dumps(f.key) + ": [")
            + _json_text(pl.col(f"{a}:{f.key}"), f.dtype)
            + pl.lit(", ")
            + _json_text(pl.col(f"{b}:{f.key}"), f.dtype)
            + pl.lit("]")
        )

    def joined(pieces: list[pl.Expr]) -> pl.Expr:
        text = pl.concat_str(pieces, separator=", ", ignore_nulls=True) if pieces else pl.lit("")
        return pl.when(text == "").then(None).otherwise(text)

    frags = diff.select(
        "person",
        "target",
        fields_frag=joined([pl.when(pl.col(f"chg:{f.key}")).then(pair(f, "cur", "fin")) for f in fields]),
        locked_body=joined([pl.when(pl.col(f"lkr:{f.key}")).then(pair(f, "cur", "in")) for f in fields]),
        # values a merge brought from the merged profiles (the file left them empty)
        moved_body=joined(
            [pl.when(pl.col(f"chg:{f.key}") & ~pl.col(f"tk:{f.key}")).then(pl.lit(json.dumps(f.key))) for f in fields]
        ),
        any_change=pl.any_horizontal([pl.col(f"chg:{f.key}") for f in fields]),
        patch=pl.lit("{")
        + pl.concat_str(
            [
                pl.when(pl.col(f"chg:{f.key}")).then(
                    pl.lit(json.dumps(f.key) + ": ") + _json_text(pl.col(f"fin:{f.key}"), f.dtype)
                )
                for f in custom
            ]
            or [pl.lit(None, dtype=pl.Utf8)],
            separator=", ",
            ignore_nulls=True,
        )
        + pl.lit("}"),
    ).with_columns(
        locked_frag=pl.lit('"@locked": {') + pl.col("locked_body") + pl.lit("}"),
        moved_frag=pl.lit('"@merged_fields": [') + pl.col("moved_body") + pl.lit("]"),
    )

    updates = diff.select(
        pl.col("target").alias("id"),
        *[pl.col(f"fin:{f.key}").cast(_SYSTEM_DTYPES[f.key], strict=False).alias(f.key) for f in system],
    ).with_columns(attributes=frags["patch"])

    def long(prefix: str) -> pl.DataFrame:
        return (
            diff.select("target", *[pl.col(f"{prefix}:{f.key}").alias(f.key) for f in fields])
            .unpivot(index="target", variable_name="field_key", value_name="flag")
            .filter(pl.col("flag"))
            .select(pl.col("target").alias("profile_id"), "field_key")
        )

    written = long("tk")
    # the provenance each changed field had before, so undo can put it back
    before = (
        long("chg")
        .join(provenance, on=["profile_id", "field_key"])
        .select(
            "profile_id",
            frag=_json_text(pl.col("field_key"), pl.Utf8)
            + pl.lit(": ")
            + pl.struct(
                "source_type", "source_name", "import_job_id", "set_by", "set_at", "locked"
            ).struct.json_encode(),
        )
        .group_by("profile_id")
        .agg(pl.col("frag").str.join(", "))
        .select(pl.col("profile_id").alias("target"), prov_frag=pl.lit('"@prov": {') + pl.col("frag") + pl.lit("}"))
    )
    fragments = frags.join(before, on="target", how="left").select(
        "person", "fields_frag", "locked_frag", "moved_frag", "prov_frag", "any_change"
    )
    return _ExistingWrites(updates, written, fragments)


def _fragment(
    frame: pl.DataFrame, key: str, items: list[tuple[str, pl.DataType]], by: str | None = None
) -> pl.DataFrame:
    """Per person, `"key": [[a, b], ...]` (or `"key": {by: [a, b], ...}`) as JSON text."""
    schema = {"person": pl.Int64, "frag": pl.Utf8, "touches": pl.Boolean}
    if frame.is_empty() or "person" not in frame.columns:
        return pl.DataFrame(schema=schema)
    item = (
        pl.lit("[") + pl.concat_str([_json_text(pl.col(c).cast(t), t) for c, t in items], separator=", ") + pl.lit("]")
    )
    if by is not None:
        item = _json_text(pl.col(by), pl.Utf8) + pl.lit(": ") + item
    opening, closing = ("{", "}") if by is not None else ("[", "]")
    return (
        frame.group_by("person")
        .agg(item.str.join(", ").alias("frag"))
        .select(
            "person",
            frag=pl.lit(f"{json.dumps(key)}: {opening}") + pl.col("frag") + pl.lit(closing),
            touches=pl.lit(True),
        )
    )


def _json_text(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A value as JSON text ("null" for null): the same text json.dumps(json_value(v)) gives."""
    if dtype.is_float():
        finite = expr.is_finite()
        whole = finite & (expr == expr.floor()) & (expr.abs() < 2.0**53)
        return (
            pl.when(whole)
            .then(expr.cast(pl.Int64).cast(pl.Utf8))
            .when(finite)
            .then(expr.cast(pl.Utf8))
            .otherwise(pl.lit("null"))
        )
    if dtype.is_integer():
        return expr.cast(pl.Utf8).fill_null("null")
    if dtype == pl.Boolean:
        return pl.when(expr).then(pl.lit("true")).when(~expr).then(pl.lit("false")).otherwise(pl.lit("null"))
    # strings, lists, dates and datetimes: polars' JSON encoder (ISO dates, escaped strings)
    return pl.struct(expr.alias("v")).struct.json_encode().str.slice(5).str.strip_suffix("}")


def _new_profile_rows(new: pl.DataFrame, fields: list[_FieldInfo], file_name: str, now: datetime) -> pl.DataFrame:
    """New profiles (keyed by person) with system columns and attributes JSON.

    They get no provenance rows: a created profile's values came from its initial_source
    at created_at (see AttributeProvenance); rows are written only where a later source
    changes a value. That keeps a 50,000-row file from writing ~500,000 provenance rows."""
    system = [f for f in fields if f.is_system]
    custom = [f for f in fields if not f.is_system]
    attributes = (
        pl.lit("{")
        + pl.concat_str(
            [
                pl.when(pl.col(f"in:{f.key}").is_not_null()).then(
                    pl.lit(json.dumps(f.key) + ": ") + _json_text(pl.col(f"in:{f.key}"), f.dtype)
                )
                for f in custom
            ]
            or [pl.lit(None, dtype=pl.Utf8)],
            separator=", ",
            ignore_nulls=True,
        )
        + pl.lit("}")
    )
    frame = new.select(
        "person",
        *[pl.col(f"in:{f.key}").cast(_SYSTEM_DTYPES[f.key], strict=False).alias(f.key) for f in system],
        attributes=attributes,
        status=pl.lit("active"),
        initial_source=pl.lit(file_name),
        created_at=pl.lit(now),
        updated_at=pl.lit(now),
    )
    return frame


# ---------------------------------------------------------------------- identities
def _identity_long(candidates: pl.DataFrame, kinds: list[str]) -> pl.DataFrame:
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


def _plan_identities(
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
    free = ids.filter(pl.col("owner").is_null()).sort("person")
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


def _conflict_message(
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


# ---------------------------------------------------------------------- tags
@dataclass
class _TagPlan:
    adds: pl.DataFrame
    removes: pl.DataFrame
    new_names: list[str]
    removed: pl.DataFrame  # the removed tags' rows, for undo


def _removable(policy: pl.Expr, source: pl.Expr) -> pl.Expr:
    """May data from a file replace this tag? Batch tags say so by their policy; a plain
    manual tag is a person's decision and stays; tags that earlier imports set may go."""
    return (
        pl.when(policy == _TAG_KEEP_POLICY)
        .then(False)
        .when(policy == _TAG_REMOVABLE_POLICY)
        .then(True)
        .otherwise(source.ne_missing("manual"))
    )


def _plan_tags(session: Session, applied: pl.DataFrame, options: ImportOptions) -> _TagPlan:
    add_schema = {"person": pl.Int64, "tag_id": pl.Int64, "tag_name": pl.Utf8, "value": pl.Utf8}
    empty = _TagPlan(
        pl.DataFrame(schema=add_schema),
        pl.DataFrame(schema={"id": pl.Int64}),
        [],
        pl.DataFrame(schema={"person": pl.Int64}),
    )
    has_column = applied["tags_present"].any() if applied.height else False
    if not options.tag_ids and not has_column:
        return empty
    file_tags = session.exec(select(Tag).where(Tag.id.in_(options.tag_ids))).all() if options.tag_ids else []
    unknown = set(options.tag_ids) - {t.id for t in file_tags}
    if unknown:
        raise ImportPlanError(f"tag {', '.join(map(str, sorted(unknown)))} does not exist")
    group = session.exec(select(TagGroup).where(TagGroup.name == options.tags_group)).first()
    group_tags = {t.name: t for t in session.exec(select(Tag).where(Tag.group_id == group.id)).all()} if group else {}

    # what each person should carry
    wanted_parts = []
    if file_tags:
        wanted_parts.append(
            applied.select("person").join(
                pl.DataFrame(
                    {
                        "tag_id": [t.id for t in file_tags],
                        "tag_name": [t.name for t in file_tags],
                        "value": [options.tag_value] * len(file_tags),
                        "single": [t.kind != "multi" for t in file_tags],
                        "from_column": [False] * len(file_tags),
                    },
                    schema={
                        "tag_id": pl.Int64,
                        "tag_name": pl.Utf8,
                        "value": pl.Utf8,
                        "single": pl.Boolean,
                        "from_column": pl.Boolean,
                    },
                ),
                how="cross",
            )
        )
    column_names: list[str] = []
    if has_column:
        col = (
            applied.filter(pl.col("tags_present"))
            .select("person", "tags")
            .explode("tags")
            .drop_nulls("tags")
            .with_columns(pl.col("tags").str.strip_chars())
            .filter(pl.col("tags") != "")
        )
        column_names = col["tags"].unique(maintain_order=True).to_list()
        ids = {n: group_tags[n].id for n in column_names if n in group_tags}
        wanted_parts.append(
            col.select(
                "person",
                tag_id=pl.col("tags").replace_strict(ids, default=None, return_dtype=pl.Int64),
                tag_name=pl.col("tags"),
                value=pl.lit(""),
                single=pl.lit(False),
                from_column=pl.lit(True),
            )
        )
    wanted = pl.concat(wanted_parts).unique(["person", "tag_id", "tag_name", "value"], maintain_order=True)
    new_names = [n for n in column_names if n not in group_tags]

    # what existing profiles carry now (only the tags this file deals with)
    targets = applied.filter(pl.col("target").is_not_null()).select("person", "target")
    relevant = [t.id for t in file_tags] + [t.id for t in group_tags.values()]
    pt = ProfileTag
    rows = (
        in_batches(
            session,
            targets["target"].unique().to_list(),
            lambda bound: sa.select(
                pt.id,
                pt.profile_id,
                pt.tag_id,
                pt.value,
                pt.source,
                pt.policy,
                pt.created_by,
                pt.created_at,
                pt.import_job_id,
            ).where(in_filter(pt.profile_id, bound), pt.tag_id.in_(relevant)),
        )
        if relevant and targets.height
        else []
    )
    have = pl.DataFrame(
        rows,
        orient="row",
        schema={
            "id": pl.Int64,
            "target": pl.Int64,
            "tag_id": pl.Int64,
            "value": pl.Utf8,
            "source": pl.Utf8,
            "policy": pl.Utf8,
            "created_by": pl.Int64,
            "created_at": pl.Datetime("us", "UTC"),
            "import_job_id": pl.Int64,
        },
    ).join(targets, on="target")
    have = have.with_columns(removable=_removable(pl.col("policy"), pl.col("source")))

    # adds: wanted but not carried; a single-value tag with another value is replaced only
    # where the existing value may be replaced
    adds = wanted.join(have.select("person", "tag_id", "value"), on=["person", "tag_id", "value"], how="anti")
    other_value = have.join(
        wanted.filter(pl.col("single")).select("person", "tag_id", new_value="value"), on=["person", "tag_id"]
    ).filter(pl.col("value") != pl.col("new_value"))
    blocked = other_value.filter(~pl.col("removable")).select("person", "tag_id").unique()
    adds = adds.join(blocked, on=["person", "tag_id"], how="anti")
    removes = other_value.filter(pl.col("removable")).drop("new_value")
    if options.tags_mode == "replace" and has_column and group_tags:
        present = applied.filter(pl.col("tags_present")).select("person")
        group_ids = [t.id for t in group_tags.values()]
        stale = (
            have.join(present, on="person")
            .filter(pl.col("tag_id").is_in(group_ids))
            .join(
                wanted.filter(pl.col("from_column")).select("person", "tag_id", "value"),
                on=["person", "tag_id", "value"],
                how="anti",
            )
            .filter(pl.col("removable"))
        )
        removes = pl.concat([removes, stale.select(removes.columns)]).unique("id")
    elif options.tags_mode not in ("append", "replace"):
        raise ImportPlanError(f"unknown tags mode '{options.tags_mode}' (expected append or replace)")

    return _TagPlan(
        adds.select(list(add_schema)),
        removes.select("id"),
        new_names,
        removes.select("person", "tag_id", "value", "source", "policy", "created_by", "created_at", "import_job_id"),
    )


# ---------------------------------------------------------------------- consent
def _plan_consent(session: Session, applied: pl.DataFrame, options: ImportOptions) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Consent rows to write (person, channel, status) and the changes on existing profiles."""
    schema = {"person": pl.Int64, "channel": pl.Utf8, "status": pl.Utf8}
    if not options.consent or applied.is_empty():
        return pl.DataFrame(schema=schema), pl.DataFrame(schema={"person": pl.Int64})
    wanted = applied.select("person", "target").join(
        pl.DataFrame({"channel": list(options.consent), "status": list(options.consent.values())}), how="cross"
    )
    targets = applied["target"].drop_nulls().unique().to_list()
    c = Consent
    rows = (
        in_batches(
            session,
            targets,
            lambda bound: sa.select(c.profile_id, c.channel, c.status).where(
                in_filter(c.profile_id, bound), c.channel.in_(list(options.consent))
            ),
        )
        if targets
        else []
    )
    have = pl.DataFrame(rows, orient="row", schema={"target": pl.Int64, "channel": pl.Utf8, "before": pl.Utf8})
    diff = wanted.join(have, on=["target", "channel"], how="left").filter(pl.col("before").ne_missing(pl.col("status")))
    changes = diff.filter(pl.col("target").is_not_null()).select("person", "channel", "before", "status")
    return diff.select(list(schema)), changes


# ---------------------------------------------------------------------- rows and totals
def _row_frame(
    resolved: pl.DataFrame, persons: pl.DataFrame, identifier_kinds: list[str], headers: dict[str, str]
) -> pl.DataFrame:
    """Every row of the file: outcome, profile, errors and changes (JSON text), person."""
    no_id_message = json.dumps(
        [
            {
                "column": ", ".join(headers.get(identity_column(k), k) for k in identifier_kinds),
                "message": "no identifier to match on: fill in one of "
                + (", ".join(identifier_kinds) or "the identifier columns"),
            }
        ]
    )
    base = resolved.select(ROW_COL, PERSON_COL, CLASS_COL, ERRORS_COL).join(
        persons.select("person", "outcome", pl.col("target").alias("profile_id"), "p_errors", "changes"),
        left_on=PERSON_COL,
        right_on="person",
        how="left",
        maintain_order="left",
    )
    row_errors = pl.col(ERRORS_COL).list.eval(pl.element().struct.json_encode()).list.join(", ")
    base = base.with_columns(
        outcome=pl.col("outcome").fill_null(pl.lit(OUT_INVALID)),
        errors=pl.when(pl.col("p_errors").is_not_null())
        .then(pl.col("p_errors"))
        .when((pl.col(CLASS_COL) == CLASS_NO_IDENTIFIER) | (pl.col(ERRORS_COL).list.len().fill_null(0) == 0))
        .then(pl.when(pl.col("outcome").is_null()).then(pl.lit(no_id_message)).otherwise(pl.lit("[]")))
        .otherwise(pl.lit("[") + row_errors + pl.lit("]")),
        changes=pl.col("changes").fill_null("{}"),
        profile_id=pl.when(pl.col("outcome").is_in([OUT_INVALID, OUT_CONFLICT, OUT_SKIPPED]))
        .then(None)
        .otherwise(pl.col("profile_id")),
    )
    return base.select(ROW_COL, "outcome", "profile_id", "errors", "changes", pl.col(PERSON_COL).alias("person"))


def _totals(rows: pl.DataFrame, persons: pl.DataFrame, merged_away: int) -> dict[str, int]:
    """What a marketer reads in the report.

    Profiles: created, updated (merged-into ones included), unchanged, merged (profiles
    merged into another one). Rows: rows, invalid, conflicts (held for review), skipped.
    And `rows_<outcome>` for every outcome: several rows of one person are one profile.
    """
    by_outcome = dict(rows.group_by("outcome").len().iter_rows())
    per_person = dict(persons.group_by("outcome").len().iter_rows())
    totals = {
        "rows": rows.height,
        "created": int(per_person.get(OUT_NEW, 0)),
        "updated": int(per_person.get(OUT_UPDATED, 0) + per_person.get(OUT_MERGED, 0)),
        "unchanged": int(per_person.get(OUT_UNCHANGED, 0)),
        "merged": merged_away,
        "invalid": int(by_outcome.get(OUT_INVALID, 0)),
        "conflicts": int(by_outcome.get(OUT_CONFLICT, 0)),
        "skipped": int(by_outcome.get(OUT_SKIPPED, 0)),
    }
    totals.update({f"rows_{o}": int(by_outcome.get(o, 0)) for o in OUTCOMES})
    return totals


# ====================================================================== apply
def apply_import(
    *,
    session: Session,
    actor: Actor,
    job: ImportJob,
    frame: pl.DataFrame | None = None,
    mapping: ImportMapping | None = None,
    options: ImportOptions | None = None,
    sync_rule: SyncRule | None = None,
    progress: Callable[[int], None] | None = None,
    plan: ImportPlan | None = None,
) -> ImportPlan:
    """Plan (inside the caller's transaction, with what it reads locked) and write it.

    Give the frame, mapping and options, or a dry run's `plan` (its inputs are planned
    again here: what it read may have changed since). Never commits: the caller owns
    the one transaction per file; this only flushes.
    """
    actor.require(PROFILES_IMPORT)
    if plan is not None:
        frame = plan._inputs["frame"] if frame is None else frame
        mapping = mapping or plan._inputs["mapping"]
        options = options or plan._inputs["options"]
        sync_rule = sync_rule or plan._inputs["sync_rule"]
    if frame is None or mapping is None:
        raise ImportPlanError("apply_import needs the validated frame and mapping (or a plan)")
    options = options or ImportOptions()
    sync_rule = sync_rule or active_sync_rule(session)
    report = progress or (lambda _n: None)
    total_rows = frame.height
    writer = BulkWriter(session)
    if not writer.postgres:
        # take SQLite's write lock before reading, so nothing changes between plan and write
        session.execute(sa.update(ImportJob).where(ImportJob.id == job.id).values(rows_done=0))
    plan = _plan(
        session=session,
        frame=frame,
        mapping=mapping,
        options=options,
        sync_rule=sync_rule,
        file_name=job.file_name,
        lock=True,
        progress=lambda rows: report(rows // 4),
    )
    plan._inputs = {"frame": frame, "mapping": mapping, "options": options, "sync_rule": sync_rule}
    work = plan._work
    assert work is not None
    report(total_rows // 4)
    now = work.now

    _create_new_fields(session, work.new_fields)

    # ---- new profiles: ids first, so every later row can point at them
    new_persons = work.new_profiles["person"]
    new_ids = _allocate_profile_ids(session, writer, new_persons.len())
    id_of_person = pl.DataFrame({"person": new_persons, "new_id": pl.Series(new_ids, dtype=pl.Int64)})
    writer.insert("profiles", work.new_profiles.join(id_of_person, on="person").drop("person").rename({"new_id": "id"}))
    persons = work.persons.join(id_of_person, on="person", how="left").with_columns(
        pl.coalesce("target", "new_id").alias("profile_id")
    )
    profile_of = persons.select("person", "profile_id")
    report(total_rows // 2)

    # ---- merges (each kept with snapshots, so it can be undone), then updates of existing profiles
    merged_pairs = [(survivor, loser) for survivor, losers, _ in work.merges for loser in losers]
    before_merges = snapshot_profiles(session, [i for pair in merged_pairs for i in pair])
    move_profile_rows(session, merged_pairs)
    retire_merged(session, merged_pairs, by=actor.user_id, now=now)
    for survivor, losers, person in work.merges:
        _merge_profiles(session, writer, actor, survivor, losers, work.merge_extra.get(person, {}), job, now)
    record_import_merges(
        session=session,
        actor_id=actor.user_id,
        actor_email=actor.email,
        job_id=job.id,
        file_name=job.file_name,
        merges=[(s, losers) for s, losers, _ in work.merges],
        before=before_merges,
        now=now,
    )
    writer.update("profiles", work.updates.with_columns(updated_at=pl.lit(now)), key=["id"], json_merge=["attributes"])

    # ---- identities
    # stored form per kind: the value, or (encrypted kinds) its HMAC + AES-GCM ciphertext
    adds = identity_storage(work.identity_adds.join(profile_of, on="person"))
    writer.insert(
        "identities",
        adds.select(
            "profile_id",
            "kind",
            "value",
            "value_encrypted",
            "key_id",
            "is_encrypted",
            source_type=pl.lit("file"),
            source_name=pl.lit(job.file_name),
            first_seen_at=pl.lit(now),
            last_seen_at=pl.lit(now),
        ),
    )
    if work.identity_touches.height:
        writer.update(
            "identities",
            _with_stored_values(work.identity_touches).select("kind", "value", last_seen_at=pl.lit(now)),
            key=["kind", "value"],
        )

    # ---- provenance of every value written to an existing profile
    prov_update = ["source_type", "source_name", "import_job_id", "set_by", "set_at", "locked"]
    if work.merge_provenance.height:
        writer.upsert(
            "attribute_provenance",
            work.merge_provenance.select("profile_id", "field_key", *prov_update),
            conflict=["profile_id", "field_key"],
            update=prov_update,
        )
    writer.write_provenance(
        work.changed_provenance.select("profile_id", "field_key"),
        source_type="file",
        source_name=job.file_name,
        import_job_id=job.id,
        set_by=actor.user_id,
        set_at=now,
    )
    report(total_rows * 3 // 4)

    # ---- tags and consent
    _apply_tags(session, writer, work, profile_of, job, actor)
    writer.upsert(
        "consents",
        work.consent_writes.join(profile_of, on="person").select(
            "profile_id", "channel", "status", source=pl.lit(job.file_name), updated_at=pl.lit(now)
        ),
        conflict=["profile_id", "channel"],
        update=["status", "source", "updated_at"],
    )

    # ---- per-row results, counts, audit
    rows = (
        plan.rows.join(profile_of.rename({"profile_id": "applied_id"}), on="person", how="left")
        .with_columns(pl.coalesce("profile_id", "applied_id").alias("profile_id"))
        .drop("applied_id")
    )
    plan.rows = rows
    # a dry run of this job may have stored its preview: the applied outcome replaces it
    session.execute(sa.delete(ImportRowResult).where(ImportRowResult.job_id == job.id))
    writer.insert(
        "import_row_results",
        rows.select(
            job_id=pl.lit(job.id, dtype=pl.Int64),
            row_number=pl.col(ROW_COL),
            outcome="outcome",
            profile_id="profile_id",
            errors="errors",
            changes="changes",
        ),
    )
    plan.totals["possible_duplicates"] = possible_duplicates.check_applied_profiles(
        session=session,
        job_id=job.id,
        mode=options.possible_duplicates,
        created=persons.filter(pl.col("kind") == "new")["profile_id"].to_list(),
        changed=rows.filter(pl.col("outcome").is_in([OUT_UPDATED, OUT_MERGED]))["profile_id"].unique().to_list(),
    )
    job.counts = dict(plan.totals)
    job.rows_total = total_rows
    job.rows_done = total_rows
    session.add(job)
    record_event(
        session=session,
        actor=actor,
        action="import.apply",
        object_type="import_job",
        object_id=job.id,
        details={"file": job.file_name, "counts": plan.totals, "applied_at": now.isoformat()},
    )
    session.flush()
    report(total_rows)
    return plan


def _with_stored_values(frame: pl.DataFrame) -> pl.DataFrame:
    """Identity values as stored, kind by kind (see resolve.stored_identity_values)."""
    parts = [
        part.with_columns(stored_identity_values(kind, part["value"]).alias("value"))
        for (kind,), part in frame.partition_by("kind", as_dict=True).items()
    ]
    return pl.concat(parts) if parts else frame


def _create_new_fields(session: Session, new_fields: dict[str, dict[str, Any]]) -> None:
    if not new_fields:
        return
    existing = set(session.exec(select(FieldDefinition.key)).all())
    position = len(existing)
    for spec in new_fields.values():
        key = spec.get("key")
        if not key or key in existing:
            continue
        existing.add(key)
        position += 1
        session.add(
            FieldDefinition(
                key=key,
                label=spec.get("label") or key,
                type=spec.get("type") or "text",
                options=spec.get("options") or [],
                is_system=False,
                position=position,
            )
        )
        if sortable_key(key):
            ensure_sort_index(session, key)  # the list sorts by it from an index
    session.flush()


def _allocate_profile_ids(session: Session, writer: "BulkWriter", count: int) -> list[int]:
    """Ids for the new profiles, taken before inserting them so rows can refer to them.

    PostgreSQL: from the id sequence. SQLite: after max(id); safe because this
    transaction already holds SQLite's one write lock (apply_import takes it first).
    """
    if not count:
        return []
    if writer.postgres:
        return list(
            session.execute(
                sa.text("SELECT nextval(pg_get_serial_sequence('profiles', 'id')) FROM generate_series(1, :n)"),
                {"n": count},
            ).scalars()
        )
    start = session.execute(sa.text("SELECT coalesce(max(id), 0) FROM profiles")).scalar_one() + 1
    return list(range(start, start + count))


def _merge_profiles(
    session: Session,
    writer: "BulkWriter",
    actor: Actor,
    survivor: int,
    losers: list[int],
    moved: dict[str, tuple[Any, Any]],
    job: ImportJob,
    now: datetime,
) -> None:
    """The survivor's values only the losers had, and the merge's audit events (the rows
    moved and the losers went to the trash before, for all merges at once)."""
    # values only the merged profiles had (fields outside the file)
    system = {k: after for k, (_before, after) in moved.items() if k in SYSTEM_COLUMNS}
    attrs = {k: json_value(after) for k, (_before, after) in moved.items() if k not in SYSTEM_COLUMNS}
    if system:
        session.execute(sa.update(Profile).where(Profile.id == survivor).values(**with_folded_name(system)))
    if attrs:
        writer.update(
            "profiles",
            pl.DataFrame({"id": [survivor], "attributes": [json.dumps(attrs)]}),
            key=["id"],
            json_merge=["attributes"],
        )
    for loser in losers:
        record_event(
            session=session,
            actor=actor,
            action="profile.merge",
            object_type="profile",
            object_id=survivor,
            reason=f"import of {job.file_name}",
            details={"survivor": survivor, "merged": loser, "import_job_id": job.id, "moved_fields": sorted(moved)},
        )


def _apply_tags(
    session: Session, writer: "BulkWriter", work: _Work, profile_of: pl.DataFrame, job: ImportJob, actor: Actor
) -> None:
    adds = work.tag_adds
    if adds.height and adds["tag_id"].null_count():
        group = session.exec(select(TagGroup).where(TagGroup.name == work.tags_group)).first()
        if group is None:
            group = TagGroup(name=work.tags_group)
            session.add(group)
            session.flush()
        names = adds.filter(pl.col("tag_id").is_null())["tag_name"].unique(maintain_order=True).to_list()
        have = {t.name: t.id for t in session.exec(select(Tag).where(Tag.group_id == group.id)).all()}
        missing = [n for n in names if n not in have]
        if missing:
            session.execute(sa.insert(Tag), [{"group_id": group.id, "name": n, "kind": "text"} for n in missing])
            have = {t.name: t.id for t in session.exec(select(Tag).where(Tag.group_id == group.id)).all()}
        adds = adds.with_columns(
            pl.coalesce("tag_id", pl.col("tag_name").replace_strict(have, default=None, return_dtype=pl.Int64)).alias(
                "tag_id"
            )
        )
    if work.tag_removes.height:
        writer.delete("profile_tags", work.tag_removes)
    writer.insert(
        "profile_tags",
        adds.join(profile_of, on="person")
        .select(
            "profile_id",
            "tag_id",
            "value",
            source=pl.lit("import"),
            policy=pl.lit(None, dtype=pl.Utf8),
            import_job_id=pl.lit(job.id, dtype=pl.Int64),
            created_by=pl.lit(actor.user_id, dtype=pl.Int64),
            created_at=pl.lit(work.now),
        )
        .unique(["profile_id", "tag_id", "value"]),
    )


__all__ = [
    "OUTCOMES",
    "BulkWriter",
    "ImportPlan",
    "ImportPlanError",
    "active_sync_rule",
    "apply_import",
    "json_value",
    "plan_import",
]
