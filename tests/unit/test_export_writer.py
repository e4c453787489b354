"""The export writer's bulk reads give exactly the rows a plain cursor gives, whatever the
text holds (SQLite packs a chunk into one value; PostgreSQL copies it out as CSV)."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session

from profile_ui.services import exporting  # noqa: F401  (imports the writer in its place)
from profile_ui.services.export_writer import _frame, _raw_rows, _read_frame

TRICKY = [
    "plain", "", None, "Nguyễn Văn Dũng", 'say "hi", then go', "two\nlines", "ends with CR\r",
    "\r", "comma,", "~", ".", "=1+2", "unit\x1fseparator", "record\x1eseparator", "tab\tin",
]


def _values(texts: list[str | None]) -> sa.Select:
    rows = [sa.select(sa.literal(i + 1, sa.Integer).label("id"),
                      sa.cast(sa.literal(t, sa.String), sa.String).label("a"),
                      sa.cast(sa.literal(t and t[::-1], sa.String), sa.String).label("b"))
            for i, t in enumerate(texts)]
    union = sa.union_all(*rows).subquery()
    return sa.select(union.c.id, union.c.a, union.c.b).order_by(union.c.id)


SCHEMA = {"id": pl.Int64(), "a": pl.String(), "b": pl.String()}


def test_bulk_read_keeps_every_text_and_null(session: Session):
    conn = session.connection()
    postgres = conn.dialect.name == "postgresql"
    plain = [t for t in TRICKY if t is None or not {"\x1f", "\x1e", "\r"} & set(t)]
    for texts in (plain, [*plain, "unit\x1fseparator"], [*plain, "record\x1eseparator"],
                  [*plain, "ends with CR\r"], TRICKY):
        statement = _values(texts)
        got = _read_frame(conn, postgres, statement, SCHEMA)
        expected = _frame(_raw_rows(conn, statement), SCHEMA)
        assert got.to_dicts() == expected.to_dicts()
        assert got["a"].to_list() == texts


def test_bulk_read_of_no_rows_is_an_empty_frame(session: Session):
    conn = session.connection()
    statement = _values(["x"]).where(sa.false())
    got = _read_frame(conn, conn.dialect.name == "postgresql", statement, SCHEMA)
    assert got.height == 0 and got.schema == pl.Schema(SCHEMA)
