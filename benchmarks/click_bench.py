"""Click bench: how long a click on another page takes to show it while an import and an export run.

    .venv/bin/python benchmarks/click_bench.py                                  # 1,000,000 profiles, SQLite app
    .venv/bin/python benchmarks/click_bench.py --profiles 200000 --clicks 20
    .venv/bin/python benchmarks/click_bench.py --start scaled                   # PostgreSQL + redis shape

Issue 15's target: "a click on another page while a 50,000-row import and a 1,000,000-row
export run: answered ≤ 1 s (browser-measured)". The bench starts the app on a fresh
workspace of --profiles seeded profiles (load_bench.App: `embedded` is `reflex run --env
prod` on SQLite with the jobs in the app's own process, the worst case for a click;
`scaled` is `make run-scale`), signs a marketer in with Chromium, then queues a
--import-rows import and an export of every profile, all fields (both as the pages queue
them: background jobs), and clicks the sidebar's links in turn (Tags, Segments, Exports,
Imports, Profiles, ...) --clicks times.

Each click is timed inside the browser: from `performance.now()` just before the click to
the first animation frame after the server's message that ends the new page's load (the
state delta setting `is_hydrated` to true, after the page's on_load handlers have run:
the moment `ready_after_load` stops showing the page as busy and its fresh data is on
screen). A WebSocket wrapper installed before the app's script records when that message
arrives. Printed: each click, p50 / p95 / max against the 1 s target, the load average,
and whether the import and the export were still running when each click was answered
(figures apart for clicks while both ran, while one ran, after both ended). No assert:
compare the figure with the target.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

TARGET_S = 1.0
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
# (link label, path) visited in turn; all open to a marketer
PAGES = [
    ("Tags", "/tags"),
    ("Segments", "/segments"),
    ("Exports", "/exports"),
    ("Imports", "/imports"),
    ("Profiles", "/profiles"),
]

# Records when the server's message ending a page load (is_hydrated set true) arrives.
WATCH_SOCKET = r"""
(() => {
  window.__hydratedAt = 0;
  const Native = window.WebSocket;
  class Watched extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        if (typeof event.data === "string" && /"is_hydrated[^"]*":\s*true/.test(event.data)) {
          window.__hydratedAt = performance.now();
        }
      });
    }
  }
  window.WebSocket = Watched;
})();
"""

# Clicks the sidebar link, resolves with the milliseconds until the frame after the load ended.
TIMED_CLICK = r"""
async ([label, path]) => {
  const nav = document.querySelector('nav[aria-label="Main navigation"]');
  const link = [...nav.querySelectorAll("a")].find((a) => a.textContent.trim() === label);
  const started = performance.now();
  link.click();
  const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));
  while (!(location.pathname === path && window.__hydratedAt > started)) {
    if (performance.now() - started > 60000) return -1;
    await frame();
  }
  await frame();
  return performance.now() - started;
}
"""


def _percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _job_statuses(job_ids: list[int], export_id: int | None) -> str:
    from profile_ui.db import session_scope
    from profile_ui.models import ExportJob, ImportJob

    with session_scope() as session:
        imports = [session.get(ImportJob, i).status for i in job_ids]
        export = session.get(ExportJob, export_id).status if export_id else "none"
    return f"import {', '.join(imports) or 'none'}, export {export}"


def _jobs_running(job_ids: list[int], export_id: int | None) -> tuple[bool, bool]:
    from profile_ui.db import session_scope
    from profile_ui.models import ExportJob, ImportJob

    done = {"completed", "failed", "cancelled", "canceled", "undone"}
    with session_scope() as session:
        imports = any(session.get(ImportJob, i).status not in done for i in job_ids)
        export = bool(export_id) and session.get(ExportJob, export_id).status not in done
    return imports, export


def _start_jobs(import_rows: int, work: Path) -> tuple[list[int], int | None]:
    """One import of `import_rows` rows and an all-fields export of every profile, queued
    as load_bench queues them (background jobs, as the pages do)."""
    from load_bench import start_background_jobs, write_import_files

    import profile_ui.jobs.runner  # noqa: F401  (registers the queue the jobs are sent through)

    return start_background_jobs(write_import_files(import_rows, 1, 0, work), True)


def run(url: str, args: argparse.Namespace, work: Path) -> None:
    from load_bench import PASSWORD, prepare_workspace
    from playwright.sync_api import expect, sync_playwright

    prepare_workspace(1, 1)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.add_init_script(WATCH_SOCKET)
        page.goto(f"{url}/login")
        page.get_by_label("E-mail").fill("bench0@bench.example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=60_000)
        navigation = page.get_by_role("navigation", name="Main navigation")
        for label, _path in PAGES:  # a page the bench's marketer may not open has no link to click
            expect(navigation.get_by_role("link", name=label, exact=True)).to_be_visible(timeout=60_000)
        # one untimed round, so every page's code is in the browser before the jobs start
        for label, path in PAGES:
            page.evaluate(TIMED_CLICK, [label, path])
        job_ids, export_id = _start_jobs(args.import_rows, work)
        print(f"queued import jobs {job_ids} ({args.import_rows:,} rows) and export {export_id}", flush=True)
        time.sleep(args.settle)
        by_running: dict[str, list[float]] = {"while both ran": [], "while one ran": [], "after both ended": []}
        for n in range(args.clicks):
            label, path = PAGES[n % len(PAGES)]
            ms = page.evaluate(TIMED_CLICK, [label, path])
            imports_running, export_running = _jobs_running(job_ids, export_id)
            running = int(imports_running) + int(export_running)
            by_running[["after both ended", "while one ran", "while both ran"][running]].append(ms / 1000)
            state = (
                f"import {'running' if imports_running else 'done'}, export {'running' if export_running else 'done'}"
            )
            print(
                f"  click {n + 1:2} {label:9} {ms / 1000:6.3f} s  ({state}, load {os.getloadavg()[0]:.1f})", flush=True
            )
            time.sleep(args.pause)
        browser.close()
    print(f"jobs after the last click: {_job_statuses(job_ids, export_id)}")
    load = os.getloadavg()
    print(f"\n{args.label} · {args.profiles:,} profiles · load {load[0]:.1f} / {load[1]:.1f} (1 / 5 min)")
    for name, values in by_running.items():
        if values:
            print(
                f"{name}: n={len(values)}  p50 {_percentile(values, 50):.3f} s  p95 {_percentile(values, 95):.3f} s"
                f"  max {max(values):.3f} s  (target ≤ {TARGET_S:.0f} s: "
                f"{'met' if _percentile(values, 95) <= TARGET_S else 'NOT met'} at p95)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", choices=["embedded", "scaled"], default="embedded")
    parser.add_argument("--profiles", type=int, default=1_000_000, help="seeded profiles; the export takes all")
    parser.add_argument("--import-rows", type=int, default=50_000)
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between clicks")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds after queueing before the first click")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("TMPDIR", "/tmp")) / "profile-ui-bench",
        help="where seeded SQLite workspaces are kept (shared with export_bench.py and load_bench.py)",
    )
    args = parser.parse_args()
    args.label = args.start
    from load_bench import App

    work = Path(tempfile.mkdtemp(prefix="click-bench-"))
    app = None
    try:
        started = time.monotonic()
        app = App(args.start, args.profiles, work, args.cache, {})
        print(f"app up with {args.profiles:,} seeded profiles after {time.monotonic() - started:.0f} s", flush=True)
        app.use_its_settings()
        run(app.url, args, work)
    finally:
        if app is not None:
            app.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
