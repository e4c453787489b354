"""List floor: a page of 50 profiles and the first count, as plain hand-written SQL.

    .venv/bin/python benchmarks/floors/list_floor.py (SQLITE_FILE | POSTGRES_URL) [REPEAT]

The same cases as benchmarks/list_bench.py (by the same names) as the plainest fast
queries on the product's tables and indexes: keyset-free first page ordered by the sort
column and id, filters as EXISTS on the membership tables, a name prefix as a range on
the name index, then the page's identities in one query; the count as one count(*). No
permissions, estimates, custom-field columns or row shaping. `timings` returns the
milliseconds of each repetition per case.

A sort with profiles that have no key (the primary e-mail / phone, migration 0013; a tag
column, migration 0014) is a page read from two stretches in turn, as the product does:
the keyed profiles in the key's index order, then (only when the page is not full yet) the
profiles without a key by id. A tag column's key is each profile's first value of the tag
(the row with the lowest id), so the keyed stretch walks ix_profile_tags_sort and skips
rows with an earlier value of the same tag.
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


# a page from one statement, or from stretches read in turn until it is full:
# (SELECT ... without LIMIT, parameters) each
Stretches = list[tuple[str, tuple]]
ACTIVE = "p.status = 'active'"


def _tagged(tag: str = "?") -> str:
    return f"EXISTS (SELECT 1 FROM profile_tags t WHERE t.profile_id = p.id AND t.tag_id = {tag})"


def _identity_sort(key: str, descending: bool, where: str = "", params: tuple = ()) -> Stretches:
    """The primary e-mail / phone sort: keyed profiles on (status, key, id), then the others by id."""
    way = "DESC" if descending else ""
    extra = f" AND {where}" if where else ""
    return [
        (
            f"SELECT {COLUMNS} FROM profiles p WHERE {ACTIVE} AND p.{key} IS NOT NULL{extra} "
            f"ORDER BY p.{key} {way}, p.id {way}",
            params,
        ),
        (f"SELECT {COLUMNS} FROM profiles p WHERE {ACTIVE} AND p.{key} IS NULL{extra} ORDER BY p.id {way}", params),
    ]


def _tag_sort(tag_id: int, descending: bool, where: str = "", params: tuple = ()) -> Stretches:
    """A tag column sort: the tag's first values in ix_profile_tags_sort, each profile looked
    up and tested, then the profiles without the tag by id. Tests of the profile id run on
    the walked row's id, before the first-value probe and the lookup (SQLite keeps the
    order of terms at one loop level)."""
    way = "DESC" if descending else ""
    extra = f" AND {where}" if where else ""
    first = (
        "NOT EXISTS (SELECT 1 FROM profile_tags e WHERE e.profile_id = s.profile_id "
        "AND e.tag_id = s.tag_id AND e.id < s.id)"
    )
    return [
        (
            f"SELECT {COLUMNS} FROM profile_tags s CROSS JOIN profiles p ON p.id = s.profile_id "
            f"WHERE s.tag_id = ?{extra.replace('p.id', 's.profile_id')} AND {first} AND {ACTIVE} "
            f"ORDER BY s.value {way}, s.profile_id {way}",
            (tag_id, *params),
        ),
        (
            f"SELECT {COLUMNS} FROM profiles p WHERE {ACTIVE}{extra} AND NOT {_tagged()} ORDER BY p.id {way}",
            (*params, tag_id),
        ),
    ]


def cases(sample: dict[str, Any]) -> dict[str, Stretches]:
    """Case name -> the page's statements (see Stretches), from a sample profile's identities
    and tag ids ("tag_id": Stage, "newsletter_tag_id", "interest_tag_id", "tet_tag_id");
    names as in list_bench.py."""
    plain = {
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
    out: dict[str, Stretches] = {
        name: [(f"SELECT {COLUMNS} FROM profiles p {where}", params)] for name, (where, params) in plain.items()
    }
    newsletter = (sample["newsletter_tag_id"],)
    for key, kind in (("email_sort", "email"), ("phone_sort", "phone")):
        out[f"sort identity:{kind} asc"] = _identity_sort(key, False)
        out[f"sort identity:{kind} desc"] = _identity_sort(key, True)
        out[f"sort identity:{kind} desc + tag"] = _identity_sort(key, True, _tagged(), newsletter)
    out["sort identity:email + level Gold"] = _identity_sort("email_sort", False, "p.member_level = 'Gold'")
    stage, interest = sample["tag_id"], sample["interest_tag_id"]
    out["sort tag Stage asc"] = _tag_sort(stage, False)
    out["sort tag Stage desc"] = _tag_sort(stage, True)
    out["sort tag Stage desc + tag"] = _tag_sort(stage, True, _tagged(), newsletter)
    out["sort tag Stage + level Gold"] = _tag_sort(stage, False, "p.member_level = 'Gold'")
    # 2% of the profiles, walked in Stage's order and probed (sorting the 22,000 ids: 84 ms)
    purchased = "EXISTS (SELECT 1 FROM profile_tags t WHERE t.profile_id = p.id AND t.tag_id = ? AND t.value = ?)"
    out["sort tag Stage + Tet = Purchased"] = _tag_sort(stage, False, purchased, (sample["tet_tag_id"], "Purchased"))
    out["sort tag Interest (multi) asc"] = _tag_sort(interest, False)
    out["sort tag Interest (multi) desc"] = _tag_sort(interest, True)
    return out


def page(conn: Any, postgres: bool, stretches: Stretches) -> list[tuple]:
    """One page of 50 (from its stretches in turn, each only while the page is not full)
    and its identities."""
    mark = "%s" if postgres else "?"
    cur = conn.cursor()
    rows: list[tuple] = []
    for sql, params in stretches:
        if postgres:  # SQLite's join-order hint is no PostgreSQL syntax; its planner orders joins
            sql = sql.replace("CROSS JOIN", "JOIN")
        cur.execute(f"{sql.replace('?', mark)} LIMIT {50 - len(rows)}", params)
        rows += cur.fetchall()
        if len(rows) == 50:
            break
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
    tag = {}
    for name, key in (
        ("Stage", "tag_id"),
        ("Newsletter subscriber", "newsletter_tag_id"),
        ("Interest", "interest_tag_id"),
        ("Tet 2025 promo", "tet_tag_id"),
    ):
        cur.execute(f"SELECT id FROM tags WHERE name = {mark} UNION ALL SELECT min(id) FROM tags", (name,))
        tag[key] = cur.fetchone()[0]
    return {"email": ids.get("email"), "user_id": ids.get("user_id"), **tag}


def timings(target: str, repeat: int = 15, sample: dict[str, Any] | None = None) -> dict[str, list[float]]:
    """Milliseconds per repetition of each case (after one warm-up run), and of the count."""
    postgres = is_postgres(target)
    conn = connect(target)
    try:
        sample = sample or sample_of(conn, postgres)
        plans: dict[str, Any] = {
            name: (lambda s=stretches: page(conn, postgres, s)) for name, stretches in cases(sample).items()
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
