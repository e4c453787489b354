"""What every step of the wizard shares: its vars (one set, declared once here) and the
check every handler starts with. Each step is a mixin on this one (source.py, mapping.py,
options.py, preview.py); state.py puts them together on AppState.

What stays on the server (`_`-prefixed): the saved files' private paths and the first
file's summary (each column's samples and distinct values). What the browser gets: file
names, one line per column (header, three samples, the chosen target), the value maps of
choice fields, the dry run's totals and ONE page of its rows (RowResultsMixin).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import reflex as rx

from ....services.importing import ImportMapping, ImportOptions
from ....services.permissions import PROFILES_IMPORT, Actor
from .choices import ChoiceField, ColumnLine, PreviewTotal, TargetChoice, UploadedFile

if TYPE_CHECKING:
    from ....state.row_results import ResultPage, ResultQuery
    from .mapping import Suggestions


class WizardBase(rx.State, mixin=True):
    step: str = "source"
    kind: str = "profiles"
    files: list[UploadedFile] = []
    file_errors: list[str] = []
    paste_text: str = ""
    busy: str = ""  # what a background event is doing now ("" = idle)
    step_error: str = ""

    headers: list[str] = []
    lines: list[ColumnLine] = []
    target_choices: list[TargetChoice] = []
    template_name: str = ""
    template_offer: str = ""  # name of a saved template for these headers
    template_applied: bool = False
    choice_fields: list[ChoiceField] = []

    consent_channels: list[TargetChoice] = []
    consent: dict[str, str] = {}
    tag_choices: list[TargetChoice] = []
    chosen_tags: list[str] = []
    tags_mode: str = "append"
    possible_duplicates: str = "review"  # services/importing/possible_duplicates.py MODES
    segment_identifier: str = "user_id"
    identity_choices: list[TargetChoice] = []
    group_id: str = ""  # membership files: the group they list the members of
    group_choices: list[TargetChoice] = []

    preview_totals: list[PreviewTotal] = []
    preview_job_ids: list[int] = []
    preview_job: int = 0  # the job whose rows the preview shows (the first file's)
    preview_has_errors: bool = False

    _paths: list[str] = []  # private paths of the saved files, in order
    _summary: dict[str, Any] = {}  # first file: headers, samples, distinct values
    _saved_values: dict[str, dict[str, str]] = {}  # value maps of an applied template
    _signatures: list[str] = []  # each file's header signature, in file order

    if TYPE_CHECKING:  # AppState's, and the steps' that the others call (state.py mixes them all)

        def _require_actor(self) -> Actor: ...
        def _current_token(self) -> str: ...
        async def _background_actor(self) -> Actor | None: ...
        def _reset_results(self) -> None: ...
        def _load_result_rows(self, session: Any, actor: Actor) -> None: ...
        def _result_query(self) -> ResultQuery: ...
        def _show_result_page(self, page: ResultPage) -> None: ...
        def _show_suggestions(self, suggested: Suggestions) -> None: ...
        def _ignore_status_column(self) -> None: ...
        def _mapping(self) -> ImportMapping: ...
        def _options(self, mapping: ImportMapping) -> ImportOptions: ...

    def _actor(self) -> Actor:
        actor = self._require_actor()
        actor.require(PROFILES_IMPORT)
        return actor
