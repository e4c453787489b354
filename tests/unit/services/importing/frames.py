"""Builders for the resolve/apply/undo/results tests: validated frames and seeded profiles.

Validated frames follow the contract in profile_ui/services/importing/__init__.py and are
built directly with polars, so these tests do not depend on the reading and validating
stages. Profiles are seeded with bulk inserts.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session

from profile_ui.models import (
    AttributeProvenance,
    FieldDefinition,
    Identity,
    ImportJob,
    Profile,
    ProfileTag,
    SyncRule,
    Tag,
    TagGroup,
    utcnow,
    with_folded_name,
)
from profile_ui.services.importing import (
    ERRORS_COL,
    IDENTITY_PREFIX,
    ROW_COL,
    TAGS_TARGET,
    VALID_COL,
    ImportMapping,
    ImportOptions,
)
from profile_ui.services.importing.apply import apply_import
from profile_ui.services.importing.plan import plan_import
from profile_ui.services.permissions import BUILTIN_ROLES, SYSTEM_ACTOR, Actor

IDENTITY_KEYS = ("email", "phone", "user_id", "loyalty_id")
DTYPES: dict[str, pl.DataType] = {
    "full_name": pl.Utf8,
    "gender": pl.Utf8,
    "city": pl.Utf8,
    "member_level": pl.Utf8,
    "birthday": pl.Date,
    "registered_at": pl.Datetime("us", "UTC"),
    "score": pl.Float64,
    "vip": pl.Boolean,
    "note": pl.Utf8,
    "interests": pl.List(pl.Utf8),
    "since": pl.Date,
}
CUSTOM_FIELDS = [
    ("score", "Score", "number"),
    ("vip", "VIP", "boolean"),
    ("note", "Note", "text"),
    ("interests", "Interests", "multiple_choice"),
    ("since", "Customer since", "date"),
]
HEADERS = {
    "full_name": "Full Name",
    "gender": "Gender",
    "city": "City",
    "member_level": "Level",
    "birthday": "DOB",
    "registered_at": "Registered",
    "score": "Score",
    "vip": "VIP",
    "note": "Note",
    "interests": "Interests",
    "since": "Since",
    "identity:email": "Email",
    "identity:phone": "Phone",
    "identity:user_id": "User ID",
    "identity:loyalty_id": "Loyalty",
    TAGS_TARGET: "Tags",
}

MARKETER = Actor(
    user_id=None, email="marketer@example.com", role="marketer", permissions=frozenset(BUILTIN_ROLES["marketer"][1])
)
VIEWER = Actor(
    user_id=None, email="viewer@example.com", role="viewer", permissions=frozenset(BUILTIN_ROLES["viewer"][1])
)


def validated(rows: list[dict[str, Any]], *, columns: list[str] | None = None) -> pl.DataFrame:
    """A validated frame from row dicts.

    Keys: field keys (see DTYPES), identity kinds (email, phone, user_id, loyalty_id),
    "tags" (list), "errors" (list of (column, message)). Row numbers start at 2.
    `columns` fixes which fields/identities are mapped (default: every key used).
    """
    used: list[str] = columns or []
    if columns is None:
        for row in rows:
            for key in row:
                if key not in used and key != "errors":
                    used.append(key)
    data: dict[str, pl.Series] = {ROW_COL: pl.Series([i + 2 for i in range(len(rows))], dtype=pl.Int64)}
    for key in used:
        if key in IDENTITY_KEYS:
            data[f"{IDENTITY_PREFIX}{key}"] = pl.Series([r.get(key) for r in rows], dtype=pl.Utf8)
        elif key == TAGS_TARGET:
            data[TAGS_TARGET] = pl.Series([r.get(key) for r in rows], dtype=pl.List(pl.Utf8))
        else:
            data[key] = pl.Series([r.get(key) for r in rows], dtype=DTYPES[key])
    errors = [[{"column": c, "message": m} for c, m in r.get("errors", [])] for r in rows]
    data[ERRORS_COL] = pl.Series(errors, dtype=pl.List(pl.Struct({"column": pl.Utf8, "message": pl.Utf8})))
    frame = pl.DataFrame(data)
    has_identity = pl.any_horizontal(
        [pl.col(c).is_not_null() for c in frame.columns if c.startswith(IDENTITY_PREFIX)] or [pl.lit(False)]
    )
    return frame.with_columns(((pl.col(ERRORS_COL).list.len() == 0) & has_identity).alias(VALID_COL))


def mapping_for(frame: pl.DataFrame, identifiers: list[str] | None = None) -> ImportMapping:
    columns = {HEADERS.get(c, c): c for c in frame.columns if c not in (ROW_COL, ERRORS_COL, VALID_COL)}
    return ImportMapping(columns=columns, identifiers=identifiers or [])


def ensure_custom_fields(session: Session) -> None:
    for position, (key, label, type_) in enumerate(CUSTOM_FIELDS, start=100):
        if session.get(FieldDefinition, key) is None:
            session.add(FieldDefinition(key=key, label=label, type=type_, position=position))
    session.flush()


def seed_profiles(session: Session, people: list[dict[str, Any]]) -> list[int]:
    """Insert profiles (bulk) with their identities; returns their ids in order.

    Each dict: system fields, "attributes", "status", and identity kinds as keys
    (a list value gives several identities of one kind).
    """
    now = utcnow()
    system = ("full_name", "gender", "birthday", "city", "member_level", "registered_at")
    start = (session.execute(sa.select(sa.func.max(Profile.id))).scalar() or 0) + 1
    ids = list(range(start, start + len(people)))
    session.execute(
        sa.insert(Profile),
        [
            {
                "id": pid,
                **with_folded_name({**{k: p.get(k) for k in system}, "attributes": p.get("attributes", {})}),
                "status": p.get("status", "active"),
                "created_at": now,
                "updated_at": now,
                "initial_source": "seed",
            }
            for pid, p in zip(ids, people)
        ],
    )
    identities = []
    for pid, p in zip(ids, people):
        for kind in IDENTITY_KEYS:
            values = p.get(kind)
            for value in [values] if isinstance(values, str) else values or []:
                identities.append(
                    {
                        "profile_id": pid,
                        "kind": kind,
                        "value": value,
                        "source_type": "seed",
                        "first_seen_at": now,
                        "last_seen_at": now,
                        "is_encrypted": False,
                    }
                )
    if identities:
        session.execute(sa.insert(Identity), identities)
    if session.bind.dialect.name == "postgresql":
        session.execute(
            sa.text("SELECT setval(pg_get_serial_sequence('profiles', 'id'), (SELECT max(id) FROM profiles))")
        )
    session.flush()
    return ids


def lock_field(session: Session, profile_id: int, field_key: str) -> None:
    session.execute(
        sa.insert(AttributeProvenance).values(
            profile_id=profile_id, field_key=field_key, source_type="manual", set_at=utcnow(), locked=True
        )
    )


def make_tag(session: Session, group: str, name: str, kind: str = "text") -> int:
    tag_group = session.execute(sa.select(TagGroup).where(TagGroup.name == group)).scalar()
    if tag_group is None:
        tag_group = TagGroup(name=group)
        session.add(tag_group)
        session.flush()
    tag = Tag(group_id=tag_group.id, name=name, kind=kind)
    session.add(tag)
    session.flush()
    return tag.id


def give_tag(
    session: Session,
    profile_id: int,
    tag_id: int,
    *,
    value: str = "",
    source: str = "manual",
    policy: str | None = None,
) -> None:
    session.execute(
        sa.insert(ProfileTag).values(
            profile_id=profile_id, tag_id=tag_id, value=value, source=source, policy=policy, created_at=utcnow()
        )
    )


def rule(
    session: Session,
    kinds: list[str],
    *,
    auto_merge: bool = False,
    default_policy: str = "overwrite",
    field_policies: dict[str, str] | None = None,
) -> SyncRule:
    sync = SyncRule(
        name=f"rule-{uuid.uuid4().hex[:8]}",
        identifier_kinds=kinds,
        auto_merge=auto_merge,
        default_policy=default_policy,
        field_policies=field_policies or {},
    )
    session.add(sync)
    session.flush()
    return sync


def new_job(session: Session, file_name: str = "people.xlsx", kind: str = "profiles") -> ImportJob:
    job = ImportJob(batch_id=str(uuid.uuid4()), file_name=file_name, status="running", kind=kind)
    session.add(job)
    session.flush()
    return job


def dry_run(
    session: Session,
    frame: pl.DataFrame,
    *,
    sync: SyncRule,
    options: ImportOptions | None = None,
    identifiers: list[str] | None = None,
    actor: Actor = MARKETER,
):
    return plan_import(
        session=session,
        actor=actor,
        frame=frame,
        mapping=mapping_for(frame, identifiers),
        options=options or ImportOptions(),
        sync_rule=sync,
        file_name="people.xlsx",
    )


def run_import(
    session: Session,
    frame: pl.DataFrame,
    *,
    sync: SyncRule,
    options: ImportOptions | None = None,
    identifiers: list[str] | None = None,
    actor: Actor = MARKETER,
    complete: bool = True,
    file_name: str = "people.xlsx",
    check: bool = True,
):
    """Apply a frame as a job would: one transaction, committed, then (`check`) the
    possible-duplicate check it left, as the worker runs it; returns (job, plan)."""
    job = new_job(session, file_name)
    plan = _apply(session, job, frame, sync=sync, options=options, identifiers=identifiers, actor=actor)
    if complete:
        job.status = "completed"
        job.finished_at = utcnow()
        session.add(job)
    session.commit()
    if check:
        check_applied(session, job)
    return job, plan


def check_applied(session: Session, job: ImportJob) -> int | None:
    """The possible-duplicate check an apply leaves, run and committed as the worker does
    after the apply's commit: the new pairs (None when there was nothing to check)."""
    from profile_ui.services.importing.duplicate_checks import run_applied_check

    new = run_applied_check(session=session, actor=SYSTEM_ACTOR, job_id=job.id)
    session.commit()
    return new


