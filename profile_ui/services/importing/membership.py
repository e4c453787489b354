"""Membership sync: review a member file for a group, then invite, update, deactivate,
remove or delete (issue #5, "Membership sync review").

A membership file is an import job of kind "membership" with a `group_id`. Its dry run is
the profile pipeline's (outcomes and field diffs per row); confirming it does not apply
the file: `prepare_review` compares the file with the group and stores three lists of
proposals in `ImportJob.options[REVIEW_KEY]` (no schema change needed):

  invite   people in the file without an active membership (no profile yet, no
           membership, or invited before): "Send invites" creates the new profiles
           through the engine (apply.apply_import on their rows), sets the membership to
           "invited" with invited_at, and e-mails each person who has an address
  update   members (active or invited) whose data differ, with the field diff the
           engine computed (locked fields and merge policies are respected: the engine
           leaves them out), and deactivated members whose Status column says "active"
           (reactivation); approving applies their rows through the engine
  missing  active or invited members who are not in the file, or whose Status column
           says they left: Deactivate (state deactivated: hidden from the group's lists),
           Remove from group (membership deleted), Delete profile (deletion.delete_profiles,
           with a reason: the profile goes to the trash)

Each proposal is a dict: key, rows (spreadsheet row numbers), profile_id, name, email,
state (membership state when the review was made), diff ([[label, before, after]]),
reactivate, reason, done ("" = pending; else what was done: invited, updated,
deactivated, removed, deleted).

Writes through the engine run as their own import job (kind "membership", options
`membership_of` = the reviewed job, `membership_action`), so each has row results, a report
and its undo for the profile data it changed. Every action writes an audit event.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session, select

from ...models import FieldDefinition, Group, GroupMembership, Identity, ImportJob, Profile, SyncRule, utcnow
from ...models.profile import STATUS_DELETED
from ...settings import get_settings
from .. import notify
from ..audit import record_event
from ..catalog import active_sync_rule, field_definitions
from ..crypto import plain_value
from ..deletion import MAX_DELETE_PROFILES, DeletionError, clean_reason, delete_profiles
from ..permissions import PROFILES_DELETE, PROFILES_EDIT, PROFILES_IMPORT, Actor
from . import IDENTITY_PREFIX, ROW_COL, VALID_COL, ImportMapping, ImportOptions
from .apply import apply_import
from .jobs import AWAITING_CONFIRMATION, COMPLETED, RUN_KEY, job_mapping, job_options, require_manager
from .plan import plan_import
from .read import FileRejected, read_upload
from .validate import validate_rows

REVIEW_KEY = "membership_review"
KIND = "membership"
SECTIONS = ("invite", "update", "missing")
ACTIONS = ("deactivate", "remove", "delete")
ACTION_DONE = {"deactivate": "deactivated", "remove": "removed", "delete": "deleted"}

# a column with one of these headers (any case/spacing) says whether the person is a member
STATUS_HEADERS = ("status", "member status", "membership status", "employee status")
ACTIVE_VALUES = frozenset({"active", "enabled", "yes", "true", "1", "member"})
INACTIVE_VALUES = frozenset({"inactive", "deactivated", "disabled", "terminated", "left", "no", "false", "0", "former"})

INVITE_STATES = (None, "invited")  # memberships that may be (re-)invited
MEMBER_STATES = ("active", "invited")  # memberships a file must mention to keep them
_APPLIED_OUTCOMES = ("new", "updated", "merged", "unchanged")
_CHUNK = 1000


class MembershipError(ValueError):
    """A membership review request that cannot be done; the message is safe to show."""


# ====================================================================== planning
def status_header(headers: Iterable[str]) -> str | None:
    """The file's Status column, if it has one."""
    for header in headers:
        if " ".join(str(header).lower().replace("_", " ").split()) in STATUS_HEADERS:
            return header
    return None


def status_frame(sheet_frame: pl.DataFrame, header: str | None) -> pl.DataFrame:
    """ROW_COL -> "active" | "inactive" | null, from the file's Status column."""
    if header is None or header not in sheet_frame.columns:
        return pl.DataFrame(schema={ROW_COL: pl.Int64, "status": pl.Utf8})
    text = pl.col(header).cast(pl.Utf8).str.strip_chars().str.to_lowercase()
    return sheet_frame.select(
        pl.col(ROW_COL).cast(pl.Int64),
        pl.when(text.is_in(list(ACTIVE_VALUES)))
        .then(pl.lit("active"))
        .when(text.is_in(list(INACTIVE_VALUES)))
        .then(pl.lit("inactive"))
        .otherwise(pl.lit(None, dtype=pl.Utf8))
        .alias("status"),
    )


