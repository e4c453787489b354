"""List floor: a page of 50 profiles and the first count, as plain hand-written SQL.

    .venv/bin/python benchmarks/floors/list_floor.py (SQLITE_FILE | POSTGRES_URL) [REPEAT]

The same cases as benchmarks/list_bench.py (by the same names) as the plainest fast
queries on the product's tables and indexes: keyset-free first page ordered by the sort
column and id, filters as EXISTS on the membership tables, a name prefix as a range on
the name index, then the page's identities in one query; the count as one count(*). No
permissions, estimates, custom-field columns or row shaping. `timings` returns the
milliseconds of each repetition per case.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import connect, is_postgres

COLUMNS = "p.id, p.full_name, p.gender, p.city, p.member_level, p.created_at, p.initial_source"
NEWEST = "ORDER BY p.created_at DESC, p.id DESC"


def cases(sample: dict[str, Any]) -> dict[str, tuple[str, tuple]]:
    """Case name -> (WHERE + ORDER BY after `FROM profiles p`, parameters), from a sample
    profile's identities and the id of a tag ("tag_id"); names as in list_bench.py."""
    return {
        "all, newest first": (f"WHERE p.status = 'active' {NEWEST}", ()),
        "query e-mail": (
            "WHERE p.status = 'active' AND p.id IN (SELECT profile_id FROM identities "
            f"WHERE kind = 'email' AND value = ?) {NEWEST}",
            (sample["email"],),
        ),
        "query user id": (
            "WHERE p.status = 'active' AND p.id IN (SELECT profile_id FROM identities "
            f"WHERE kind = 'user_id' AND value = ?) {NEWEST}",
            (sample["user_id"],),
        ),
        "member level Gold": (f"WHERE p.status = 'active' AND p.member_level = 'Gold' {NEWEST}", ()),
        "tag Stage (80%)": (
            "WHERE p.status = 'active' AND EXISTS (SELECT 1 FROM profile_tags t "
            f"WHERE t.profile_id = p.id AND t.tag_id = ?) {NEWEST}",
            (sample["tag_id"],),
        ),
        "common family name, by name": (
            "WHERE p.status = 'active' AND p.full_name >= ? AND p.full_name < ? ORDER BY p.full_name, p.id",
            ("Nguyễn", "Nguyễn\uffff"),
        ),
    }


def page(conn: Any, postgres: bool, where: str, params: tuple) -> list[tuple]:
    """One page of 50 and its identities."""
    mark = "%s" if postgres else "?"
    cur = conn.cursor()
    cur.execute(f"SELECT {COLUMNS} FROM profiles p {where.replace('?', mark)} LIMIT 50", params)
    rows = cur.fetchall()
    ids = [r[0] for r in rows]
    if ids:
        cur.execute(
            f"SELECT profile_id, kind, value FROM identities WHERE profile_id IN "
            f"({', '.join([mark] * len(ids))}) ORDER BY profile_id, id",
            ids,
        )
        cur.fetchall()
    return rows


def count(conn: Any) -> int:
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM profiles WHERE status = 'active'")
    return cur.fetchone()[0]


def sample_of(conn: Any, postgres: bool) -> dict[str, Any]:
    """A profile a third of the way in with a user id and an e-mail, and the tag "Stage"."""
    mark = "%s" if postgres else "?"
    cur = conn.cursor()
    cur.execute(
        "SELECT i.profile_id FROM identities i JOIN identities j ON j.profile_id = i.profile_id "
        "AND j.kind = 'user_id' WHERE i.kind = 'email' ORDER BY i.profile_id LIMIT 1 OFFSET "
        "(SELECT count(*) / 3 FROM identities WHERE kind = 'email')"
    )
    pid = cur.fetchone()[0]
    cur.execute(f"SELECT kind, value FROM identities WHERE profile_id = {mark}", (pid,))
    ids = dict(cur.fetchall())
    cur.execute("SELECT id FROM tags WHERE name = 'Stage' UNION ALL SELECT min(id) FROM tags")
    return {"email": ids.get("email"), "user_id": ids.get("user_id"), "tag_id": cur.fetchone()[0]}


def timings(target: str, repeat: int = 15, sample: dict[str, Any] | None = None) -> dict[str, list[float]]:
    """Milliseconds per repetition of each case (after one warm-up run), and of the count."""
    postgres = is_postgres(target)
    conn = connect(target)
    try:
        sample = sample or sample_of(conn, postgres)
        plans: dict[str, Any] = {
            name: (lambda w=where, p=params: page(conn, postgres, w, p))
            for name, (where, params) in cases(sample).items()
        }
        plans["count (active)"] = lambda: count(conn)
        out: dict[str, list[float]] = {}
        for name, run in plans.items():
            run()
            samples = []
            for _ in range(repeat):
                started = time.perf_counter()
                run()
                samples.append((time.perf_counter() - started) * 1000)
            out[name] = samples
        return out
    finally:
        conn.close()


if __name__ == "__main__":
    result = timings(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 15)
    print(json.dumps({name: sorted(ms)[int(0.95 * (len(ms) - 1))] for name, ms in result.items()}))
