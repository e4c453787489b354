"""Workspace settings, one service module per domain of the Settings page:

- `fields`: the field definitions (system columns and custom attributes);
- `tags`: tag groups and tags;
- `audiences`: segments and groups;
- `sync_rule`: the active sync rule (its one meaning is `catalog.active_sync_rule`);
- `identity_kinds`: the kinds of id a profile can hold;
- `access`: roles and whether an account may sign in (users themselves: `users.py`);
- `consent`: the fixed consent channels;
- `common`: SettingsError, the audit event of a change, the rules for names and keys.

Reading a catalogue needs profiles.view (the list, the create form, the tag dialog and the
import wizard show them); every change needs settings.manage and writes an audit event in
the caller's transaction. Functions raise SettingsError (a message for the admin) on bad
input. The package re-exports the public names of its modules, for callers that read
several domains at once (the import wizard, the profile pages); new code imports the
domain module it uses.
"""

from __future__ import annotations

from ..users import change_role, create_user, list_users, unlock_user
from .access import available_permissions, create_role, delete_role, list_roles, set_user_active, update_role
from .audiences import (
    create_group,
    create_segment,
    delete_group,
    delete_segment,
    list_groups,
    list_segments,
    update_group,
    update_segment,
)
from .common import KEY_MAX, NAME_MAX, SettingsError, make_key
from .consent import CONSENT_CHANNEL_LABELS, CONSENT_CHANNELS, CONSENT_STATUSES, consent_channels
from .fields import create_field, delete_field, list_fields, reorder_fields, required_on_create, update_field
from .identity_kinds import create_identity_kind, delete_identity_kind, list_identity_kinds, rename_identity_kind
from .sync_rule import get_sync_rule, update_sync_rule
from .tags import (
    TAG_KINDS,
    create_tag,
    create_tag_group,
    delete_tag,
    delete_tag_group,
    list_tag_groups,
    rename_tag_group,
    tag_value_suggestions,
    update_tag,
)

__all__ = [
    "CONSENT_CHANNELS",
    "CONSENT_CHANNEL_LABELS",
    "CONSENT_STATUSES",
    "KEY_MAX",
    "NAME_MAX",
    "TAG_KINDS",
    "SettingsError",
    "available_permissions",
    "change_role",
    "consent_channels",
    "create_field",
    "create_group",
    "create_identity_kind",
    "create_role",
    "create_segment",
    "create_tag",
    "create_tag_group",
    "create_user",
    "delete_field",
    "delete_group",
    "delete_identity_kind",
    "delete_role",
    "delete_segment",
    "delete_tag",
    "delete_tag_group",
    "get_sync_rule",
    "list_fields",
    "list_groups",
    "list_identity_kinds",
    "list_roles",
    "list_segments",
    "list_tag_groups",
    "list_users",
    "make_key",
    "rename_identity_kind",
    "rename_tag_group",
    "reorder_fields",
    "required_on_create",
    "set_user_active",
    "tag_value_suggestions",
    "unlock_user",
    "update_field",
    "update_group",
    "update_role",
    "update_segment",
    "update_sync_rule",
    "update_tag",
]
