"""State of the User 360 page (/profiles/[profile_id]): one profile, read with
`get_profile_360` (a typed Profile360), edited in place or in the Edit dialog, tagged,
(de)activated.

The profile shown is the route's `profile_id` as read on load (`shown_id`); handlers act
on `shown_id`, never on an id sent by the browser, and the services check permissions.
An edit is one service call: `update_profile_fields` returns the saved fields, the new
version and the history line, and the page updates just those (`_show_edit`).
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

import reflex as rx

from ... import routes
from ...components.inline_edit import EditableField
from ...components.tag_chips import TagChip
from ...db import session_scope
from ...services import profile_edit
from ...services.importing.results import field_changes
from ...services.permissions import Actor
from ...services.profile_edit import FieldEdit, ProfileChanged, ProfileValidationError
from ...services.profiles import (
    FieldValue,
    HistoryEvent,
    Profile360,
    ProfileError,
    ProfileHeader,
    ProfileImportRow,
    format_value,
    get_profile_360,
    remove_profile_from_group,
    set_profile_status,
    untag_profile,
)
from ...services.workspace_settings import consent_channels, list_identity_kinds
from ...state.base import AppState, guarded
from .common import Choice
from .tag_picker import TagApplyMixin, TagDialog

MEMBER_FIELDS = ("member_level", "registered_at")
TYPE_HINTS = {
    "date": "YYYY-MM-DD",
    "datetime": "YYYY-MM-DD HH:MM",
    "number": "a number",
    "boolean": "Yes or No",
    "multiple_choice": "values separated by |",
    "email": "name@example.com",
    "phone": "+84 912 345 678",
}
SOURCE_LABELS = {"file": "File", "table": "Table", "manual": "Entered by hand", "seed": "Demo data", "import": "Import"}


@dataclasses.dataclass
class IdentityView:
    id: int
    kind: str
    kind_label: str
    value: str
    source: str
    encrypted: bool
    detail: str  # the tooltip: source and encryption status


@dataclasses.dataclass
class Item:
    """A line in one of the right-hand lists (groups, segments, consent, linked objects)."""

    id: int
    title: str
    subtitle: str


@dataclasses.dataclass
class HistoryItem:
    when: str
    who: str
    what: str
    details: str


def edit_text(value: Any, field_type: str) -> str:
    """A stored value as the editor shows it (read back by the service's parser)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return " | ".join(str(v) for v in value)
    return format_value(value)


def _field_view(field: FieldValue) -> EditableField:
    return EditableField(
        key=field.key,
        label=field.label,
        display=format_value(field.value),
        raw=edit_text(field.value, field.type),
        type=field.type,
        options=list(field.options),
        locked=field.locked,
        section="member" if field.key in MEMBER_FIELDS else "basic",
        hint=TYPE_HINTS.get(field.type, ""),
    )


def _identity_views(data: Profile360, kind_labels: dict[str, str]) -> list[IdentityView]:
    views = []
    for identity in data.identities:
        source = SOURCE_LABELS.get(identity.source_type, identity.source_type)
        if identity.source_name:
            source = f"{source}: {identity.source_name}"
        encrypted = f"Stored encrypted (AES, key {identity.key_id})" if identity.is_encrypted else "Not encrypted"
        views.append(
            IdentityView(
                id=identity.id,
                kind=identity.kind,
                kind_label=kind_labels.get(identity.kind, identity.kind),
                value=identity.value,  # decrypted
                source=source,
                encrypted=identity.is_encrypted,
                detail=f"Source: {source} · {encrypted} · first seen {identity.first_seen_at:%Y-%m-%d}",
            )
        )
    return views


def _tag_chips(data: Profile360) -> list[TagChip]:
    chips = []
    for tag in data.tags:
        text = f"{tag.group}: {tag.name}" + (f" = {tag.value}" if tag.value else "")
        source = SOURCE_LABELS.get(tag.source, tag.source)
        policy = {"overwrite": "imports may change it", "ignore": "imports keep it"}.get(tag.policy or "", "")
        chips.append(
            TagChip(
                tag_id=tag.tag_id,
                group=tag.group,
                name=tag.name,
                value=tag.value,
                text=text,
                detail=f"{source}" + (f", {policy}" if policy else ""),
            )
        )
    return chips


def _changes_text(changes: dict[str, Any], labels: dict[str, str]) -> str:
    """ "City: Huế → Đà Lạt; Tier: — → Gold" for {field key: [before, after]}."""
    return "; ".join(
        f"{labels.get(k, k)}: {format_value(v[0]) or '—'} → {format_value(v[1]) or '—'}"
        for k, v in changes.items()
        if isinstance(v, list) and len(v) == 2
    )


IMPORT_OUTCOMES = {
    "new": "created the profile",
    "updated": "updated",
    "merged": "merged into this profile",
    "unchanged": "matched, nothing to change",
    "skipped": "skipped",
}


def _import_item(row: ProfileImportRow, labels: dict[str, str]) -> tuple[datetime, HistoryItem]:
    changes = row.changes or {}
    parts = [f"{row.file_name}, row {row.row_number}"]
    if text := _changes_text(field_changes(changes), labels):
        parts.append(text)
    if added := [t[1] for t in changes.get("@tags_added") or [] if isinstance(t, list) and len(t) > 1]:
        parts.append("tags added: " + ", ".join(str(t) for t in added))
    if locked := changes.get("@locked"):  # {field key: [value kept, value of the file]}
        parts.append(
            "kept as edited by hand: "
            + ", ".join(
                f"{labels.get(k, k)} (the file had {format_value(v[1]) or '—'})"
                if isinstance(v, list) and len(v) == 2
                else labels.get(k, k)
                for k, v in locked.items()
            )
        )
    if row.status == "undone":
        parts.append("since undone")
    what = f"import ({row.kind}): {IMPORT_OUTCOMES.get(row.outcome, row.outcome)}"
    return row.finished_at, HistoryItem(
        when=f"{row.finished_at:%Y-%m-%d %H:%M}",
        who=row.by_email or "system",
        what=what,
        details="; ".join(parts)[:300],
    )


def _event_item(event: HistoryEvent, labels: dict[str, str]) -> HistoryItem:
    details = event.details
    if "changes" in details and isinstance(details["changes"], dict):
        summary = _changes_text(details["changes"], labels)
    else:
        summary = ", ".join(f"{k}: {format_value(v)}" for k, v in details.items() if not isinstance(v, (dict, list)))
    return HistoryItem(
        when=f"{event.at:%Y-%m-%d %H:%M}",
        who=event.actor_email or "system",
        what=event.action.replace("_", " ").replace(".", ": "),
        details=summary[:300],
    )


def _history(data: Profile360) -> list[HistoryItem]:
    """Audit events about the profile and what imports did to it, newest first."""
    labels = {f.key: f.label for f in data.fields}
    items = [(event.at, _event_item(event, labels)) for event in data.history]
    items += [_import_item(row, labels) for row in data.imports]
    items.sort(key=lambda pair: pair[0], reverse=True)
    return [item for _at, item in items[:100]]


class ProfileDetailState(TagApplyMixin, AppState):
    shown_id: int = 0
    # the profile version the page shows: an edit sent from it is refused when the row
    # has changed since (services/profile_edit.py: ProfileChanged)
    shown_version: int = 0
    missing: str = ""
    title: str = ""
    status: str = ""
    created: str = ""
    updated: str = ""
    initial_source: str = ""
    channels: list[str] = []

    fields: list[EditableField] = []
    identities: list[IdentityView] = []
    tags: list[TagChip] = []
    groups: list[Item] = []
    segments: list[Item] = []
    consent: list[Item] = []
    linked: list[Item] = []
    history: list[HistoryItem] = []

    # inline edit
    editing_key: str = ""
    edit_error: str = ""

    # Edit dialog
    edit_open: bool = False
    edit_errors: dict[str, str] = {}
    edit_form_key: int = 0

    # Add identity dialog
    identity_open: bool = False
    identity_error: str = ""
    identity_kinds: list[Choice] = []

    status_confirm_open: bool = False

    @rx.var
    def basic_fields(self) -> list[EditableField]:
        return [f for f in self.fields if f.section == "basic"]

    @rx.var
    def member_fields(self) -> list[EditableField]:
        return [f for f in self.fields if f.section == "member"]

    @rx.var
    def is_active(self) -> bool:
        return self.status == "active"

    # ------------------------------------------------------------ loading
    def _load(self, actor: Any) -> None:
        try:
            with session_scope() as session:
                data = get_profile_360(session=session, actor=actor, profile_id=self.shown_id)
                kinds = {k.key: k.label for k in list_identity_kinds(session=session, actor=actor)}
                self.identity_kinds = [Choice(key, label) for key, label in kinds.items()]
                self._show(data, kinds)
        except ProfileError as exc:
            self.missing = str(exc)
            self.title = "Profile not found"

    def _show(self, data: Profile360, kind_labels: dict[str, str]) -> None:
        self.missing = ""
        self.identities = _identity_views(data, kind_labels)
        self._show_header(data.header)
        self.created = f"{data.header.created_at:%Y-%m-%d %H:%M}"
        self.initial_source = data.header.initial_source or ""
        self.channels = sorted({i.source for i in self.identities})
        self.fields = [_field_view(f) for f in data.fields]
        self.tags = _tag_chips(data)
        self.groups = [Item(g.id, g.name, g.detail) for g in data.groups]
        self.segments = [Item(s.id, s.name, s.detail) for s in data.segments]
        given = {c.channel: c for c in data.consent}
        self.consent = [
            Item(
                i,
                label,
                (f"{given[ch].status} · {given[ch].source or ''}".rstrip(" ·") if ch in given else "not given"),
            )
            for i, (ch, label) in enumerate(consent_channels())
        ]
        self.linked = [
            Item(o.id, o.name, o.object_type + (f" · {o.external_id}" if o.external_id else "")) for o in data.linked
        ]
        self.history = _history(data)

    def _show_header(self, header: ProfileHeader) -> None:
        first_identity = next((i.value for i in self.identities), "")
        self.title = header.full_name or first_identity or f"Profile {header.id}"
        self.status = header.status
        self.updated = f"{header.updated_at:%Y-%m-%d %H:%M}"
        self.shown_version = header.version

    def _show_edit(self, edit: FieldEdit) -> None:
        """What an edit saved, without reading the profile again: the changed fields, the
        header (name, updated, the version the next edit is checked against), the history line."""
        saved = {f.key: _field_view(f) for f in edit.fields}
        self.fields = [saved.get(f.key, f) for f in self.fields]
        self._show_header(edit.header)
        if edit.event is not None:
            labels = {f.key: f.label for f in self.fields}
            self.history = [_event_item(edit.event, labels), *self.history][:100]

    @rx.event
    @guarded
    def on_load(self) -> None:
        self.editing_key = self.edit_error = ""
        self.edit_open = self.identity_open = self.status_confirm_open = False
        actor = self._enter_page(routes.PROFILE_DETAIL)
        if actor is None:
            return
        raw = str(self.router.url.path).rstrip("/").rsplit("/", 1)[-1]
        if not raw.isdigit():
            self.shown_id, self.missing, self.title = 0, f"'{raw}' is not a profile", "Profile not found"
            return
        self.shown_id = int(raw)
        self._load(actor)

    # ------------------------------------------------------------ inline edit
    @rx.event
    @guarded
    def start_edit(self, key: str) -> None:
        self._require_actor()
        if any(f.key == key for f in self.fields):
            self.editing_key, self.edit_error = key, ""

    def _save_value(self, key: str, value: str) -> Any:
        actor = self._require_actor()
        label = next((f.label for f in self.fields if f.key == key), key)
        try:
            with session_scope() as session:
                edit = profile_edit.update_profile_fields(
                    session=session,
                    actor=actor,
                    profile_id=self.shown_id,
                    values={key: value},
                    expected_version=self.shown_version,
                )
        except ProfileValidationError as exc:
            self.edit_error = exc.errors.get(key) or str(exc)
            return None
        except ProfileChanged as exc:
            return self._show_conflict(actor, exc)
        except ProfileError as exc:
            self.edit_error = str(exc)
            return None
        self.editing_key = self.edit_error = ""
        if not edit.changes:  # nothing written: the page already shows the saved value
            return None
        self._show_edit(edit)
        return rx.toast.success(f"Saved {label}: imports won't change it")

    def _show_conflict(self, actor: Any, exc: ProfileChanged) -> Any:
        """Someone saved first: show what is saved now and say so (nothing was written)."""
        self.editing_key = self.edit_error = ""
        self._load(actor)
        return rx.toast.error(str(exc), duration=15_000)

    @rx.event
    @guarded
    def submit_inline(self, form_data: dict[str, Any]) -> Any:
        key = str(form_data.get("field_key") or "")
        if not key or key != self.editing_key:
            return None
        return self._save_value(key, str(form_data.get("value") or ""))

    @rx.event
    @guarded
    def blur_inline(self, key: str, value: str) -> Any:
        """Clicking elsewhere saves; a blur after Enter/Esc already closed the editor is ignored."""
        if key != self.editing_key:
            return None
        return self._save_value(key, str(value or ""))

    @rx.event
    @guarded
    def inline_key(self, key: str, pressed: str) -> None:
        self._require_actor()
        if pressed == "Escape" and key == self.editing_key:
            self.editing_key = self.edit_error = ""

    @rx.event
    @guarded
    def unlock(self, key: str) -> Any:
        actor = self._require_actor()
        with session_scope() as session:
            profile_edit.unlock_field(session=session, actor=actor, profile_id=self.shown_id, field_key=key)
        self._load(actor)
        label = next((f.label for f in self.fields if f.key == key), key)
        return rx.toast.success(f"{label} unlocked: imports may change it again")

    # ------------------------------------------------------------ Edit dialog
    @rx.event
    @guarded
    def open_edit(self) -> None:
        actor = self._require_actor()
        self._load(actor)
        self.editing_key = ""
        self.edit_errors = {}
        self.edit_form_key += 1
        self.edit_open = True

    @rx.event
    @guarded
    def set_edit_open(self, is_open: bool) -> None:
        self._require_actor()
        self.edit_open = bool(is_open)

    @rx.event
    @guarded
    def save_edit(self, form_data: dict[str, Any]) -> Any:
        actor = self._require_actor()
        # only what was changed in the dialog: untouched values stay unlocked
        values = {
            f.key: str(form_data.get(f"edit-{f.key}") or "")
            for f in self.fields
            if f"edit-{f.key}" in form_data and str(form_data.get(f"edit-{f.key}") or "") != f.raw
        }
        try:
            with session_scope() as session:
                edit = profile_edit.update_profile_fields(
                    session=session,
                    actor=actor,
                    profile_id=self.shown_id,
                    values=values,
                    expected_version=self.shown_version,
                )
        except ProfileValidationError as exc:
            self.edit_errors = dict(exc.errors)
            return None
        except ProfileChanged as exc:
            self.edit_open = False
            return self._show_conflict(actor, exc)
        self.edit_errors = {}
        self.edit_open = False
        self._show_edit(edit)
        n = len(edit.changes)
        return rx.toast.success(f"Saved {n} change{'' if n == 1 else 's'}" if n else "Nothing changed")

    # ------------------------------------------------------------ status
    @rx.event
    @guarded
    def set_status_confirm_open(self, is_open: bool) -> None:
        self._require_actor()
        self.status_confirm_open = bool(is_open)

    @rx.event
    @guarded
    def toggle_active(self) -> Any:
        actor = self._require_actor()
        activate = self.status != "active"
        with session_scope() as session:
            set_profile_status(session=session, actor=actor, profile_id=self.shown_id, active=activate)
        self.status_confirm_open = False
        self._load(actor)
        return rx.toast.success(
            "Profile reactivated" if activate else "Profile deactivated: hidden from lists and programs"
        )

    # ------------------------------------------------------------ tags and groups
    def _tag_dialog(self) -> TagDialog:
        # no policy question: a tag given to one person by hand is kept by later imports
        return TagDialog(with_policy=False, title="Tag", description=f"Tag {self.title}.")

    def _tag_targets(self) -> dict[str, Any]:
        return {"profile_ids": [self.shown_id]}

    def _after_tagging(self, actor: Actor, tagged: int) -> Any:
        self._load(actor)
        return rx.toast.success("Tag added")

    @rx.event
    @guarded
    def remove_tag(self, tag_id: int, value: str) -> Any:
        actor = self._require_actor()
        with session_scope() as session:
            untag_profile(session=session, actor=actor, profile_id=self.shown_id, tag_id=int(tag_id), value=str(value))
        self._load(actor)
        return rx.toast.success("Tag removed")

    @rx.event
    @guarded
    def leave_group(self, group_id: int) -> Any:
        actor = self._require_actor()
        try:
            with session_scope() as session:
                remove_profile_from_group(
                    session=session, actor=actor, group_id=int(group_id), profile_id=self.shown_id
                )
        except ProfileError as exc:
            return rx.toast.error(str(exc))
        self._load(actor)
        return rx.toast.success("Removed from the group")

    # ------------------------------------------------------------ identities
    @rx.event
    @guarded
    def set_identity_open(self, is_open: bool) -> None:
        self._require_actor()
        self.identity_error = ""
        self.identity_open = bool(is_open)

    @rx.event
    @guarded
    def add_identity(self, form_data: dict[str, Any]) -> Any:
        actor = self._require_actor()
        kind = str(form_data.get("kind") or "")
        try:
            with session_scope() as session:
                profile_edit.add_identity(
                    session=session,
                    actor=actor,
                    profile_id=self.shown_id,
                    kind=kind,
                    value=str(form_data.get("value") or ""),
                )
        except ProfileValidationError as exc:
            self.identity_error = next(iter(exc.errors.values()), str(exc))
            return None
        except ProfileError as exc:
            self.identity_error = str(exc)
            return None
        self.identity_open = False
        self._load(actor)
        return rx.toast.success("Identity added")

    @rx.event
    @guarded
    def remove_identity(self, identity_id: int) -> Any:
        actor = self._require_actor()
        try:
            with session_scope() as session:
                profile_edit.remove_identity(
                    session=session, actor=actor, profile_id=self.shown_id, identity_id=int(identity_id)
                )
        except ProfileError as exc:
            return rx.toast.error(str(exc))
        self._load(actor)
        return rx.toast.success("Identity removed")
