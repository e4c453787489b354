"""Where an import's time goes: the CLI's dry run and apply of one file, timed by stage.

    nice .venv/bin/python benchmarks/import_stages.py --url sqlite:///COPY.db FILE.xlsx
    nice .venv/bin/python benchmarks/import_stages.py --url postgresql+psycopg://postgres@127.0.0.1/DB FILE.xlsx
    ... --cprofile OUT.prof        # also a cProfile of both commands (read it with pstats)

Runs `profile-ui import --dry-run --json FILE` then `profile-ui import --json FILE` in this
process, as benchmarks/import_bench.py's child does, on the database at --url (it WRITES:
give it a copy of a seeded base, e.g. one import_bench.py cached in its --workdir, or a
PostgreSQL copy made with CREATE DATABASE ... TEMPLATE). The stage functions are wrapped
with timers (nothing in the product changes): each prints its wall seconds, nested under
the stage that called it, with "(rest)" for the time of a stage outside its timed parts.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import io
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_stack: list[str] = []
_totals: dict[tuple[str, ...], float] = defaultdict(float)
_calls: dict[tuple[str, ...], int] = defaultdict(int)
_order: list[tuple[str, ...]] = []


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    _stack.append(name)
    path = tuple(_stack)
    if path not in _totals:
        _order.append(path)
        _totals[path] = 0.0
    started = time.perf_counter()
    try:
        yield
    finally:
        _totals[path] += time.perf_counter() - started
        _calls[path] += 1
        _stack.pop()


def wrap(owner: Any, attr: str, name: str | Callable[..., str] | None = None) -> None:
    """Time `owner.attr` (a module's or a class's function) under `name` (or name(*args))."""
    original = getattr(owner, attr)

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        label = name(*args, **kwargs) if callable(name) else (name or attr)
        with stage(label):
            return original(*args, **kwargs)

    setattr(owner, attr, timed)


def instrument() -> None:
    from sqlmodel import Session

    from profile_ui.jobs import import_job
    from profile_ui.services import bulk_writer, name_fold
    from profile_ui.services.importing import apply, pipeline_profiles, plan, possible_duplicates, resolve
    from profile_ui.services.importing.pipeline_profiles import ProfilePipeline

    # the job's stages
    wrap(import_job, "read_job_file", "read the file (sandboxed reader)")
    wrap(ProfilePipeline, "prepare", "map and validate")
    wrap(ProfilePipeline, "plan", "plan (dry run)")
    wrap(ProfilePipeline, "apply", "apply_import")
    wrap(import_job, "store_row_results", "store row results (dry run)")
    wrap(import_job, "_record_error_files", "error files")
    wrap(import_job, "_notify", "notification")
    wrap(Session, "commit", "commit")
    # the plan (dry run and apply)
    wrap(apply, "build_plan", "build_plan (again, locked)")
    wrap(plan, "field_infos")
    wrap(plan, "resolve_identities", "resolve identities")
    wrap(resolve, "find_identity_owners", lambda *a, **k: f"find owners ({k.get('kind')})")
    wrap(plan, "fetch_profiles", "fetch matched profiles")
    wrap(plan, "fetch_provenance", "fetch provenance")
    wrap(plan, "person_identities")
    wrap(plan, "diff_fields", "diff fields")
    wrap(plan, "merge_fills")
    wrap(plan, "plan_identities")
    wrap(plan, "plan_tags")
    wrap(plan, "plan_consent")
    wrap(plan, "new_profile_rows")
    wrap(plan, "existing_writes")
    wrap(plan, "_row_frame", "row frame")
    wrap(plan, "_totals", "totals")
    wrap(possible_duplicates, "flag_new_rows", "possible duplicates: flag new rows (dry run)")
    wrap(possible_duplicates, "keep_dry_run_check", "possible duplicates: keep the dry run's check")
    wrap(possible_duplicates, "kept_check", "possible duplicates: read the kept check")
    wrap(possible_duplicates, "check_applied_profiles", "possible duplicates: check applied profiles")
    # the apply's writes
    wrap(apply, "_create_new_fields", "new fields")
    wrap(apply, "_allocate_profile_ids", "allocate profile ids")
    wrap(apply, "snapshot_profiles", "merges: snapshot")
    wrap(apply, "move_profile_rows", "merges: move rows")
    wrap(apply, "retire_merged", "merges: retire")
    wrap(apply, "record_import_merges", "merges: record")
    wrap(apply, "identity_storage", "identity storage form")
    wrap(apply, "_apply_tags", "tags")
    wrap(apply, "record_event", "audit event")
    W = bulk_writer.BulkWriter
    wrap(W, "insert", lambda self, table, *a, **k: f"insert {table}")
    wrap(W, "update", lambda self, table, *a, **k: f"update {table}")
    wrap(W, "upsert", lambda self, table, *a, **k: f"upsert {table}")
    wrap(W, "delete", lambda self, table, *a, **k: f"delete {table}")
    wrap(W, "write_provenance", "write provenance")
    wrap(W, "_to_db", "to db types (+ folding)")
    wrap(W, "_refresh_sort_keys", "refresh sort keys")
    wrap(bulk_writer, "with_folded_names", "fold names")
    wrap(bulk_writer, "with_folded_attributes", "fold attributes")
    del name_fold, pipeline_profiles


def run_command(label: str, args: list[str]) -> dict:
    from profile_ui.cli import main

    out = io.StringIO()
    with stage(label), contextlib.redirect_stdout(out):
        try:
            main.main(["import", *args], standalone_mode=False)
        except SystemExit:
            pass
    report = json.loads(out.getvalue().strip().splitlines()[-1])
    return {k: report.get(k) for k in ("status", "new", "updated", "unchanged", "invalid", "conflicts")}


def print_table() -> None:
    print(f"{'stage':<72} {'seconds':>8} {'calls':>6}")
    for path in _order:
        depth = len(path) - 1
        label = "  " * depth + path[-1]
        print(f"{label:<72} {_totals[path]:8.2f} {_calls[path]:6d}")
    print()
    print("(rest) = a stage's time outside its timed parts:")
    for path in _order:
        children = [p for p in _order if len(p) == len(path) + 1 and p[: len(path)] == path]
        if children:
            rest = _totals[path] - sum(_totals[c] for c in children)
            print(f"  {' > '.join(path):<100} {rest:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--url", required=True, help="the database (it writes: a copy of a seeded base)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/profile-ui-import-stages"))
    parser.add_argument("--cprofile", type=Path, help="write a cProfile of both commands here")
    parser.add_argument("--apply-only", action="store_true", help="skip the dry run command")
    args = parser.parse_args()
    # as import_bench.py's child runs (the upload limit raised for the 50,000-row CSV)
    os.environ.update(
        DATABASE_URL=args.url,
        DATA_DIR=str(args.workdir / "data"),
        ENVIRONMENT="development",
        SMTP_ENABLED="false",
        EMBEDDED_WORKER="false",
        UPLOAD_MAX_BYTES=str(32 * 1024 * 1024),
    )
    from profile_ui.cli import main as _cli  # noqa: F401  (start-up cost outside the figures)
    from profile_ui.jobs import import_job  # noqa: F401

    instrument()
    profiler = cProfile.Profile() if args.cprofile else None
    if profiler:
        profiler.enable()
    reports = {}
    if not args.apply_only:
        reports["dry run"] = run_command("dry run command", ["--dry-run", "--json", str(args.file)])
    reports["apply"] = run_command("apply command", ["--json", str(args.file)])
    if profiler:
        profiler.disable()
        profiler.dump_stats(str(args.cprofile))
    print(f"load {os.getloadavg()[0]:.1f}, {time.strftime('%H:%M:%S', time.gmtime())} UTC, {args.file.name}")
    for label, report in reports.items():
        print(f"{label}: {report}")
    print_table()


if __name__ == "__main__":
    main()
