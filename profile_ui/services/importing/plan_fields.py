"""The fields a file sets, and what the database holds for them now: the plan's inputs.

`field_infos` says, for each field column of the validated frame, its label, the file's
header, whether it is a system column and the merge policy that applies (the import's
choice, else the sync rule's); `fetch_profiles` and `fetch_provenance` read the matched
profiles (locked when the plan is for an apply) as frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session, col, select

from ...models import MERGE_POLICIES, SYSTEM_COLUMNS, AttributeProvenance, FieldDefinition, Profile, SyncRule
from ..catalog import field_definitions
from . import ERRORS_COL, IDENTITY_PREFIX, ROW_COL, TAGS_TARGET, VALID_COL, ImportMapping, ImportOptions
from .changes_json import Dtype
from .reports import ImportPlanError
from .resolve import in_batches, in_filter

_NON_FIELD_COLUMNS = {ROW_COL, ERRORS_COL, VALID_COL, TAGS_TARGET}


@dataclass
class FieldInfo:
    key: str
    label: str
    is_system: bool
    required: bool
    header: str | None  # the file's header mapped to it, for messages
    policy: str
    dtype: Dtype


# ---------------------------------------------------------------------- fields
def field_infos(
    session: Session, frame: pl.DataFrame, mapping: ImportMapping, options: ImportOptions, sync_rule: SyncRule
) -> list[FieldInfo]:
    definitions = field_definitions(session)
    new_fields = {spec.get("key"): spec for spec in mapping.new_fields.values()}
    headers = headers_by_target(mapping)
    profile_columns = set(sa.inspect(Profile).local_table.c.keys())
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
            FieldInfo(
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


def required_fields(session: Session) -> list[FieldInfo]:
    return [
        FieldInfo(
            key=d.key,
            label=d.label,
            is_system=d.is_system,
            required=True,
            header=None,
            policy="overwrite",
            dtype=pl.Utf8,
        )
        for d in session.exec(select(FieldDefinition).where(col(FieldDefinition.required_on_create).is_(True))).all()
    ]


def headers_by_target(mapping: ImportMapping) -> dict[str, str]:
    headers: dict[str, str] = {}
    for header, target in mapping.columns.items():
        if target and target not in headers:
            headers[target] = header
    return headers


def rule_identifier_kinds(sync_rule: SyncRule, mapping: ImportMapping, kinds: list[str]) -> list[str]:
    """Kinds that identify a person: the sync rule's, in its order, then any the user chose
    explicitly that the rule lacks. Identity columns outside both are stored, not matched."""
    chosen = [k for k in mapping.identifiers if k in kinds] or kinds
    ordered = [k for k in sync_rule.identifier_kinds if k in chosen]
    return ordered + [k for k in mapping.identifiers if k in kinds and k not in ordered]


# ---------------------------------------------------------------------- reading current state
SYSTEM_DTYPES: dict[str, Dtype] = {
    "full_name": pl.Utf8,
    "gender": pl.Utf8,
    "birthday": pl.Date,
    "city": pl.Utf8,
    "member_level": pl.Utf8,
    "registered_at": pl.Datetime("us", "UTC"),
}


def fetch_profiles(session: Session, ids: list[int], *, lock: bool) -> tuple[pl.DataFrame, dict[int, dict]]:
    """The matched profiles' system columns and updated_at (typed frame) and their attributes (dicts)."""
    cols = [
        col(Profile.id),
        col(Profile.status),
        *[getattr(Profile, c) for c in SYSTEM_COLUMNS],
        col(Profile.updated_at),
        col(Profile.attributes),
    ]

    def query(bound: Any) -> Any:
        stmt = sa.select(*cols).where(in_filter(col(Profile.id), bound))
        return stmt.with_for_update() if lock else stmt

    rows = in_batches(session, sorted(ids), query)
    schema: dict[str, Dtype] = {
        "id": pl.Int64,
        "status": pl.Utf8,
        **SYSTEM_DTYPES,
        "updated_at": pl.Datetime("us", "UTC"),
    }
    frame = pl.DataFrame([r[:-1] for r in rows], schema=schema, orient="row")
    return frame, {r[0]: (r[-1] or {}) for r in rows}


# fetch_provenance's frame; set_at as the database's text (only copied into row results
# for undo, so it is not worth parsing here)
PROVENANCE_SCHEMA: dict[str, pl.DataType] = {
    "profile_id": pl.Int64(),
    "field_key": pl.Utf8(),
    "source_type": pl.Utf8(),
    "source_name": pl.Utf8(),
    "import_job_id": pl.Int64(),
    "set_by": pl.Int64(),
    "set_at": pl.Utf8(),
    "locked": pl.Boolean(),
}


def fetch_provenance(session: Session, profile_ids: list[int], keys: list[str]) -> pl.DataFrame:
    """Provenance rows of these profiles' fields (PROVENANCE_SCHEMA)."""
    if not profile_ids or not keys:
        return pl.DataFrame(schema=PROVENANCE_SCHEMA)
    p = AttributeProvenance
    rows = in_batches(
        session,
        sorted(set(profile_ids)),
        lambda bound: sa.select(
            col(p.profile_id),
            col(p.field_key),
            col(p.source_type),
            col(p.source_name),
            col(p.import_job_id),
            col(p.set_by),
            sa.cast(col(p.set_at), sa.Text),
            col(p.locked),
        ).where(in_filter(col(p.profile_id), bound), col(p.field_key).in_(keys)),
    )
    return pl.DataFrame(rows, schema=PROVENANCE_SCHEMA, orient="row")
