"""How long validate_rows takes on a 50,000-row, 20-column profile sheet (target: well under 3 s).

    .venv/bin/python benchmarks/validate_bench.py [--rows 50000] [--repeat 3]

Every phone and e-mail is distinct (the worst case for the phone library); values come in
the mixed formats real files have. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import dataclass

import polars as pl

from profile_ui.models import FieldDefinition
from profile_ui.services.bootstrap import SYSTEM_FIELDS
from profile_ui.services.importing import ROW_COL, VALID_COL, ImportMapping
from profile_ui.services.importing.validate import validate_rows


@dataclass
class Sheet:
    file_name: str
    sheet: str | None
    headers: list[str]
    frame: pl.DataFrame


CUSTOM = [
    ("score", "Score", "number", []),
    ("vip", "VIP", "boolean", []),
    ("interests", "Interests", "multiple_choice", ["Sport", "Music", "Travel", "Food"]),
    ("notes", "Notes", "text", []),
    ("last_purchase", "Last purchase", "date", []),
    ("points", "Points", "number", []),
    ("channel", "Preferred channel", "single_choice", ["Email", "SMS", "Phone"]),
    ("company", "Company", "text", []),
    ("zip", "Zip", "text", []),
    ("referral", "Referral code", "text", []),
]


def make_sheet(rows: int, seed: int = 7) -> Sheet:
    rnd = random.Random(seed)
    first = ["An", "Bình", "Chi", "Dũng", "Hà", "Lan", "Minh", "Nam", "Phương", "Quân"]
    last = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"]
    cities = ["Hà Nội", "Hồ Chí Minh", "Đà Nẵng", "Huế", "Cần Thơ"]
    date_forms = ["{d:02d}/{m:02d}/{y}", "{y}-{m:02d}-{d:02d}", "{d}/{m}/{y}", "{d:02d}-{m:02d}-{y}"]
    phone_forms = ["0{n}", "+84 {n}", "{n}", "+84{n}"]
    columns: dict[str, list[str | None]] = {h: [] for h in HEADERS}
    for i in range(rows):
        n = f"9{i:08d}"
        y, m, d = rnd.randint(1950, 2005), rnd.randint(1, 12), rnd.randint(1, 28)
        values = [
            f"C{i:07d}",
            f"User.{i}@Example{i % 50}.com " if rnd.random() > 0.01 else "broken@",
            rnd.choice(phone_forms).format(n=n),
            f" {rnd.choice(last)}  {rnd.choice(first)} ",
            rnd.choice(["Nam", "Nữ", "M", "F", "Male", "female", "Khác"]),
            rnd.choice(date_forms).format(d=d, m=m, y=y),
            rnd.choice(cities),
            rnd.choice(["Vàng", "Bạc", "Gold", "Silver", "Platinum", "bronze"]),
            f"{rnd.randint(2015, 2024)}-{m:02d}-{d:02d} {rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:00",
            rnd.choice(["vip|newsletter", "", "summer-2024", "a|b|c"]),
            rnd.choice(["1,234.5", "1.234,5", "12", "7.5"]),
            rnd.choice(["yes", "no", "x", "có", "không", ""]),
            rnd.choice(["Sport|Music", "travel; food", "", "music"]),
            rnd.choice(["", "called twice", "prefers mornings"]),
            str(rnd.randint(40000, 45000)),
            str(rnd.randint(0, 100000)),
            rnd.choice(["Email", "sms", "Phone", ""]),
            rnd.choice(["Acme", "", "Globex"]),
            f"{rnd.randint(0, 99999):05d}",
            f"R{rnd.randint(0, 10**9)}",
        ]
        for header, value in zip(HEADERS, values):
            columns[header].append(value or None)
    frame = pl.DataFrame(columns, schema=dict.fromkeys(HEADERS, pl.Utf8)).with_columns(
        pl.int_range(2, rows + 2, dtype=pl.Int64).alias(ROW_COL)
    )
    return Sheet("bench.xlsx", "Sheet1", HEADERS, frame)


HEADERS = [
    "Customer ID",
    "E-mail",
    "Mobile",
    "Họ tên",
    "Giới tính",
    "Ngày sinh",
    "Thành phố",
    "Hạng",
    "Registered",
    "Tags",
    "Score",
    "VIP",
    "Interests",
    "Notes",
    "Last purchase",
    "Points",
    "Preferred channel",
    "Company",
    "Zip",
    "Referral code",
]
TARGETS = [
    "identity:user_id",
    "identity:email",
    "identity:phone",
    "full_name",
    "gender",
    "birthday",
    "city",
    "member_level",
    "registered_at",
    "tags",
    "score",
    "vip",
    "interests",
    "notes",
    "last_purchase",
    "points",
    "channel",
    "company",
    "zip",
    "referral",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    fields = {
        k: FieldDefinition(key=k, label=lbl, type=t, options=o, is_system=True) for k, lbl, t, o, _ in SYSTEM_FIELDS
    }
    fields.update({k: FieldDefinition(key=k, label=lbl, type=t, options=o) for k, lbl, t, o in CUSTOM})
    mapping = ImportMapping(columns=dict(zip(HEADERS, TARGETS)))
    started = time.perf_counter()
    sheet = make_sheet(args.rows)
    print(f"generated {args.rows:,} rows x {len(HEADERS)} columns in {time.perf_counter() - started:.2f} s")
    timings = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        validated = validate_rows(sheet, mapping, fields=fields, default_region="VN")
        timings.append(time.perf_counter() - started)
    valid = int(validated.get_column(VALID_COL).sum())
    print(
        f"validate_rows: median {statistics.median(timings):.2f} s, best {min(timings):.2f} s "
        f"over {args.repeat} runs (target: well under 3 s)"
    )
    print(f"valid rows: {valid:,}; invalid: {validated.height - valid:,}")


if __name__ == "__main__":
    main()
