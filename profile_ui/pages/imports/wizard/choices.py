"""The wizard's words and the shapes of what the browser gets: the steps, the merge
policies, the import kinds, and one dataclass per kind of line the pages draw."""

from __future__ import annotations

import dataclasses

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
