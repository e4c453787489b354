"""An import's plan builds attributes_folded column-wise (plan_diff.folded_attributes_json):
the same JSON text the bulk writer gives by folding each row's attributes object
(name_fold.folded_attributes), for new profiles and for the patches of updated ones."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl

from profile_ui.services.importing.plan_diff import existing_writes, folded_attributes_json, new_profile_rows
from profile_ui.services.importing.plan_fields import PROVENANCE_SCHEMA, FieldInfo
from profile_ui.services.name_fold import folded_attributes

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def field(key: str, dtype: pl.DataType, *, system: bool = False) -> FieldInfo:
    return FieldInfo(key=key, label=key, is_system=system, required=False, header=key, policy="overwrite", dtype=dtype)


FIELDS = [
    field("full_name", pl.Utf8(), system=True),
    field("store", pl.Utf8()),
    field("note", pl.Utf8()),
    field("points", pl.Float64()),
    field("vip", pl.Boolean()),
    field("since", pl.Date()),
    field("seen", pl.Datetime("us", "UTC")),
    field("interests", pl.List(pl.Utf8())),
]
STORES = ["Đà  Nẵng ", "Huế", "", "  ", None, "Cần Thơ", "plain ASCII\tTabs", 'quote " and \\ slash', "Ωmega ✓ 東京"]


def new_people() -> pl.DataFrame:
    n = len(STORES)
    return pl.DataFrame(
        {
            "person": list(range(n)),
            "in:full_name": [f"Người {i}" for i in range(n)],
            "in:store": STORES,
            "in:note": [None if i % 3 else f"Ghi chú {i}" for i in range(n)],
            "in:points": [float(i) if i % 2 else None for i in range(n)],
            "in:vip": [i % 2 == 0 if i % 4 else None for i in range(n)],
            "in:since": [date(2020, 1, i + 1) if i % 2 == 0 else None for i in range(n)],
            "in:seen": [datetime(2024, 5, i + 1, 10, 30, tzinfo=UTC) if i % 3 != 1 else None for i in range(n)],
            "in:interests": [["Cà phê", "Trà"] if i % 2 else None for i in range(n)],
        },
        schema_overrides={"in:seen": pl.Datetime("us", "UTC"), "in:interests": pl.List(pl.Utf8)},
    )


def test_new_profiles_carry_the_folded_attributes_the_bulk_writer_would_fold():
    rows = new_profile_rows(new_people(), FIELDS, "file.xlsx", NOW)
    assert "attributes_folded" in rows.columns
    assert rows["attributes_folded"].to_list() == folded_attributes(rows["attributes"]).to_list()
    assert (
        rows["attributes_folded"][0]
        == '{"store": "da nang", "note": "ghi chu 0", "since": "2020-01-01", "seen": "2024-05-01t10:30:00+00:00"}'
    )


def test_updates_carry_the_folded_patch():
    people = new_people()
    n = people.height
    diff = pl.DataFrame({"person": people["person"], "target": [100 + i for i in range(n)]})
    for f in FIELDS:
        diff = diff.with_columns(
            people[f"in:{f.key}"].alias(f"fin:{f.key}"),
            people[f"in:{f.key}"].alias(f"cur:{f.key}"),
            people[f"in:{f.key}"].alias(f"in:{f.key}"),
            pl.Series([(i + len(f.key)) % 3 != 0 for i in range(n)]).alias(f"chg:{f.key}"),
            pl.Series([(i + len(f.key)) % 3 != 0 for i in range(n)]).alias(f"tk:{f.key}"),
            pl.lit(False).alias(f"lkr:{f.key}"),
        )
    provenance = pl.DataFrame(schema=PROVENANCE_SCHEMA)
    updates = existing_writes(diff, FIELDS, provenance).updates
    assert "attributes_folded" in updates.columns
    assert updates["attributes_folded"].to_list() == folded_attributes(updates["attributes"]).to_list()


def test_an_unknown_field_type_leaves_the_folding_to_the_bulk_writer():
    frame = pl.DataFrame({"in:t": [1]}, schema={"in:t": pl.Time})
    assert folded_attributes_json(frame, [field("t", pl.Time())], "in", lambda f: pl.lit(True)) is None
    empty = new_profile_rows(new_people().head(0), FIELDS, "file.xlsx", NOW)
    assert empty["attributes_folded"].to_list() == []