def plan_membership(
    *,
    session: Session,
    actor: Actor,
    group_id: int,
    frame: pl.DataFrame,
    mapping: ImportMapping,
    options: ImportOptions,
    statuses: pl.DataFrame | None = None,
    sync_rule: SyncRule | None = None,
    file_name: str = "members",
) -> dict[str, Any]:
    """The review of a validated member file against a group (writes nothing).

    `statuses`: ROW_COL -> "active" | "inactive" | null (see `status_frame`).
    Returns {"group_id", "invite": [...], "update": [...], "missing": [...]}.
    """
    actor.require(PROFILES_IMPORT)
    group = _group(session, group_id)
    plan = plan_import(
        session=session,
        actor=actor,
        frame=frame,
        mapping=mapping,
        options=options,
        sync_rule=sync_rule or active_sync_rule(session),
        file_name=file_name,
    )
    rows = plan.rows.filter(pl.col("outcome").is_in(_APPLIED_OUTCOMES))
    statuses = statuses if statuses is not None else status_frame(pl.DataFrame(), None)
    rows = rows.join(statuses, on=ROW_COL, how="left")
    from_file = frame.select(
        ROW_COL,
        (pl.col("full_name") if "full_name" in frame.columns else pl.lit(None, dtype=pl.Utf8)).alias("f_name"),
        (
            pl.col(f"{IDENTITY_PREFIX}email")
            if f"{IDENTITY_PREFIX}email" in frame.columns
            else pl.lit(None, dtype=pl.Utf8)
        ).alias("f_email"),
    )
    persons = (
        rows.join(from_file, on=ROW_COL, how="left")
        .sort(ROW_COL)
        .group_by("person", maintain_order=True)
        .agg(
            pl.col(ROW_COL).alias("rows"),
            pl.col("outcome").first(),
            pl.col("profile_id").drop_nulls().first(),
            pl.col("changes").first(),
            pl.col("status").drop_nulls().last(),
            pl.col("f_name").drop_nulls().last(),
            pl.col("f_email").drop_nulls().last(),
        )
    )
    in_file = [int(p) for p in persons["profile_id"].drop_nulls().to_list()]
    states = _states(session, group.id, in_file)
    members = dict(
        session.execute(
            select(GroupMembership.profile_id, GroupMembership.state)
            .join(Profile, Profile.id == GroupMembership.profile_id)
            .where(
                GroupMembership.group_id == group.id,
                GroupMembership.state.in_(MEMBER_STATES),
                Profile.status != STATUS_DELETED,
            )
        ).all()
    )
    missing_ids = sorted(set(members) - set(in_file))
    people = _people(session, in_file + missing_ids)
    labels = _labels(session)

    invite: list[dict[str, Any]] = []
    update: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    for person in persons.iter_rows(named=True):
        pid = person["profile_id"]
        state = states.get(pid) if pid is not None else None
        name, email = people.get(pid, ("", "")) if pid is not None else ("", "")
        name = name or person["f_name"] or ""
        email = email or person["f_email"] or ""
        status = person["status"]
        base = {
            "key": f"r{person['rows'][0]}",
            "rows": list(person["rows"]),
            "profile_id": pid,
            "name": name,
            "email": email,
            "state": state or "",
            "diff": [],
            "reactivate": False,
            "reason": "",
            "done": "",
        }
        if status == "inactive":
            if state in MEMBER_STATES:
                missing.append({**base, "reason": "Status in the file: inactive"})
            continue
        if state in INVITE_STATES:
            invite.append(base)
        diff = _diff(person["changes"], labels) if person["outcome"] in ("updated", "merged") else []
        reactivate = state == "deactivated" and status == "active"
        if (state in MEMBER_STATES and diff) or reactivate:
            if reactivate:
                diff = [["Membership", "deactivated", "active"], *diff]
            update.append({**base, "diff": diff, "reactivate": reactivate})
    for pid in missing_ids:
        name, email = people.get(pid, ("", ""))
        missing.append(
            {
                "key": f"p{pid}",
                "rows": [],
                "profile_id": pid,
                "name": name,
                "email": email,
                "state": members[pid],
                "diff": [],
                "reactivate": False,
                "reason": "Not in the file",
                "done": "",
            }
        )
    return {"group_id": group.id, "group": group.name, "invite": invite, "update": update, "missing": missing}


