"""`profile-ui import` / `export-profiles`: the contract operators and scripts rely on."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from profile_ui.cli import main
from profile_ui.db import make_engine
from profile_ui.models import Identity, ImportJob, Notification, Profile

REPORT_KEYS = {
    "file",
    "status",
    "rows",
    "new",
    "updated",
    "merged",
    "unchanged",
    "invalid",
    "conflicts",
    "errors",
    "error",
    "job_id",
}


@pytest.fixture
def cli(app_env, sqlite_url: str):
    app_env(sqlite_url)
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, list[dict], str]:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
        return result.exit_code, lines, result.output

    invoke.engine = make_engine(sqlite_url)
    yield invoke
    invoke.engine.dispose()


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


PEOPLE = [
    ["Full Name", "E-mail Address", "Mobile", "City"],
    ["Nguyễn Văn An", "an@example.com", "0901234567", "Hà Nội"],
    ["Trần Thị Bình", "not-an-email", "", "Huế"],
    ["Lê Chi", "chi@example.com", "", "Đà Nẵng"],
]


def count(engine: sa.Engine, table: type) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_import_reports_each_file_as_one_json_line(cli, tmp_path: Path) -> None:
    people = write_csv(tmp_path / "people.csv", PEOPLE)

    code, (report,), _ = cli("import", str(people), "--json")

    assert code == 0
    assert set(report) == REPORT_KEYS
    assert report["file"] == "people.csv"
    assert report["status"] == "completed"
    assert (report["rows"], report["new"], report["invalid"]) == (3, 2, 1)
    # the bad e-mail is on the spreadsheet's row 3 (header = row 1); no phone to fall back on
    assert report["errors"]
    assert {e["row"] for e in report["errors"]} == {3}
    assert any(e["column"] == "E-mail Address" and "not-an-email" in e["message"] for e in report["errors"])
    assert report["error"] is None
    assert count(cli.engine, Profile) == 2
    with cli.engine.connect() as conn:
        status, error_file = conn.execute(
            sa.select(ImportJob.status, ImportJob.error_file_path).where(ImportJob.id == report["job_id"])
        ).one()
        phones = conn.execute(sa.select(Identity.value).where(Identity.kind == "phone")).scalars().all()
    assert status == "completed"
    assert phones == ["+84901234567"]
    # the error file: the invalid row as it came in, with the reasons (xlsx, and csv beside it)
    assert Path(error_file).suffix == ".xlsx" and Path(error_file).is_file()
    error_rows = list(csv.reader(Path(error_file).with_suffix(".csv").open(encoding="utf-8-sig")))
    assert error_rows[0][1:5] == PEOPLE[0] and error_rows[1][1:5] == PEOPLE[2]
    assert error_rows[1][0] == "3" and "not-an-email" in error_rows[1][5]


def test_importing_the_same_file_again_creates_nobody_twice(cli, tmp_path: Path) -> None:
    people = write_csv(tmp_path / "people.csv", PEOPLE)
    cli("import", str(people), "--json")

    code, (again,), _ = cli("import", str(people), "--json")

    assert code == 0 and again["status"] == "completed"
    assert again["new"] == 0
    assert again["unchanged"] + again["updated"] == 2
    assert count(cli.engine, Profile) == 2


def test_dry_run_reports_the_outcome_and_writes_nothing(cli, tmp_path: Path) -> None:
    people = write_csv(tmp_path / "people.csv", PEOPLE)

    code, (report,), _ = cli("import", str(people), "--dry-run", "--json")

    assert code == 0
    assert report["status"] == "dry_run"
    assert (report["rows"], report["new"], report["invalid"]) == (3, 2, 1)
    assert {e["row"] for e in report["errors"]} == {3}
    assert count(cli.engine, Profile) == 0
    assert count(cli.engine, Identity) == 0


def test_a_rejected_file_exits_2_and_the_other_files_still_run(cli, tmp_path: Path) -> None:
    fake = tmp_path / "customers.xlsx"
    fake.write_text("this is not a workbook\n", encoding="utf-8")
    people = write_csv(tmp_path / "people.csv", PEOPLE)

    code, reports, _ = cli("import", str(fake), str(people), "--json")

    assert code == 2
    assert [r["file"] for r in reports] == ["customers.xlsx", "people.csv"]
    rejected, completed = reports
    assert rejected["status"] == "rejected"
    assert rejected["error"].startswith("customers.xlsx")
    assert rejected["new"] == 0 and rejected["errors"] == []
    assert completed["status"] == "completed" and completed["new"] == 2
    assert count(cli.engine, Profile) == 2


def test_a_missing_file_and_a_file_without_identifier_are_rejected(cli, tmp_path: Path) -> None:
    no_id = write_csv(tmp_path / "names.csv", [["Full Name", "City"], ["An", "Huế"]])

    code, reports, _ = cli("import", str(tmp_path / "gone.csv"), str(no_id), "--json")

    assert code == 2
    assert [r["status"] for r in reports] == ["rejected", "rejected"]
    assert "not found" in reports[0]["error"]
    assert "identifier" in reports[1]["error"].lower()
    assert count(cli.engine, Profile) == 0


def test_identifier_and_mapping_options_choose_the_columns(cli, tmp_path: Path) -> None:
    sheet = write_csv(
        tmp_path / "crm.csv",
        [
            ["Ref", "Contact", "Who", "Town", "Remark"],
            ["C-1", "ana@example.com", "Ana", "Huế", "first"],
            ["C-2", "bo@example.com", "Bo", "Huế", "second"],
        ],
    )
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"columns": {"Who": "full_name", "Town": "city", "Remark": None}}), encoding="utf-8")

    code, (report,), _ = cli(
        "import",
        str(sheet),
        "--mapping",
        str(mapping),
        "--identifier",
        "user_id=Ref",
        "--identifier",
        "email=Contact",
        "--json",
    )

    assert code == 0 and report["new"] == 2
    with cli.engine.connect() as conn:
        kinds = conn.execute(sa.select(Identity.kind, Identity.value).order_by(Identity.value)).all()
        cities = conn.execute(sa.select(Profile.city)).scalars().all()
    assert sorted(kinds) == [
        ("email", "ana@example.com"),
        ("email", "bo@example.com"),
        ("user_id", "C-1"),
        ("user_id", "C-2"),
    ]
    assert cities == ["Huế", "Huế"]


def test_bad_identifier_option_is_a_usage_error(cli, tmp_path: Path) -> None:
    people = write_csv(tmp_path / "people.csv", PEOPLE)

    code, reports, output = cli("import", str(people), "--identifier", "email", "--json")

    assert code == 2 and reports == []
    assert "KIND=COLUMN" in output


def test_as_user_owns_the_job_and_is_notified(cli, tmp_path: Path) -> None:
    code, _, _ = cli(
        "user", "create", "--email", "mia@example.com", "--password", "long-enough-1", "--role", "marketer"
    )
    assert code == 0
    people = write_csv(tmp_path / "people.csv", PEOPLE)

    code, (report,), _ = cli("import", str(people), "--as", "mia@example.com", "--json")

    assert code == 0
    with cli.engine.connect() as conn:
        owner = conn.execute(sa.select(ImportJob.created_by).where(ImportJob.id == report["job_id"])).scalar_one()
        notes = conn.execute(sa.select(Notification.user_id, Notification.title, Notification.link)).all()
    assert owner is not None
    assert notes == [(owner, "Import completed: people.csv", f"/imports/{report['job_id']}")]

    code, _, output = cli("import", str(people), "--as", "nobody@example.com", "--json")
    assert code == 1 and "nobody@example.com" in output


def test_viewer_may_not_import(cli, tmp_path: Path) -> None:
    cli("user", "create", "--email", "vi@example.com", "--password", "long-enough-1", "--role", "viewer")
    people = write_csv(tmp_path / "people.csv", PEOPLE)

    code, reports, output = cli("import", str(people), "--as", "vi@example.com", "--json")

    assert code == 1 and reports == []
    assert "profiles.import" in output
    assert count(cli.engine, ImportJob) == 0


def test_export_profiles_writes_every_active_profile_with_identities(cli, tmp_path: Path) -> None:
    people = write_csv(tmp_path / "people.csv", PEOPLE)
    cli("import", str(people), "--json")
    out = tmp_path / "out" / "profiles.csv"

    code, _, output = cli("export-profiles", "--out", str(out))

    assert code == 0 and "2 profiles" in output
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_email = {row["email"]: row for row in rows}
    assert set(by_email) == {"an@example.com", "chi@example.com"}
    assert by_email["an@example.com"]["phone"] == "+84901234567"
    assert by_email["an@example.com"]["full_name"] == "Nguyễn Văn An"
    assert by_email["chi@example.com"]["city"] == "Đà Nẵng"
    assert {"id", "user_id", "gender", "birthday", "member_level", "registered_at"} <= set(rows[0])


def test_segment_files_set_memberships_with_values(cli, tmp_path: Path) -> None:
    from profile_ui.models import Segment, SegmentMember

    people = write_csv(
        tmp_path / "people.csv",
        [["Full Name", "User ID", "Email"], ["An", "U1", "an@example.com"], ["Bo", "U2", "bo@example.com"]],
    )
    cli("import", str(people), "--json")
    by_id = write_csv(
        tmp_path / "rfm.csv",
        [
            ["User ID", "Segment Name", "Segment Value"],
            ["U1", "RFM tier", "Gold"],
            ["U2", "RFM tier", "Silver"],
            ["U9", "RFM tier", "Gold"],
        ],
    )
    by_email = write_csv(
        tmp_path / "churn.csv", [["Mail", "Segment Name", "Segment Value"], ["bo@example.com", "Churn risk", "High"]]
    )

    code, (first,), _ = cli("import", str(by_id), "--kind", "segments", "--json")
    code2, (second,), _ = cli("import", str(by_email), "--kind", "segments", "--identifier", "email=Mail", "--json")

    assert (code, code2) == (0, 0)
    assert first["status"] == "completed" and first["invalid"] == 1
    assert [(e["row"], e["column"]) for e in first["errors"]] == [(4, "User ID")]
    assert second["status"] == "completed" and second["invalid"] == 0
    with cli.engine.connect() as conn:
        members = conn.execute(
            sa.select(Segment.name, Identity.value, SegmentMember.value)
            .join(SegmentMember, SegmentMember.segment_id == Segment.id)
            .join(Identity, (Identity.profile_id == SegmentMember.profile_id) & (Identity.kind == "user_id"))
            .order_by(Segment.name, Identity.value)
        ).all()
    assert members == [("Churn risk", "U2", "High"), ("RFM tier", "U1", "Gold"), ("RFM tier", "U2", "Silver")]


def test_identities_rekey_encrypts_what_the_settings_now_say(cli, app_env, sqlite_url, tmp_path) -> None:
    path = write_csv(tmp_path / "plain.csv", [["Email", "Full Name"], ["an@example.com", "An"]])
    assert cli("import", "--json", str(path))[0] == 0

    _code, _lines, key = cli("identities", "new-key")
    app_env(sqlite_url, ENCRYPTED_IDENTITY_KINDS='["email"]', ENCRYPTION_KEY=key.strip())
    code, _lines, output = cli("identities", "rekey")

    assert code == 0 and "1 identities now stored" in output
    with cli.engine.connect() as conn:
        stored = conn.execute(
            sa.select(Identity.value, Identity.is_encrypted, Identity.value_encrypted).where(Identity.kind == "email")
        ).one()
    assert stored.is_encrypted and "an@example.com" not in (stored.value + stored.value_encrypted)


def test_the_readme_limits_hold_on_the_command_line(app_env, sqlite_url: str, tmp_path: Path) -> None:
    """UPLOAD_MAX_BYTES and UPLOAD_MAX_ROWS refuse a file as the wizard does, in its words."""
    app_env(sqlite_url, UPLOAD_MAX_BYTES="2000", UPLOAD_MAX_ROWS="5")
    many = write_csv(tmp_path / "many.csv", [["Email"]] + [[f"p{n}@example.com"] for n in range(6)])
    big = write_csv(tmp_path / "big.csv", [["Email", "Note"]] + [[f"b{n}@example.com", "x" * 500] for n in range(4)])
    result = CliRunner().invoke(main, ["import", str(many), str(big), "--json"], catch_exceptions=False)
    reports = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert result.exit_code == 2
    assert reports[0]["error"] == (
        "many.csv: it has 6 data rows; at most 5 can be imported at once (split it into smaller files)"
    )
    assert (
        reports[1]["error"]
        == f"big.csv: the file is {big.stat().st_size:,} bytes; files up to 2,000 bytes can be imported"
    )
    engine = make_engine(sqlite_url)
    assert count(engine, Profile) == 0
    engine.dispose()
