"""The plan of an import: the diff of a validated file against the database. Writes nothing.

`plan_import` is the dry run: every row's outcome (new / updated / merged / unchanged /
skipped / invalid / conflict) with its field before/after, and totals. `build_plan` is the
same computation for apply.py, which runs it inside its transaction with what it reads
locked (`lock=True`) and then writes the `PlanWork` it leaves on the plan. The pieces of
the plan live beside it: `plan_fields` (which fields, what the database holds),
`plan_diff` (the field diff and the rows to write), `plan_identities`, `plan_tags` (tags
and consent), `changes_json` (changes as JSON text).

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
  @updated_at     [the profile's updated_at before the import, the import's own]
  @prov           {field: {source_type, source_name, import_job_id, set_by, set_at, locked}}:
                  the provenance each changed field had before (absent = none), for undo
All rows of one person carry the same changes; undo de-duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
from sqlmodel import Session

from ...models import ImportJob, SyncRule, utcnow
from ...models.profile import STATUS_DELETED
from ..catalog import active_sync_rule
from ..crypto import identity_bookkeeping
from ..permissions import PROFILES_IMPORT, Actor
from . import ERRORS_COL, ROW_COL, TAGS_TARGET, ImportMapping, ImportOptions, possible_duplicates
from .changes_json import json_default, json_fragment, json_text, json_value
from .plan_diff import diff_fields, existing_writes, merge_fills, new_profile_rows
from .plan_fields import (
    fetch_profiles,
    fetch_provenance,
    field_infos,
    headers_by_target,
    required_fields,
    rule_identifier_kinds,
)
from .plan_identities import conflict_message, person_identities, plan_identities
from .plan_tags import plan_consent, plan_tags
from .progress import STEP_DUPLICATES, report_step
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
    resolve_identities,
)


@dataclass
class PlanWork:
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
    look_alikes_later: bool = False,
) -> ImportPlan:
    """The dry run: every row's outcome and the field diff, and totals. Writes nothing.

    `sync_rule` None = the active sync rule; `file_name` None = the job's file name;
    `progress(rows)` is called between the plan's steps (rows of the frame done so far).
    `look_alikes_later`: the look-alike flags are left for after the dry run's commit
    (results.store_row_results leaves them to a worker: possible_duplicates.DeferredFlags).
    """
    actor.require(PROFILES_IMPORT)
    sync_rule = sync_rule or active_sync_rule(session)
    name = file_name or (job.file_name if job else "") or "file"
    plan = build_plan(
        session=session,
        frame=frame,
        mapping=mapping,
        options=options,
        sync_rule=sync_rule,
        file_name=name,
        lock=False,
        progress=progress,
        look_alikes_later=look_alikes_later,
    )
    plan._inputs = {"frame": frame, "mapping": mapping, "options": options, "sync_rule": sync_rule}
    return plan


def build_plan(
    *,
    session: Session,
    frame: pl.DataFrame,
    mapping: ImportMapping,
    options: ImportOptions,
    sync_rule: SyncRule,
    file_name: str,
    lock: bool,
    progress: Callable[[int], None] | None = None,
    look_alikes_later: bool = False,
) -> ImportPlan:
    now = utcnow()
    step = progress or (lambda _n: None)
    total = frame.height
    if options.possible_duplicates not in possible_duplicates.MODES:
        raise ImportPlanError(
            f"possible duplicates: '{options.possible_duplicates}' is not one of "
            + ", ".join(possible_duplicates.MODES)
        )
    fields = field_infos(session, frame, mapping, options, sync_rule)
    kinds = identity_kinds_in(frame)
    identifier_kinds = rule_identifier_kinds(sync_rule, mapping, kinds)
    headers = headers_by_target(mapping)
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
    current, attributes = fetch_profiles(session, matched_ids, lock=lock)
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
    missing_required = [f for f in required_fields(session) if f.key not in {x.key for x in fields}]
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
    identity_long = person_identities(candidates, kinds)
    for person, matches in persons.filter(pl.col("kind") == OUT_CONFLICT).select("person", "matches").iter_rows():
        errors_by_person[person] = [conflict_message(identity_long, person, matches, identifier_kinds, headers)]
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
    provenance = fetch_provenance(session, existing["target"].to_list(), [f.key for f in fields])
    diff = diff_fields(existing, current, attributes, fields, provenance)
    merges = [
        (t, list(losers), p)
        for p, t, losers in existing.filter(pl.col("kind") == "merge").select("person", "target", "losers").iter_rows()
    ]
    merge_extra, merge_provenance = merge_fills(session, merges, current, attributes, fields)

    step(total // 2)
    # ---- identities
    identity_adds, identity_touches, not_added = plan_identities(identity_long, applied)

    # ---- tags and consent
    tag_plan = plan_tags(session, applied, options)
    consent_writes, consent_changes = plan_consent(session, applied, options)

    step(total * 3 // 4)
    # ---- what gets written
    # folded attributes only for an apply, which writes them (lock: the apply's plan)
    new_profiles = new_profile_rows(applied.filter(new_mask), fields, file_name, now, folded=lock)
    existing_out = existing_writes(diff, fields, provenance, folded=lock)

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
                    ", ".join(f"{json.dumps(k)}: {json.dumps(v, default=json_default)}" for k, v in d.items())
                    for d in rare.values()
                ],
                "touches": [bool(d.get("@merged")) for d in rare.values()],
            },
            schema={"person": pl.Int64, "frag": pl.Utf8, "touches": pl.Boolean},
        ),
        json_fragment(
            identity_bookkeeping(identity_adds.filter(pl.col("kind_of_person") != "new")),
            "@identities",
            [("kind", pl.Utf8), ("value", pl.Utf8), ("stored", pl.Utf8)],
        ),
        json_fragment(tag_plan.adds, "@tags_added", [("tag_id", pl.Int64), ("tag_name", pl.Utf8), ("value", pl.Utf8)]),
        json_fragment(
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
        json_fragment(consent_changes, "@consent", [("before", pl.Utf8), ("status", pl.Utf8)], by="channel"),
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
        + json_text(pl.col("updated_at"), pl.Datetime("us", "UTC"))
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
    updated = persons.filter(pl.col("outcome").is_in([OUT_UPDATED, OUT_MERGED]))["target"]
    dedupe_check = None
    if not lock:  # the dry run flags look-alikes; the apply checks what it wrote (apply_import)
        if not look_alikes_later:  # else a worker checks after the commit, the preview shown meanwhile
            report_step(progress, STEP_DUPLICATES)
        rows, dedupe_check = possible_duplicates.flag_new_rows(
            session=session,
            rows=rows,
            resolved=resolved,
            new_profiles=new_profiles,
            identity_adds=identity_adds,
            updated=updated.drop_nulls().to_list(),
            later=look_alikes_later,
        )
        report_step(progress, None)

    updates = existing_out.updates.filter(pl.col("id").is_in(updated.implode()))
    totals = _totals(rows, persons, sum(len(losers) for _s, losers, _p in merges))
    if isinstance(dedupe_check, possible_duplicates.DeferredFlags):
        totals[possible_duplicates.CHECKING] = 1  # filled in after the dry run's commit
    elif not lock:
        totals[possible_duplicates.POSSIBLE_DUPLICATES_COUNT] = possible_duplicates.flagged_count(rows)
    work = PlanWork(
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
    return ImportPlan(rows=rows, totals=totals, new_tags=tag_plan.new_names, _work=work, _dedupe=dedupe_check)


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
