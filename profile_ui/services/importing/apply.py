"""Apply: write an import's plan in bulk, inside the caller's transaction.

`apply_import` plans the file again with what it reads locked (plan.build_plan; what a
dry run read may have changed since) and writes the plan's `PlanWork` with a handful of
bulk statements (services/bulk_writer.py): new profiles, merges, updates, identities,
provenance, tags, consent and the row results, then the job's counts and the audit
event. No ORM object per row; never commits (the caller owns the one transaction per
file); this only flushes. Undo is in undo.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session, col, select

from ...models import (
    SYSTEM_COLUMNS,
    FieldDefinition,
    ImportJob,
    ImportRowResult,
    Profile,
    SyncRule,
    Tag,
    TagGroup,
    with_folded_name,
)
from ..attribute_sort import ensure_sort_index, sortable_key
from ..audit import record_event
from ..bulk_writer import SORT_KEYS, BulkWriter
from ..catalog import active_sync_rule
from ..crypto import identity_storage, is_encrypted_kind
from ..merge_snapshot import move_profile_rows, record_import_merges, retire_merged, snapshot_profiles
from ..permissions import PROFILES_IMPORT, Actor
from . import ROW_COL, ImportMapping, ImportOptions, duplicate_checks, possible_duplicates
from .changes_json import json_value
from .plan import PlanWork, build_plan
from .plan_identities import first_added_values
from .reports import OUT_MERGED, OUT_UPDATED, ImportPlan, ImportPlanError
from .resolve import with_stored_values


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
    if job.id is None:
        raise ImportPlanError("apply_import needs a saved import job (its id keys the row results)")
    job_id = job.id
    options = options or ImportOptions()
    sync_rule = sync_rule or active_sync_rule(session)
    report = progress or (lambda _n: None)
    total_rows = frame.height
    writer = BulkWriter(session)
    if not writer.postgres:
        # take SQLite's write lock before reading, so nothing changes between plan and write
        session.execute(sa.update(ImportJob).where(col(ImportJob.id) == job_id).values(rows_done=0))
    plan = build_plan(
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
    # the dry run's possible-duplicate check, read before this apply's own audit events
    check_start = duplicate_checks.apply_start(session=session, job_id=job_id)
    work = plan._work
    assert work is not None
    report(total_rows // 4)
    now = work.now

    _create_new_fields(session, work.new_fields)

    # ---- new profiles: ids first, so every later row can point at them
    new_persons = work.new_profiles["person"]
    new_ids = _allocate_profile_ids(session, writer, new_persons.len())
    id_of_person = pl.DataFrame({"person": new_persons, "new_id": pl.Series(new_ids, dtype=pl.Int64)})
    writer.insert(
        "profiles",
        _with_sort_keys(work.new_profiles, work.identity_adds)
        .join(id_of_person, on="person")
        .drop("person")
        .rename({"new_id": "id"}),
    )
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
        job_id=job_id,
        file_name=job.file_name,
        merges=[(s, losers) for s, losers, _ in work.merges],
        before=before_merges,
        now=now,
    )
    writer.update("profiles", work.updates.with_columns(updated_at=pl.lit(now)), key=["id"], json_merge=["attributes"])

    # ---- identities
    # stored form per kind: the value, or (encrypted kinds) its HMAC + AES-GCM ciphertext
    adds = identity_storage(work.identity_adds.join(profile_of, on="person", maintain_order="left"))
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
            with_stored_values(work.identity_touches).select("kind", "value", last_seen_at=pl.lit(now)),
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
    session.execute(sa.delete(ImportRowResult).where(col(ImportRowResult.job_id) == job_id))
    writer.insert(
        "import_row_results",
        rows.select(
            job_id=pl.lit(job_id, dtype=pl.Int64),
            row_number=pl.col(ROW_COL),
            outcome="outcome",
            profile_id="profile_id",
            errors="errors",
            changes="changes",
        ),
    )
    created = persons.filter(pl.col("kind") == "new")
    # checked after the commit, by a worker (duplicate_checks.run_applied_check)
    if duplicate_checks.queue_applied_check(
        session=session,
        job_id=job_id,
        start=check_start,
        mode=options.possible_duplicates,
        created=created["profile_id"].to_list(),
        created_persons=created["person"].to_list(),
        created_people=possible_duplicates.created_people(work.new_profiles, work.identity_adds),
        changed=possible_duplicates.profiles_to_recheck(rows, updated=OUT_UPDATED, merged=OUT_MERGED),
    ):
        plan.totals[possible_duplicates.CHECKING] = 1
    else:
        plan.totals[possible_duplicates.POSSIBLE_DUPLICATES_COUNT] = 0
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


def _with_sort_keys(new_profiles: pl.DataFrame, identity_adds: pl.DataFrame) -> pl.DataFrame:
    """New profiles with the sort keys (email_sort, phone_sort) their identities give them:
    per kind, the first plain one this apply writes (identities get ids in the order of
    `identity_adds`), the key the sort-key triggers of migrations 0013 / 0017 compute after
    the identities' insert. Written with the profile row, so that refresh finds the key in
    place and leaves the row alone: on PostgreSQL it rewrote each new profile row again
    (29,750 rows, every index of profiles)."""
    kinds = [kind for kind in SORT_KEYS if not is_encrypted_kind(kind)]
    keys = first_added_values(identity_adds, new_profiles, kinds).rename({kind: SORT_KEYS[kind] for kind in kinds})
    return new_profiles.join(keys, on="person", how="left", maintain_order="left")


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
        session.execute(sa.update(Profile).where(col(Profile.id) == survivor).values(**with_folded_name(system)))
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
    session: Session, writer: "BulkWriter", work: PlanWork, profile_of: pl.DataFrame, job: ImportJob, actor: Actor
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
