"""Creating a profile by hand, or updating the profile the active sync rule matches."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from ...models import (
    IDENTITY_PREFIX,
    MERGE_POLICIES,
    STATUS_ACTIVE,
    STATUS_DEACTIVATED,
    STATUS_DELETED,
    AttributeProvenance,
    FieldDefinition,
    IdentityKind,
    MergePolicy,
    Profile,
    SyncRule,
    utcnow,
)
from ...settings import get_settings
from ..audit import record_event
from ..catalog import active_sync_rule, field_definitions, identity_kinds
from ..importing.normalize import InvalidValue
from ..permissions import PROFILES_CREATE, Actor
from ..profiles.errors import checked_id
from .common import (
    CONTACT_KINDS,
    MANUAL_INITIAL_SOURCE,
    ProfileValidationError,
    add_identities,
    current_value,
    identity_owners,
    is_empty,
    json_for_audit,
    kind_label,
    parse_consent,
    parse_identity_value,
    parse_values,
    profile_name,
    same_value,
    write_consent,
    write_values,
)


@dataclass
class CreateResult:
    """What `create_profile` did. With `matched_existing`, `profile_id` is the existing
    profile that was updated (the page should take the user there and show `message`)."""

    profile_id: int
    matched_existing: bool
    message: str
    matched_by: str | None = None  # identity kind that matched, in sync-rule order
    changes: dict[str, list[Any]] = field(default_factory=dict)  # {field: [before, after]}
    kept: dict[str, str] = field(default_factory=dict)  # {field: why the typed value was not used}


def create_profile(
    *,
    session: Session,
    actor: Actor,
    values: dict[str, str],
    identities: dict[str, str],
    consent: dict[str, str] | None = None,
) -> CreateResult:
    """Create a profile from a form, or update the existing profile the sync rule matches.

    `values`: field key -> text; `identities`: identity kind -> text (email, phone,
    user_id, custom kinds); `consent`: channel (email/sms/push/phone) -> granted, denied
    or unknown (empty = not given). Fields marked required_on_create must be filled, and
    a phone or an e-mail is needed. Raises ProfileValidationError (nothing written) with
    one message per problem, including identities that belong to another profile or to
    two different profiles at once.

    When the active sync rule's identifier kinds (in order) find ONE existing profile,
    that profile is updated instead: each typed value follows the rule's field policy
    (overwrite / fill_empty / never), locked values stay, new identities are added and
    consent is set; `CreateResult.matched_existing` is True and `message` says so.
    Values written get provenance source "manual" (not locked: only edits lock).
    """
    actor.require(PROFILES_CREATE)
    region = get_settings().default_phone_region
    definitions = field_definitions(session)
    kinds = identity_kinds(session)
    errors: dict[str, str] = {}
    parsed = parse_values(values or {}, definitions, kinds, errors, region)

    typed_ids: dict[str, str] = {}
    for kind, raw in (identities or {}).items():
        key = f"{IDENTITY_PREFIX}{kind}"
        if kind not in kinds:
            errors[key] = f"'{kind}' is not an identity kind of this workspace"
            continue
        try:
            value = parse_identity_value(kind, raw, region=region)
        except InvalidValue as exc:
            errors[key] = str(exc)
            continue
        if value:
            typed_ids[kind] = value
    if not any(kind in typed_ids for kind in CONTACT_KINDS) and not any(
        f"{IDENTITY_PREFIX}{k}" in errors for k in CONTACT_KINDS
    ):
        for kind in CONTACT_KINDS:
            errors[f"{IDENTITY_PREFIX}{kind}"] = "Enter a phone number or an e-mail address"

    consent_values = parse_consent(consent or {}, errors)

    rule = active_sync_rule(session)
    owners = identity_owners(session, typed_ids)
    identifier_kinds = [k for k in (rule.identifier_kinds or []) if k in typed_ids]
    matched = list(dict.fromkeys(owners[k] for k in identifier_kinds if k in owners))
    if len(matched) > 1:
        detail = ", ".join(
            f"{kind_label(kinds, k)} belongs to profile {owners[k]}" for k in identifier_kinds if k in owners
        )
        for kind in identifier_kinds:
            if kind in owners:
                errors[f"{IDENTITY_PREFIX}{kind}"] = (
                    f"These identifiers belong to different profiles ({detail}); "
                    "merge them first or leave one of the identifiers out"
                )
    target_id = matched[0] if len(matched) == 1 else None
    for kind, owner in owners.items():
        if kind not in identifier_kinds and owner != target_id:
            errors[f"{IDENTITY_PREFIX}{kind}"] = (
                f"This {kind_label(kinds, kind).lower()} already belongs to profile {owner}"
            )
    target = session.get(Profile, target_id) if target_id else None
    matched_by = next((k for k in identifier_kinds if target and owners.get(k) == target.id), None)
    if target is not None and target.status == STATUS_DELETED:
        errors[f"{IDENTITY_PREFIX}{matched_by}"] = (
            f"Matches profile {target.id}, which is in the trash: restore it instead"
        )

    if target is None:
        for key, definition in definitions.items():
            if definition.required_on_create and is_empty(parsed.get(key)) and key not in errors:
                errors[key] = f"{definition.label} is required"
    if errors:
        raise ProfileValidationError(errors)

    now = utcnow()
    if target is not None:
        assert matched_by is not None  # the target is the owner of one of identifier_kinds
        return _update_matched(
            session, actor, target, parsed, typed_ids, consent_values, definitions, kinds, rule, matched_by, now
        )

    profile = Profile(
        status=STATUS_ACTIVE, initial_source=MANUAL_INITIAL_SOURCE, attributes={}, created_at=now, updated_at=now
    )
    session.add(profile)
    session.flush()
    profile_id = checked_id(profile.id)
    filled = {k: v for k, v in parsed.items() if not is_empty(v)}
    write_values(session, actor, profile, filled, definitions, lock=False, now=now)
    add_identities(session, actor, profile_id, typed_ids, now)
    write_consent(session, profile_id, consent_values, actor, now)
    session.flush()
    record_event(
        session=session,
        actor=actor,
        action="profile.create",
        object_type="profile",
        object_id=profile.id,
        details={
            "fields": {k: json_for_audit(v) for k, v in filled.items()},
            "identities": sorted(typed_ids),
            "consent": consent_values,
        },
    )
    return CreateResult(
        profile_id=profile_id,
        matched_existing=False,
        message=f"Profile {profile.id} created",
        changes={k: [None, json_for_audit(v)] for k, v in filled.items()},
    )


def _update_matched(
    session: Session,
    actor: Actor,
    profile: Profile,
    parsed: dict[str, Any],
    typed_ids: dict[str, str],
    consent: dict[str, str],
    definitions: dict[str, FieldDefinition],
    kinds: dict[str, IdentityKind],
    rule: SyncRule,
    matched_by: str,
    now: datetime,
) -> CreateResult:
    provenance = {
        p.field_key: p
        for p in session.exec(select(AttributeProvenance).where(AttributeProvenance.profile_id == profile.id)).all()
    }
    changes: dict[str, list[Any]] = {}
    kept: dict[str, str] = {}
    writes: dict[str, Any] = {}
    for key, new in parsed.items():
        if is_empty(new):
            continue
        definition = definitions[key]
        current = current_value(profile, definition)
        if same_value(current, new):
            continue
        policy = (rule.field_policies or {}).get(key) or rule.default_policy or "overwrite"
        policy = policy if policy in MERGE_POLICIES else MergePolicy.OVERWRITE
        if key in provenance and provenance[key].locked:
            kept[key] = "locked (edited by hand)"
        elif policy == "never":
            kept[key] = "the sync rule never updates this field"
        elif policy == "fill_empty" and not is_empty(current):
            kept[key] = "the sync rule only fills this field when it is empty"
        else:
            writes[key] = new
            changes[key] = [json_for_audit(current), json_for_audit(new)]
    write_values(session, actor, profile, writes, definitions, lock=False, now=now)
    added = add_identities(session, actor, checked_id(profile.id), typed_ids, now)
    consent_changes = write_consent(session, checked_id(profile.id), consent, actor, now)
    session.flush()
    record_event(
        session=session,
        actor=actor,
        action="profile.create_matched",
        object_type="profile",
        object_id=profile.id,
        details={
            "matched_by": matched_by,
            "changes": changes,
            "kept": kept,
            "identities_added": added,
            "consent": consent_changes,
        },
    )
    label = kind_label(kinds, matched_by).lower()
    parts = [
        f"A profile with this {label} already exists ({profile_name(profile)}"
        + (", deactivated" if profile.status == STATUS_DEACTIVATED else "")
        + "): it was updated instead of creating a new one."
    ]
    if changes:
        parts.append("Updated: " + ", ".join(definitions[k].label for k in changes) + ".")
    if kept:
        parts.append("Kept: " + ", ".join(f"{definitions[k].label} ({why})" for k, why in kept.items()) + ".")
    if not changes and not added and not consent_changes:
        parts.append("Nothing new was entered.")
    return CreateResult(
        profile_id=checked_id(profile.id),
        matched_existing=True,
        message=" ".join(parts),
        matched_by=matched_by,
        changes=changes,
        kept=kept,
    )
