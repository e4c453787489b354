"""The review queue: possible duplicates listed for a person, and their decisions.

`list_candidates` pages through pairs (best score first) with both profiles' fields side
by side; `decide` records "not the same person" (remembered for good) or "skip".
Merging a pair goes through services/merging.py (`merge_candidate`), which moves
everything to the survivor and can be undone; the pair is then marked merged.
Every decision writes an audit event in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from ..models import MERGE_REVIEW, STATUS_ACTIVE, ImportJob, Profile, utcnow
from ..models.duplicate import (
    DUPLICATE_MERGED,
    DUPLICATE_NOT_SAME,
    DUPLICATE_OPEN,
    DUPLICATE_SKIPPED,
    DUPLICATE_STATUSES,
    DuplicateCandidate,
)
from .audit import record_event
from .dedupe.scoring import DEFAULT_THRESHOLD, FIELD_OF
from .merging import MergePreview, MergeResult, merge_profiles, preview_merge
from .permissions import PROFILES_MERGE, Actor
from .profiles import format_value, identities_of

DECISIONS = {"not_same": DUPLICATE_NOT_SAME, "skip": DUPLICATE_SKIPPED}
# the side-by-side rows: (label, field key as in `fields`)
SIDE_BY_SIDE = (
    ("Full name", "full_name"),
    ("Date of birth", "birthday"),
    ("E-mail", "email"),
    ("Phone", "phone"),
    ("City", "city"),
    ("Customer id", "user_id"),
)


class DuplicateError(ValueError):
    """A decision that cannot be made (the pair is gone or already decided)."""


@dataclass
class CandidateFilter:
    min_score: float = DEFAULT_THRESHOLD
    import_job_id: int | None = None
    status: str = DUPLICATE_OPEN


@dataclass
class CandidateView:
    id: int
    profile_a_id: int
    profile_b_id: int
    score: float
    reasons: str
    status: str
    import_job_id: int | None
    # one row per SIDE_BY_SIDE field: {"label", "key", "a", "b", "state"}
    rows: list[dict[str, Any]] = field(default_factory=list)


def _conditions(flt: CandidateFilter) -> list[sa.ColumnElement]:
    if flt.status not in DUPLICATE_STATUSES:
        raise DuplicateError(f"unknown status '{flt.status}'")
    a, b = sa.orm.aliased(Profile), sa.orm.aliased(Profile)
    conditions = [
        DuplicateCandidate.status == flt.status,
        DuplicateCandidate.score >= flt.min_score,
        # a pair whose profile was merged away, deleted or deactivated is no longer a question
        sa.exists().where(a.id == DuplicateCandidate.profile_a_id, a.status == STATUS_ACTIVE),
        sa.exists().where(b.id == DuplicateCandidate.profile_b_id, b.status == STATUS_ACTIVE),
    ]
    if flt.import_job_id is not None:
        conditions.append(DuplicateCandidate.import_job_id == flt.import_job_id)
    return conditions


def count_candidates(*, session: Session, actor: Actor, flt: CandidateFilter) -> int:
    actor.require(PROFILES_MERGE)
    return session.execute(
        sa.select(sa.func.count()).select_from(DuplicateCandidate).where(*_conditions(flt))
    ).scalar_one()


def list_candidates(
    *, session: Session, actor: Actor, flt: CandidateFilter, offset: int = 0, limit: int = 20
) -> list[CandidateView]:
    """One page of pairs, best score first, with both profiles' fields side by side."""
    actor.require(PROFILES_MERGE)
    rows = session.exec(
        select(DuplicateCandidate)
        .where(*_conditions(flt))
        .order_by(DuplicateCandidate.score.desc(), DuplicateCandidate.id)
        .offset(offset)
        .limit(limit)
    ).all()
    ids = sorted({p for r in rows for p in (r.profile_a_id, r.profile_b_id)})
    profiles = {p.id: p for p in session.exec(select(Profile).where(Profile.id.in_(ids))).all()} if ids else {}
    identities = identities_of(session=session, profile_ids=ids) if ids else {}
    views = []
    for row in rows:
        sides = [
            _values(profiles[row.profile_a_id], identities.get(row.profile_a_id, {})),
            _values(profiles[row.profile_b_id], identities.get(row.profile_b_id, {})),
        ]
        views.append(
            CandidateView(
                id=row.id,
                profile_a_id=row.profile_a_id,
                profile_b_id=row.profile_b_id,
                score=row.score,
                reasons=row.reasons,
                status=row.status,
                import_job_id=row.import_job_id,
                rows=[
                    {
                        "label": label,
                        "key": key,
                        "a": sides[0][key],
                        "b": sides[1][key],
                        "state": (row.fields or {}).get(key) or "missing",
                    }
                    for label, key in SIDE_BY_SIDE
                ],
            )
        )
    return views


def _values(profile: Profile, identities: dict[str, list[str]]) -> dict[str, str]:
    return {
        "full_name": format_value(profile.full_name),
        "birthday": format_value(profile.birthday),
        "city": format_value(profile.city),
        **{
            FIELD_OF[f]: ", ".join(identities.get(kind, []))
            for f, kind in (("email", "email"), ("phone", "phone"), ("uid", "user_id"))
        },
    }


