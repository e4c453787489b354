"""Profiles: the list, User 360 and the changes made to profiles outside field edits.

One module per job (import from the module; the names below are re-exported so callers
outside the package can say `services.profiles.list_profiles`):

- `errors`: `ProfileError` (bad input, message safe to show) and `changeable_profile`, the
  one loader of a profile about to change (refuses one in the trash).
- `filters`: `ProfileFilter` and its WHERE clause (`filter_condition`), shared by the list,
  exports, the trash and bulk actions.
- `query`: the list (`list_profiles`), `count_profiles`, `estimate_count`: plans chosen
  for SQLite's planner.
- `tag_sort`: the list sorted by a tag column (read from the tag value table's indexes).
- `cells`: what a page of profiles shows (`page_cells`, `identities_of`, `format_value`).
- `read`: User 360 (`get_profile_360`).
- `actions`: status, tags and groups, for one profile or many.

Hand-made profiles and field edits are in `services/profile_edit.py`.
"""

from .actions import (
    TAG_POLICIES,
    add_profiles_to_group,
    remove_profile_from_group,
    set_profile_status,
    tag_profiles,
    untag_profile,
)
from .cells import (
    IDENTITY_COLUMN_PREFIX,
    PROFILE_META_COLUMNS,
    TAG_COLUMN_PREFIX,
    UNDECRYPTABLE,
    display_identity_value,
    format_value,
    identities_of,
    page_cells,
    tags_of,
)
from .errors import ProfileError, changeable_profile, in_trash_message
from .filters import LISTED_STATUSES, ProfileFilter, filter_condition
from .query import (
    DEFAULT_PAGE_SIZE,
    PAGE_SIZES,
    SORTABLE_COLUMNS,
    SORTS,
    CountEstimate,
    ProfilePage,
    count_profiles,
    estimate_count,
    list_profiles,
)
from .read import FieldValue, HistoryEvent, Profile360, ProfileHeader, ProfileImportRow, get_profile_360

__all__ = [
    "TAG_POLICIES",
    "add_profiles_to_group",
    "remove_profile_from_group",
    "set_profile_status",
    "tag_profiles",
    "untag_profile",
    "IDENTITY_COLUMN_PREFIX",
    "PROFILE_META_COLUMNS",
    "TAG_COLUMN_PREFIX",
    "UNDECRYPTABLE",
    "display_identity_value",
    "format_value",
    "identities_of",
    "page_cells",
    "tags_of",
    "ProfileError",
    "changeable_profile",
    "in_trash_message",
    "LISTED_STATUSES",
    "ProfileFilter",
    "filter_condition",
    "DEFAULT_PAGE_SIZE",
    "PAGE_SIZES",
    "SORTABLE_COLUMNS",
    "SORTS",
    "CountEstimate",
    "ProfilePage",
    "count_profiles",
    "estimate_count",
    "list_profiles",
    "FieldValue",
    "HistoryEvent",
    "Profile360",
    "ProfileHeader",
    "ProfileImportRow",
    "get_profile_360",
]
