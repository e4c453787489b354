"""benchmarks/load_bench.py reads its options and judges its runs as documented.

No timing is asserted: these check the argument parsing, the "edits stored" count the
bench prints after each run, and the line that names the V where a list query's p95
passes 1 s.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

import load_bench


def test_options_of_the_full_matrix() -> None:
    args = load_bench.parse_args(["--start", "embedded,scaled", "--users", "10,25,50,100", "--no-export"])
    assert args.shapes == ["embedded", "scaled"]
    assert args.user_counts == [10, 25, 50, 100]
    assert args.export is False
    assert args.import_rows == 50_000 and args.imports == 2


def test_environment_for_the_app_it_starts() -> None:
    args = load_bench.parse_args(["--start", "scaled", "--app-env", "REFLEX_OPLOCK_ENABLED=true", "--app-env", "A=b=c"])
    assert args.app_env == {"REFLEX_OPLOCK_ENABLED": "true", "A": "b=c"}


def test_a_running_app_needs_no_shape() -> None:
    args = load_bench.parse_args(["--url", "http://127.0.0.1:3000", "--users", "5"])
    assert args.shapes == [] and args.user_counts == [5]


@pytest.mark.parametrize(
    "argv",
    [
        ["--start", "embedded", "--users", "ten"],
        ["--start", "embedded", "--users", "0"],
        ["--start", "cluster"],
        ["--users", "10"],  # neither --start nor --url
        ["--start", "embedded", "--url", "http://127.0.0.1:3000"],
        ["--start", "scaled", "--app-env", "NO_VALUE"],
    ],
)
def test_bad_options_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        load_bench.parse_args(argv)


def test_every_confirmed_edit_in_the_audit_log_and_the_last_in_the_profile_is_stored() -> None:
    saved = [(1, "A"), (1, "B"), (2, "C")]
    audited = {(1, "A"), (1, "B"), (2, "C"), (3, "not the bench's")}
    assert load_bench.count_stored(saved, audited, {1: "B", 2: "C"}) == (3, 3)


def test_an_edit_missing_from_the_audit_log_or_overwritten_is_lost() -> None:
    saved = [(1, "A"), (1, "B"), (2, "C")]
    # (1, "A") never audited; profile 2 holds another value than its last confirmed edit
    assert load_bench.count_stored(saved, {(1, "B"), (2, "C")}, {1: "B", 2: "other"}) == (1, 3)


def _run(label: str, users: int, list_ms: list[float]) -> load_bench.RunFigures:
    return load_bench.RunFigures(
        label=label,
        users=users,
        seconds=60,
        load=1.0,
        events_per_s=1.0,
        stored=0,
        saved=0,
        background="none",
        locks="no Redis locks",
        timings={"list query": list_ms},
        errors={},
    )


def test_the_first_v_whose_list_p95_passes_one_second_is_named_per_shape() -> None:
    runs = [
        _run("scaled", 10, [100.0] * 20),
        _run("scaled", 25, [100.0] * 10 + [1500.0] * 10),
        _run("scaled", 50, [2000.0] * 20),
        _run("embedded", 10, [100.0] * 20),
        _run("embedded", 25, [900.0] * 20),
    ]
    lines = load_bench.first_v_over(runs).splitlines()
    assert lines == [
        "scaled: list query p95 passes 1 s at V=25",
        "embedded: list query p95 stays under 1 s up to V=25",
    ]
    assert runs[0].summary_row().startswith("| scaled | 10 | 60 s | 1.0 | 1.0 | nan / nan | 100 / 100 / 100 |")
