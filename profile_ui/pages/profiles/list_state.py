"""State of the profile list (/profiles): query and filters, sort, pages, selection and
the bulk actions (the Column display dialog has its own state: columns_state.py).

Only one page of rows (display texts) goes to the browser; the filter behind it lives in
the backend-only `_filter_json`, and "all N matching" selections are applied by the
service from that filter, never from a list of ids held in the browser.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import reflex as rx

from ... import routes
from ...components.data_table import TableColumn
from ...db import session_scope
from ...services import view_prefs
from ...services.permissions import Actor
from ...services.profiles import (
    DEFAULT_PAGE_SIZE,
    LISTED_STATUSES,
    PAGE_SIZES,
    ProfileError,
    ProfileFilter,
    add_profiles_to_group,
    count_profiles,
    estimate_count,
    identities_of,
    list_profiles,
    page_cells,
)
from ...services.workspace_settings import (
    list_fields,
    list_groups,
    list_segments,
    list_tag_groups,
)
from ...state.base import AppState, guarded
from ...state.dates import DayError, day_range, parse_day
from ...state.selection import toggled
from .common import ANY, Choice, choice_id
from .filter_chips import FilterChip, empty_text, filter_chips, without
from .tag_picker import TagApplyMixin, TagDialog


def _filter_from_form(form: dict[str, Any]) -> ProfileFilter:
    """The list filter from the filter form (raises DayError for unreadable dates)."""
    created_from, created_to = day_range(
        parse_day(str(form.get("created_from") or ""), "Created from"),
        parse_day(str(form.get("created_to") or ""), "Created to"),
    )
    status = str(form.get("status") or "active")
    tag_id = choice_id(str(form.get("tag") or ""))
    tag_value = str(form.get("tag_value") or "").strip()
    level = str(form.get("member_level") or "")
    return ProfileFilter(
        text=str(form.get("q") or "").strip(),
        status=status if status in LISTED_STATUSES else "active",
        group_id=choice_id(str(form.get("group") or "")),
        member_level=None if level in ("", ANY) else level,
        tag_ids=[tag_id] if tag_id else [],
        tag_values={tag_id: tag_value} if tag_id and tag_value else {},
        segment_id=choice_id(str(form.get("segment") or "")),
        created_from=created_from,
        created_to=created_to,  # the form's "to" day is included
    )


def _row_title(profile: Any, identities: dict[str, list[str]]) -> str:
    if profile.full_name:
        return profile.full_name
    for kind in ("email", "phone", "user_id"):
        if identities.get(kind):
            return identities[kind][0]
    return f"Profile {profile.id}"


class ProfilesListState(TagApplyMixin, AppState):
    # the filter form: shown values (defaults of the uncontrolled form) and its key,
    # bumped by Reset so the browser forgets what was typed
    form_version: int = 0
    shown_text: str = ""
    shown_group: str = ANY
    shown_level: str = ANY
    shown_tag: str = ANY
    shown_tag_value: str = ""
    shown_segment: str = ANY
    shown_status: str = "active"
    shown_from: str = ""
    shown_to: str = ""

    group_choices: list[Choice] = []
    level_choices: list[Choice] = []
    tag_choices: list[Choice] = []
    segment_choices: list[Choice] = []

    columns: list[TableColumn] = []
    rows: list[dict[str, str]] = []
    sort_key: str = "created_at"
    _sortable_keys: list[str] = []  # the keys the column display marks sortable
    _searched_keys: list[str] = []  # shown text custom fields: the query box searches them too
    descending: bool = True
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    total: int = 0
    total_exact: bool = True
    load_error: str = ""

    selected: list[str] = []
    all_matching: bool = False

    # the applied filter as removable chips (filter_chips.py)
    chips: list[FilterChip] = []

    # Add to group
    group_dialog_open: bool = False
    group_error: str = ""

    _filter_json: dict = {}
    _column_keys: list[str] = []

    # ------------------------------------------------------------ derived (no data access)
    @rx.var
    def pages(self) -> int:
        return max(1, -(-self.total // max(self.page_size, 1)))

    @rx.var
    def total_label(self) -> str:
        return f"{self.total:,}"

    @rx.var
    def total_text(self) -> str:
        noun = "profile" if self.total == 1 else "profiles"
        if self.total_exact:
            return f"{self.total:,} {noun}"
        return f"About {self.total:,} {noun} (counting…)"

    @rx.var
    def empty_text(self) -> str:
        return empty_text(self.chips)

    @rx.var
    def page_ids(self) -> list[str]:
        return [row["id"] for row in self.rows]

    @rx.var
    def page_selected(self) -> bool:
        return bool(self.rows) and all(row["id"] in self.selected for row in self.rows)

    @rx.var
    def selection_count(self) -> int:
        return self.total if self.all_matching else len(self.selected)

    @rx.var
    def selection_text(self) -> str:
        if self.all_matching:
            return f"All {self.total:,} matching profiles selected"
        n = len(self.selected)
        return f"{n} profile{'' if n == 1 else 's'} selected"

    # ------------------------------------------------------------ loading
    def _load_catalogue(self, session: Any, actor: Any) -> None:
        self.group_choices = [Choice(ANY, "Any group")] + [
            Choice(str(g.id), g.name) for g in list_groups(session=session, actor=actor)
        ]
        self.segment_choices = [Choice(ANY, "Any segment")] + [
            Choice(str(s.id), s.name) for s in list_segments(session=session, actor=actor)
        ]
        self.tag_choices = [Choice(ANY, "Any tag")] + [
            Choice(str(t.id), f"{g.name}: {t.name}")
            for g, tags in list_tag_groups(session=session, actor=actor)
            for t in tags
        ]
        level = next((f for f in list_fields(session=session, actor=actor) if f.key == "member_level"), None)
        self.level_choices = [Choice(ANY, "Any level")] + [Choice(o, o) for o in (level.options if level else [])]

    def _apply_view(self, view: view_prefs.ListView) -> None:
        """Show the columns (and page size) of a list view (see columns_state.py)."""
        labels = {o.key: o for o in view.options}
        self._column_keys = list(view.columns)
        self.columns = [
            TableColumn(key, labels[key].label, labels[key].sortable) for key in view.columns if key in labels
        ]
        self.page_size = view.page_size
        self._sortable_keys = [o.key for o in view.options if o.sortable]
        self._searched_keys = [o.key for o in view.options if o.searchable and o.key in view.columns]
        if self.sort_key not in self._sortable_keys:
            self.sort_key = "created_at"

    def _flt(self) -> ProfileFilter:
        flt = ProfileFilter.from_json(self._filter_json) if self._filter_json else ProfileFilter()
        flt.text_fields = list(self._searched_keys)  # the columns shown now, whatever the filter was saved with
        return flt

    def _load_rows(self, actor: Any, *, count: bool) -> Any:
        """Read the current page (and, with `count`, the total). When the total is only an
        estimate, the exact count follows as a second event, so the page shows first."""
        flt = self._flt()
        choice_names = {
            kind: {c.value: c.label for c in choices}
            for kind, choices in (
                ("group", self.group_choices),
                ("tag", self.tag_choices),
                ("segment", self.segment_choices),
            )
        }
        self.chips = filter_chips(flt, choice_names)
        follow_up = None
        try:
            with session_scope() as session:
                if count:
                    estimate = estimate_count(session=session, actor=actor, flt=flt)
                    self.total, self.total_exact = estimate.value, estimate.exact
                    if not estimate.exact:
                        follow_up = ProfilesListState.count_exactly
                result = list_profiles(
                    session=session,
                    actor=actor,
                    flt=flt,
                    sort=self.sort_key,
                    descending=self.descending,
                    page=self.page,
                    page_size=self.page_size,
                    with_total=False,
                    known_total=self.total if self.total_exact else None,
                )
                cells = page_cells(session=session, rows=result.rows, columns=self._column_keys)
                ids = [p.id for p in result.rows if p.id is not None]  # rows read from the table: all have one
                names = identities_of(session=session, profile_ids=ids)
        except ProfileError as exc:
            self.load_error = str(exc)
            self.rows = []
            return rx.toast.error(str(exc))
        self.load_error = ""
        self.page = result.page
        for cell, profile in zip(cells, result.rows, strict=True):
            assert profile.id is not None, "a profile read from the table has its id"
            cell["_title"] = _row_title(profile, names.get(profile.id, {}))
            cell["_href"] = routes.profile_url(profile.id)
        self.rows = cells
        return follow_up

    def _show_filter(self, flt: ProfileFilter, *, remount: bool | None = None) -> None:
        """Show `flt` in the filter form. The form is uncontrolled (typing costs no round
        trips), so new values reach it by remounting it (a new key): by default only when
        they differ from what it shows; `remount=True` always (Reset also clears text
        typed but not applied); False never (Query: the form shows what was typed, and a
        remount would drop what is typed meanwhile)."""
        tag_id = next(iter(flt.tag_ids), None)
        shown = {
            "shown_text": flt.text,
            "shown_group": str(flt.group_id) if flt.group_id else ANY,
            "shown_level": flt.member_level or ANY,
            "shown_tag": str(tag_id) if tag_id else ANY,
            "shown_tag_value": flt.tag_values.get(tag_id, "") if tag_id else "",
            "shown_segment": str(flt.segment_id) if flt.segment_id else ANY,
            "shown_status": flt.status,
            "shown_from": flt.created_from.date().isoformat() if flt.created_from else "",
            "shown_to": ((flt.created_to - timedelta(days=1)).date().isoformat() if flt.created_to else ""),
        }
        changed = [name for name, value in shown.items() if getattr(self, name) != value]
        for name in changed:
            setattr(self, name, shown[name])
        if remount or (remount is None and changed):
            self.form_version += 1

    def _clear_selection(self) -> None:
        self.selected = []
        self.all_matching = False

    # ------------------------------------------------------------ events: the list
    @rx.event
    @guarded
    def on_load(self) -> Any:
        actor = self._enter_page(routes.PROFILES)
        if actor is None:
            return None
        params = self.router.url.query_parameters
        flt = ProfileFilter(
            group_id=choice_id(params.get("group")),
            segment_id=choice_id(params.get("segment")),
            tag_ids=[t] if (t := choice_id(params.get("tag"))) else [],
        )
        if params.get("group") or params.get("segment") or params.get("tag") or not self._filter_json:
            self._filter_json = flt.to_json()
            self.page = 1
        self._show_filter(self._flt())
        with session_scope() as session:
            self._load_catalogue(session, actor)
            self._apply_view(view_prefs.get_list_view(session=session, actor=actor))
        self._clear_selection()
        return self._load_rows(actor, count=True)

    @rx.event
    @guarded
    def apply_query(self, form_data: dict[str, Any]) -> Any:
        actor = self._require_actor()
        try:
            flt = _filter_from_form(form_data)
        except DayError as exc:
            return rx.toast.error(str(exc))
        self._filter_json = flt.to_json()
        self.page = 1
        self._clear_selection()
        self._show_filter(flt, remount=False)
        return self._load_rows(actor, count=True)

    @rx.event
    @guarded
    def reset_filters(self) -> Any:
        actor = self._require_actor()
        self._filter_json = ProfileFilter().to_json()
        self.page = 1
        self._clear_selection()
        self._show_filter(ProfileFilter(), remount=True)
        return self._load_rows(actor, count=True)

    @rx.event
    @guarded
    def remove_filter(self, key: str) -> Any:
        """A chip's remove button: the list without that filter (the form shows it gone)."""
        actor = self._require_actor()
        flt = without(self._flt(), str(key))
        self._filter_json = flt.to_json()
        self.page = 1
        self._clear_selection()
        self._show_filter(flt)
        return self._load_rows(actor, count=True)

    @rx.event
    @guarded
    def count_exactly(self) -> None:
        actor = self._require_actor()
        with session_scope() as session:
            self.total = count_profiles(session=session, actor=actor, flt=self._flt())
        self.total_exact = True

    @rx.event
    @guarded
    def sort_by(self, key: str) -> Any:
        actor = self._require_actor()
        if key not in self._sortable_keys:
            return None
        if self.sort_key == key:
            self.descending = not self.descending
        else:
            self.sort_key, self.descending = key, key in ("created_at", "updated_at", "registered_at")
        self.page = 1
        return self._load_rows(actor, count=False)

    @rx.event
    @guarded
    def go_to_page(self, page: int) -> Any:
        actor = self._require_actor()
        self.page = min(max(int(page), 1), self.pages)
        if not self.all_matching:
            self.selected = []
        return self._load_rows(actor, count=False)

    @rx.event
    @guarded
    def set_page_size(self, size: str) -> Any:
        actor = self._require_actor()
        value = int(size) if str(size).isdigit() else DEFAULT_PAGE_SIZE
        self.page_size = value if value in PAGE_SIZES else DEFAULT_PAGE_SIZE
        self.page = 1
        if not self.all_matching:
            self.selected = []
        return self._load_rows(actor, count=False)

    # ------------------------------------------------------------ events: selection
    @rx.event
    @guarded
    def toggle_row(self, row_id: str, checked: bool) -> None:
        self._require_actor()
        self.all_matching = False
        self.selected = toggled(self.selected, row_id, checked, self.page_ids)

    @rx.event
    @guarded
    def toggle_page(self, checked: bool) -> None:
        self._require_actor()
        self.all_matching = False
        self.selected = list(self.page_ids) if checked else []

    @rx.event
    @guarded
    def select_all_matching(self) -> None:
        self._require_actor()
        self.all_matching = True
        self.selected = list(self.page_ids)

    @rx.event
    @guarded
    def clear_selection(self) -> None:
        self._require_actor()
        self._clear_selection()

    def _targets(self) -> dict[str, Any]:
        """The bulk action's profiles: the filter ("all N matching") or the page's ids."""
        if self.all_matching:
            return {"flt": self._flt()}
        return {"profile_ids": [int(i) for i in self.selected if i.isdigit()]}

    # ------------------------------------------------------------ events: bulk actions
    def _tag_dialog(self) -> TagDialog:
        n = self.selection_count
        who = f"all {n:,} matching profiles" if self.all_matching else f"{n:,} profile{'' if n == 1 else 's'}"
        return TagDialog(with_policy=True, title="Batch tag", description=f"Tag {who}.")

    def _tag_targets(self) -> dict[str, Any]:
        return self._targets()

    def _after_tagging(self, actor: Actor, tagged: int) -> Any:
        self._clear_selection()
        events = [rx.toast.success(f"Tagged {tagged:,} profile{'' if tagged == 1 else 's'}")]
        follow_up = self._load_rows(actor, count=False)
        return events + ([follow_up] if follow_up else [])

    @rx.event
    @guarded
    def open_group_dialog(self) -> None:
        self._require_actor()
        self.group_error = ""
        self.group_dialog_open = True

    @rx.event
    @guarded
    def set_group_dialog_open(self, is_open: bool) -> None:
        self._require_actor()
        self.group_dialog_open = bool(is_open)

    @rx.event
    @guarded
    def add_to_group(self, form_data: dict[str, Any]) -> Any:
        actor = self._require_actor()
        group_id = choice_id(str(form_data.get("group") or ""))
        if group_id is None:
            self.group_error = "Choose a group"
            return None
        try:
            with session_scope() as session:
                added = add_profiles_to_group(session=session, actor=actor, group_id=group_id, **self._targets())
        except ProfileError as exc:
            self.group_error = str(exc)
            return None
        self.group_dialog_open = False
        self._clear_selection()
        return rx.toast.success(f"Added {added:,} profile{'' if added == 1 else 's'} to the group")
