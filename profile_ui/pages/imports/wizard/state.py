"""The wizard's state: its steps (source.py, mapping.py, options.py, preview.py, each a
mixin on base.WizardBase), the left-out columns, the upload feedback and the row-results
viewer, put together on AppState, with the page's on_load. (Named as the upload state it
replaced: the upload guard tests call it.)"""

from __future__ import annotations

import reflex as rx

from .... import routes
from ....db import session_scope
from ....services import workspace_settings
from ....state.base import AppState, guarded
from ....state.row_results import RowResultsMixin
from ..ignored_columns_state import IgnoredColumnsMixin
from ..upload_feedback import UploadFeedbackMixin
from .choices import TargetChoice
from .mapping import MappingStep
from .options import OptionsStep
from .preview import PreviewStep
from .source import SourceStep


class ImportUploadState(
    SourceStep,
    MappingStep,
    OptionsStep,
    PreviewStep,
    UploadFeedbackMixin,
    IgnoredColumnsMixin,
    RowResultsMixin,
    AppState,
):
    """The import wizard (/imports/new)."""

    def _results_job_id(self) -> int:
        return self.preview_job

    def _reset_wizard(self) -> None:
        self.step, self.kind, self.files, self.file_errors = "source", "profiles", [], []
        self.paste_text, self.busy, self.step_error, self.chosen_errors = "", "", "", []
        self.headers, self.lines, self.choice_fields = [], [], []
        self.template_name, self.template_offer, self.template_applied = "", "", False
        self.consent, self.chosen_tags, self.tags_mode = {}, [], "append"
        self.possible_duplicates = "review"
        self.segment_identifier, self.group_id = "user_id", ""
        self.preview_totals, self.preview_job_ids = [], []
        self.preview_job, self.preview_has_errors = 0, False
        self._reset_results()
        self._paths, self._summary, self._saved_values, self._signatures = [], {}, {}, []

    @rx.event
    @guarded
    def on_load(self) -> None:
        self._reset_wizard()
        actor = self._enter_page(routes.IMPORT_NEW)
        if actor is None:
            return
        with session_scope() as session:
            self.consent_channels = [TargetChoice(c, label) for c, label in workspace_settings.consent_channels()]
            self.tag_choices = [
                TargetChoice(str(tag.id), f"{group.name}: {tag.name}")
                for group, tags in workspace_settings.list_tag_groups(session=session, actor=actor)
                for tag in tags
            ][:200]
            self.identity_choices = [
                TargetChoice(kind.key, kind.label)
                for kind in workspace_settings.list_identity_kinds(session=session, actor=actor)
            ]
            self.group_choices = [
                TargetChoice(str(g.id), g.name) for g in workspace_settings.list_groups(session=session, actor=actor)
            ]
