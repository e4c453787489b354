"""State of the import wizard (/imports/new).

What stays on the server (`_`-prefixed): the saved files' private paths and each column's
distinct values. What the browser gets: file names, one line per column (header, three
samples, the chosen target), the value maps of choice fields, and ONE page of preview rows.

Reading a file and waiting for the dry run happen in background events (no state lock held
while they work); the dry run itself is an import job (`submit_import(dry_run=True)`) that
the job runner executes, so the preview rows come from the job's stored row results.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import reflex as rx

from ... import routes
from ...db import session_scope
from ...models import CHOICE_TYPES
from ...services import workspace_settings
from ...services.importing import IDENTITY_PREFIX, TAGS_TARGET, ImportMapping, ImportOptions, membership
from ...services.importing import jobs as import_jobs
from ...services.importing import mapping as mapping_stage
from ...services.importing import values as values_stage
from ...services.importing.possible_duplicates import MODES as possible_duplicate_modes
from ...services.importing.progress import read_progress
from ...services.importing.read import FileRejected, list_sheets, read_pasted, read_upload
from ...services.permissions import PROFILES_IMPORT, Actor
from ...services.uploads import UploadError, save_upload
from ...state.base import AppState, guarded
from ...state.row_results import RowResultsMixin
from .ignored_columns_state import IGNORE, MEMBERSHIP_STATUS_NOTE, NEW_FIELD, IgnoredColumnsMixin
from .upload_feedback import UPLOAD_ID, UploadFeedbackMixin

READ_CHUNK = 1024 * 1024
POLL_SECONDS = 0.5
DRY_RUN_WAIT_SECONDS = 600
ERROR_FILE_WAIT_SECONDS = 10
POLICIES = (
    ("", "Sync rule default"),
    ("overwrite", "Overwrite"),
    ("fill_empty", "Fill empty only"),
    ("never", "Never change"),
)
STEPS = ("source", "sheet", "map", "values", "options", "preview")
STEP_LABELS = {
    "source": "Source",
    "sheet": "Sheet",
    "map": "Identify and map columns",
    "values": "Review values",
    "options": "Options",
    "preview": "Preview",
}
KINDS = ("profiles", "segments", "membership")


@dataclasses.dataclass
class UploadedFile:
    name: str
    size: str
    sheets: list[str]
    sheet: str


@dataclasses.dataclass
class TargetChoice:
    value: str
    label: str


@dataclasses.dataclass
class ColumnLine:
    header: str
    samples: str
    target: str
    suggested: str
    confidence: str
    is_identity: bool
    is_identifier: bool
    policy: str


@dataclasses.dataclass
class ValueLine:
    raw: str
    option: str
    same: bool = False  # mapped from the start: the value is the option (case, accents aside)


@dataclasses.dataclass
class ChoiceField:
    key: str
    label: str
    header: str
    options: list[str]
    value_lines: list[ValueLine]
    unmapped: str
    reviewed: bool


@dataclasses.dataclass
class PreviewTotal:
    file: str
    text: str


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KB"


class ImportUploadState(UploadFeedbackMixin, IgnoredColumnsMixin, RowResultsMixin, AppState):
    """The wizard. (Named as the upload state it replaced: the upload guard tests call it.)"""

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
    preview_job: int = 0
    preview_has_errors: bool = False

    _paths: list[str] = []  # private paths of the saved files, in order
    _summary: dict[str, Any] = {}  # first file: headers, samples, distinct values
    _saved_values: dict[str, dict[str, str]] = {}  # value maps of an applied template
    _signatures: list[str] = []  # each file's header signature, in file order

    # ------------------------------------------------------------ helpers
    def _results_job_id(self) -> int:
        return self.preview_job

    def _actor(self) -> Actor:
        actor = self._require_actor()
        actor.require(PROFILES_IMPORT)
        return actor

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

    # ------------------------------------------------------------ step 1: source
    @rx.event
    @guarded
    def set_kind(self, kind: str) -> None:
        self._actor()
        if kind in KINDS:
            self.kind = kind

    @rx.event
    @guarded
    def set_group(self, group_id: str) -> None:
        self._actor()
        if group_id in {c.value for c in self.group_choices}:
            self.group_id = group_id

    @rx.event
    @guarded
    def set_paste_text(self, text: str) -> None:
        self.paste_text = text

    def _add_saved(self, actor: Actor, name: str, path: Path) -> None:
        try:
            sheets = list_sheets(path, file_name=name)
        except FileRejected as exc:
            path.unlink(missing_ok=True)
            self.file_errors.append(str(exc))
            return
        self._paths.append(str(path))
        self.files.append(
            UploadedFile(
                name=name, size=_size(path.stat().st_size), sheets=sheets, sheet=sheets[0] if len(sheets) == 1 else ""
            )
        )

    @rx.event
    @guarded
    async def handle_upload(self, files: list[rx.UploadFile]) -> Any:
        actor = self._actor()
        self.file_errors = []
        for upload in files:
            name = Path(upload.name or "upload").name
            try:
                with session_scope() as session:
                    path = save_upload(
                        session=session,
                        actor=actor,
                        file_name=name,
                        data_chunks=iter(lambda f=upload.file: f.read(READ_CHUNK), b""),
                    )
            except UploadError as exc:
                self.file_errors.append(str(exc))
                continue
            self._add_saved(actor, name, path)
        return rx.clear_selected_files(UPLOAD_ID)

    @rx.event
    @guarded
    def use_pasted_rows(self) -> None:
        """Pasted cells (with their header row) become a tab-separated file like any upload."""
        actor = self._actor()
        self.file_errors = []
        text = self.paste_text.strip("\n")
        try:
            read_pasted(text, has_header=True)  # PASTE_MAX_ROWS, before anything is saved
        except FileRejected as exc:
            self.file_errors.append(str(exc))
            return
        try:
            with session_scope() as session:
                path = save_upload(
                    session=session, actor=actor, file_name="pasted rows.tsv", data_chunks=[text.encode("utf-8")]
                )
        except UploadError as exc:
            self.file_errors.append(str(exc))
            return
        self._add_saved(actor, "pasted rows.tsv", path)
        self.paste_text = ""

    @rx.event
    @guarded
    def remove_file(self, index: int) -> None:
        self._actor()
        self._drop_files([int(index)])

    def _drop_files(self, indexes: list[int]) -> None:
        """Forget these files of the list and delete their saved uploads."""
        drop = {i for i in indexes if 0 <= i < len(self.files)}
        for i in drop:
            Path(self._paths[i]).unlink(missing_ok=True)
        self._paths = [p for i, p in enumerate(self._paths) if i not in drop]
        self.files = [f for i, f in enumerate(self.files) if i not in drop]

    @rx.event
    @guarded
    def pick_sheet(self, index: int, sheet: str) -> None:
        self._actor()
        index = int(index)
        if 0 <= index < len(self.files) and sheet in self.files[index].sheets:
            self.files[index].sheet = sheet
            self.files = list(self.files)

    @rx.event
    @guarded
    def source_next(self) -> Any:
        self._actor()
        self.step_error = ""
        if not self.files:
            self.step_error = "Upload a file or paste rows first"
            return None
        if self.kind == "membership":
            if not self.group_id:
                self.step_error = "Choose the group this member file is for"
                return None
            if len(self.files) > 1:
                self.step_error = "Review one membership file at a time: remove the other files"
                return None
        if any(len(f.sheets) > 1 for f in self.files):
            self.step = "sheet"
            return None
        return ImportUploadState.read_first_file

    @rx.event
    @guarded
    def sheet_next(self) -> Any:
        self._actor()
        missing = [f.name for f in self.files if len(f.sheets) > 1 and not f.sheet]
        if missing:
            self.step_error = "; ".join(f"{name} has several sheets: pick the one to import" for name in missing)
            return None
        self.step_error = ""
        return ImportUploadState.read_first_file

    @rx.event
    @guarded
    def go_to(self, step: str) -> None:
        self._actor()
        if step in STEPS:
            self.step_error = ""
            self.step = step

    # ------------------------------------------------------------ reading (background)
    @rx.event(background=True)
    async def read_first_file(self) -> Any:
        async with self:
            actor = self._actor_or_none()
            if actor is None or not actor.can(PROFILES_IMPORT) or not self._paths or self.busy:
                return None
            self.busy = "Reading the file…"
            wanted = [(path, item.name, item.sheet or None) for path, item in zip(self._paths, self.files, strict=True)]
        # Every file is read now, not only the first: one over the row limit (or otherwise
        # unreadable) is named here, on the source step, instead of failing later in its job.
        summary: dict[str, Any] = {}
        signatures: list[str] = []
        rejected: dict[str, str] = {}  # private path -> message naming the file and why
        for index, (path, name, sheet) in enumerate(wanted):
            try:
                if index == 0:
                    sheet_data = await asyncio.to_thread(read_upload, path, file_name=name, sheet=sheet)
                    summary = await asyncio.to_thread(values_stage.file_summary, sheet_data)
                    del sheet_data
                    signatures.append(mapping_stage.headers_signature(summary["headers"]))
                else:
                    # later files take the first file's mapping when their columns are the same
                    signatures.append(await asyncio.to_thread(_signature, path, name, sheet))
            except FileRejected as exc:
                rejected[path] = str(exc)
        if rejected:
            async with self:
                self.busy = ""
                self.step = "source"
                self.file_errors = list(rejected.values())
                self._drop_files([i for i, path in enumerate(self._paths) if path in rejected])
            return None
        async with self:
            self.busy = ""
            self._summary = summary
            self._signatures = signatures
            self.headers = summary["headers"]
            if self.kind == "segments":
                self.step = "options"
                return None
            self._suggest(actor)
            if self.kind == "membership":
                self._ignore_status_column()
            self.step = "map"
        return None

    def _suggest(self, actor: Actor) -> None:
        with session_scope() as session:
            fields = workspace_settings.list_fields(session=session, actor=actor)
            kinds = workspace_settings.list_identity_kinds(session=session, actor=actor)
            suggestions = mapping_stage.suggest_mapping(self.headers, fields=fields, identity_kinds=kinds)
            template = mapping_stage.find_mapping_template(
                session=session, actor=actor, kind=self.kind, headers=self.headers
            )
            self.template_offer = template.name if template is not None else ""
            self.template_applied = False
        choices = [TargetChoice(IGNORE, "Ignore this column"), TargetChoice(NEW_FIELD, "New custom field")]
        choices += [TargetChoice(IDENTITY_PREFIX + k.key, f"Identifier: {k.label}") for k in kinds]
        choices += [TargetChoice(f.key, f.label) for f in fields]
        choices.append(TargetChoice(TAGS_TARGET, "Tags (a|b)"))
        self.target_choices = choices
        labels = {c.value: c.label for c in choices}
        self.lines = []
        for s in suggestions:
            target = s.target or IGNORE
            self.lines.append(
                ColumnLine(
                    header=s.column,
                    samples=", ".join(str(v) for v in self._summary["samples"].get(s.column, [])),
                    target=target,
                    suggested=labels.get(s.target, "No match") if s.target else "No match",
                    confidence=f"{round(s.confidence * 100)}%" if s.target else "",
                    is_identity=target.startswith(IDENTITY_PREFIX),
                    is_identifier=target.startswith(IDENTITY_PREFIX),
                    policy="",
                )
            )

    def _ignore_status_column(self) -> None:
        """A member file's Status column says who is a member: it is read by the review,
        never imported as a profile field."""
        header = membership.status_header(self.headers)
        for line in self.lines:
            if line.header == header:
                line.target, line.is_identity, line.is_identifier = IGNORE, False, False
                line.suggested, line.confidence = MEMBERSHIP_STATUS_NOTE, ""
        self.lines = list(self.lines)

    # ------------------------------------------------------------ step 3: map
    @rx.event
    @guarded
    def set_target(self, header: str, target: str) -> None:
        self._actor()
        valid = {c.value for c in self.target_choices}
        if target not in valid:
            return
        for line in self.lines:
            if line.header == target:
                continue
            if line.header == header:
                line.target = target
                line.is_identity = target.startswith(IDENTITY_PREFIX)
                line.is_identifier = line.is_identity
        self.lines = list(self.lines)

    @rx.event
    @guarded
    def set_identifier(self, header: str, checked: bool) -> None:
        self._actor()
        for line in self.lines:
            if line.header == header and line.is_identity:
                line.is_identifier = bool(checked)
        self.lines = list(self.lines)

    @rx.event
    @guarded
    def set_template_name(self, name: str) -> None:
        self.template_name = name

    def _mapping(self) -> ImportMapping:
        columns: dict[str, str | None] = {}
        new_fields: dict[str, dict[str, Any]] = {}
        taken = {c.value for c in self.target_choices}
        for line in self.lines:
            if line.target == NEW_FIELD:
                columns[line.header] = None
                spec = mapping_stage.propose_new_field(
                    line.header, self._summary.get("distinct", {}).get(line.header, []), taken
                )
                taken.add(spec["key"])
                new_fields[line.header] = spec
            else:
                columns[line.header] = None if line.target == IGNORE else line.target
        identifiers = [
            line.target[len(IDENTITY_PREFIX) :] for line in self.lines if line.is_identity and line.is_identifier
        ]
        values = {f.key: {v.raw: v.option for v in f.value_lines if v.option} for f in self.choice_fields}
        return ImportMapping(
            columns=columns,
            values={k: v for k, v in values.items() if v},
            identifiers=identifiers,
            new_fields=new_fields,
        )

    @rx.event
    @guarded
    def save_template(self) -> Any:
        actor = self._actor()
        name = self.template_name.strip()
        if not name:
            return rx.toast.error("Give the template a name")
        with session_scope() as session:
            mapping_stage.save_mapping_template(
                session=session, actor=actor, name=name, kind=self.kind, headers=self.headers, mapping=self._mapping()
            )
        self.template_offer = name
        return rx.toast.success(f"Template “{name}” saved")

    @rx.event
    @guarded
    def apply_template(self) -> Any:
        actor = self._actor()
        with session_scope() as session:
            template = mapping_stage.find_mapping_template(
                session=session, actor=actor, kind=self.kind, headers=self.headers
            )
            if template is None:
                return rx.toast.error("No template was saved for these columns")
            saved = mapping_stage.mapping_from_template(template, self.headers)
        identifiers = set(saved.identifiers)
        for line in self.lines:
            target = saved.columns.get(line.header)
            if line.header in saved.new_fields:
                line.target = NEW_FIELD
            else:
                line.target = target or IGNORE
            line.is_identity = line.target.startswith(IDENTITY_PREFIX)
            line.is_identifier = line.is_identity and (
                not identifiers or line.target[len(IDENTITY_PREFIX) :] in identifiers
            )
        self.lines = list(self.lines)
        self._saved_values = saved.values
        self.template_applied = True
        return rx.toast.success(f"Template “{template.name}” applied")

    @rx.event
    @guarded
    def map_next(self) -> Any:
        actor = self._actor()
        self.step_error = ""
        mapping = self._mapping()
        if not any(t for t in mapping.columns.values()) and not mapping.new_fields:
            self.step_error = "Map at least one column (every column is ignored)"
            return None
        if not mapping.identifiers:
            self.step_error = "Choose at least one identifier column (e-mail, phone or user ID)"
            return None
        with session_scope() as session:
            fields = {f.key: f for f in workspace_settings.list_fields(session=session, actor=actor)}
        saved_values = dict(self._saved_values or {})
        previous = {f.key: {v.raw: v.option for v in f.value_lines} for f in self.choice_fields}
        choice_fields = []
        for line in self.lines:
            definition = fields.get(line.target)
            if definition is None or definition.type not in CHOICE_TYPES:
                continue
            raws = self._summary.get("distinct", {}).get(line.header, [])
            known = previous.get(definition.key) or saved_values.get(definition.key) or {}
            same = values_stage.same_values(raws, list(definition.options))
            values = [
                ValueLine(raw=r, option=known.get(r) or same.get(r, ""), same=r not in known and r in same)
                for r in raws
            ]
            choice_fields.append(
                ChoiceField(
                    key=definition.key,
                    label=definition.label,
                    header=line.header,
                    options=list(definition.options),
                    value_lines=values,
                    unmapped=", ".join(v.raw for v in values if not v.option and v.raw not in definition.options),
                    reviewed=bool(known),
                )
            )
        self.choice_fields = choice_fields
        self.step = "values" if choice_fields else "options"
        return None

    # ------------------------------------------------------------ step 4: values
    def _refresh_unmapped(self) -> None:
        for f in self.choice_fields:
            f.unmapped = ", ".join(v.raw for v in f.value_lines if not v.option and v.raw not in f.options)
        self.choice_fields = list(self.choice_fields)

    @rx.event
    @guarded
    def map_matching_words(self) -> None:
        self._actor()
        for f in self.choice_fields:
            matched = values_stage.match_values([v.raw for v in f.value_lines], f.options)
            for v in f.value_lines:
                if not v.option and v.raw in matched:
                    v.option = matched[v.raw]
            f.reviewed = True
        self._refresh_unmapped()

    @rx.event
    @guarded
    def set_value(self, key: str, raw: str, option: str) -> None:
        self._actor()
        for f in self.choice_fields:
            if f.key == key and (option == "" or option in f.options):
                for v in f.value_lines:
                    if v.raw == raw:
                        v.same = v.same and v.option == option
                        v.option = option
                f.reviewed = True
        self._refresh_unmapped()

    @rx.event
    @guarded
    def mark_reviewed(self, key: str) -> None:
        self._actor()
        for f in self.choice_fields:
            if f.key == key:
                f.reviewed = True
        self.choice_fields = list(self.choice_fields)

    # ------------------------------------------------------------ step 5: options
    @rx.event
    @guarded
    def set_policy(self, header: str, policy: str) -> None:
        self._actor()
        if policy not in {p for p, _ in POLICIES}:
            return
        for line in self.lines:
            if line.header == header:
                line.policy = policy
        self.lines = list(self.lines)

    @rx.event
    @guarded
    def set_consent(self, channel: str, value: str) -> None:
        self._actor()
        if channel in {c.value for c in self.consent_channels} and value in ("", "granted", "denied"):
            consent = dict(self.consent)
            if value:
                consent[channel] = value
            else:
                consent.pop(channel, None)
            self.consent = consent

    @rx.event
    @guarded
    def toggle_tag(self, tag_id: str, checked: bool) -> None:
        self._actor()
        chosen = [t for t in self.chosen_tags if t != tag_id]
        if checked and tag_id in {c.value for c in self.tag_choices}:
            chosen.append(tag_id)
        self.chosen_tags = chosen

    @rx.event
    @guarded
    def set_tags_mode(self, mode: str) -> None:
        self._actor()
        if mode in ("append", "replace"):
            self.tags_mode = mode

    @rx.event
    @guarded
    def set_possible_duplicates(self, mode: str) -> None:
        self._actor()
        if mode in possible_duplicate_modes:
            self.possible_duplicates = mode

    @rx.event
    @guarded
    def set_segment_identifier(self, kind: str) -> None:
        self._actor()
        if kind in {c.value for c in self.identity_choices}:
            self.segment_identifier = kind

    def _options(self, mapping: ImportMapping) -> ImportOptions:
        policies = {}
        for line in self.lines:
            target = mapping.columns.get(line.header)
            if line.policy and target and not target.startswith(IDENTITY_PREFIX):
                policies[target] = line.policy
        return ImportOptions(
            field_policies=policies,
            consent=dict(self.consent),
            tag_ids=[int(t) for t in self.chosen_tags],
            tags_mode=self.tags_mode,
            segment_identifier=self.segment_identifier,
            possible_duplicates=self.possible_duplicates,
        )

    def _cancel_preview(self, actor: Actor) -> None:
        """A new dry run replaces the last one: its jobs are cancelled, the files stay."""
        if not self.preview_job_ids:
            return
        with session_scope() as session:
            for job_id in self.preview_job_ids:
                try:
                    import_jobs.cancel_import(session=session, actor=actor, job_id=job_id)
                except import_jobs.ImportJobError:
                    pass
        self.preview_job_ids = []

    @rx.event
    @guarded
    def start_preview(self) -> Any:
        """Queue the dry run (one job per file, run in order) and watch it in the background."""
        actor = self._actor()
        self.step_error = ""
        self._cancel_preview(actor)
        if self.kind == "segments":
            mapping, options = None, ImportOptions(segment_identifier=self.segment_identifier)
        else:
            mapping = self._mapping()
            options = self._options(mapping)
        signatures = list(self._signatures)
        files = []
        for index, (item, path) in enumerate(zip(self.files, self._paths, strict=True)):
            # later files with the same columns take the same mapping; others the suggestions
            same = index == 0 or (index < len(signatures) and signatures[index] == signatures[0])
            files.append(
                import_jobs.ImportFile(
                    file_name=item.name,
                    stored_path=path,
                    sheet=item.sheet or None,
                    mapping=mapping if same else None,
                    options=options,
                )
            )
        with session_scope() as session:
            group_id = int(self.group_id) if self.kind == "membership" and self.group_id else None
            try:
                jobs = import_jobs.submit_import(
                    session=session,
                    actor=actor,
                    files=files,
                    kind=self.kind,
                    options=options,
                    dry_run=True,
                    group_id=group_id,
                )
            except import_jobs.ImportJobError as exc:
                self.step_error = str(exc)
                return None
            self.preview_job_ids = [job.id for job in jobs]
        self.preview_job = self.preview_job_ids[0]
        self.preview_totals = []
        self._reset_results()
        self.step = "preview"
        return ImportUploadState.watch_preview

    @rx.event(background=True)
    async def watch_preview(self) -> Any:
        async with self:
            actor = self._actor_or_none()
            if self.busy or actor is None or not actor.can(PROFILES_IMPORT):
                return None
            job_ids = list(self.preview_job_ids)
            self.busy = "Checking every row (dry run)…"
        while True:
            waited = 0.0
            while waited < DRY_RUN_WAIT_SECONDS:
                statuses = await asyncio.to_thread(_statuses, actor, job_ids)
                if all(s not in (import_jobs.QUEUED, import_jobs.VALIDATING) for s in statuses.values()):
                    break
                live = _dry_run_progress(job_ids, statuses)
                if live:
                    async with self:
                        self.busy = live
                await asyncio.sleep(POLL_SECONDS)
                waited += POLL_SECONDS
            # the error file is written just after the dry run commits: give it a moment
            for _ in range(int(ERROR_FILE_WAIT_SECONDS / POLL_SECONDS)):
                if not await asyncio.to_thread(_error_files_pending, actor, job_ids):
                    break
                await asyncio.sleep(POLL_SECONDS)
            async with self:
                if self.preview_job_ids and list(self.preview_job_ids) != job_ids:
                    # a newer dry run replaced this one while it ran (its own watcher found
                    # this one busy and left): watch the newer one instead
                    job_ids = list(self.preview_job_ids)
                    continue
                self.busy = ""
                actor = self._actor_or_none()
                if actor is None or list(self.preview_job_ids) != job_ids:
                    return None
                self._load_preview(actor)
            return None

    def _load_preview(self, actor: Actor) -> None:
        totals = []
        with session_scope() as session:
            for job_id in self.preview_job_ids:
                job = import_jobs.get_import(session=session, actor=actor, job_id=job_id)
                if job.status == import_jobs.FAILED:
                    text = f"Refused: {job.error}"
                elif job.status == import_jobs.CANCELLED:
                    text = "Cancelled"
                else:
                    text = import_jobs.totals_text(job.counts)
                totals.append(PreviewTotal(file=job.file_name, text=text))
                if job_id == self.preview_job:
                    self.preview_has_errors = bool(job.error_file_path)
            self.preview_totals = totals
            self._load_result_rows(session, actor)

    @rx.event
    @guarded
    def back_to_mapping(self) -> None:
        actor = self._actor()
        self._cancel_preview(actor)
        self.step = "options" if self.kind == "segments" else "map"

    @rx.event
    @guarded
    def confirm(self) -> Any:
        actor = self._actor()
        if self.kind == "membership":
            return self._to_review(actor)
        confirmed = []
        with session_scope() as session:
            for job_id in self.preview_job_ids:
                job = import_jobs.get_import(session=session, actor=actor, job_id=job_id)
                if job.status == import_jobs.AWAITING_CONFIRMATION:
                    import_jobs.confirm_import(session=session, actor=actor, job_id=job_id)
                    confirmed.append(job_id)
        if not confirmed:
            return rx.toast.error("Nothing to import: every file was refused")
        first = confirmed[0]
        self._paths, self.preview_job_ids = [], []
        return [
            rx.toast.success(f"Import queued ({len(confirmed)} file{'s' if len(confirmed) > 1 else ''})"),
            rx.redirect(import_jobs.report_link(first)),
        ]

    def _to_review(self, actor: Actor) -> Any:
        """A membership file is not applied: its review page proposes what to change."""
        with session_scope() as session:
            job = import_jobs.get_import(session=session, actor=actor, job_id=self.preview_job)
            if job.status != import_jobs.AWAITING_CONFIRMATION:
                return rx.toast.error(
                    f"{job.file_name} cannot be reviewed: {job.error or job.status.replace('_', ' ')}"
                )
        self._paths, self.preview_job_ids = [], []
        return rx.redirect(routes.import_review_url(job.id))


def _signature(path: str, name: str, sheet: str | None) -> str:
    """A file's header signature; raises FileRejected for a file that cannot be imported."""
    return mapping_stage.headers_signature(read_upload(path, file_name=name, sheet=sheet).headers)


def _error_files_pending(actor: Actor, job_ids: list[int]) -> bool:
    """A dry run with invalid rows whose error file is not recorded yet."""
    with session_scope() as session:
        for job_id in job_ids:
            job = import_jobs.get_import(session=session, actor=actor, job_id=job_id)
            if (
                job.status == import_jobs.AWAITING_CONFIRMATION
                and (job.counts or {}).get("invalid")
                and not job.error_file_path
            ):
                return True
    return False


def _dry_run_progress(job_ids: list[int], statuses: dict[int, str]) -> str:
    """The running dry run's stage and rows done ("File 2 of 3 · Dry run: 75 of 300 rows")."""
    for number, job_id in enumerate(job_ids, start=1):
        if statuses.get(job_id) == import_jobs.VALIDATING and (live := read_progress(job_id)) is not None:
            return (f"File {number} of {len(job_ids)} · " if len(job_ids) > 1 else "") + live.text()
    return ""


def _statuses(actor: Actor, job_ids: list[int]) -> dict[int, str]:
    with session_scope() as session:
        return {
            job_id: import_jobs.get_import(session=session, actor=actor, job_id=job_id).status for job_id in job_ids
        }
