"""What keeping merges undoable costs: an import whose sync rule merges N pairs, with and
without the merge records (snapshots), and one hand merge + unmerge of two large profiles.

    .venv/bin/python benchmarks/merge_bench.py                 # SQLite, 2,000 merging rows
    .venv/bin/python benchmarks/merge_bench.py --pairs 5000 --postgres

Seeds 2N profiles (N with an e-mail, N with a phone, each with a tag, a consent and a
linked object) and applies a validated frame of N rows, each naming one e-mail and one
phone, with auto-merge on: every row merges two profiles. "without records" replaces the
snapshot reading and the ProfileMerge insert by no-ops, to show their share. Then one
profile with `--rows` tags and linked objects is merged into another and unmerged.
Prints wall seconds and the load average (the machine is shared: rerun when it was high).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="merge-bench-"))

from sqlmodel import Session  # noqa: E402

from profile_ui.cli import upgrade_database  # noqa: E402
from profile_ui.db import make_engine  # noqa: E402
from profile_ui.models import Consent, Identity, LinkedObject, Profile, ProfileTag, utcnow  # noqa: E402
from profile_ui.services import merge_snapshot  # noqa: E402
from profile_ui.services.importing import ImportOptions, apply  # noqa: E402
from profile_ui.services.merging import merge_profiles, unmerge  # noqa: E402
from tests.unit.services.importing.frames import MARKETER, make_tag, rule, run_import, validated  # noqa: E402

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _database(postgres: bool, workdir: Path) -> tuple[str, callable]:
    if not postgres:
        url = f"sqlite:///{workdir / f'merge-{uuid.uuid4().hex[:6]}.db'}"
        return url, lambda: None
    name = f"pu_merge_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False), drop


def _seed(session: Session, pairs: int, rows_each: int = 1) -> list[int]:
    now = utcnow()
    start = (session.execute(sa.select(sa.func.max(Profile.id))).scalar() or 0) + 1
    ids = list(range(start, start + 2 * pairs))
    session.execute(
        sa.insert(Profile),
        [
            {
                "id": i,
                "full_name": f"P {i}",
                "city": f"C{i % 7}",
                "status": "active",
                "attributes": {"score": i % 10},
                "created_at": now,
                "updated_at": now,
            }
            for i in ids
        ],
    )
    session.execute(
        sa.insert(Identity),
        [
            {
                "profile_id": i,
                "kind": "email" if n < pairs else "phone",
                "value": f"p{i}@x.com" if n < pairs else f"+8490{i:07d}",
                "is_encrypted": False,
                "source_type": "seed",
                "first_seen_at": now,
                "last_seen_at": now,
            }
            for n, i in enumerate(ids)
        ],
    )
    tag = make_tag(session, "Bench", f"T{uuid.uuid4().hex[:6]}", kind="multi")
    session.execute(
        sa.insert(ProfileTag),
        [
            {"profile_id": i, "tag_id": tag, "value": f"v{k}", "source": "seed", "created_at": now}
            for i in ids
            for k in range(rows_each)
        ],
    )
    session.execute(
        sa.insert(LinkedObject),
        [
            {"profile_id": i, "object_type": "ticket", "name": f"T{k}", "created_at": now}
            for i in ids
            for k in range(rows_each)
        ],
    )
    session.execute(
        sa.insert(Consent), [{"profile_id": i, "channel": "email", "status": "granted", "updated_at": now} for i in ids]
    )
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            sa.text("SELECT setval(pg_get_serial_sequence('profiles', 'id'), (SELECT max(id) FROM profiles))")
        )
    session.commit()
    return ids


def _import_case(url: str, pairs: int, record: bool) -> float:
    engine = make_engine(url)
    saved = (apply.snapshot_profiles, apply.record_import_merges)
    if not record:
        apply.snapshot_profiles = lambda _session, _ids: {}
        apply.record_import_merges = lambda **_kw: None
    try:
        with Session(engine, expire_on_commit=False) as session:
            ids = _seed(session, pairs)
            frame = validated(
                [{"email": f"p{ids[n]}@x.com", "phone": f"+8490{ids[pairs + n]:07d}"} for n in range(pairs)]
            )
            sync = rule(session, ["email", "phone"])
            session.commit()
            started = time.perf_counter()
            _job, plan = run_import(session, frame, sync=sync, options=ImportOptions(auto_merge=True))
            took = time.perf_counter() - started
            assert plan.totals["merged"] == pairs, plan.totals
    finally:
        apply.snapshot_profiles, apply.record_import_merges = saved
        engine.dispose()
    return took


def _hand_case(url: str, rows: int) -> tuple[float, float]:
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        a, b = _seed(session, 1, rows_each=rows)
        started = time.perf_counter()
        result = merge_profiles(session=session, actor=MARKETER, survivor_id=a, merged_id=b, reason="bench")
        session.commit()
        merged = time.perf_counter() - started
        started = time.perf_counter()
        unmerge(session=session, actor=MARKETER, merge_id=result.merge_id)
        session.commit()
        undone = time.perf_counter() - started
    engine.dispose()
    return merged, undone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=2000, help="tags and linked objects of each large profile")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="merge-bench-"))
    assert merge_snapshot.snapshot_profiles  # the module the import calls
    for backend in ["sqlite", "postgres"] if args.postgres else ["sqlite"]:
        for record in (False, True):
            url, drop = _database(backend == "postgres", workdir)
            try:
                upgrade_database(url)
                took = _import_case(url, args.pairs, record)
            finally:
                drop()
            label = "with merge records" if record else "without records"
            print(
                f"{backend}: import of {args.pairs:,} merging rows, {label}: {took:.2f} s "
                f"(load {os.getloadavg()[0]:.1f})"
            )
        url, drop = _database(backend == "postgres", workdir)
        try:
            upgrade_database(url)
            merged, undone = _hand_case(url, args.rows)
        finally:
            drop()
        print(
            f"{backend}: hand merge of two profiles with {args.rows:,} tags and linked objects each: "
            f"merge {merged:.3f} s, unmerge {undone:.3f} s (load {os.getloadavg()[0]:.1f})"
        )


if __name__ == "__main__":
    main()
