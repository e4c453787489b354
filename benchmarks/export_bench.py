"""Export benchmark: 1,000,000 profiles to CSV (goal <= 20 s) and 50,000 to xlsx (goal <= 10 s).

    .venv/bin/python benchmarks/export_bench.py                       # both goals, SQLite
    .venv/bin/python benchmarks/export_bench.py --postgres            # the same on PostgreSQL
    .venv/bin/python benchmarks/export_bench.py --postgres --skip-sqlite
    .venv/bin/python benchmarks/export_bench.py --cases csv:50000 zip:1000000 xlsx:50000

Workspaces are made with `profile_ui.seed.seed_workspace` (realistic profiles with
identities, tags, segments, groups, consent and links) in a temporary DATA_DIR under
--workdir and cached there; every profile is then made active, so an export of all active
profiles holds exactly N rows. Each case runs the service the CLI uses
(`exporting.export_to_file`, "All fields": id, 3 identity columns, 6 system fields, 2 custom
attributes, 4 tag columns, segments, groups, initial source, created/updated) in a fresh
child process and prints its wall-clock seconds, the CPU seconds of the process (all its
threads, and the reader process it starts on SQLite), rows, file size, the child's peak RSS and the 1-minute
load average. On a shared
machine the wall-clock figure follows the load: read it next to the CPU seconds (a run can
use at most 2 cores here). Memory should stay flat with size: compare the peak RSS of
50,000 and 1,000,000 rows. `--cases csv:1000000:displayed` exports only the list's
default columns (name, phone, e-mail, level, created, source).

With --floor (the default) every "All fields" CSV case also runs
benchmarks/floors/export_floor.py (no product code: the same tables read whole into
polars, grouped there and written as one CSV of the same columns) on the same database in
its own child process, and prints its seconds, peak RSS and `ratio product/floor`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SEED_VERSION = "v1"
GOALS = {("csv", 1_000_000): 20.0, ("xlsx", 50_000): 10.0}


def _sqlite_url(workdir: Path, n: int) -> str:
    return f"sqlite:///{workdir / f'export-{SEED_VERSION}-{n}' / 'profile_ui.db'}"


def _prepare_sqlite(workdir: Path, n: int) -> str:
    data_dir = workdir / f"export-{SEED_VERSION}-{n}"
    url = _sqlite_url(workdir, n)
    if (data_dir / "ready").exists():
        _upgrade_cached(url)
        return url
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    _seed(url, n)
    (data_dir / "ready").write_text("ok")
    return url


def _prepare_postgres(n: int) -> str:
    import sqlalchemy as sa

    name = f"pu_export_bench_{SEED_VERSION}_{n}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if exists:
            done = sa.create_engine(url)
            with done.connect() as c:
                ready = c.execute(sa.text("SELECT count(*) FROM profiles")).scalar_one() == n
            done.dispose()
            if ready:
                admin.dispose()
                _upgrade_cached(url)
                return url
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    _seed(url, n)
    return url


def _revision(url: str) -> str | None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


def _upgrade_cached(url: str) -> None:
    """A workspace seeded before the latest migrations (e.g. the export's covering indexes)
    gets them, then fresh statistics (and on PostgreSQL a VACUUM, for index-only scans)."""
    from profile_ui.cli import upgrade_database

    before = _revision(url)
    upgrade_database(url)
    if _revision(url) != before:
        print(f"  migrated the cached workspace from {before} to {_revision(url)}", flush=True)
        _analyze(url)


def _analyze(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
    engine.dispose()


def _seed(url: str, n: int) -> None:
    from profile_ui.cli import upgrade_database
    from profile_ui.db import make_engine
    from profile_ui.seed import seed_workspace

    upgrade_database(url)
    engine = make_engine(url)
    started = time.perf_counter()
    seed_workspace(profiles=n, random_seed=7, engine=engine, echo=lambda _line: None)
    with engine.begin() as conn:
        # every profile active, so "all active profiles" is exactly n rows
        conn.exec_driver_sql(
            "UPDATE profiles SET status = 'active', deleted_at = NULL, deleted_reason = NULL WHERE status <> 'active'"
        )
    engine.dispose()
    _analyze(url)
    print(f"  seeded {n:,} profiles in {time.perf_counter() - started:.1f} s", flush=True)


# ---------------------------------------------------------------- one case (child process)
class _PeakRss:
    """Samples this process's RSS every 20 ms (ru_maxrss would carry the parent's peak
    across fork + exec on Linux)."""

    def __init__(self) -> None:
        import threading

        import psutil

        self.process, self.peak, self.stop = psutil.Process(), 0, threading.Event()
        self.start_rss = self.process.memory_info().rss
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def finish(self) -> tuple[int, int]:
        self.stop.set()
        self.thread.join()
        return round(self.start_rss / 2**20), round(max(self.peak, self.start_rss) / 2**20)


DISPLAYED = ["full_name", "identity:phone", "identity:email", "member_level", "created_at", "initial_source"]


def _time_stages() -> dict[str, float]:
    """CPU seconds per stage of the writer, read serially (no reader threads, so the
    process's CPU time belongs to the stage that runs): profiles (query + parse + custom
    fields), each related table, joining, writing."""
    from profile_ui.services import export_chunks as reader_module
    from profile_ui.services import sheet_writer

    stages: dict[str, float] = {}
    reader_module.RELATED_READERS = 0

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                stages[name] = stages.get(name, 0.0) + time.process_time() - started

        return run

    reader = reader_module.ChunkReader
    for name in ("_identities", "_tags", "_segments", "_groups", "_assemble"):
        setattr(reader, name, timed(name.strip("_"), getattr(reader, name)))
    chunks = reader._profile_chunks

    def profile_chunks(self: Any) -> Any:
        walk = chunks(self)
        while True:
            started = time.process_time()
            item = next(walk, None)
            stages["profiles"] = stages.get("profiles", 0.0) + time.process_time() - started
            if item is None:
                return
            yield item

    reader._profile_chunks = profile_chunks
    for sink in (sheet_writer.CsvSink, sheet_writer.XlsxSink):
        sink.write = timed("write", sink.write)
    return stages


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_case(url: str, fmt: str, out: Path, fields: str, stages: bool = False) -> dict:
    from sqlmodel import Session

    from profile_ui.db import make_engine
    from profile_ui.services.exporting import export_to_file
    from profile_ui.services.permissions import SYSTEM_ACTOR
    from profile_ui.services.profiles import ProfileFilter

    engine = make_engine(url)
    stage_cpu = _time_stages() if stages else None
    rss = _PeakRss()
    started = time.perf_counter()
    cpu = time.process_time() + _children_cpu()
    with Session(engine) as session:
        rows, _left_out = export_to_file(
            session=session,
            actor=SYSTEM_ACTOR,
            flt=ProfileFilter(),
            out_path=out,
            fields_mode=fields,
            fmt=fmt,
            columns=DISPLAYED if fields == "displayed" else None,
        )
        session.commit()
    seconds = time.perf_counter() - started
    cpu = time.process_time() + _children_cpu() - cpu  # with the SQLite reader process
    start_mb, peak_mb = rss.finish()
    engine.dispose()
    return {
        "rows": rows,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "bytes": out.stat().st_size,
        "rss_before_mb": start_mb,
        "peak_rss_mb": peak_mb,
        "load": round(os.getloadavg()[0], 1),
        "stages": {k: round(v, 2) for k, v in (stage_cpu or {}).items()},
    }


def _child(url: str, fmt: str, out: Path, fields: str, stages: bool) -> dict:
    env = {**os.environ, "DATA_DIR": str(out.parent), "DATABASE_URL": url}
    proc = subprocess.run(
        [sys.executable, __file__, "--child", url, fmt, str(out), fields, "stages" if stages else "-"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"case {fmt} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _floor(url: str, out: Path) -> dict:
    """benchmarks/floors/export_floor.py in a child process (it only reads: same database)."""
    import psutil

    floor = ROOT / "benchmarks" / "floors" / "export_floor.py"
    target = url.removeprefix("sqlite:///")
    proc = psutil.Popen(
        [sys.executable, str(floor), target, str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = 0
    while proc.poll() is None:
        try:
            peak = max(peak, proc.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    stdout, stderr = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"the export floor failed:\n{stderr[-4000:]}")
    return {**json.loads(stdout.strip().splitlines()[-1]), "peak_rss_mb": round(peak / 2**20)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--cases",
        nargs="*",
        default=["csv:1000000", "xlsx:50000", "csv:1000000:displayed", "csv:50000"],
        help="FORMAT:PROFILES[:FIELDS] ... (formats csv, xlsx, zip; fields all "
        "(default) or displayed: name, phone, e-mail, level, created, source)",
    )
    parser.add_argument("--postgres", action="store_true", help="also run every case on PostgreSQL")
    parser.add_argument("--skip-sqlite", action="store_true", help="only PostgreSQL (with --postgres)")
    parser.add_argument("--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "profile-ui-bench")
    parser.add_argument(
        "--stages",
        action="store_true",
        help="read serially and print the CPU seconds of each stage (profiles, "
        "identities, tags, segments, groups, assemble, write)",
    )
    parser.add_argument(
        "--floor",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run benchmarks/floors/export_floor.py on every all-fields CSV case",
    )
    parser.add_argument(
        "--child", nargs=5, metavar=("URL", "FORMAT", "OUT", "FIELDS", "STAGES"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        url, fmt, out, fields, stages = args.child
        print(json.dumps(run_case(url, fmt, Path(out), fields, stages == "stages")))
        return

    cases = [(c.split(":")[0], int(c.split(":")[1]), (c.split(":") + ["all"])[2]) for c in args.cases]
    backends = ([] if args.skip_sqlite and args.postgres else ["sqlite"]) + (["postgresql"] if args.postgres else [])
    args.workdir.mkdir(parents=True, exist_ok=True)
    out_dir = args.workdir / f"out-{uuid.uuid4().hex[:8]}"
    out_dir.mkdir()
    failed = False
    try:
        for backend in backends:
            for n in sorted({n for _fmt, n, _fields in cases}):
                print(f"{backend}: preparing {n:,} profiles…", flush=True)
                url = _prepare_sqlite(args.workdir, n) if backend == "sqlite" else _prepare_postgres(n)
                for fmt, size, fields in cases:
                    if size != n:
                        continue
                    result = _child(url, fmt, out_dir / f"{backend}-{n}.{fmt}", fields, args.stages)
                    goal = GOALS.get((fmt, n)) if fields == "all" else None
                    verdict = (
                        ""
                        if goal is None
                        else (f"  goal <= {goal:.0f} s: {'met' if result['seconds'] <= goal else 'MISSED'}")
                    )
                    failed |= goal is not None and result["seconds"] > goal
                    print(
                        f"  {backend:<10} {fmt:<4} {fields:<9} {result['rows']:>9,} rows  {result['seconds']:>6.2f} s "
                        f"(cpu {result['cpu_seconds']:.1f} s)  {result['bytes'] / 1e6:>7.1f} MB  "
                        f"peak RSS {result['peak_rss_mb']} MB (at start {result['rss_before_mb']} MB)  "
                        f"load {result['load']}{verdict}",
                        flush=True,
                    )
                    if result["stages"]:
                        print(
                            "    serial CPU s by stage: "
                            + ", ".join(
                                f"{k} {v:.2f}" for k, v in sorted(result["stages"].items(), key=lambda kv: -kv[1])
                            ),
                            flush=True,
                        )
                    (out_dir / f"{backend}-{n}.{fmt}").unlink(missing_ok=True)
                    if args.floor and fmt == "csv" and fields == "all":
                        floor = _floor(url, out_dir / f"floor-{backend}-{n}.csv")
                        print(
                            f"  {backend:<10} floor {floor['rows']:>9,} rows  {floor['seconds']:>6.2f} s  "
                            f"{floor['bytes'] / 1e6:>7.1f} MB  peak RSS {floor['peak_rss_mb']} MB  "
                            f"ratio product/floor {result['seconds'] / floor['seconds']:.2f}  "
                            f"load {os.getloadavg()[0]:.1f}"
                            f"{'' if floor['rows'] == result['rows'] else '  ROWS DIFFER FROM THE PRODUCT'}",
                            flush=True,
                        )
                        (out_dir / f"floor-{backend}-{n}.csv").unlink(missing_ok=True)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
