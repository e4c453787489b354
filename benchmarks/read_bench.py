"""Read times for a generated 50,000 x 20 profile sheet, as .xlsx and as .csv.

    .venv/bin/python benchmarks/read_bench.py [--rows 50000] [--repeat 3]

Writes the files once into a temporary folder (xlsxwriter with shared strings, as Excel
saves them; generating takes ~10 s), then times `read_upload` on each: for xlsx that is
the zip checks, the child process start, the sheet scan, calamine and the hand-back of the
frame. Prints the figures; asserts nothing (timing goals live here, not in tests). The load
average is printed too: other work on the machine slows every figure.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import polars as pl
import xlsxwriter

from profile_ui.services.importing.read import read_upload
from profile_ui.settings import get_settings

HEADERS = [
    "Customer ID",
    "Full Name",
    "Email",
    "Phone",
    "Gender",
    "City",
    "Birthday",
    "Member Level",
    "Points",
    "Zip",
    "Registered",
    "Company",
    "Job Title",
    "Address",
    "Source",
    "Tags",
    "Note",
    "Score",
    "Segment",
    "Consent",
]
FIRST = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Wang", "Smith"]
MIDDLE = ["Văn", "Thị", "Minh", "Ngọc", "Hữu", "Thanh", "Quốc", "Anh"]
LAST = ["An", "Bình", "Chi", "Dũng", "Hà", "Hải", "Hương", "Khoa", "Linh", "Long", "Mai", "Nam", "Phúc", "Trang"]
CITIES = ["Hà Nội", "TP. Hồ Chí Minh", "Đà Nẵng", "Hải Phòng", "Cần Thơ", "Huế", "Nha Trang", "Vũng Tàu"]


def profile_rows(count: int) -> list[list[str]]:
    rng = random.Random(7)
    rows = []
    for i in range(count):
        name = f"{rng.choice(FIRST)} {rng.choice(MIDDLE)} {rng.choice(LAST)}"
        rows.append(
            [
                f"C{rng.randrange(10**9):09d}",
                name,
                f"user{i}.{rng.randrange(10**6)}@example.com",
                f"09{rng.randrange(10**8):08d}",
                rng.choice(["Nam", "Nữ", "M", "F"]),
                rng.choice(CITIES),
                f"{rng.randrange(1950, 2006)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
                rng.choice(["Gold", "Silver", "Bronze", "Platinum"]),
                str(rng.randrange(100_000)),
                f"{rng.randrange(100_000):05d}",
                f"2023-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d} 10:00",
                f"Công ty {rng.choice(LAST)} {rng.randrange(1000)}",
                rng.choice(["Kỹ sư", "Giám đốc", "Sinh viên"]),
                f"{rng.randrange(1, 500)} Đường {rng.choice(LAST)}, {rng.choice(CITIES)}",
                rng.choice(["web", "store", "app", "event"]),
                "|".join(rng.sample(["vip", "new", "b2b", "sale"], 2)),
                f"ghi chú {rng.randrange(10**12)} {rng.choice(LAST)} {rng.choice(CITIES)}",
                f"{rng.random() * 100:.2f}",
                rng.choice(["A", "B", "C"]),
                rng.choice(["yes", "no"]),
            ]
        )
    return rows


def write_files(folder: Path, count: int) -> tuple[Path, Path]:
    rows = profile_rows(count)
    xlsx, csv = folder / "profiles.xlsx", folder / "profiles.csv"
    workbook = xlsxwriter.Workbook(str(xlsx), {"strings_to_numbers": False})
    sheet = workbook.add_worksheet("Profiles")
    sheet.write_row(0, 0, HEADERS)
    for r, row in enumerate(rows, start=1):
        sheet.write_row(r, 0, row)
    workbook.close()
    pl.DataFrame(rows, schema=HEADERS, orient="row").write_csv(csv)
    return xlsx, csv


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(path: Path, repeat: int) -> tuple[list[float], list[float], tuple[int, int]]:
    """Wall-clock and CPU seconds (this process + the reader child) of each read."""
    times, cpu = [], []
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), _cpu_seconds()
        sheet = read_upload(path, file_name=path.name)
        times.append(time.perf_counter() - started)
        cpu.append(_cpu_seconds() - cpu_started)
    return times, cpu, sheet.frame.shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="read-bench-") as folder:
        started = time.perf_counter()
        xlsx, csv = write_files(Path(folder), args.rows)
        print(
            f"generated {args.rows:,} x {len(HEADERS)} in {time.perf_counter() - started:.1f} s: "
            f"xlsx {xlsx.stat().st_size / 1e6:.1f} MB, csv {csv.stat().st_size / 1e6:.1f} MB"
        )
        # 50,000 profile rows as CSV are ~12 MB, over the 10 MB upload limit: the bench
        # lifts the limit to time the same rows (a real upload that size is refused)
        settings = get_settings()
        settings.upload_max_bytes = max(settings.upload_max_bytes, csv.stat().st_size)
        for path in (xlsx, csv):
            times, cpu, shape = timed(path, args.repeat)
            print(
                f"read {path.suffix:<5} {shape[0]:,} rows x {shape[1] - 1} columns: "
                f"median {statistics.median(times):.2f} s, best {min(times):.2f} s "
                f"(runs: {', '.join(f'{t:.2f}' for t in times)}); "
                f"CPU median {statistics.median(cpu):.2f} s"
            )
            if path.suffix == ".xlsx":
                # the same file through plain polars (type-guessing, in this process): the
                # yardstick for the child's overhead under whatever load the machine has
                reference = []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    pl.read_excel(path)
                    reference.append(time.perf_counter() - started)
                print(f"  reference pl.read_excel on the same file: median {statistics.median(reference):.2f} s")
    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: xlsx reader child {child_peak:,.0f} MB, this process {own_peak:,.0f} MB")
    print(f"load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