def apply_after_dry_run(session: Session, frame: pl.DataFrame, *, sync: SyncRule, between=None):
    """A job's dry run (its results and possible-duplicate check kept, committed), then
    `between()` (committed), then its apply, committed, as the wizard runs them: (job, plan)."""
    from profile_ui.services.importing.results import store_row_results

    job = new_job(session)
    session.commit()
    store_row_results(session=session, job_id=job.id, plan=dry_run(session, frame, sync=sync))
    session.commit()
    if between:
        between()
        session.commit()
    plan = _apply(session, job, frame, sync=sync)
    session.commit()
    check_applied(session, job)
    return job, plan


def _apply(
    session: Session,
    job: ImportJob,
    frame: pl.DataFrame,
    *,
    sync: SyncRule,
    options: ImportOptions | None = None,
    identifiers: list[str] | None = None,
    actor: Actor = MARKETER,
):
    return apply_import(
        session=session,
        actor=actor,
        job=job,
        frame=frame,
        mapping=mapping_for(frame, identifiers),
        options=options or ImportOptions(),
        sync_rule=sync,
    )


def outcomes(plan) -> dict[int, str]:
    return dict(plan.rows.select(ROW_COL, "outcome").iter_rows())


def profile(session: Session, profile_id: int) -> Profile:
    session.expire_all()
    return session.get(Profile, profile_id)


def identities_of(session: Session, profile_id: int) -> set[tuple[str, str]]:
    return set(session.execute(sa.select(Identity.kind, Identity.value).where(Identity.profile_id == profile_id)).all())


def d(text: str) -> date:
    return date.fromisoformat(text)


def dt(text: str) -> datetime:
    return datetime.fromisoformat(text)
