"""Undo of a completed import: take back what it wrote, keep (and report) live changes.

What undo keeps. A change made after the import is *live* when it still holds: a hand
edit (a field whose provenance says manual, a tag, identity, consent or status changed by
a person), or a later import that is still completed. A later import that has itself been
undone is not live: its own undo put the fields, provenance, identities, tags and consent
back, and gave the profile its earlier `updated_at` (when nothing else touched the profile
since), so nothing of it holds the earlier import's work back. Hence, for imports A and B
where B updated profiles A created:
  A, B, undo B, undo A   every profile A created is removed
  A, B, undo A           profiles B changed are kept, reported as changed by B
  A, hand edit, undo A   the edited profile is kept, reported as edited by hand
Fields an import changed on existing profiles follow the same rule through provenance:
a field is put back only while this import is still the last to have set it.

The row results' `changes` (see plan.py) carry the before-values; "@updated_at"
[before, after] is the profile's updated_at before the import and the import's own time.
Everything runs in the caller's transaction and never commits.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session, select

from ...models import (
    SYSTEM_COLUMNS,
    AttributeProvenance,
    Consent,
    ImportJob,
    ImportRowResult,
    Profile,
    ProfileTag,
    Segment,
    SegmentMember,
    utcnow,
    with_folded_name,
)
from ..audit import record_event
from ..bulk_writer import BulkWriter
from ..catalog import field_definitions
from ..permissions import PROFILES_IMPORT, Actor
from .jobs import require_manager
from .reports import OUT_MERGED, OUT_NEW, OUT_UPDATED, ImportUndoError, UndoReport
from .resolve import in_batches, in_filter, with_stored_values

COMPLETED = "completed"
EDITED_BY_HAND = "edited by hand since the import"


def undo_import(*, session: Session, actor: Actor, job_id: int) -> UndoReport:
    """Take back what a completed import wrote, except where someone changed it since.

    Profiles it created are deleted (their identities, tags, consent, memberships go with
    them) unless changed since; fields it changed get their before-values (and provenance)
    back unless the provenance shows a later change; identities, tags and segment
    memberships it added are removed, tags it replaced come back. Merges stay merged
    (reported). In the caller's transaction; never commits.
    """
    actor.require(PROFILES_IMPORT)
    job = session.exec(select(ImportJob).where(ImportJob.id == job_id).with_for_update()).first()
    if job is None:
        raise ImportUndoError(f"import {job_id} does not exist")
    require_manager(actor, job)
    if job.status != "completed":
        raise ImportUndoError(f"only a completed import can be undone; {job.file_name} is {job.status}")
    report = UndoReport(job_id=job.id)
    now = utcnow()
    if job.kind == "segments":
        _undo_segment_rows(session=session, job=job, report=report)
        return _finish_undo(session, actor, job, report, now)
    writer = BulkWriter(session)
    r = ImportRowResult
    rows = (
        session.connection()
        .execute(
            sa.select(r.outcome, r.profile_id, r.changes).where(
                r.job_id == job.id, r.outcome.in_([OUT_NEW, OUT_UPDATED, OUT_MERGED])
            )
        )
        .all()
    )
    by_profile: dict[int, tuple[str, dict]] = {}
    for outcome, profile_id, changes in rows:  # rows of one person carry the same changes
        if profile_id is not None and profile_id not in by_profile:
            by_profile[profile_id] = (outcome, changes or {})

    created = {pid: c for pid, (o, c) in by_profile.items() if o == OUT_NEW}
    kept_created = _undo_created(session, job, created, report)
    existing = {pid: c for pid, (o, c) in by_profile.items() if o != OUT_NEW}
    _undo_fields(session, writer, job, existing, report, now)
    _undo_identities(writer, existing, report)
    _undo_tags(session, writer, job, existing, kept_created, report)
    _undo_consent(session, job, existing, report, now)
    _restore_updated_at(session, existing)
    for pid, changes in existing.items():
        for merged in changes.get("@merged", []):
            report.merges_kept.append({"survivor": pid, "merged": merged})
    return _finish_undo(session, actor, job, report, now)


def _undo_segment_rows(*, session: Session, job: ImportJob, report: UndoReport) -> None:
    """Undo a segment file's memberships: memberships it added go,
    values it changed come back, where this import is still the last to have set them;
    segments it created go once empty."""
    r = ImportRowResult
    rows = (
        session.connection()
        .execute(sa.select(r.profile_id, r.changes).where(r.job_id == job.id, r.outcome.in_([OUT_NEW, OUT_UPDATED])))
        .all()
    )
    infos = [(pid, c["@segment"]) for pid, c in rows if c and "@segment" in c]
    if not infos:
        return
    names = sorted({i["name"] for _, i in infos})
    ids = dict(session.connection().execute(sa.select(Segment.name, Segment.id).where(Segment.name.in_(names))).all())
    members = SegmentMember.__table__
    for pid, info in infos:
        segment_id = ids.get(info["name"])
        if segment_id is None:
            continue
        where = sa.and_(
            members.c.segment_id == segment_id, members.c.profile_id == pid, members.c.import_job_id == job.id
        )
        if info["existed"]:
            done = (
                session.connection()
                .execute(members.update().where(where).values(value=info["before"], import_job_id=None))
                .rowcount
            )
            report.memberships_restored += done or 0
        else:
            done = session.connection().execute(members.delete().where(where)).rowcount
            report.memberships_removed += done or 0
    created = sorted({ids[i["name"]] for _, i in infos if i["created"] and i["name"] in ids})
    for segment_id in created:
        left = (
            session.connection()
            .execute(sa.select(sa.func.count()).select_from(members).where(members.c.segment_id == segment_id))
            .scalar_one()
        )
        if not left:
            session.connection().execute(Segment.__table__.delete().where(Segment.__table__.c.id == segment_id))
            report.segments_removed += 1


def _finish_undo(session: Session, actor: Actor, job: ImportJob, report: UndoReport, now: datetime) -> UndoReport:
    job.status = "undone"
    job.undone_at = now
    session.add(job)
    record_event(
        session=session,
        actor=actor,
        action="import.undo",
        object_type="import_job",
        object_id=job.id,
        details={"file": job.file_name, **report.to_json()},
    )
    session.flush()
    return report


def _undo_created(session: Session, job: ImportJob, created: dict[int, dict], report: UndoReport) -> set[int]:
    """Delete the profiles the import created, unless a live change holds them (see the
    module docstring); those are kept and reported with who changed them."""
    if not created:
        return set()
    ids = sorted(created)
    stamp = min(
        (datetime.fromisoformat(c["@created"]) for c in created.values() if c.get("@created")), default=utcnow()
    )
    p = Profile
    still_there = {
        pid for (pid,) in in_batches(session, ids, lambda bound: sa.select(p.id).where(in_filter(p.id, bound)))
    }
    reasons = _live_changes(session, job, sorted(still_there), stamp)
    for pid in sorted(reasons):
        report.profiles_kept.append({"profile_id": pid, "reason": reasons[pid]})
    doomed = sorted(still_there - set(reasons))
    for start in range(0, len(doomed), 10_000):
        # identities, provenance, tags, consent, memberships and links cascade
        session.execute(sa.delete(Profile).where(Profile.id.in_(doomed[start : start + 10_000])))
    report.profiles_removed = len(doomed)
    return set(reasons)


def _live_changes(session: Session, job: ImportJob, ids: list[int], stamp: datetime) -> dict[int, str]:
    """Profile id -> why it is kept, for the profiles a live change touched since `stamp`:
    another import still completed that updated or merged it (its file named), a field
    set by hand or by another import, or any other change (updated_at later than the import)."""
    if not ids:
        return {}
    r, j, prov, p = ImportRowResult, ImportJob, AttributeProvenance, Profile
    reasons: dict[int, str] = {}
    later = in_batches(
        session,
        ids,
        lambda bound: (
            sa.select(r.profile_id, j.file_name)
            .join(j, j.id == r.job_id)
            .where(
                in_filter(r.profile_id, bound),
                r.job_id != job.id,
                j.status == COMPLETED,
                r.outcome.in_([OUT_UPDATED, OUT_MERGED]),
            )
            .distinct()
        ),
    )
    for pid, file_name in sorted(later):
        reasons.setdefault(pid, f"changed by the later import {file_name}")
    fields = in_batches(
        session,
        ids,
        lambda bound: sa.select(prov.profile_id, prov.source_type).where(
            in_filter(prov.profile_id, bound), sa.or_(prov.import_job_id.is_(None), prov.import_job_id != job.id)
        ),
    )
    for pid, source_type in fields:
        reasons.setdefault(
            pid, EDITED_BY_HAND if source_type == "manual" else f"changed by {source_type} since the import"
        )
    touched = in_batches(
        session, ids, lambda bound: sa.select(p.id).where(in_filter(p.id, bound), p.updated_at > stamp)
    )
    for (pid,) in touched:
        reasons.setdefault(pid, EDITED_BY_HAND)
    return reasons


def _undo_fields(
    session: Session, writer: BulkWriter, job: ImportJob, existing: dict[int, dict], report: UndoReport, now: datetime
) -> None:
    """Put back before-values whose provenance still says this import set them."""
    # values a merge brought over stay with the merge (merges are not undone)
    wanted = [
        (pid, key)
        for pid, changes in existing.items()
        for key in changes
        if not key.startswith("@")
        and key not in changes.get("@merged_fields", [])
        and key not in changes.get("@merged_extra", [])
    ]
    if not wanted:
        return
    prov = AttributeProvenance
    current = {
        (r[0], r[1]): r
        for r in in_batches(
            session,
            sorted({pid for pid, _ in wanted}),
            lambda bound: sa.select(
                prov.profile_id, prov.field_key, prov.import_job_id, prov.source_type, prov.source_name, prov.locked
            ).where(in_filter(prov.profile_id, bound)),
        )
    }
    restore: dict[int, dict[str, Any]] = {}
    for pid, key in wanted:
        row = current.get((pid, key))
        if row is None or row[2] != job.id or row[5]:
            who = (
                "a person's edit"
                if row is not None and (row[5] or row[3] == "manual")
                else (f"{row[3]} {row[4] or ''}".strip() if row is not None else "someone")
            )
            report.fields_kept.append(
                {"profile_id": pid, "field": key, "reason": f"changed since the import (by {who})"}
            )
            continue
        restore.setdefault(pid, {})[key] = existing[pid][key][0]
    definitions = {key: d.type for key, d in field_definitions(session).items()}
    attrs = dict(
        in_batches(
            session,
            sorted(restore),
            lambda bound: sa.select(Profile.id, Profile.attributes).where(in_filter(Profile.id, bound)),
        )
    )
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    prov_back: list[dict[str, Any]] = []
    prov_drop: list[tuple[int, str]] = []
    for pid, values in restore.items():
        system = {k: _typed(v, definitions.get(k)) for k, v in values.items() if k in SYSTEM_COLUMNS}
        custom = {k: v for k, v in values.items() if k not in SYSTEM_COLUMNS}
        row: dict[str, Any] = {"pid": pid, **system}
        if custom:
            merged = dict(attrs.get(pid) or {})
            for key, value in custom.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            row["attributes"] = merged
        if len(row) > 1:
            groups.setdefault(tuple(sorted(k for k in row if k != "pid")), []).append(row)
        before = existing[pid].get("@prov", {})
        for key in values:
            if key in before:
                b = before[key]
                prov_back.append(
                    {
                        "profile_id": pid,
                        "field_key": key,
                        "source_type": b["source_type"],
                        "source_name": b["source_name"],
                        "import_job_id": b["import_job_id"],
                        "set_by": b["set_by"],
                        "set_at": _parse_time(b["set_at"]) or now,
                        "locked": bool(b["locked"]),
                    }
                )
            else:
                prov_drop.append((pid, key))
        report.fields_restored += len(values)
    conn = session.connection()
    table = Profile.__table__
    for columns, group in groups.items():
        if "full_name" in columns or "attributes" in columns:  # the folded forms go back with them
            group = [with_folded_name(row) for row in group]
            columns = tuple(k for k in group[0] if k != "pid")
        conn.execute(
            table.update()
            .where(table.c.id == sa.bindparam("v_pid"))
            .values({c: sa.bindparam(f"v_{c}") for c in columns}),
            [{f"v_{k}": v for k, v in row.items()} for row in group],
        )
    prov_table = AttributeProvenance.__table__
    doomed = [{"v_p": x["profile_id"], "v_k": x["field_key"]} for x in prov_back] + [
        {"v_p": p_, "v_k": k} for p_, k in prov_drop
    ]
    if doomed:
        conn.execute(
            prov_table.delete().where(
                prov_table.c.profile_id == sa.bindparam("v_p"), prov_table.c.field_key == sa.bindparam("v_k")
            ),
            doomed,
        )
    if prov_back:
        conn.execute(prov_table.insert(), prov_back)


def _restore_updated_at(session: Session, existing: dict[int, dict]) -> None:
    """Give each profile the updated_at it had before the import, when the import is still
    the last thing that touched it: an undone import leaves no trace an earlier import's
    undo would take for a live change. A profile changed since keeps that change's time."""
    stamps = {pid: c["@updated_at"] for pid, c in existing.items() if c.get("@updated_at")}
    if not stamps:
        return
    current = in_batches(
        session,
        sorted(stamps),
        lambda bound: sa.select(Profile.id, Profile.updated_at).where(in_filter(Profile.id, bound)),
    )
    back = [
        {"v_id": pid, "v_at": _parse_time(stamps[pid][0])}
        for pid, at in current
        if stamps[pid][0] and at is not None and _parse_time(stamps[pid][1]) == _as_utc(at)
    ]
    if back:
        table = Profile.__table__
        session.connection().execute(
            table.update().where(table.c.id == sa.bindparam("v_id")).values(updated_at=sa.bindparam("v_at")), back
        )


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _typed(value: Any, field_type: str | None) -> Any:
    """A before-value from row results (JSON) as the profile column takes it."""
    if value is None:
        return None
    if field_type == "date":
        return date.fromisoformat(value)
    if field_type == "datetime":
        return _parse_time(value)
    return value


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _undo_identities(writer: BulkWriter, existing: dict[int, dict], report: UndoReport) -> None:
    # [kind, value] or [kind, value, stored]: encrypted kinds keep only the stored hash
    added = [
        (pid, kind, value, stored[0] if stored else None)
        for pid, c in existing.items()
        for kind, value, *stored in c.get("@identities", [])
    ]
    if not added:
        return
    frame = pl.DataFrame(
        added, schema={"profile_id": pl.Int64, "kind": pl.Utf8, "value": pl.Utf8, "stored": pl.Utf8}, orient="row"
    )
    frame = pl.concat(
        [
            with_stored_values(frame.filter(pl.col("stored").is_null()).drop("stored")),
            frame.filter(pl.col("stored").is_not_null()).select("profile_id", "kind", value="stored"),
        ]
    )
    writer.delete("identities", frame.select("profile_id", "kind", "value"))
    report.identities_removed = len(added)


