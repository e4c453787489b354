"""Step 5 of the wizard: the options of the import (merge policy per column, consent, tags
for every row, look-alikes of existing profiles, a segment file's identifier), and
`_options()`, which turns them into the ImportOptions of the dry run and the import."""

from __future__ import annotations

import reflex as rx

from ....services.importing import IDENTITY_PREFIX, ImportMapping, ImportOptions
from ....services.importing.possible_duplicates import MODES as possible_duplicate_modes
from ....state.base import guarded
from .base import WizardBase
from .choices import POLICIES


class OptionsStep(WizardBase, mixin=True):
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
