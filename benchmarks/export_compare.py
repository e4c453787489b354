"""Byte-for-byte comparison of exports made by an earlier commit and by this tree (issue 15).

    .venv/bin/python benchmarks/export_compare.py                      # 1f33e51 vs this tree, SQLite
    .venv/bin/python benchmarks/export_compare.py --postgres           # and PostgreSQL
    .venv/bin/python benchmarks/export_compare.py --baseline main --profiles 5000

"No behaviour change in exports": the baseline commit's `profile_ui`, `alembic` and
`alembic.ini` are unpacked with `git archive` into a temporary directory (no worktree). A
child process running the BASELINE code migrates a fresh database with the baseline's
migrations and seeds it deterministically (`seed_workspace(random_seed=7)`), then exports
it through the `profile-ui export` command: all fields and displayed fields, CSV and xlsx.
A second child running THIS tree's code migrates the same database to this tree's head (as
an upgrade of a real workspace would) and makes the same exports. The files are compared
byte for byte; an xlsx (a zip) whose bytes differ is compared member by member, so a
difference in zip timestamps alone is told apart from a difference in the sheet.

Each child imports `profile_ui` from its own tree (PYTHONPATH comes before the venv's
editable install); the script checks that. Exit status 0 when every pair is identical.
Nothing is timed: this is a check, kept with the benchmarks because it needs a seeded base
and a second checkout, which the test suite doesn't make.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
CASES = [("all", "csv"), ("all", "xlsx"), ("displayed", "csv"), ("displayed", "xlsx")]

# Run in a child whose PYTHONPATH is the tree under test: argv = tree, url, out dir, seed size
# (0: don't seed, only migrate).
CHILD = r"""
import sys
from pathlib import Path
tree, url, out, profiles = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
import profile_ui
assert Path(profile_ui.__file__).resolve().is_relative_to(tree.resolve()), profile_ui.__file__
from profile_ui.cli import main, upgrade_database
upgrade_database(url)
if profiles:
    from profile_ui.db import make_engine
    from profile_ui.seed import seed_workspace
    engine = make_engine(url)
    seed_workspace(profiles=profiles, random_seed=7, engine=engine, echo=lambda _line: None)
    engine.dispose()
out.mkdir(parents=True, exist_ok=True)
for fields, fmt in %(cases)r:
    target = out / f"{fields}.{fmt}"
    main(["export", "--out", str(target), "--format", fmt, "--fields", fields], standalone_mode=False)
"""


def _run_child(tree: Path, url: str, out: Path, profiles: int, data_dir: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "DATABASE_URL": url,
        "DATA_DIR": str(data_dir),
        "ENVIRONMENT": "test",
        "ENCRYPTED_IDENTITY_KINDS": "[]",
    }
    subprocess.run(
        [sys.executable, "-c", CHILD % {"cases": CASES}, str(tree), url, str(out), str(profiles)],
        env=env,
        cwd=data_dir,
        check=True,
    )


def _unpack(commit: str, into: Path) -> Path:
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "profile_ui", "alembic", "alembic.ini"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _compare(before: Path, after: Path) -> tuple[bool, str]:
    a, b = before.read_bytes(), after.read_bytes()
    if a == b:
        return True, f"identical, {len(a):,} bytes, sha256 {_digest(a)}"
    if before.suffix != ".xlsx":
        return False, f"DIFFERENT: {len(a):,} vs {len(b):,} bytes"
    za, zb = zipfile.ZipFile(io.BytesIO(a)), zipfile.ZipFile(io.BytesIO(b))
    names_a, names_b = za.namelist(), zb.namelist()
    if names_a != names_b:
        return False, f"DIFFERENT members: {names_a} vs {names_b}"
    changed = [n for n in names_a if za.read(n) != zb.read(n)]
    if changed:
        return False, f"DIFFERENT content in {changed}"
    return True, f"same members and contents ({len(names_a)}), zip bytes differ ({len(a):,} vs {len(b):,})"


def _postgres_url(name: str) -> str:
    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _drop_postgres(name: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def compare_backend(backend: str, baseline: Path, work: Path, profiles: int) -> bool:
    """Seed and export with the baseline, migrate and export with this tree, compare; True when all match."""
    pg_name = f"pu_export_compare_{os.getpid()}"
    url = _postgres_url(pg_name) if backend == "postgresql" else f"sqlite:///{work / 'profile_ui.db'}"
    try:
        print(f"{backend}: seeding {profiles:,} profiles and exporting with the baseline ...", flush=True)
        _run_child(baseline, url, work / "before", profiles, work)
        print(f"{backend}: migrating to this tree's head and exporting again ...", flush=True)
        _run_child(ROOT, url, work / "after", 0, work)
    finally:
        if backend == "postgresql":
            _drop_postgres(pg_name)
    same = True
    for fields, fmt in CASES:
        ok, line = _compare(work / "before" / f"{fields}.{fmt}", work / "after" / f"{fields}.{fmt}")
        same &= ok
        print(f"  {backend:10} {fields:9} {fmt:4}  {line}", flush=True)
    return same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default="1f33e51", help="commit (or branch) whose exports are the reference")
    parser.add_argument("--profiles", type=int, default=20_000, help="size of the seeded base")
    parser.add_argument("--postgres", action="store_true", help="compare on PostgreSQL too")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    print(f"baseline {args.baseline} vs this tree ({head.stdout.strip()}, plus uncommitted changes)", flush=True)
    backends = ([] if args.skip_sqlite else ["sqlite"]) + (["postgresql"] if args.postgres else [])
    same = True
    with tempfile.TemporaryDirectory(prefix="export-compare-") as tmp:
        baseline = _unpack(args.baseline, Path(tmp) / "baseline")
        for backend in backends:
            work = Path(tmp) / backend
            work.mkdir()
            same &= compare_backend(backend, baseline, work, args.profiles)
    print("ALL IDENTICAL" if same else "EXPORTS DIFFER", flush=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
