"""Possible duplicates benchmark: precision and recall on a labelled set, and scan time.

    .venv/bin/python benchmarks/dedupe_bench.py                       # quality at 100,000 + DB scan
    .venv/bin/python benchmarks/dedupe_bench.py --profiles 1000000    # the 1M scan (run with nice)
    .venv/bin/python benchmarks/dedupe_bench.py --thresholds 0.5 0.7 0.9 0.97 --no-db

The generator (seeded, no downloads) makes people with Vietnamese and English names, a date
of birth, e-mail, phone, city and sometimes a customer id, then:
- duplicates (DUP_SHARE of the people get a second record, labelled as the same person),
  each with 1-3 of: a typo in the name, first and last name swapped, accents dropped or
  case changed, an English nickname, a field left out, another e-mail domain, a typo in
  the e-mail, a new phone, a typo in the date of birth, the customer id written otherwise.
  Their e-mail and phone always differ from the original's (or are missing): records that
  shared one would have been one profile already (identities are unique). Each keeps at
  least one fact besides name and city (date of birth, an e-mail near the original's or
  the customer id) when the original has one: a record sharing only a name and a city
  with another can't be told from a namesake, by a person or a model;
- family members (FAMILY_SHARE), labelled NOT the same person: same family name, same
  phone (a shared landline), same city, often the same e-mail domain, another given name
  and date of birth.
Strangers sharing a common name and birthday happen by chance, as in real lists.

Quality: the scan's pairs at or above each threshold against the labels (precision =
suggested pairs that are true duplicates; recall = true duplicates suggested). Time: the
in-memory scan (features + blocking + scoring) and `scan_all` on a SQLite database filled
with the same people (reading, keys and candidates written). Figures are printed, never
asserted; the load average is printed beside them (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import ClassVar

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DUP_SHARE = 0.08
FAMILY_SHARE = 0.04

VN_FAMILY = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
    "Đinh",
    "Lâm",
    "Mai",
    "Trịnh",
    "Cao",
    "Tạ",
    "Hà",
    "Lương",
]
VN_MIDDLE = [
    "Văn",
    "Thị",
    "Minh",
    "Hữu",
    "Đức",
    "Ngọc",
    "Thanh",
    "Quốc",
    "Hoàng",
    "Xuân",
    "Thu",
    "Kim",
    "Gia",
    "Bảo",
    "Anh",
    "Phương",
    "Tuấn",
    "Hải",
]
VN_GIVEN = [
    "An",
    "Bình",
    "Cường",
    "Dũng",
    "Hà",
    "Hải",
    "Hạnh",
    "Hiếu",
    "Hoa",
    "Hùng",
    "Huy",
    "Hương",
    "Khánh",
    "Lan",
    "Linh",
    "Long",
    "Mai",
    "Nam",
    "Nga",
    "Ngân",
    "Nhung",
    "Phong",
    "Phúc",
    "Quân",
    "Quang",
    "Sơn",
    "Tâm",
    "Thảo",
    "Thắng",
    "Thủy",
    "Trang",
    "Trung",
    "Tú",
    "Tuấn",
    "Vân",
    "Việt",
    "Vy",
    "Yến",
    "Khoa",
    "Duy",
    "Đạt",
    "Hiền",
    "Loan",
    "Oanh",
    "Châu",
    "Tiến",
]
EN_FIRST = [
    "Robert",
    "William",
    "Elizabeth",
    "Katherine",
    "Michael",
    "James",
    "Thomas",
    "David",
    "Jennifer",
    "Margaret",
    "Richard",
    "Joseph",
    "Daniel",
    "Christopher",
    "Matthew",
    "Anthony",
    "Susan",
    "Patricia",
    "Rebecca",
    "Andrew",
    "Edward",
    "Samuel",
    "Benjamin",
    "Nicholas",
    "Alexander",
    "Jonathan",
    "Emily",
    "Olivia",
    "Sophia",
    "Grace",
    "Laura",
    "Hannah",
    "Rachel",
    "Peter",
    "George",
    "Henry",
    "Charles",
    "Victoria",
    "Julia",
    "Anna",
]
EN_MIDDLE = ["", "", "", "J.", "Lee", "Ann", "Marie", "John", "May", "Ray"]
NICKNAMES = {
    "Robert": "Bob",
    "William": "Bill",
    "Elizabeth": "Liz",
    "Katherine": "Kate",
    "Michael": "Mike",
    "James": "Jim",
    "Thomas": "Tom",
    "David": "Dave",
    "Jennifer": "Jen",
    "Margaret": "Peggy",
    "Richard": "Rick",
    "Joseph": "Joe",
    "Daniel": "Dan",
    "Christopher": "Chris",
    "Matthew": "Matt",
    "Anthony": "Tony",
    "Susan": "Sue",
    "Patricia": "Pat",
    "Rebecca": "Becky",
    "Andrew": "Andy",
    "Edward": "Ed",
    "Samuel": "Sam",
    "Benjamin": "Ben",
    "Nicholas": "Nick",
    "Alexander": "Alex",
    "Jonathan": "Jon",
}
EN_LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Martin",
    "Jackson",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
    "Hill",
    "Campbell",
    "Mitchell",
    "Roberts",
    "Carter",
    "Phillips",
    "Evans",
    "Turner",
    "Torres",
    "Parker",
    "Collins",
    "Edwards",
    "Stewart",
]
CITIES = [
    "Hà Nội",
    "Hồ Chí Minh",
    "Đà Nẵng",
    "Hải Phòng",
    "Cần Thơ",
    "Huế",
    "Nha Trang",
    "Vũng Tàu",
    "Biên Hòa",
    "Buôn Ma Thuột",
    "London",
    "Manchester",
    "Boston",
    "Seattle",
    "Austin",
    "Denver",
]
DOMAINS = [
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "fpt.vn",
    "vnn.vn",
    "proton.me",
    "mail.com",
    "live.com",
]


def _ascii(text: str) -> str:
    """The name as typed on a keyboard without Vietnamese accents."""
    from anyascii import anyascii

    return anyascii(text)


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.used_emails: set[str] = set()
        self.used_phones: set[str] = set()

    def pick(self, items: list):  # noqa: ANN201
        return items[int(self.rng.integers(len(items)))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def email(self, local: str, domain: str | None = None) -> str:
        local = "".join(c for c in _ascii(local).lower() if c.isalnum() or c == ".")
        domain = domain or self.pick(DOMAINS)
        candidate = f"{local}@{domain}"
        while candidate in self.used_emails:
            candidate = f"{local}{int(self.rng.integers(1, 9999))}@{domain}"
        self.used_emails.add(candidate)
        return candidate

    def phone(self, vn: bool) -> str:
        while True:
            number = (
                f"+849{int(self.rng.integers(10_000_000, 99_999_999))}"
                if vn
                else f"+1{int(self.rng.integers(200, 999))}555{int(self.rng.integers(1000, 9999))}"
            )
            if number not in self.used_phones:
                self.used_phones.add(number)
                return number

    def person(self) -> dict:
        vn = self.chance(0.6)
        if vn:
            family, middle, given = self.pick(VN_FAMILY), self.pick(VN_MIDDLE), self.pick(VN_GIVEN)
            name = f"{family} {middle} {given}"
            local = f"{given}.{family}" if self.chance(0.5) else f"{given}{family}{int(self.rng.integers(70, 99))}"
        else:
            family, middle, given = self.pick(EN_LAST), self.pick(EN_MIDDLE), self.pick(EN_FIRST)
            name = " ".join(p for p in (given, middle, family) if p)
            local = f"{given}.{family}" if self.chance(0.5) else f"{given[0]}{family}"
        birthday = date(1950, 1, 1) + timedelta(days=int(self.rng.integers(0, 20_000)))
        return {
            "full_name": name,
            "vn": vn,
            "family": family,
            "given": given,
            "birthday": birthday if self.chance(0.85) else None,
            "email": self.email(local) if self.chance(0.9) else None,
            "phone": self.phone(vn) if self.chance(0.8) else None,
            "city": self.pick(CITIES) if self.chance(0.8) else None,
            "user_id": f"C-{int(self.rng.integers(1, 10**9)):09d}" if self.chance(0.4) else None,
        }

    # ------------------------------------------------------------------ perturbations
    def typo(self, text: str) -> str:
        letters = [i for i, c in enumerate(text) if c.isalpha()]
        if len(letters) < 3:
            return text
        i = letters[int(self.rng.integers(1, len(letters)))]
        kind = int(self.rng.integers(3))
        if kind == 0:  # substitute
            return text[:i] + self.pick(list("aeiounmrtsl")) + text[i + 1 :]
        if kind == 1 and i + 1 < len(text):  # transpose
            return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        return text[:i] + text[i + 1 :]  # drop

    def duplicate(self, p: dict) -> dict:
        d = dict(p)
        # a second record never shares an identifier with the first (else it would be one profile)
        d["email"] = None
        d["phone"] = None
        d["user_id"] = None
        email_kind = self.pick(["domain", "domain", "typo", "typo", "domain", "none"])
        if p["email"] and email_kind == "domain":
            local, domain = p["email"].split("@")
            d["email"] = self.email(local, self.pick([x for x in DOMAINS if x != domain]))
        elif p["email"] and email_kind == "typo":
            local, domain = p["email"].split("@")
            d["email"] = self.email(self.typo(local), domain)
        if self.chance(0.4):
            d["phone"] = self.phone(p["vn"])
        if p["user_id"] and self.chance(0.5):
            d["user_id"] = p["user_id"].replace("C-", "c")  # written otherwise, same id
        changes = ["typo", "swap", "accents", "nickname", "drop", "bday_typo", "case"]
        for change in self.rng.choice(changes, size=int(self.rng.integers(1, 4)), replace=False):
            if change == "typo":
                d["full_name"] = self.typo(d["full_name"])
            elif change == "swap":
                parts = d["full_name"].split(" ")
                d["full_name"] = " ".join(parts[-1:] + parts[:-1])
            elif change == "accents":
                d["full_name"] = _ascii(d["full_name"])
                d["city"] = _ascii(d["city"]) if d["city"] else None
            elif change == "nickname" and p["given"] in NICKNAMES:
                d["full_name"] = d["full_name"].replace(p["given"], NICKNAMES[p["given"]], 1)
            elif change == "drop":
                d[self.pick(["birthday", "city", "email"])] = None
            elif change == "bday_typo" and d["birthday"]:
                b = d["birthday"]
                # day and month swapped, or one digit of the day mistyped
                if b.day <= 12 and b.day != b.month:
                    d["birthday"] = b.replace(day=b.month, month=b.day)
                else:
                    day = (b.day // 10) * 10 + (b.day % 10 + 1) % 10
                    d["birthday"] = b.replace(day=day if 1 <= day <= 28 else (b.day - 1 if b.day > 1 else 2))
            elif change == "case":
                d["full_name"] = d["full_name"].upper()
        # a record that shares nothing but a name (and city) with the first can't be told
        # from a namesake by anyone: each duplicate keeps one more fact of the person
        if not (d["birthday"] and p["birthday"]) and not d["email"] and not d["user_id"]:
            if p["birthday"]:
                d["birthday"] = p["birthday"]
            elif p["email"]:
                local, domain = p["email"].split("@")
                d["email"] = self.email(local, self.pick([x for x in DOMAINS if x != domain]))
        return d

    def relative(self, p: dict) -> dict:
        r = self.person()
        given = self.pick(VN_GIVEN if p["vn"] else EN_FIRST)
        middle = self.pick(VN_MIDDLE) if p["vn"] else ""
        r.update(
            vn=p["vn"],
            family=p["family"],
            given=given,
            city=p["city"],
            full_name=(f"{p['family']} {middle} {given}" if p["vn"] else f"{given} {p['family']}"),
            phone=None,
            user_id=None,
        )
        r["email"] = self.email(f"{given}.{p['family']}", p["email"].split("@")[1] if p["email"] else None)
        # the shared landline: on the relative's record it is the same number (one identity can
        # belong to one profile only, so in the base it is stored on the relative as written
        # with another country code: same last digits)
        if p["phone"]:
            r["phone"] = "+44" + p["phone"][-9:]
        return r


def build(n: int, seed: int) -> tuple[pl.DataFrame, set[tuple[int, int]], set[tuple[int, int]]]:
    """(people frame with ids 1..n, true duplicate pairs, family pairs)."""
    gen = Generator(seed)
    people: list[dict] = []
    truth: set[tuple[int, int]] = set()
    family: set[tuple[int, int]] = set()
    while len(people) < n:
        p = gen.person()
        people.append(p)
        pid = len(people)
        if gen.chance(DUP_SHARE) and len(people) < n:
            people.append(gen.duplicate(p))
            truth.add((pid, len(people)))
        if gen.chance(FAMILY_SHARE) and len(people) < n:
            people.append(gen.relative(p))
            family.add((pid, len(people)))
    frame = pl.DataFrame(
        {
            "id": list(range(1, len(people) + 1)),
            **{k: [p[k] for p in people] for k in ("full_name", "birthday", "city", "email", "phone", "user_id")},
        },
        schema={
            "id": pl.Int64,
            "full_name": pl.Utf8,
            "birthday": pl.Date,
            "city": pl.Utf8,
            "email": pl.Utf8,
            "phone": pl.Utf8,
            "user_id": pl.Utf8,
        },
    )
    return frame, truth, family


def in_memory_scan(people: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, float]]:
    from profile_ui.services.dedupe.blocking import blocking_keys, candidate_pairs, key_frequencies
    from profile_ui.services.dedupe.features import person_features
    from profile_ui.services.dedupe.scoring import score_kept

    times = {}
    started = time.perf_counter()
    features = person_features(people)
    times["features"] = time.perf_counter() - started
    t = time.perf_counter()
    keys = blocking_keys(features)
    pairs = candidate_pairs(keys)
    times["blocking"] = time.perf_counter() - t
    t = time.perf_counter()
    scored = score_kept(pairs, features, frequencies=key_frequencies(keys)).select("a", "b", "score")
    times["scoring"] = time.perf_counter() - t
    times["pairs"] = pairs.height
    times["total"] = time.perf_counter() - started
    return scored, times


def quality(
    scored: pl.DataFrame, truth: set[tuple[int, int]], family: set[tuple[int, int]], threshold: float
) -> tuple[float, float, int, int]:
    chosen = scored.filter(pl.col("score") >= threshold)
    found = set(chosen.select("a", "b").iter_rows())
    true_positive = len(found & truth)
    precision = true_positive / len(found) if found else 1.0
    recall = true_positive / len(truth) if truth else 1.0
    return precision, recall, len(found & family), len(found)


def fill_sqlite(path: Path, people: pl.DataFrame, *, migrate: bool = True) -> None:
    from profile_ui.cli import upgrade_database

    if migrate:
        upgrade_database(f"sqlite:///{path}")
    conn = sqlite3.connect(path)
    now = "2026-01-01 00:00:00.000000"
    conn.executemany(
        "INSERT INTO profiles (id, full_name, birthday, city, status, attributes, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, 'active', '{}', ?, ?)",
        (
            (r[0], r[1], r[2].isoformat() if r[2] else None, r[3], now, now)
            for r in people.select("id", "full_name", "birthday", "city").iter_rows()
        ),
    )
    for kind in ("email", "phone", "user_id"):
        conn.executemany(
            "INSERT OR IGNORE INTO identities (profile_id, kind, value, is_encrypted, source_type, first_seen_at,"
            " last_seen_at) VALUES (?, ?, ?, 0, 'seed', ?, ?)",
            (
                (pid, kind, value, now, now)
                for pid, value in
                # an identity belongs to one profile: a value drawn twice stays with the first (OR IGNORE)
                people.filter(pl.col(kind).is_not_null())
                .unique(kind, keep="first", maintain_order=True)
                .select("id", kind)
                .iter_rows()
            ),
        )
    conn.commit()
    conn.close()


def db_scan(path: Path) -> tuple[float, str]:
    from sqlmodel import Session

    from profile_ui.db import make_engine
    from profile_ui.services.dedupe.scan import scan_all
    from profile_ui.services.permissions import SYSTEM_ACTOR

    engine = make_engine(f"sqlite:///{path}")
    started = time.perf_counter()
    with Session(engine) as session:
        report = scan_all(session=session, actor=SYSTEM_ACTOR)
        session.commit()
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, report.summary()


def new_rows(people: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    """An import's rows: a tenth are second records of people in the base, the rest new."""
    gen = Generator(seed)
    gen.used_emails = set(people["email"].drop_nulls().to_list())
    gen.used_phones = set(people["phone"].drop_nulls().to_list())
    rows = []
    base = people.sample(n // 10, seed=seed).to_dicts()
    for p in base:
        p.update(vn=bool(p["full_name"]) and not p["full_name"].isascii(), given=p["full_name"].split(" ")[-1])
        rows.append(gen.duplicate(p))
    rows += [gen.person() for _ in range(n - len(rows))]
    start = int(people["id"].max()) + 1
    return pl.DataFrame(
        {
            "id": list(range(start, start + len(rows))),
            **{k: [r[k] for r in rows] for k in ("full_name", "birthday", "city", "email", "phone", "user_id")},
        },
        schema={
            "id": pl.Int64,
            "full_name": pl.Utf8,
            "birthday": pl.Date,
            "city": pl.Utf8,
            "email": pl.Utf8,
            "phone": pl.Utf8,
            "user_id": pl.Utf8,
        },
    )


def incremental(path: Path, rows: pl.DataFrame) -> tuple[float, float, int, int]:
    """(dry-run look-alike seconds, apply check seconds, rows flagged, pairs stored) of an import."""
    from sqlmodel import Session

    from profile_ui.db import make_engine
    from profile_ui.services.dedupe.scan import look_alikes, scan_profile_ids

    engine = make_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        started = time.perf_counter()
        flagged = look_alikes(session=session, people=rows).height
        dry = time.perf_counter() - started
    fill_sqlite(path, rows, migrate=False)
    with Session(engine) as session:
        started = time.perf_counter()
        report = scan_profile_ids(session=session, profile_ids=rows["id"].to_list(), import_job_id=None)
        session.commit()
        applied = time.perf_counter() - started
    engine.dispose()
    return dry, applied, flagged, report.new


class _TimedHooks:
    """The possible-duplicate hooks of importing/possible_duplicates.py and
    duplicate_checks.py wrapped to time themselves while an import runs (`spent`: label ->
    (CPU s, wall s), summed over calls); `put_back` restores them. The modules' attributes
    are replaced: plan.py, results.py and apply.py call the hooks through the module, so
    every call is timed (a caller that imported a hook by name, as jobs/import_check.py
    does, escapes it: the job benches time that one around its call)."""

    # label -> (module of services/importing, hook)
    LABELS: ClassVar[dict[str, tuple[str, str]]] = {
        # on the import's path: the dry run's flags (in a job: only their inputs, checked
        # after its commit), keeping them, and the apply leaving its check
        "flag": ("possible_duplicates", "flag_new_rows"),
        "keep": ("possible_duplicates", "keep_dry_run_check"),
        "kept": ("duplicate_checks", "apply_start"),
        "queue": ("duplicate_checks", "queue_applied_check"),
        # after each commit, in a worker (off the path): the preview's flags, the apply's pairs
        "after": ("duplicate_checks", "run_pending_check"),
    }
    ON_PATH: ClassVar[tuple[str, ...]] = ("flag", "keep", "kept", "queue")

    def __init__(self) -> None:
        import importlib

        self.modules = {
            label: importlib.import_module(f"profile_ui.services.importing.{module}")
            for label, (module, _name) in self.LABELS.items()
        }
        self.spent = dict.fromkeys(self.LABELS, (0.0, 0.0))
        self.originals = {label: getattr(self.modules[label], name) for label, (_m, name) in self.LABELS.items()}
        for label, (_module, name) in self.LABELS.items():
            setattr(self.modules[label], name, self._timed(label, self.originals[label]))

    def _timed(self, label: str, hook):  # noqa: ANN001, ANN202
        def run(**kwargs):  # noqa: ANN003, ANN202
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                return hook(**kwargs)
            finally:
                before = self.spent[label]
                self.spent[label] = (before[0] + time.process_time() - cpu, before[1] + time.perf_counter() - wall)

        return run

    def put_back(self) -> None:
        for label, hook in self.originals.items():
            setattr(self.modules[label], self.LABELS[label][1], hook)


def import_share(path: Path, rows: pl.DataFrame) -> str:
    """The same rows through the real import (plan_import with its row results stored and
    committed as the job's dry run does, then apply_import and commit) on a copy of the
    scanned base, with the possible-duplicate hooks timed inside it (the dry run's check, the
    keeping and reading of it for the apply, the apply's check): the checks' CPU as a share
    of the rest of the import's CPU (a real ratio, not an estimate)."""
    import uuid

    from sqlmodel import Session

    from profile_ui.db import make_engine
    from profile_ui.models import ImportJob
    from profile_ui.services import dispatch
    from profile_ui.services.catalog import active_sync_rule
    from profile_ui.services.importing import (
        ERRORS_COL,
        ROW_COL,
        VALID_COL,
        ImportMapping,
        ImportOptions,
        duplicate_checks,
    )
    from profile_ui.services.importing.apply import apply_import
    from profile_ui.services.importing.plan import plan_import
    from profile_ui.services.importing.results import store_row_results
    from profile_ui.services.permissions import SYSTEM_ACTOR

    dispatch.install(dispatch.IMPORT_DUPLICATES, lambda _job_id: None)  # run here, below

    def run_pending_check(**kwargs):  # noqa: ANN003, ANN202  (through the module: timed)
        return duplicate_checks.run_pending_check(**kwargs)

    copy = path.with_name("import.db")
    shutil.copyfile(path, copy)
    frame = rows.select(
        pl.Series(ROW_COL, range(2, rows.height + 2), dtype=pl.Int64),
        *[pl.col(k).alias(f"identity:{k}") for k in ("email", "phone", "user_id")],
        "full_name",
        "birthday",
        "city",
    ).with_columns(
        pl.lit([], dtype=pl.List(pl.Struct({"column": pl.Utf8, "message": pl.Utf8}))).alias(ERRORS_COL),
        pl.lit(True).alias(VALID_COL),
    )
    mapping = ImportMapping(
        columns={c: c for c in frame.columns if c not in (ROW_COL, ERRORS_COL, VALID_COL)},
        identifiers=["email", "phone", "user_id"],
    )
    engine = make_engine(f"sqlite:///{copy}")
    hooks = _TimedHooks()
    try:
        with Session(engine, expire_on_commit=False) as session:
            rule = active_sync_rule(session)
            job = ImportJob(batch_id=str(uuid.uuid4()), file_name="bench.csv", status="running")
            session.add(job)
            session.commit()
            cpu, wall = time.process_time(), time.perf_counter()
            dry = plan_import(
                session=session,
                actor=SYSTEM_ACTOR,
                frame=frame,
                mapping=mapping,
                options=ImportOptions(),
                sync_rule=rule,
                file_name=job.file_name,
            )
            # as the job's dry run: its row results (and its possible-duplicate check) kept
            store_row_results(session=session, job_id=job.id, plan=dry)
            session.commit()
            plan = apply_import(
                session=session, actor=SYSTEM_ACTOR, job=job, frame=frame, mapping=mapping, options=ImportOptions()
            )
            session.commit()
            run_pending_check(session=session, actor=SYSTEM_ACTOR, job_id=job.id)  # as the worker after the commit
            session.commit()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        hooks.put_back()
        engine.dispose()
    spent = hooks.spent
    hooks_timed = (*_TimedHooks.ON_PATH, "after")
    checks_cpu = sum(spent[name][0] for name in hooks_timed)
    checks_wall = sum(spent[name][1] for name in hooks_timed)
    totals = ", ".join(f"{k} {plan.totals.get(k, 0):,}" for k in ("created", "updated", "invalid"))
    return (
        f"the real import of those rows (dry run with its flags, then apply and its check; {totals}): "
        f"{wall:.1f} s wall, {cpu:.1f} s CPU, "
        f"of which the checks {checks_wall:.1f} s wall, {checks_cpu:.1f} s CPU (look-alikes {spent['flag'][0]:.1f}, "
        f"kept {spent['keep'][0] + spent['kept'][0]:.1f}, applied check {spent['after'][0]:.1f}); "
        f"the import without them {cpu - checks_cpu:.1f} s CPU: "
        f"the checks add {checks_cpu / max(cpu - checks_cpu, 1e-9):.0%} (CPU), "
        f"{checks_wall / max(wall - checks_wall, 1e-9):.0%} (wall); load {os.getloadavg()[0]:.2f}"
    )


def job_share(path: Path, rows: pl.DataFrame) -> str:
    """The same rows as a marketer imports them: a CSV file through the import jobs the
    wizard runs (submit as a dry run, run it, confirm, run the apply: reading, mapping,
    validating, planning, row results, error file, apply), on a copy of the scanned base,
    with the possible-duplicate hooks timed inside (as import_share). The checks' share of
    the import's own time, file to done."""

    from sqlmodel import Session

    from profile_ui.db import make_engine
    from profile_ui.jobs.import_check import run_import_check
    from profile_ui.jobs.import_job import run_job
    from profile_ui.services import dispatch
    from profile_ui.services.importing.jobs import ImportFile, confirm_import, file_report, submit_import
    from profile_ui.services.permissions import SYSTEM_ACTOR

    dispatch.install(dispatch.IMPORT_DUPLICATES, lambda _job_id: None)  # a worker's part, run below
    copy = path.with_name("job.db")
    shutil.copyfile(path, copy)
    csv = path.with_name("customers.csv")
    headers = {
        "full_name": "Full name",
        "birthday": "Date of birth",
        "city": "City",
        "email": "Email",
        "phone": "Phone",
        "user_id": "Customer ID",
    }
    rows.select([pl.col(k).alias(v) for k, v in headers.items()]).write_csv(csv)
    engine = make_engine(f"sqlite:///{copy}")
    hooks = _TimedHooks()
    stages: dict[str, tuple[float, float]] = {}
    after: dict[str, tuple[float, float]] = {}
    try:
        with Session(engine) as session:
            job = submit_import(
                session=session,
                actor=SYSTEM_ACTOR,
                dry_run=True,
                enqueue=False,
                files=[
                    ImportFile(
                        file_name=csv.name,
                        stored_path=csv,
                        sheet=None,
                        mapping=None,
                        identifier_columns={"Email": "email", "Phone": "phone", "Customer ID": "user_id"},
                    )
                ],
            )[0]
            session.commit()
            job_id = job.id
            assert job_id is not None  # committed
        cpu, wall = time.process_time(), time.perf_counter()
        run_job(job_id, engine=engine)
        stages["dry run"] = (time.process_time() - cpu, time.perf_counter() - wall)
        # the preview's flags, as a worker fills them in after the dry run's commit
        cpu, wall = time.process_time(), time.perf_counter()
        run_import_check(job_id, engine=engine)
        after["flags"] = (time.process_time() - cpu, time.perf_counter() - wall)
        with Session(engine) as session:
            confirm_import(session=session, actor=SYSTEM_ACTOR, job_id=job_id, enqueue=False)
            session.commit()
        cpu, wall = time.process_time(), time.perf_counter()
        run_job(job_id, engine=engine)
        stages["apply"] = (time.process_time() - cpu, time.perf_counter() - wall)
        cpu, wall = time.process_time(), time.perf_counter()
        run_import_check(job_id, engine=engine)
        after["pairs"] = (time.process_time() - cpu, time.perf_counter() - wall)
        with Session(engine) as session:
            report = file_report(session=session, actor=SYSTEM_ACTOR, job_id=job_id)
    finally:
        hooks.put_back()
        engine.dispose()
    spent = hooks.spent
    cpu = sum(c for c, _w in stages.values())
    wall = sum(w for _c, w in stages.values())
    checks_cpu = sum(spent[name][0] for name in _TimedHooks.ON_PATH)
    checks_wall = sum(spent[name][1] for name in _TimedHooks.ON_PATH)
    totals = ", ".join(f"{k} {v:,}" for k, v in report.items() if isinstance(v, int) and k != "job_id")
    return (
        f"the import jobs of a CSV of those rows ({report['status']}; {totals}): dry run "
        f"{stages['dry run'][1]:.1f} s wall / {stages['dry run'][0]:.1f} s CPU, "
        f"apply {stages['apply'][1]:.1f} s wall / {stages['apply'][0]:.1f} s CPU; "
        f"of which the checks' part on the import's path {checks_wall:.2f} s wall, {checks_cpu:.2f} s CPU "
        f"(the dry run's {spent['flag'][1] + spent['keep'][1]:.2f} s, the apply's "
        f"{spent['kept'][1] + spent['queue'][1]:.2f} s): it adds "
        f"{checks_wall / max(wall - checks_wall, 1e-9):.0%} (wall), {checks_cpu / max(cpu - checks_cpu, 1e-9):.0%} "
        f"(CPU) to the import without it; after the commits, in a worker: the preview's flags "
        f"{after['flags'][1]:.1f} s wall / {after['flags'][0]:.1f} s CPU, the apply's pairs "
        f"{after['pairs'][1]:.1f} s wall / {after['pairs'][0]:.1f} s CPU; load {os.getloadavg()[0]:.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--thresholds", type=float, nargs="*", default=None)
    parser.add_argument("--no-db", action="store_true", help="skip the SQLite scan")
    parser.add_argument(
        "--no-quality", action="store_true", help="skip the in-memory scan and its precision/recall (e.g. at 1,000,000)"
    )
    parser.add_argument(
        "--filled",
        type=Path,
        help="keep the filled SQLite base in this file, or start from a copy of it when it exists "
        "(same --profiles and --seed: the people are generated again, the fill is skipped)",
    )
    parser.add_argument(
        "--import-rows", type=int, default=50_000, help="after the scan, an import of this many rows (0: none)"
    )
    parser.add_argument(
        "--job-only",
        action="store_true",
        help="of the import's measures, only the import jobs of a CSV (job_share), not the frame-level ones",
    )
    args = parser.parse_args()
    from profile_ui.services.dedupe.scoring import DEFAULT_THRESHOLD

    thresholds = sorted(set(args.thresholds or [0.5, 0.6, 0.8, 0.9, DEFAULT_THRESHOLD, 0.95, 0.99]))
    t = time.perf_counter()
    people, truth, family = build(args.profiles, args.seed)
    print(
        f"generated {people.height:,} records: {len(truth):,} duplicate pairs, "
        f"{len(family):,} family pairs (not duplicates) in {time.perf_counter() - t:.1f} s"
    )

    if not args.no_quality:
        report_quality(people, truth, family, thresholds)
    if not args.no_db:
        db_bench(people, args)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


def report_quality(people: pl.DataFrame, truth: set, family: set, thresholds: list[float]) -> None:
    from profile_ui.services.dedupe.scoring import DEFAULT_THRESHOLD

    cpu = time.process_time()
    scored, times = in_memory_scan(people)
    print(
        f"in-memory scan: {times['total']:.1f} s wall, {time.process_time() - cpu:.1f} s CPU "
        f"(features {times['features']:.1f}, blocking {times['blocking']:.1f}, scoring {times['scoring']:.1f}); "
        f"{int(times['pairs']):,} pairs compared; load {os.getloadavg()[0]:.2f}"
    )
    print("threshold  precision  recall  suggested  family pairs suggested")
    for threshold in thresholds:
        precision, recall, fam, found = quality(scored, truth, family, threshold)
        mark = "  <- default" if threshold == DEFAULT_THRESHOLD else ""
        print(f"{threshold:9.2f}  {precision:9.3f}  {recall:6.3f}  {found:9,}  {fam:6,}{mark}")


def db_bench(people: pl.DataFrame, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="dedupe-bench-") as tmp:
        path = Path(tmp) / "bench.db"
        t = time.perf_counter()
        if args.filled and args.filled.exists():  # a base filled by an earlier run: a copy of it
            shutil.copyfile(args.filled, path)
            from profile_ui.cli import upgrade_database

            upgrade_database(f"sqlite:///{path}")  # kept by an earlier release: its schema brought up to date
            print(f"SQLite copied from {args.filled} (and migrated) in {time.perf_counter() - t:.1f} s")
        else:
            fill_sqlite(path, people)
            print(f"SQLite filled in {time.perf_counter() - t:.1f} s")
            if args.filled:
                shutil.copyfile(path, args.filled)  # kept (unscanned) for the next run
        cpu = time.process_time()
        elapsed, summary = db_scan(path)
        print(
            f"full scan (scan_all, SQLite): {elapsed:.1f} s wall, {time.process_time() - cpu:.1f} s CPU "
            f"(this process); {summary}; load {os.getloadavg()[0]:.2f}"
        )
        if args.import_rows:
            rows = new_rows(people, args.import_rows, args.seed + 1)
            from_file = job_share(path, rows)  # on a copy of the base before `incremental` adds the rows
            if args.job_only:
                print(from_file)
                return
            share = import_share(path, rows)  # likewise
            cpu = time.process_time()
            dry, applied, flagged, stored = incremental(path, rows)
            print(
                f"import of {rows.height:,} rows: look-alikes in the dry run {dry:.1f} s, check of the "
                f"applied profiles {applied:.1f} s ({time.process_time() - cpu:.1f} s CPU with the insert); "
                f"{flagged:,} rows flagged, {stored:,} pairs stored; load {os.getloadavg()[0]:.2f}"
            )
            print(share)
            print(from_file)


if __name__ == "__main__":
    sys.exit(main())