def _undo_tags(
    session: Session,
    writer: BulkWriter,
    job: ImportJob,
    existing: dict[int, dict],
    kept_created: set[int],
    report: UndoReport,
) -> None:
    statement = sa.delete(ProfileTag).where(ProfileTag.import_job_id == job.id)
    if kept_created:
        statement = statement.where(ProfileTag.profile_id.not_in(sorted(kept_created)))
    report.tags_removed = session.execute(statement.execution_options(synchronize_session=False)).rowcount or 0
    removed = {(pid, t[0], t[1]): t for pid, c in existing.items() for t in c.get("@tags_removed", [])}
    if not removed:
        return
    frame = pl.DataFrame(
        [
            (pid, tag_id, value, source, policy, job_, by, _parse_time(at) or utcnow())
            for (pid, tag_id, value), (_t, _v, source, policy, by, at, job_) in removed.items()
        ],
        schema={
            "profile_id": pl.Int64,
            "tag_id": pl.Int64,
            "value": pl.Utf8,
            "source": pl.Utf8,
            "policy": pl.Utf8,
            "import_job_id": pl.Int64,
            "created_by": pl.Int64,
            "created_at": pl.Datetime("us", "UTC"),
        },
        orient="row",
    )
    have = set(
        session.execute(
            sa.select(ProfileTag.profile_id, ProfileTag.tag_id, ProfileTag.value).where(
                ProfileTag.profile_id.in_(sorted({k[0] for k in removed}))
            )
        ).all()
    )
    frame = (
        frame.filter(
            ~pl.struct("profile_id", "tag_id", "value").is_in(
                [{"profile_id": a, "tag_id": b, "value": c} for a, b, c in have]
            )
        )
        if have
        else frame
    )
    writer.insert("profile_tags", frame)
    report.tags_restored = frame.height


def _undo_consent(
    session: Session, job: ImportJob, existing: dict[int, dict], report: UndoReport, now: datetime
) -> None:
    changes = [
        (pid, channel, before, after)
        for pid, c in existing.items()
        for channel, (before, after) in c.get("@consent", {}).items()
    ]
    if not changes:
        return
    current = {
        (a, b): (st, src)
        for a, b, st, src in session.execute(
            sa.select(Consent.profile_id, Consent.channel, Consent.status, Consent.source).where(
                Consent.profile_id.in_(sorted({c[0] for c in changes}))
            )
        ).all()
    }
    for pid, channel, before, after in changes:
        if current.get((pid, channel)) != (after, job.file_name):
            report.consents_kept.append({"profile_id": pid, "channel": channel, "reason": "changed since the import"})
            continue
        if before is None:
            session.execute(sa.delete(Consent).where(Consent.profile_id == pid, Consent.channel == channel))
        else:
            session.execute(
                sa.update(Consent)
                .where(Consent.profile_id == pid, Consent.channel == channel)
                .values(status=before, source=f"undo of {job.file_name}"[:255], updated_at=now)
            )
        report.consents_restored += 1


__all__ = ["ImportUndoError", "UndoReport", "undo_import"]
