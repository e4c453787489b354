"""The workspace's catalog: its field definitions, its identity kinds and the active sync rule.

One answer to each, for every path that needs it: a hand-made profile (profile_edit.py),
an import (importing/plan.py and the pipelines of importing/pipeline.py) and a membership file
(importing/membership.py). Reading them needs no permission (they describe the workspace;
the callers check what the actor may do with them); changing them is
the workspace_settings package's (fields, identity_kinds, sync_rule).

"The active sync rule" means: the rule an administrator set up (Settings > Sync rule; the
first active one), or, when there is none, the default rule a workspace starts with
(`default_sync_rule`: user id, else e-mail, else phone; no automatic merge; new values
overwrite). So a hand-made profile with a known e-mail finds its person exactly as an import
row with that e-mail does.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from ..models import DEFAULT_IDENTIFIER_KINDS, FieldDefinition, IdentityKind, MergePolicy, SyncRule

DEFAULT_SYNC_RULE_NAME = "Default"


def field_definitions(session: Session) -> dict[str, FieldDefinition]:
    """Every field (system and custom) by key, in the order forms and exports show them."""
    rows = session.exec(select(FieldDefinition).order_by(col(FieldDefinition.position), col(FieldDefinition.key))).all()
    return {definition.key: definition for definition in rows}


def identity_kinds(session: Session) -> dict[str, IdentityKind]:
    """Every identity kind (built-in and custom) by key, in their display order."""
    rows = session.exec(select(IdentityKind).order_by(col(IdentityKind.position), col(IdentityKind.key))).all()
    return {kind.key: kind for kind in rows}


def default_sync_rule() -> SyncRule:
    """The rule a new workspace gets, and the one that applies while none is set up (unsaved)."""
    return SyncRule(
        name=DEFAULT_SYNC_RULE_NAME,
        identifier_kinds=list(DEFAULT_IDENTIFIER_KINDS),
        auto_merge=False,
        default_policy=MergePolicy.OVERWRITE.value,
        field_policies={},
    )


def saved_sync_rule(session: Session) -> SyncRule | None:
    """The rule an administrator set up (the first active one), if any."""
    return session.exec(select(SyncRule).where(col(SyncRule.is_active).is_(True)).order_by(col(SyncRule.id))).first()


def active_sync_rule(session: Session) -> SyncRule:
    """The sync rule in force: the saved one, else `default_sync_rule()` (see the module docstring)."""
    return saved_sync_rule(session) or default_sync_rule()
