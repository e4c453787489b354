"""Profile list benchmark: p50/p95 of a page, the count estimate and the exact count.

    .venv/bin/python benchmarks/list_bench.py                  # seeds 1,000,000 profiles (SQLite)
    .venv/bin/python benchmarks/list_bench.py --db /tmp/x.db   # reuse (or seed) that database
    .venv/bin/python benchmarks/list_bench.py --profiles 100000 --repeat 20
    .venv/bin/python benchmarks/list_bench.py --url postgresql+psycopg://postgres@127.0.0.1/listbench

Seeds a temporary database with `seed_workspace` (a few minutes for 1,000,000), adds the
indexes the list needs beyond the initial migration (PROPOSED_INDEXES, `IF NOT EXISTS`,
so an already migrated database is unchanged), then times `list_profiles` (one page,
no count), `estimate_count` and `count_profiles` for filter combinations: query box by
user id / e-mail / phone / name, member level, tag, group, segment, created date range,
each sort, deep pages. Targets (issue 4): page p95 <= 100 ms; count <= 300 ms or an
estimate first. Figures are printed, never asserted.

With --floor (the default) it then times benchmarks/floors/list_floor.py (no product
code: the same cases as plain hand-written SQL on the same database and indexes, the
page's identities in one more query) and prints, per case it has, the product's page p95,
the floor's p95 and `ratio product/floor` (and the first count against a plain count(*)).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

# (name, table, columns): created IF NOT EXISTS; the migration of issue 4 adds the same
PROPOSED_INDEXES: list[tuple[str, str, tuple[str, ...]]] = [
    ("ix_profiles_status_updated", "profiles", ("status", "updated_at", "id")),
    ("ix_profiles_status_registered", "profiles", ("status", "registered_at", "id")),
    ("ix_profiles_status_city", "profiles", ("status", "city", "id")),
    ("ix_profiles_status_gender", "profiles", ("status", "gender", "id")),
    ("ix_profiles_status_birthday", "profiles", ("status", "birthday", "id")),
]


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def _timed(fn: Callable[[], object], repeat: int) -> tuple[list[float], object]:
    fn()  # warm the statement cache and the pages it reads
    samples, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples, result


def _print_floor(target: str, product_p95: dict[str, float], repeat: int, sample: dict) -> None:
    """The floor's p95 per case it has, beside the product's (the first count: the product's
    estimate-or-exact of all profiles against a plain count(*))."""
    sys.path.insert(0, str(Path(__file__).resolve().parent / "floors"))
    import list_floor

    floor = list_floor.timings(target, repeat, sample)
    print(f"\n{'floor case':<34} {'product p95':>11} {'floor p95':>10}  ratio product/floor")
    for name, samples in floor.items():
        floor_p95 = _percentile(samples, 0.95)
        product = product_p95.get(name)
        ratio = f"{product / floor_p95:.1f}" if product is not None and floor_p95 > 0 else "-"
        shown = f"{product:11.1f}" if product is not None else f"{'-':>11}"
        print(f"{name:<34} {shown} {floor_p95:10.2f}  {ratio}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--db", help="SQLite file to use (seeded when it holds no profiles)")
    parser.add_argument("--url", help="a database URL instead (an existing PostgreSQL database; seeded when empty)")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--no-indexes", action="store_true", help="leave out PROPOSED_INDEXES")
    parser.add_argument("--only", help="run only cases whose name contains this text")
    parser.add_argument(
        "--floor",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time benchmarks/floors/list_floor.py and print the ratios",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="list-bench-"))
    os.environ.setdefault("DATA_DIR", str(work / "data"))
    import sqlalchemy as sa
    from sqlmodel import Session, select

    from profile_ui.cli import upgrade_database
    from profile_ui.db import make_engine
    from profile_ui.models import Group, Identity, Profile, Segment, Tag
    from profile_ui.seed import seed_workspace
    from profile_ui.services.permissions import SYSTEM_ACTOR
    from profile_ui.services.profiles import (
        SORTS,
        ProfileFilter,
        count_profiles,
        estimate_count,
        list_profiles,
    )

    db_path = Path(args.db) if args.db else work / "bench.db"
    url = args.url or f"sqlite:///{db_path}"
    upgrade_database(url)
    engine = make_engine(url)
    with Session(engine) as session:
        existing = session.exec(select(sa.func.count()).select_from(Profile)).one()
    if existing == 0:
        seed_workspace(profiles=args.profiles, engine=engine)
    if not args.no_indexes:
        with engine.begin() as conn:
            for name, table, columns in PROPOSED_INDEXES:
                started = time.perf_counter()
                conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({', '.join(columns)})")
                print(f"index {name}: {time.perf_counter() - started:.1f} s")

    with Session(engine) as session:
        total = session.exec(select(sa.func.count()).select_from(Profile)).one()
        tag = {t.name: t.id for t in session.exec(select(Tag)).all()}
        group = {g.name: g.id for g in session.exec(select(Group)).all()}
        segment = {s.name: s.id for s in session.exec(select(Segment)).all()}
        # a profile a third of the way in that has a user id, an e-mail and a phone
        candidates = session.exec(
            select(Profile.id).where(Profile.status == "active").order_by(Profile.id).offset(total // 3).limit(50)
        ).all()
        kinds_of = {}
        for pid, kind in session.exec(
            select(Identity.profile_id, Identity.kind).where(Identity.profile_id.in_(candidates))
        ).all():
            kinds_of.setdefault(pid, set()).add(kind)
        sample_id = next(
            (p for p in candidates if kinds_of.get(p, set()) >= {"user_id", "email", "phone"}), candidates[0]
        )
        ids = dict(session.exec(select(Identity.kind, Identity.value).where(Identity.profile_id == sample_id)).all())
        name = session.get(Profile, sample_id).full_name

    jan, jul = datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 7, 1, tzinfo=UTC)
    email, phone = ids.get("email", "nobody@example.com"), ids.get("phone", "+84900000000")
    national_phone = "0" + phone[3:] if phone.startswith("+84") else phone
    family = name.split()[0]
    cases: list[tuple[str, ProfileFilter, str, bool, int]] = [
        ("all, newest first", ProfileFilter(), "created_at", True, 1),
        ("all, page 20", ProfileFilter(), "created_at", True, 20),
        ("query user id", ProfileFilter(text=ids.get("user_id", "U0000001")), "created_at", True, 1),
        ("query e-mail", ProfileFilter(text=email), "created_at", True, 1),
        ("query e-mail prefix", ProfileFilter(text=email[: email.index("@") + 3]), "created_at", True, 1),
        ("query phone (national form)", ProfileFilter(text=national_phone), "created_at", True, 1),
        ("query full name", ProfileFilter(text=name), "created_at", True, 1),
        ("query family name (lower case)", ProfileFilter(text=family.lower()), "created_at", True, 1),
        ("member level Gold", ProfileFilter(member_level="Gold"), "created_at", True, 1),
        ("tag Stage (80%)", ProfileFilter(tag_ids=[tag["Stage"]]), "created_at", True, 1),
        (
            "tag Tet promo = Purchased",
            ProfileFilter(tag_values={tag["Tet 2025 promo"]: "Purchased"}),
            "created_at",
            True,
            1,
        ),
        ("group Beta testers (3%)", ProfileFilter(group_id=group["Beta testers"]), "created_at", True, 1),
        (
            "group VIP + level Gold",
            ProfileFilter(group_id=group["VIP Club"], member_level="Gold"),
            "created_at",
            True,
            1,
        ),
        ("segment Churn risk", ProfileFilter(segment_id=segment["Churn risk"]), "created_at", True, 1),
        ("created H1 2023", ProfileFilter(created_from=jan, created_to=jul), "created_at", True, 1),
        (
            "level + tag + created",
            ProfileFilter(
                member_level="Silver", tag_ids=[tag["Newsletter subscriber"]], created_from=jan, created_to=jul
            ),
            "created_at",
            True,
            1,
        ),
        (
            "tag + group + segment",
            ProfileFilter(
                tag_ids=[tag["Interest"]], group_id=group["Store events Hà Nội"], segment_id=segment["RFM tier"]
            ),
            "created_at",
            True,
            1,
        ),
        ("name query + level, by name", ProfileFilter(text=family, member_level="Gold"), "full_name", False, 1),
        ("common family name, by name", ProfileFilter(text="Nguyễn"), "full_name", False, 1),
        ("deactivated", ProfileFilter(status="deactivated"), "created_at", True, 1),
    ]
    for sort in SORTS:
        if sort == "created_at":
            continue
        cases.append((f"sort {sort} asc", ProfileFilter(), sort, False, 1))
        cases.append((f"sort {sort} desc + tag", ProfileFilter(tag_ids=[tag["Newsletter subscriber"]]), sort, True, 1))
    cases.append(("sort city + level Gold", ProfileFilter(member_level="Gold"), "city", False, 1))
    # the primary e-mail / phone (services/identity_sort.py): keyed rows, then the others
    for sort in ("identity:email", "identity:phone"):
        cases.append((f"sort {sort} asc", ProfileFilter(), sort, False, 1))
        cases.append((f"sort {sort} desc", ProfileFilter(), sort, True, 1))
        cases.append((f"sort {sort} desc + tag", ProfileFilter(tag_ids=[tag["Newsletter subscriber"]]), sort, True, 1))
    cases.append(("sort identity:email + level Gold", ProfileFilter(member_level="Gold"), "identity:email", False, 1))
    cases.append(("sort identity:email, page 20", ProfileFilter(), "identity:email", False, 20))
    cases.append(("sort identity:email, last page", ProfileFilter(), "identity:email", False, -1))
    # tag columns (services/profiles/tag_sort.py): the tag's values in ix_profile_tags_sort,
    # then the profiles without the tag; Stage is on ~80% (one value), Interest multi-value
    stage, interest = f"tag:{tag['Stage']}", f"tag:{tag['Interest']}"
    cases.append(("sort tag Stage asc", ProfileFilter(), stage, False, 1))
    cases.append(("sort tag Stage desc", ProfileFilter(), stage, True, 1))
    cases.append(("sort tag Stage desc + tag", ProfileFilter(tag_ids=[tag["Newsletter subscriber"]]), stage, True, 1))
    cases.append(("sort tag Stage + level Gold", ProfileFilter(member_level="Gold"), stage, False, 1))
    purchased = ProfileFilter(tag_values={tag["Tet 2025 promo"]: "Purchased"})
    cases.append(("sort tag Stage + Tet = Purchased", purchased, stage, False, 1))  # the drive plan
    cases.append(("sort tag Stage, page 20", ProfileFilter(), stage, False, 20))
    cases.append(("sort tag Stage, last page", ProfileFilter(), stage, False, -1))
    cases.append(("sort tag Interest (multi) asc", ProfileFilter(), interest, False, 1))
    cases.append(("sort tag Interest (multi) desc", ProfileFilter(), interest, True, 1))
    cases.append(("last page (read backwards)", ProfileFilter(), "created_at", True, -1))
    if args.only:
        cases = [c for c in cases if args.only.lower() in c[0].lower()]

    print(
        f"\n{total:,} profiles, {engine.dialect.name} {engine.dialect.server_version_info}, "
        f"repeat {args.repeat}, page size 50; times in ms"
    )
    header = (
        f"{'case':<34} {'page p50':>9} {'p95':>7} {'est p50':>8} {'p95':>7} "
        f"{'exact p50':>10} {'p95':>7}  {'count':>9}  estimate"
    )
    print(header)
    print("-" * len(header))
    worst_page, worst_estimate, over = 0.0, 0.0, []
    product_p95: dict[str, float] = {}
    with Session(engine) as session:
        for label, flt, sort, desc, page in cases:
            known = None
            if page == -1:
                known = count_profiles(session=session, actor=SYSTEM_ACTOR, flt=flt)
                page = max(1, -(-known // 50))
            page_ms, _ = _timed(
                lambda: list_profiles(
                    session=session,
                    actor=SYSTEM_ACTOR,
                    flt=flt,
                    sort=sort,
                    descending=desc,
                    page=page,
                    page_size=50,
                    with_total=False,
                    known_total=known,
                ),
                args.repeat,
            )
            est_ms, est = _timed(lambda: estimate_count(session=session, actor=SYSTEM_ACTOR, flt=flt), args.repeat)
            exact_ms, exact = _timed(
                lambda: count_profiles(session=session, actor=SYSTEM_ACTOR, flt=flt), max(3, args.repeat // 3)
            )
            p95_page, p95_est, p95_exact = (_percentile(x, 0.95) for x in (page_ms, est_ms, exact_ms))
            worst_page, worst_estimate = max(worst_page, p95_page), max(worst_estimate, p95_est)
            product_p95[label] = p95_page
            if label == "all, newest first":
                product_p95["count (active)"] = p95_est
            shown = "exact" if est.exact else f"~{est.value:,} ({(est.value - exact) / max(exact, 1):+.1%})"
            if p95_exact > 300 and not (not est.exact and p95_est <= 300):
                over.append(label)
            print(
                f"{label:<34} {statistics.median(page_ms):9.1f} {p95_page:7.1f} {statistics.median(est_ms):8.1f} "
                f"{p95_est:7.1f} {statistics.median(exact_ms):10.1f} {p95_exact:7.1f}  {exact:>9,}  {shown}"
            )
    print(
        f"\nworst page p95 {worst_page:.1f} ms (target 100); worst first count (estimate or exact) p95 "
        f"{worst_estimate:.1f} ms (target 300)"
    )
    if over:
        print("exact count over 300 ms without an estimate first:", ", ".join(over))
    if args.floor:  # the floor's plain SQL, on the same SQLite file or PostgreSQL database
        _print_floor(
            args.url or str(db_path),
            product_p95,
            args.repeat,
            {
                "email": email,
                "user_id": ids.get("user_id", "U0000001"),
                "tag_id": tag["Stage"],
                "newsletter_tag_id": tag["Newsletter subscriber"],
                "interest_tag_id": tag["Interest"],
                "tet_tag_id": tag["Tet 2025 promo"],
            },
        )
    try:
        print(f"load average during the run: {os.getloadavg()[0]:.2f} (2 cores)")
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
