"""The export writer's bulk reads give exactly the rows a plain cursor gives, whatever the
text holds (SQLite packs a chunk into one value; PostgreSQL copies it out as CSV)."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session

from profile_ui.services.export_reading import raw_rows, read_frame, text_frame

TRICKY = [
    "plain",
    "",
    None,
    "Nguyễn Văn Dũng",
    'say "hi", then go',
    "two\nlines",
    "ends with CR\r",
    "\r",
    "comma,",
    "~",
    ".",
    "=1+2",
    "unit\x1fseparator",
    "record\x1eseparator",
    "tab\tin",
    "nul\x00inside",
]


def _values(texts: list[str | None]) -> sa.Select:
    rows = [
        sa.select(
            sa.literal(i + 1, sa.Integer).label("id"),
            sa.cast(sa.literal(t, sa.String), sa.String).label("a"),
            sa.cast(sa.literal(t and t[::-1], sa.String), sa.String).label("b"),
        )
        for i, t in enumerate(texts)
    ]
    union = sa.union_all(*rows).subquery()
    return sa.select(union.c.id, union.c.a, union.c.b).order_by(union.c.id)


SCHEMA = {"id": pl.Int64(), "a": pl.String(), "b": pl.String()}


def test_bulk_read_keeps_every_text_and_null(session: Session):
    conn = session.connection()
    postgres = conn.dialect.name == "postgresql"
    plain = [t for t in TRICKY if t is None or not {"\x1f", "\x1e", "\r", "\x00"} & set(t)]
    tricky = [t for t in TRICKY if not (postgres and t and "\x00" in t)]  # PostgreSQL has no NUL in text
    for texts in (
        plain,
        [*plain, "unit\x1fseparator"],
        [*plain, "record\x1eseparator"],
        [*plain, "ends with CR\r"],
        tricky,
    ):
        statement = _values(texts)
        got = read_frame(conn, postgres, statement, SCHEMA)
        expected = text_frame(raw_rows(conn, statement), SCHEMA)
        assert got.to_dicts() == expected.to_dicts()
        assert got["a"].to_list() == texts


def test_bulk_read_of_no_rows_is_an_empty_frame(session: Session):
    conn = session.connection()
    statement = _values(["x"]).where(sa.false())
    got = read_frame(conn, conn.dialect.name == "postgresql", statement, SCHEMA)
    assert got.height == 0 and got.schema == pl.Schema(SCHEMA)


ODD_VALUES = [
    120,
    -5,
    0,
    2**63 + 5,
    12.5,
    1e20,
    0.1,
    True,
    False,
    None,
    "plain",
    "",
    "null",
    "Vincom Bà Triệu",
    'quote " and \\ backslash',
    "tab\tnew\nline",
    ["Chess", "Travel"],
    [1, 2.5],
    [],
    {"nested": {"x": 1}},
    ["Bà", None],
    "nul\x00inside",
    "emoji 😀",
    "-0",
    10**18,
    -(10**17),
]


def test_custom_fields_read_by_sqlite_match_the_json_path_reading(session: Session):
    """SQLite reads simple values from the JSON itself and leaves the rest to polars: the
    cells are the same as polars reading every value from the JSON text."""
    from profile_ui.models import Profile
    from profile_ui.services.export_chunks import ChunkReader
    from profile_ui.services.exporting import ExportColumn
    from profile_ui.services.profiles import ProfileFilter

    postgres = session.get_bind().dialect.name == "postgresql"
    values = ODD_VALUES + ([] if postgres else [float("nan"), "lone \ud800 surrogate"])
    for value in values:
        session.add(Profile(full_name="Odd", status="active", attributes={"v": value, "other": 1}))
    session.add(Profile(full_name="Missing", status="active", attributes={"other": 1}))
    session.flush()
    columns = [ExportColumn("id", "Profile ID", "profile", "id", "number")] + [
        ExportColumn(f"v_{kind}", f"V {kind}", "attribute", "v", kind) for kind in ("text", "number", "boolean", "list")
    ]
    fast = ChunkReader(session, ProfileFilter(), columns, chunk_rows=7)
    slow = ChunkReader(session, ProfileFilter(), columns, chunk_rows=7)
    slow.sql_attributes = []
    got = pl.concat(list(fast.chunks()))
    expected = pl.concat(list(slow.chunks()))
    assert got.height == len(values) + 1
    assert got.to_dicts() == expected.to_dicts()
    assert fast.sql_attributes or postgres


def test_large_exports_read_related_tables_beside_the_profiles_with_the_same_cells(session: Session):
    """Full chunks hand identities, tags, segments and groups to a reader (a helper process
    on SQLite, a pooled connection on PostgreSQL): the cells are those of the caller's
    connection reading them itself."""
    from profile_ui.services import export_chunks
    from profile_ui.services.export_chunks import ChunkReader
    from profile_ui.services.exporting import plan_columns
    from profile_ui.services.profiles import ProfileFilter
    from tests.unit.profile_world import add_profiles, build_world

    world = build_world(session)
    add_profiles(session, 5)
    session.commit()
    columns, _ = plan_columns(session=session, actor=world.admin, fields_mode="all", columns=None)
    reader = ChunkReader(session, ProfileFilter(), columns, chunk_rows=2)
    assert reader.readers == 1 or session.get_bind().dialect.name == "postgresql"
    started = []
    original = export_chunks._RelatedPool.submit
    try:
        export_chunks._RelatedPool.submit = lambda pool, ids: started.append(ids) or original(pool, ids)
        got = pl.concat(list(reader.chunks()))
    finally:
        export_chunks._RelatedPool.submit = original
    alone = ChunkReader(session, ProfileFilter(), columns, chunk_rows=2)
    alone.readers = 0
    expected = pl.concat(list(alone.chunks()))
    assert started, "the related tables were read beside the profiles"
    assert got.height == 7 and got.to_dicts() == expected.to_dicts()  # 2 active in the world + 5
    assert any(v for v in got["segments"].to_list())
