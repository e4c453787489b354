"""Column display of the profile list: which columns, in what order, and the page size.

Each user may save their own choice; an admin saves the workspace default (stored as
user_id 0 in view_preferences); a user without a saved choice gets the default, and
without an admin default, DEFAULT_COLUMNS. Column keys:

    "<field key>"        a system or custom attribute (full_name, member_level, loyalty_points)
    "created_at" | "updated_at" | "initial_source" | "status"   profile columns
    "identity:<kind>"    the profile's identities of that kind (identity:email)
    "tag:<tag id>"       the values of that tag (tag:12)

Columns that no longer exist (a deleted field, tag or identity kind) drop out when read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, select

from ..models import Tag, TagGroup, ViewPreference, utcnow
from .attribute_search import can_search
from .attribute_sort import can_sort_by
from .audit import record_event
from .catalog import field_definitions, identity_kinds
from .identity_sort import can_sort_by_identity, unsortable_reason
from .permissions import PROFILES_VIEW, SETTINGS_MANAGE, Actor
from .profiles import DEFAULT_PAGE_SIZE, IDENTITY_COLUMN_PREFIX, PAGE_SIZES, SORTS, TAG_COLUMN_PREFIX
from .profiles.tag_sort import sort_note

PROFILE_LIST_VIEW = "profiles.list"
DEFAULT_USER_ID = 0  # the admin's default for everyone without a choice of their own
DEFAULT_COLUMNS = ["full_name", "identity:phone", "identity:email", "member_level", "created_at", "initial_source"]
# profile columns that can be shown besides the fields
META_COLUMNS = {
    "created_at": "Created",
    "updated_at": "Updated",
    "initial_source": "Initial source",
    "status": "Status",
}
MAX_COLUMNS = 30


class ViewPrefsError(ValueError):
    """A column choice that cannot be saved; the message is for the user."""


@dataclass(frozen=True)
class ColumnOption:
    """A column the list can show: `key` as stored, `label` for the header, `group`
    (Attributes / Identities / Tags) for the chooser, `sortable` when the list can sort by it,
    `searchable` when the query box also searches it while it is shown (a text custom field),
    `not_sortable_because` why a column people expect to sort does not, `sorts_how` how a
    sortable column sorts when a person could not guess it (a multi-value tag)."""

    key: str
    label: str
    group: str
    sortable: bool
    searchable: bool = False
    not_sortable_because: str = ""  # said in the column display (e.g. "stored encrypted")
    sorts_how: str = ""  # said in the column display instead of "sorts" (e.g. "sorts by its first value")


@dataclass
class ListView:
    """The list settings a user gets. `source`: "user" (their own choice), "default"
    (the admin's default) or "builtin" (DEFAULT_COLUMNS, nobody chose)."""

    columns: list[str]
    page_size: int = DEFAULT_PAGE_SIZE
    source: str = "builtin"
    options: list[ColumnOption] = field(default_factory=list)


def column_options(*, session: Session, actor: Actor) -> list[ColumnOption]:
    """Every column the chooser offers: fields, profile columns, identity kinds, tags."""
    actor.require(PROFILES_VIEW)
    options = [
        ColumnOption(f.key, f.label, "Attributes", f.key in SORTS or can_sort_by(f), can_search(f))
        for f in field_definitions(session).values()
    ]
    options += [ColumnOption(key, label, "Attributes", key in SORTS) for key, label in META_COLUMNS.items()]
    options += [
        ColumnOption(
            f"{IDENTITY_COLUMN_PREFIX}{k.key}",
            k.label,
            "Identities",
            can_sort_by_identity(f"{IDENTITY_COLUMN_PREFIX}{k.key}"),
            not_sortable_because=unsortable_reason(f"{IDENTITY_COLUMN_PREFIX}{k.key}"),
        )
        for k in identity_kinds(session).values()
    ]
    options += [  # profiles/tag_sort.py: by the tag's (first) value
        ColumnOption(
            f"{TAG_COLUMN_PREFIX}{tag.id}", f"{group.name}: {tag.name}", "Tags", True, sorts_how=sort_note(tag)
        )
        for tag, group in session.exec(
            select(Tag, TagGroup).join(TagGroup, TagGroup.id == Tag.group_id).order_by(TagGroup.name, Tag.name)
        ).all()
    ]
    return options


def _stored(session: Session, user_id: int) -> ViewPreference | None:
    return session.get(ViewPreference, (user_id, PROFILE_LIST_VIEW))


def get_list_view(*, session: Session, actor: Actor) -> ListView:
    """The columns and page size `actor` sees: their own, else the default, else built-in."""
    actor.require(PROFILES_VIEW)
    options = column_options(session=session, actor=actor)
    known = {o.key for o in options}
    for user_id, source in ((actor.user_id, "user"), (DEFAULT_USER_ID, "default")):
        if user_id is None:
            continue
        row = _stored(session, user_id)
        if row is not None:
            columns = [c for c in row.settings.get("columns", []) if c in known]
            page_size = row.settings.get("page_size", DEFAULT_PAGE_SIZE)
            return ListView(
                columns=columns or [c for c in DEFAULT_COLUMNS if c in known],
                page_size=page_size if page_size in PAGE_SIZES else DEFAULT_PAGE_SIZE,
                source=source,
                options=options,
            )
    return ListView(columns=[c for c in DEFAULT_COLUMNS if c in known], source="builtin", options=options)


def get_default_list_view(*, session: Session, actor: Actor) -> ListView:
    """The admin default (what users without a choice see)."""
    actor.require(PROFILES_VIEW)
    options = column_options(session=session, actor=actor)
    known = {o.key for o in options}
    row = _stored(session, DEFAULT_USER_ID)
    if row is None:
        return ListView(columns=[c for c in DEFAULT_COLUMNS if c in known], source="builtin", options=options)
    page_size = row.settings.get("page_size", DEFAULT_PAGE_SIZE)
    return ListView(
        columns=[c for c in row.settings.get("columns", []) if c in known],
        page_size=page_size if page_size in PAGE_SIZES else DEFAULT_PAGE_SIZE,
        source="default",
        options=options,
    )


def _validated(session: Session, actor: Actor, columns: list[str], page_size: int) -> dict:
    known = {o.key for o in column_options(session=session, actor=actor)}
    cleaned = list(dict.fromkeys(columns))
    if not cleaned:
        raise ViewPrefsError("Choose at least one column")
    if len(cleaned) > MAX_COLUMNS:
        raise ViewPrefsError(f"Choose at most {MAX_COLUMNS} columns")
    unknown = [c for c in cleaned if c not in known]
    if unknown:
        raise ViewPrefsError(f"'{unknown[0]}' is not a column of the profile list")
    if page_size not in PAGE_SIZES:
        raise ViewPrefsError(f"Choose {', '.join(map(str, PAGE_SIZES))} rows per page")
    return {"columns": cleaned, "page_size": page_size}


def _save(session: Session, user_id: int, settings: dict) -> None:
    row = _stored(session, user_id) or ViewPreference(user_id=user_id, view=PROFILE_LIST_VIEW)
    row.settings = settings
    row.updated_at = utcnow()
    session.add(row)
    session.flush()


def save_list_view(
    *, session: Session, actor: Actor, columns: list[str], page_size: int = DEFAULT_PAGE_SIZE
) -> ListView:
    """Save the actor's own columns (ordered keys, see the module docstring) and page size."""
    actor.require(PROFILES_VIEW)
    if actor.user_id is None:
        raise ViewPrefsError("Only a signed-in user has list settings of their own")
    settings = _validated(session, actor, columns, page_size)
    _save(session, actor.user_id, settings)
    return get_list_view(session=session, actor=actor)


def reset_list_view(*, session: Session, actor: Actor) -> ListView:
    """Forget the actor's own choice: they see the default again."""
    actor.require(PROFILES_VIEW)
    if actor.user_id is not None:
        row = _stored(session, actor.user_id)
        if row is not None:
            session.delete(row)
            session.flush()
    return get_list_view(session=session, actor=actor)


def save_default_list_view(
    *, session: Session, actor: Actor, columns: list[str], page_size: int = DEFAULT_PAGE_SIZE
) -> ListView:
    """Save the workspace default (admins: settings.manage); audited."""
    actor.require(SETTINGS_MANAGE)
    before = _stored(session, DEFAULT_USER_ID)
    settings = _validated(session, actor, columns, page_size)
    previous = dict(before.settings) if before is not None else None
    _save(session, DEFAULT_USER_ID, settings)
    record_event(
        session=session,
        actor=actor,
        action="settings.list_view.default",
        object_type="view",
        object_id=PROFILE_LIST_VIEW,
        details={"before": previous, "after": settings},
    )
    return get_default_list_view(session=session, actor=actor)
