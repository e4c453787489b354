"""Identities encrypted at rest: the cost of encrypting, hashing and decrypting, and of an
import with e-mail and phone encrypted against one without.

    .venv/bin/python benchmarks/crypto_bench.py                 # values + import (100k profiles)
    .venv/bin/python benchmarks/crypto_bench.py --values-only
    .venv/bin/python benchmarks/crypto_bench.py --size 1000000 --rows 50000

1. 50,000 e-mails and phones through `crypto.identity_storage` (AES-GCM with a fresh
   nonce + HMAC-SHA256 each) and back through `decrypt_identity_values`: best of 3.
2. The import apply benchmark's case (benchmarks/import_apply_bench.py: a 50,000-row
   validated frame, 40% matching existing profiles by e-mail or phone) on SQLite, once
   with nothing encrypted and once with e-mail and phone encrypted; for the second the
   seeded identities are first moved to encrypted storage with `rekey_identities` (timed).
Each import case runs in its own child process on a fresh copy of the seeded database.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

ENCRYPTED = json.dumps(["email", "phone"])
KEY = base64.b64encode(bytes(range(32))).decode()


def values_figures(n: int) -> dict:
    os.environ.update(ENCRYPTED_IDENTITY_KINDS=ENCRYPTED, ENCRYPTION_KEY=KEY)
    import polars as pl

    from profile_ui.services import crypto

    half = n // 2
    frame = pl.DataFrame(
        {
            "kind": ["email"] * half + ["phone"] * (n - half),
            "value": [f"user{i}@example.com" for i in range(half)] + [f"+8490{i:07d}" for i in range(n - half)],
        }
    )
    crypto.identity_storage(frame.head(10))  # keys derived once
    best = {"encrypt_and_hash_s": float("inf"), "hash_only_s": float("inf"), "decrypt_s": float("inf")}

    def timed(name: str, run: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = run()
        best[name] = min(best[name], time.perf_counter() - started)
        return result

    for _ in range(3):
        stored = timed("encrypt_and_hash_s", lambda: crypto.identity_storage(frame))
        timed("hash_only_s", lambda: crypto.hash_identity_values("email", frame["value"]))
        timed(
            "decrypt_s",
            lambda: crypto.decrypt_identity_values(stored["value_encrypted"], stored["key_id"], strict=True),
        )
    return {"values": n, **{k: round(v, 3) for k, v in best.items()}}


def child(url: str, n: int, rows: int, encrypted: bool) -> dict:
    if encrypted:
        os.environ.update(ENCRYPTED_IDENTITY_KINDS=ENCRYPTED, ENCRYPTION_KEY=KEY)
    else:
        os.environ["ENCRYPTED_IDENTITY_KINDS"] = "[]"
    import import_apply_bench as bench
    from sqlmodel import Session

    from profile_ui.db import make_engine
    from profile_ui.services import crypto
    from profile_ui.services.permissions import SYSTEM_ACTOR

    figures: dict = {}
    if encrypted:
        engine = make_engine(url)
        with Session(engine) as session:
            started = time.perf_counter()
            figures["rekey_rows"] = crypto.rekey_identities(session=session, actor=SYSTEM_ACTOR)
            session.commit()
            figures["rekey_s"] = round(time.perf_counter() - started, 2)
        engine.dispose()
    figures.update(bench.worker(url, n, rows))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--values", type=int, default=50_000)
    parser.add_argument("--values-only", action="store_true")
    parser.add_argument("--size", type=int, default=100_000, help="existing profiles")
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--workdir", default="/tmp/profile-ui-apply-bench")
    parser.add_argument("--child", nargs=4, metavar=("URL", "N", "ROWS", "ENCRYPTED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, n, rows, encrypted = args.child
        print(json.dumps(child(url, int(n), int(rows), encrypted == "1")))
        return

    print(f"load average {os.getloadavg()[0]:.2f}", flush=True)
    print(json.dumps(values_figures(args.values)), flush=True)
    if args.values_only:
        return
    import import_apply_bench as bench

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for encrypted in (False, True):
        url = bench.prepare("sqlite", args.size, workdir)
        out = subprocess.run(
            [sys.executable, __file__, "--child", url, str(args.size), str(args.rows), "1" if encrypted else "0"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if out.returncode:
            print(out.stderr[-3000:], file=sys.stderr)
            sys.exit(out.returncode)
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        label = "encrypted e-mail + phone" if encrypted else "nothing encrypted"
        print(f"SQLite, {args.size:,} profiles, {args.rows:,} rows, {label}: {json.dumps(figures)}", flush=True)


if __name__ == "__main__":
    main()