def import_choices(*, session: Session, actor: Actor) -> list[tuple[int, str]]:
    """(import id, "#id file name") of the imports that have open pairs: the page's filter."""
    actor.require(PROFILES_MERGE)
    rows = session.execute(
        sa.select(ImportJob.id, ImportJob.file_name)
        .where(
            ImportJob.id.in_(
                sa.select(DuplicateCandidate.import_job_id).where(
                    DuplicateCandidate.import_job_id.is_not(None), DuplicateCandidate.status == DUPLICATE_OPEN
                )
            )
        )
        .order_by(ImportJob.id.desc())
    ).all()
    return [(job_id, f"#{job_id} {name}") for job_id, name in rows]


def _open_pair(session: Session, candidate_id: int) -> DuplicateCandidate:
    pair = session.get(DuplicateCandidate, candidate_id, with_for_update=True)
    if pair is None:
        raise DuplicateError(f"possible duplicate #{candidate_id} no longer exists")
    if pair.status != DUPLICATE_OPEN:
        raise DuplicateError(
            f"possible duplicate #{candidate_id} was already decided ({pair.status.replace('_', ' ')})"
        )
    return pair


def decide(*, session: Session, actor: Actor, candidate_id: int, decision: str) -> DuplicateCandidate:
    """ "not_same" (never suggested again) or "skip" (set aside) for one open pair."""
    actor.require(PROFILES_MERGE)
    if decision not in DECISIONS:
        raise DuplicateError(f"unknown decision '{decision}'")
    pair = _open_pair(session, candidate_id)
    _close(session, actor, pair, DECISIONS[decision])
    return pair


def preview_candidate(*, session: Session, actor: Actor, candidate_id: int) -> MergePreview:
    """The merge preview of an open pair: the older profile (smaller id) survives."""
    actor.require(PROFILES_MERGE)
    pair = session.get(DuplicateCandidate, candidate_id)
    if pair is None:
        raise DuplicateError(f"possible duplicate #{candidate_id} no longer exists")
    return preview_merge(session=session, actor=actor, survivor_id=pair.profile_a_id, merged_id=pair.profile_b_id)


def merge_candidate(
    *,
    session: Session,
    actor: Actor,
    candidate_id: int,
    chosen_values: dict[str, object] | None = None,
    reason: str = "",
) -> MergeResult:
    """Merge an open pair (the older profile survives; `chosen_values` as merge_profiles
    takes them, else the suggested values) and mark it merged. Raises MergeError or
    DuplicateError with nothing written by this call."""
    actor.require(PROFILES_MERGE)
    pair = _open_pair(session, candidate_id)
    result = merge_profiles(
        session=session,
        actor=actor,
        survivor_id=pair.profile_a_id,
        merged_id=pair.profile_b_id,
        chosen_values=chosen_values,
        source=MERGE_REVIEW,
        reason=reason.strip() or f"possible duplicate ({pair.score:.0%}): {pair.reasons}"[:500],
    )
    _close(session, actor, pair, DUPLICATE_MERGED, {"merge_id": result.merge_id})
    return result


def merge_candidates(*, session: Session, actor: Actor, candidate_ids: list[int]) -> list[MergeResult]:
    """Merge several open pairs in one go, each with its suggested values.

    Pairs that share a profile chain: once B is merged into A, the pair (B, C) merges C
    into A. A pair whose two sides already became one is marked merged without a merge.
    All or nothing: the first failure raises, and the caller rolls back.
    """
    actor.require(PROFILES_MERGE)
    survivor_of: dict[int, int] = {}

    def current(pid: int) -> int:
        while pid in survivor_of:
            pid = survivor_of[pid]
        return pid

    results = []
    for candidate_id in candidate_ids:
        pair = _open_pair(session, candidate_id)
        a, b = sorted((current(pair.profile_a_id), current(pair.profile_b_id)))
        if a == b:
            _close(session, actor, pair, DUPLICATE_MERGED)
            continue
        result = merge_profiles(
            session=session,
            actor=actor,
            survivor_id=a,
            merged_id=b,
            source=MERGE_REVIEW,
            reason=f"possible duplicate ({pair.score:.0%}): {pair.reasons}"[:500],
        )
        survivor_of[b] = a
        _close(session, actor, pair, DUPLICATE_MERGED, {"merge_id": result.merge_id})
        results.append(result)
    return results


def _close(
    session: Session, actor: Actor, pair: DuplicateCandidate, status: str, details: dict[str, Any] | None = None
) -> None:
    now = utcnow()
    pair.status, pair.decided_by, pair.decided_at, pair.updated_at = status, actor.user_id, now, now
    session.add(pair)
    record_event(
        session=session,
        actor=actor,
        action=f"duplicates.{status}",
        object_type="profile",
        object_id=pair.profile_a_id,
        details={
            "pair": [pair.profile_a_id, pair.profile_b_id],
            "score": round(pair.score, 4),
            "reasons": pair.reasons,
            **(details or {}),
        },
    )
    session.flush()


__all__ = [
    "DUPLICATE_MERGED",
    "CandidateFilter",
    "CandidateView",
    "DuplicateError",
    "count_candidates",
    "decide",
    "import_choices",
    "list_candidates",
    "merge_candidate",
    "merge_candidates",
    "preview_candidate",
]