def _group(session: Session, group_id: int | None) -> Group:
    group = session.get(Group, group_id) if group_id is not None else None
    if group is None:
        raise MembershipError("Choose the group this member file is for (the group no longer exists)")
    return group


def _states(session: Session, group_id: int, profile_ids: Sequence[int]) -> dict[int, str]:
    states: dict[int, str] = {}
    ids = sorted(set(profile_ids))
    for start in range(0, len(ids), _CHUNK):
        states.update(
            session.execute(
                select(GroupMembership.profile_id, GroupMembership.state).where(
                    GroupMembership.group_id == group_id, GroupMembership.profile_id.in_(ids[start : start + _CHUNK])
                )
            ).all()
        )
    return states


def _people(session: Session, profile_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """profile id -> (full name, first e-mail)."""
    ids = sorted(set(profile_ids))
    out: dict[int, tuple[str, str]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        names = dict(session.execute(select(Profile.id, Profile.full_name).where(Profile.id.in_(chunk))).all())
        emails: dict[int, str] = {}
        for pid, *stored in session.execute(
            select(
                Identity.profile_id, Identity.value, Identity.value_encrypted, Identity.key_id, Identity.is_encrypted
            )
            .where(Identity.profile_id.in_(chunk), Identity.kind == "email")
            .order_by(Identity.profile_id, Identity.id)
        ).all():
            value = plain_value(*stored)
            if value:
                emails.setdefault(pid, value)
        out.update({pid: (names.get(pid) or "", emails.get(pid, "")) for pid in chunk})
    return out


def _labels(session: Session) -> dict[str, str]:
    return dict(session.execute(select(FieldDefinition.key, FieldDefinition.label)).all())


def _diff(changes_text: str | None, labels: Mapping[str, str]) -> list[list[str]]:
    changes = json.loads(changes_text or "{}")
    return [
        [labels.get(key, key), _text(pair[0]), _text(pair[1])]
        for key, pair in changes.items()
        if not key.startswith("@") and isinstance(pair, list) and len(pair) == 2
    ]


def _text(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


# ====================================================================== the job's review
def _job(session: Session, job_id: int) -> ImportJob:
    job = session.get(ImportJob, job_id)
    if job is None:
        raise MembershipError(f"Import #{job_id} does not exist")
    if job.kind != KIND:
        raise MembershipError(f"Import #{job_id} ({job.file_name}) is not a membership file")
    return job


@dataclass
class _Inputs:
    frame: pl.DataFrame
    mapping: ImportMapping
    options: ImportOptions
    statuses: pl.DataFrame


def _read_inputs(session: Session, job: ImportJob) -> _Inputs:
    """The job's file read and validated again, with its mapping (Status column left out)."""
    if not job.stored_path or not Path(job.stored_path).is_file():
        raise MembershipError(f"{job.file_name}: the file is no longer stored; upload it again")
    try:
        sheet = read_upload(job.stored_path, file_name=job.file_name, sheet=job.sheet)
    except FileRejected as exc:
        raise MembershipError(str(exc)) from exc
    mapping = job_mapping(job)
    header = status_header(sheet.headers)
    if header is not None and mapping.columns.get(header):
        mapping.columns = {**mapping.columns, header: None}
    fields = field_definitions(session)
    frame = validate_rows(sheet, mapping, fields=fields, default_region=get_settings().default_phone_region)
    return _Inputs(frame=frame, mapping=mapping, options=job_options(job), statuses=status_frame(sheet.frame, header))


def _review(job: ImportJob) -> dict[str, Any] | None:
    return (job.options or {}).get(REVIEW_KEY)


def _store(session: Session, job: ImportJob, review: dict[str, Any]) -> None:
    options = {**(job.options or {}), REVIEW_KEY: review}
    session.execute(sa.update(ImportJob).where(ImportJob.id == job.id).values(options=options))
    job.options = options


def prepare_review(*, session: Session, actor: Actor, job_id: int, refresh: bool = False) -> dict[str, Any]:
    """Compare the job's file with its group once (after its dry run) and keep the result."""
    actor.require(PROFILES_IMPORT)
    job = _job(session, job_id)
    review = _review(job)
    if review is not None and not refresh:
        return review
    if job.status != AWAITING_CONFIRMATION:
        raise MembershipError(
            f"{job.file_name} cannot be reviewed: it is {job.status.replace('_', ' ')}"
            + (" (the dry run has not finished)" if job.status in ("queued", "validating") else "")
        )
    inputs = _read_inputs(session, job)
    review = plan_membership(
        session=session,
        actor=actor,
        group_id=job.group_id,
        frame=inputs.frame,
        mapping=inputs.mapping,
        options=inputs.options,
        statuses=inputs.statuses,
        file_name=job.file_name,
    )
    _store(session, job, review)
    record_event(
        session=session,
        actor=actor,
        action="membership.review",
        object_type="import_job",
        object_id=job.id,
        details={"file": job.file_name, "group": review["group"], **{s: len(review[s]) for s in SECTIONS}},
    )
    return review


def get_review(*, session: Session, actor: Actor, job_id: int) -> dict[str, Any] | None:
    """The stored review (None until `prepare_review` ran)."""
    actor.require(PROFILES_IMPORT)
    return _review(_job(session, job_id))


def review_counts(review: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """Per section: total, pending (not done yet)."""
    return {
        s: {"total": len(review.get(s, [])), "pending": sum(1 for item in review.get(s, []) if not item.get("done"))}
        for s in SECTIONS
    }


def review_page(
    review: Mapping[str, Any], section: str, *, offset: int = 0, limit: int = 25
) -> tuple[list[dict[str, Any]], int]:
    """One page of a section's proposals and how many there are."""
    if section not in SECTIONS:
        raise MembershipError(f"Unknown review section '{section}'")
    items = review.get(section, [])
    return list(items[offset : offset + limit]), len(items)


def _chosen(
    review: Mapping[str, Any], section: str, keys: Sequence[str] | None, exclude: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """The pending proposals picked (keys None = all pending ones but `exclude`)."""
    pending = [item for item in review.get(section, []) if not item.get("done")]
    if keys is None:
        left_out = set(exclude)
        return [item for item in pending if item["key"] not in left_out]
    wanted = set(keys)
    return [item for item in pending if item["key"] in wanted]


def _reviewed_job(session: Session, actor: Actor, job_id: int) -> tuple[ImportJob, dict[str, Any], Group]:
    job = _job(session, job_id)
    require_manager(actor, job)  # the submitter or an admin acts on a review
    review = _review(job)
    if review is None:
        raise MembershipError(f"{job.file_name} has not been reviewed yet")
    if job.status != AWAITING_CONFIRMATION:
        raise MembershipError(
            f"{job.file_name} was {job.status.replace('_', ' ')}: upload the file again to review its members"
        )
    return job, review, _group(session, job.group_id)


# ====================================================================== writes through the engine
def _engine_apply(
    session: Session, actor: Actor, parent: ImportJob, action: str, rows: Sequence[int]
) -> dict[int, int]:
    """Apply these rows of the file through the engine, as their own import job; returns
    row number -> profile id."""
    if not rows:
        return {}
    inputs = _read_inputs(session, parent)
    frame = inputs.frame.filter(pl.col(ROW_COL).is_in(list(rows)) & pl.col(VALID_COL))
    now = utcnow()
    options = {k: v for k, v in (parent.options or {}).items() if k not in (REVIEW_KEY, RUN_KEY)}
    child = ImportJob(
        batch_id=str(uuid.uuid4()),
        position=0,
        kind=KIND,
        group_id=parent.group_id,
        file_name=parent.file_name,
        stored_path=parent.stored_path,
        sheet=parent.sheet,
        status="running",
        dry_run=False,
        mapping=inputs.mapping.to_json(),
        options={**options, "membership_of": parent.id, "membership_action": action},
        created_by=actor.user_id,
        created_at=now,
        started_at=now,
    )
    session.add(child)
    session.flush()
    plan = apply_import(
        session=session,
        actor=actor,
        job=child,
        frame=frame,
        mapping=inputs.mapping,
        options=inputs.options,
        sync_rule=active_sync_rule(session),
    )
    child.status = COMPLETED
    child.finished_at = utcnow()
    session.add(child)
    session.flush()
    return {int(r): int(p) for r, p in plan.rows.select(ROW_COL, "profile_id").iter_rows() if p is not None}


def _mark(
    session: Session,
    job: ImportJob,
    review: dict[str, Any],
    section: str,
    done: Mapping[str, str],
    profile_ids: Mapping[str, int] | None = None,
) -> None:
    items = []
    for item in review[section]:
        if item["key"] in done:
            item = {**item, "done": done[item["key"]]}
            if profile_ids and item["key"] in profile_ids:
                item["profile_id"] = profile_ids[item["key"]]
        items.append(item)
    _store(session, job, {**review, section: items})


def _set_state(session: Session, group_id: int, profile_ids: Sequence[int], state: str) -> int:
    """Memberships of these profiles in this state (inserted when missing)."""
    now = utcnow()
    ids = sorted(set(profile_ids))
    done = 0
    values: dict[str, Any] = {"state": state, "updated_at": now}
    if state == "invited":
        values["invited_at"] = now
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        present = set(
            session.execute(
                select(GroupMembership.profile_id).where(
                    GroupMembership.group_id == group_id, GroupMembership.profile_id.in_(chunk)
                )
            ).scalars()
        )
        if present:
            session.execute(
                sa.update(GroupMembership)
                .where(GroupMembership.group_id == group_id, GroupMembership.profile_id.in_(sorted(present)))
                .values(**values)
            )
        new = [pid for pid in chunk if pid not in present]
        if new:
            session.execute(
                sa.insert(GroupMembership),
                [{"group_id": group_id, "profile_id": pid, "invited_at": None, **values} for pid in new],
            )
        done += len(chunk)
    return done


# ====================================================================== actions
@dataclass
class InviteResult:
    invited: int
    emailed: int  # invitations e-mailed (after the transaction commits)
    without_email: int


def invitation_text(group: Group) -> tuple[str, str]:
    subject = f"You are invited to join {group.name}"
    body = f"Hello,\n\nYou have been invited to join {group.name}.\n\n{get_settings().app_url.rstrip('/')}\n"
    return subject, body


def send_invites(
    *, session: Session, actor: Actor, job_id: int, keys: Sequence[str] | None = None, exclude: Sequence[str] = ()
) -> InviteResult:
    """Invite the chosen people of the Invite section (None = all pending): new profiles are
    created through the engine, memberships set to invited (invited_at now), and one e-mail
    per person with an address is sent once the caller's transaction commits."""
    actor.require(PROFILES_IMPORT, PROFILES_EDIT)
    job, review, group = _reviewed_job(session, actor, job_id)
    chosen = _chosen(review, "invite", keys, exclude)
    if not chosen:
        raise MembershipError("Select at least one person to invite")
    new_rows = [r for item in chosen if item["profile_id"] is None for r in item["rows"]]
    created = _engine_apply(session, actor, job, "invite", new_rows)
    profile_ids: dict[str, int] = {}
    for item in chosen:
        pid = item["profile_id"] or next((created[r] for r in item["rows"] if r in created), None)
        if pid is not None:
            profile_ids[item["key"]] = pid
    skipped = [item for item in chosen if item["key"] not in profile_ids]
    if skipped and len(skipped) == len(chosen):
        raise MembershipError("No profile could be created for the chosen people: see the import report")
    _set_state(session, group.id, list(profile_ids.values()), "invited")
    recipients = [item["email"] for item in chosen if item["key"] in profile_ids and item["email"]]
    _mark(session, job, review, "invite", dict.fromkeys(profile_ids, "invited"), profile_ids)
    record_event(
        session=session,
        actor=actor,
        action="membership.invite",
        object_type="group",
        object_id=group.id,
        details={
            "group": group.name,
            "import_job_id": job.id,
            "count": len(profile_ids),
            "created": len(created),
            "emailed": len(recipients),
            "profile_ids": sorted(profile_ids.values())[:100],
        },
    )
    subject, body = invitation_text(group)
    _send_after_commit(session, [(to, subject, body) for to in recipients])
    return InviteResult(
        invited=len(profile_ids), emailed=len(recipients), without_email=len(profile_ids) - len(recipients)
    )


def _send_after_commit(session: Session, mails: list[tuple[str, str, str]]) -> None:
    if not mails:
        return

    def send(_session: Session) -> None:
        for to, subject, body in mails:
            notify.send_email(to=to, subject=subject, body=body)

    event.listen(session, "after_commit", send, once=True)


def apply_updates(
    *, session: Session, actor: Actor, job_id: int, keys: Sequence[str] | None = None, exclude: Sequence[str] = ()
) -> int:
    """Apply the approved proposals of the Update section (None = all pending): their rows
    go through the engine (policies and locked fields respected), and deactivated members
    whose Status is active are reactivated. Returns how many members were updated."""
    actor.require(PROFILES_IMPORT, PROFILES_EDIT)
    job, review, group = _reviewed_job(session, actor, job_id)
    chosen = _chosen(review, "update", keys, exclude)
    if not chosen:
        raise MembershipError("Select at least one member to update")
    rows = [r for item in chosen if any(d[0] != "Membership" for d in item["diff"]) for r in item["rows"]]
    _engine_apply(session, actor, job, "update", rows)
    reactivated = [item["profile_id"] for item in chosen if item["reactivate"]]
    if reactivated:
        _set_state(session, group.id, reactivated, "active")
    _mark(session, job, review, "update", {item["key"]: "updated" for item in chosen})
    record_event(
        session=session,
        actor=actor,
        action="membership.update",
        object_type="group",
        object_id=group.id,
        details={
            "group": group.name,
            "import_job_id": job.id,
            "count": len(chosen),
            "reactivated": sorted(reactivated)[:100],
            "profile_ids": sorted(i["profile_id"] for i in chosen)[:100],
        },
    )
    return len(chosen)


def resolve_missing(
    *,
    session: Session,
    actor: Actor,
    job_id: int,
    choices: Mapping[str, str],
    default_action: str = "",
    reason: str = "",
) -> dict[str, int]:
    """Deactivate, remove from the group or delete the members of the Missing section:
    `choices` maps a proposal's key to "deactivate" | "remove" | "delete" ("" = leave it);
    `default_action` applies to every other pending proposal (the bulk Actions menu).
    Deleting needs profiles.delete and a reason (the profiles go to the trash). Returns
    counts per action."""
    actor.require(PROFILES_IMPORT, PROFILES_EDIT)
    job, review, group = _reviewed_job(session, actor, job_id)
    if default_action:
        choices = {**{item["key"]: default_action for item in _chosen(review, "missing", None)}, **choices}
    choices = {key: action for key, action in choices.items() if action}
    bad = sorted({a for a in choices.values() if a not in ACTIONS})
    if bad:
        raise MembershipError(f"Unknown action '{bad[0]}' (expected one of {', '.join(ACTIONS)})")
    pending = {item["key"]: item for item in _chosen(review, "missing", list(choices))}
    by_action: dict[str, list[int]] = {a: [] for a in ACTIONS}
    for key, action in choices.items():
        if key in pending and pending[key]["profile_id"] is not None:
            by_action[action].append(int(pending[key]["profile_id"]))
    if not any(by_action.values()):
        raise MembershipError("Choose an action for at least one member")
    if by_action["delete"]:
        actor.require(PROFILES_DELETE)
        try:
            reason = clean_reason(reason)
        except DeletionError as exc:
            raise MembershipError(str(exc)) from exc
    if by_action["deactivate"]:
        _set_state(session, group.id, by_action["deactivate"], "deactivated")
    for start in range(0, len(by_action["remove"]), _CHUNK):
        session.execute(
            sa.delete(GroupMembership).where(
                GroupMembership.group_id == group.id,
                GroupMembership.profile_id.in_(by_action["remove"][start : start + _CHUNK]),
            )
        )
    deleting = sorted(by_action["delete"])
    try:
        for start in range(0, len(deleting), MAX_DELETE_PROFILES):
            delete_profiles(
                session=session, actor=actor, profile_ids=deleting[start : start + MAX_DELETE_PROFILES], reason=reason
            )
    except DeletionError as exc:
        raise MembershipError(str(exc)) from exc
    done = {key: ACTION_DONE[action] for key, action in choices.items() if key in pending}
    _mark(session, job, review, "missing", done)
    for action, ids in by_action.items():
        if ids:
            record_event(
                session=session,
                actor=actor,
                action=f"membership.{action}",
                object_type="group",
                object_id=group.id,
                reason=reason if action == "delete" else None,
                details={
                    "group": group.name,
                    "import_job_id": job.id,
                    "count": len(ids),
                    "profile_ids": sorted(ids)[:100],
                },
            )
    return {action: len(ids) for action, ids in by_action.items()}
