"""Settings > Sync rule: reading and changing the active sync rule.

"The active sync rule" has one meaning, `catalog.active_sync_rule`: the rule an
administrator saved, else the default rule (unsaved). The settings screen shows that rule;
the first change to the default rule saves it.
"""

from __future__ import annotations

from sqlmodel import Session, select

from ...models import MERGE_POLICIES, FieldDefinition, IdentityKind, SyncRule, utcnow
from ..catalog import active_sync_rule
from ..permissions import PROFILES_VIEW, SETTINGS_MANAGE, Actor
from .common import SettingsError, audit_change


def get_sync_rule(*, session: Session, actor: Actor) -> SyncRule:
    """The active sync rule (`catalog.active_sync_rule`: identity resolution for imports,
    membership files and hand-made profiles alike); unsaved while it is the default."""
    actor.require(PROFILES_VIEW)
    return active_sync_rule(session)


def update_sync_rule(
    *,
    session: Session,
    actor: Actor,
    identifier_kinds: list[str] | None = None,
    auto_merge: bool | None = None,
    default_policy: str | None = None,
    field_policies: dict[str, str] | None = None,
) -> SyncRule:
    """Change the active sync rule (None = leave as is).

    `identifier_kinds`: identity kinds that identify a person, in matching order;
    `auto_merge`: merge profiles that one record matches two of (else held for review);
    `default_policy` and `field_policies` ({field key: policy}, replacing the old map):
    overwrite | fill_empty | never.
    """
    actor.require(SETTINGS_MANAGE)
    rule = get_sync_rule(session=session, actor=actor)
    before = {
        "identifier_kinds": list(rule.identifier_kinds or []),
        "auto_merge": rule.auto_merge,
        "default_policy": rule.default_policy,
        "field_policies": dict(rule.field_policies or {}),
    }
    if identifier_kinds is not None:
        kinds = set(session.exec(select(IdentityKind.key)).all())
        ordered = list(dict.fromkeys(identifier_kinds))
        if len(ordered) != len(identifier_kinds):
            raise SettingsError("An identity kind can appear only once in the sync rule")
        unknown = [k for k in ordered if k not in kinds]
        if unknown:
            raise SettingsError(f"'{unknown[0]}' is not an identity kind of this workspace")
        if not ordered:
            raise SettingsError("The sync rule needs at least one identity kind")
        rule.identifier_kinds = ordered
    if auto_merge is not None:
        rule.auto_merge = bool(auto_merge)
    if default_policy is not None:
        if default_policy not in MERGE_POLICIES:
            raise SettingsError(f"Unknown policy '{default_policy}' (choose {', '.join(MERGE_POLICIES)})")
        rule.default_policy = default_policy
    if field_policies is not None:
        keys = set(session.exec(select(FieldDefinition.key)).all())
        for key, policy in field_policies.items():
            if key not in keys:
                raise SettingsError(f"There is no field '{key}'")
            if policy not in MERGE_POLICIES:
                raise SettingsError(f"Unknown policy '{policy}' for {key} (choose {', '.join(MERGE_POLICIES)})")
        rule.field_policies = dict(field_policies)
    after = {
        "identifier_kinds": list(rule.identifier_kinds or []),
        "auto_merge": rule.auto_merge,
        "default_policy": rule.default_policy,
        "field_policies": dict(rule.field_policies or {}),
    }
    changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changed:
        rule.updated_at = utcnow()
        session.add(rule)
        session.flush()
        audit_change(session, actor, "sync_rule.update", "sync_rule", rule.id, changes=changed)
    return rule
