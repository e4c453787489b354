"""Identifiers encrypted at rest (e-mail and phone here): no plaintext in the database,
while matching, search, the User 360 page, export and undo keep working (SQLite and
PostgreSQL)."""

from __future__ import annotations

import base64
import csv
import json
import sqlite3
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlmodel import Session, SQLModel, select

from profile_ui.cli import main
from profile_ui.db import make_engine
from profile_ui.models import Identity, Profile
from profile_ui.pages.profiles.detail_state import _identity_views
from profile_ui.services import crypto
from profile_ui.services.deletion import DeletionError, erase_profile
from profile_ui.services.exporting import export_to_file
from profile_ui.services.importing.resolve import find_identity_owners
from profile_ui.services.importing.undo import undo_import
from profile_ui.services.permissions import BUILTIN_ROLES, Actor
from profile_ui.services.profile_edit import add_identity, create_profile, remove_identity
from profile_ui.services.profiles import (
    ProfileFilter,
    count_profiles,
    get_profile_360,
    identities_of,
    list_profiles,
)

ADMIN = Actor(user_id=None, email="admin@example.com", role="admin", permissions=frozenset(BUILTIN_ROLES["admin"][1]))
KEY = base64.b64encode(bytes(range(32))).decode()
OTHER_KEY = base64.b64encode(bytes(range(100, 132))).decode()
ENCRYPTED = json.dumps(["email", "phone"])

PEOPLE = [
    ["Full Name", "E-mail Address", "Mobile", "City"],
    ["An Nguyen", "an.secret@example.com", "0901234567", "Hanoi"],
    ["Binh Tran", "binh.secret@example.com", "0912 345 678", "Hue"],
    ["Chi Le", "chi.secret@example.com", "", "Da Nang"],
]
# every plain form of the values above and of the hand-made profile below
PLAINTEXTS = [
    "an.secret@example.com",
    "binh.secret@example.com",
    "chi.secret@example.com",
    "dung.secret@example.com",
    "+84901234567",
    "0901234567",
    "+84912345678",
    "912345678",
    "+84987654321",
    "987654321",
    "+84977111222",
    "977111222",
    "+84933444555",
    "933444555",
]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


@pytest.fixture
def app(app_env, db_url: str, tmp_path: Path):
    """The app's settings on this test's database, with e-mail and phone encrypted."""
    app_env(db_url, ENCRYPTED_IDENTITY_KINDS=ENCRYPTED, ENCRYPTION_KEY=KEY)
    engine = make_engine(db_url)
    runner = CliRunner()

    def run_import(rows: list[list[str]], name: str = "people.csv") -> dict:
        result = runner.invoke(
            main, ["import", str(write_csv(tmp_path / name, rows)), "--json"], catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
        return json.loads(next(line for line in result.output.splitlines() if line.startswith("{")))

    app = type("App", (), {})()
    app.engine, app.url, app.run_import, app.tmp = engine, db_url, run_import, tmp_path
    yield app
    engine.dispose()


def _session(app) -> Session:
    return Session(app.engine, expire_on_commit=False)


def _identities(app) -> list[Identity]:
    with _session(app) as session:
        return list(session.exec(select(Identity).order_by(Identity.id)).all())


def _owner(app, kind: str, value: str) -> int | None:
    with _session(app) as session:
        found = find_identity_owners(session=session, kind=kind, values=pl.Series([value]))
        return int(found["profile_id"][0]) if found.height else None


def _fill(app) -> dict[str, int]:
    """An import of three people, a profile made by hand, an identity added by hand."""
    report = app.run_import(PEOPLE)
    assert (report["status"], report["new"]) == ("completed", 3)
    with _session(app) as session:
        made = create_profile(
            session=session,
            actor=ADMIN,
            values={"full_name": "Dung Pham"},
            identities={"email": "Dung.Secret@Example.com", "phone": "0987 654 321"},
        )
        chi = _owner(app, "email", "chi.secret@example.com")
        add_identity(session=session, actor=ADMIN, profile_id=chi, kind="phone", value="0977111222")
        session.commit()
    return {
        "an": _owner(app, "email", "an.secret@example.com"),
        "binh": _owner(app, "email", "binh.secret@example.com"),
        "chi": chi,
        "dung": made.profile_id,
    }


def test_encrypted_kinds_are_stored_as_hash_and_ciphertext(app) -> None:
    ids = _fill(app)
    assert None not in ids.values() and len(set(ids.values())) == 4
    rows = [i for i in _identities(app) if i.kind in ("email", "phone")]
    assert len(rows) == 8
    key_id = crypto.key_id_of(base64.b64decode(KEY))
    for identity in rows:
        assert identity.is_encrypted and identity.key_id == key_id
        assert len(identity.value) == 64 and int(identity.value, 16) >= 0  # the HMAC, hex
        assert crypto.decrypt_identity_value(identity.value_encrypted, identity.key_id) in {
            "an.secret@example.com",
            "binh.secret@example.com",
            "chi.secret@example.com",
            "dung.secret@example.com",
            "+84901234567",
            "+84912345678",
            "+84987654321",
            "+84977111222",
        }
    # the same value encrypts differently each time (a fresh nonce), hashes the same
    assert len({i.value_encrypted for i in rows}) == len(rows)
    assert crypto.encrypt_identity_value("x@y.z")[0] != crypto.encrypt_identity_value("x@y.z")[0]


def _database_bytes(app) -> bytes:
    """The SQLite database file and its WAL / shared-memory files, as they are on disk."""
    path = Path(sa.engine.make_url(app.url).database)
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())


def _all_rows_as_text(app) -> str:
    """Every row of every table, as text (PostgreSQL)."""
    parts = []
    with app.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            parts.extend(
                str(row)
                for row in conn.execute(sa.text(f'SELECT row_to_json(t)::text FROM "{table.name}" AS t')).scalars()
            )
    return "\n".join(parts)


def _assert_no_plaintext(app) -> None:
    if app.url.startswith("sqlite"):
        app.engine.dispose()
        raw = _database_bytes(app)
        assert raw, "no database file"
        found = [text for text in PLAINTEXTS if text.encode() in raw]
        assert not found, f"plaintext in the SQLite files: {found}"
        path = sa.engine.make_url(app.url).database
        with sqlite3.connect(path) as conn:  # everything in the WAL moves into the main file
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw = Path(path).read_bytes()
        found = [text for text in PLAINTEXTS if text.encode() in raw]
        assert not found, f"plaintext in the SQLite file after the checkpoint: {found}"
    else:
        text = _all_rows_as_text(app)
        with app.engine.connect() as conn:
            identity_rows = "\n".join(str(r) for r in conn.execute(sa.text("SELECT * FROM identities")).all())
        assert not [plain for plain in PLAINTEXTS if plain in identity_rows]
        found = [plain for plain in PLAINTEXTS if plain in text]
        assert not found, f"plaintext in PostgreSQL rows: {found}"


def test_no_plaintext_in_the_database_and_matching_still_works(app) -> None:
    ids = _fill(app)
    with _session(app) as session:
        profiles_before = session.execute(sa.select(sa.func.count()).select_from(Profile)).scalar_one()

    # the same e-mail again updates the same profile; a phone alone (other format) matches too
    again = app.run_import(
        [["Full Name", "E-mail Address", "City"], ["An Nguyen", "AN.secret@example.com", "Saigon"]], "again.csv"
    )
    assert (again["new"], again["updated"]) == (0, 1)
    by_phone = app.run_import([["Mobile", "City"], ["+84 912 345 678", "Vinh"]], "phones.csv")
    assert (by_phone["new"], by_phone["updated"]) == (0, 1)
    with _session(app) as session:
        assert session.execute(sa.select(sa.func.count()).select_from(Profile)).scalar_one() == profiles_before
        assert session.get(Profile, ids["an"]).city == "Saigon"
        assert session.get(Profile, ids["binh"]).city == "Vinh"
    # the hand-made profile is found by an import too (its e-mail was hashed the same way)
    hand = app.run_import([["E-mail Address", "City"], ["dung.secret@example.com", "Hue"]], "dung.csv")
    assert (hand["new"], hand["updated"]) == (0, 1)
    # An's e-mail with Binh's phone: held for review; the message names the profiles, not the values
    conflict = app.run_import(
        [["E-mail Address", "Mobile", "City"], ["an.secret@example.com", "0912345678", "Hue"]], "conflict.csv"
    )
    assert conflict["conflicts"] == 1
    with _session(app) as session:
        message = session.execute(
            sa.text("SELECT errors FROM import_row_results WHERE job_id = :j"), {"j": conflict["job_id"]}
        ).scalar_one()
    assert f"profile {ids['an']} by email (encrypted)" in str(message)
    # a segment file keyed by e-mail finds the people; an unknown e-mail is not quoted back
    segments = write_csv(
        app.tmp / "vip.csv",
        [["Mail", "Segment Name"], ["binh.secret@example.com", "VIP"], ["nobody.secret@example.com", "VIP"]],
    )
    result = CliRunner().invoke(
        main,
        ["import", str(segments), "--kind", "segments", "--identifier", "email=Mail", "--json"],
        catch_exceptions=False,
    )
    report = json.loads(next(line for line in result.output.splitlines() if line.startswith("{")))
    assert (report["status"], report["invalid"]) == ("completed", 1)
    assert [e["message"] for e in report["errors"]] == ["no profile has this email"]
    with _session(app) as session:
        members = session.execute(sa.text("SELECT profile_id FROM segment_members")).scalars().all()
    assert members == [ids["binh"]]
    with _session(app) as session:  # removing one by hand: the audit event names the kind only
        phone = session.exec(select(Identity).where(Identity.profile_id == ids["dung"], Identity.kind == "phone")).one()
        remove_identity(session=session, actor=ADMIN, profile_id=ids["dung"], identity_id=phone.id)
        session.commit()

    _assert_no_plaintext(app)
    assert "nobody.secret" not in (
        _all_rows_as_text(app) if app.url.startswith("postgres") else _database_bytes(app).decode("latin-1")
    )


def test_erasure_still_refuses_a_reason_quoting_an_encrypted_phone(app) -> None:
    ids = _fill(app)
    with _session(app) as session, pytest.raises(DeletionError, match="personal data"):
        erase_profile(session=session, actor=ADMIN, profile_id=ids["binh"], reason="asked on 0912345678, +84912345678")


def test_an_import_that_adds_an_encrypted_identity_is_undone(app) -> None:
    ids = _fill(app)
    report = app.run_import([["E-mail Address", "Mobile"], ["chi.secret@example.com", "0933 444 555"]], "chi-phone.csv")
    assert report["updated"] == 1
    assert _owner(app, "phone", "+84933444555") == ids["chi"]
    with _session(app) as session:
        undone = undo_import(session=session, actor=ADMIN, job_id=report["job_id"])
        session.commit()
    assert undone.identities_removed == 1
    assert _owner(app, "phone", "+84933444555") is None
    assert _owner(app, "phone", "+84977111222") == ids["chi"]  # added by hand: stays
    _assert_no_plaintext(app)


def test_search_display_and_export_see_the_plain_values(app) -> None:
    ids = _fill(app)
    with _session(app) as session:

        def found(text: str) -> list[int]:
            flt = ProfileFilter(text=text)
            rows = list_profiles(session=session, actor=ADMIN, flt=flt).rows
            assert count_profiles(session=session, actor=ADMIN, flt=flt) == len(rows)
            return [p.id for p in rows]

        assert found("an.secret@example.com") == [ids["an"]]
        assert found("  AN.Secret@Example.com ") == [ids["an"]]
        assert found("0912 345 678") == [ids["binh"]]
        assert found("+84987654321") == [ids["dung"]]
        # a hash cannot tell where a value starts: prefixes of encrypted e-mails find nobody
        assert found("an.secret@exa") == []
        assert found("Binh") == [ids["binh"]]  # names still do

        shown = identities_of(session=session, profile_ids=[ids["chi"]])[ids["chi"]]
        assert shown == {"email": ["chi.secret@example.com"], "phone": ["+84977111222"]}
        data = get_profile_360(session=session, actor=ADMIN, profile_id=ids["dung"])
        assert sorted(i.value for i in data.identities) == ["+84987654321", "dung.secret@example.com"]
        views = _identity_views(data, {"email": "Email", "phone": "Phone"})  # the identity tab
        assert sorted(v.value for v in views) == ["+84987654321", "dung.secret@example.com"]
        assert all(v.encrypted and "Stored encrypted (AES, key " in v.detail for v in views)

        out = app.tmp / "export.csv"
        count, _left_out = export_to_file(session=session, actor=ADMIN, flt=ProfileFilter(), out_path=out)
        session.commit()
    assert count == 4
    with out.open(encoding="utf-8-sig") as handle:
        table = list(csv.DictReader(handle))
    assert "EMAIL(AES)" in table[0] and "PHONE(AES)" in table[0] and "USER_ID(UNENCRYPTED)" in table[0]
    by_email = {row["EMAIL(AES)"]: row for row in table}
    assert set(by_email) == {
        "an.secret@example.com",
        "binh.secret@example.com",
        "chi.secret@example.com",
        "dung.secret@example.com",
    }
    assert by_email["binh.secret@example.com"]["PHONE(AES)"] == "+84912345678"
    assert by_email["chi.secret@example.com"]["PHONE(AES)"] == "+84977111222"


def test_a_wrong_key_fails_cleanly(app, app_env) -> None:
    ids = _fill(app)
    stored = next(i for i in _identities(app) if i.kind == "email")
    # another key configured: the old key id is unknown, and decrypting is refused clearly
    app_env(app.url, ENCRYPTED_IDENTITY_KINDS=ENCRYPTED, ENCRYPTION_KEY=OTHER_KEY)
    with pytest.raises(crypto.IdentityCryptoError, match="not configured"):
        crypto.decrypt_identity_value(stored.value_encrypted, stored.key_id)
    # a wrong key under the right key id (a tampered setup): the tag check refuses it
    with pytest.raises(crypto.IdentityCryptoError, match="wrong key or damaged"):
        crypto.decrypt_identity_value(stored.value_encrypted, crypto.current_key_id())
    with pytest.raises(crypto.IdentityCryptoError, match="damaged"):
        crypto.decrypt_identity_value("not base64!", crypto.current_key_id())
    with _session(app) as session:
        shown = identities_of(session=session, profile_ids=[ids["an"]])[ids["an"]]
        assert shown["email"] == ["•••• (cannot be decrypted)"]  # never the hash
        out = app.tmp / "wrong-key.csv"
        export_to_file(session=session, actor=ADMIN, flt=ProfileFilter(), out_path=out)
        session.rollback()
    with out.open(encoding="utf-8-sig") as handle:
        assert {row["EMAIL(AES)"] for row in csv.DictReader(handle)} == {""}


def test_rotation_reads_old_values_and_rekey_moves_them_to_the_new_key(app, app_env) -> None:
    ids = _fill(app)
    app_env(
        app.url,
        ENCRYPTED_IDENTITY_KINDS=ENCRYPTED,
        ENCRYPTION_KEY=OTHER_KEY,
        PREVIOUS_ENCRYPTION_KEYS=json.dumps([KEY]),
    )
    # values written under the old key are still found and read
    assert _owner(app, "email", "an.secret@example.com") == ids["an"]
    with _session(app) as session:
        assert identities_of(session=session, profile_ids=[ids["an"]])[ids["an"]]["email"] == ["an.secret@example.com"]
        moved = crypto.rekey_identities(session=session, actor=ADMIN)
        session.commit()
    assert moved == 8
    new_id = crypto.key_id_of(base64.b64decode(OTHER_KEY))
    assert {i.key_id for i in _identities(app) if i.is_encrypted} == {new_id}
    # now readable with the new key alone
    app_env(app.url, ENCRYPTED_IDENTITY_KINDS=ENCRYPTED, ENCRYPTION_KEY=OTHER_KEY)
    assert _owner(app, "phone", "+84901234567") == ids["an"]
    report = app.run_import([["E-mail Address", "City"], ["an.secret@example.com", "Vinh"]], "after.csv")
    assert (report["new"], report["updated"]) == (0, 1)


def test_turning_encryption_on_and_off_for_a_kind(app, app_env) -> None:
    app_env(app.url, ENCRYPTED_IDENTITY_KINDS="[]")  # nothing encrypted
    report = app.run_import(PEOPLE)
    assert report["new"] == 3
    assert not any(i.is_encrypted for i in _identities(app))
    app_env(app.url, ENCRYPTED_IDENTITY_KINDS=ENCRYPTED, ENCRYPTION_KEY=KEY)
    with _session(app) as session:
        assert crypto.rekey_identities(session=session, actor=ADMIN) == 5
        session.commit()
    assert all(i.is_encrypted for i in _identities(app) if i.kind in ("email", "phone"))
    assert _owner(app, "email", "binh.secret@example.com") is not None
    _assert_no_plaintext(app)
    app_env(app.url, ENCRYPTED_IDENTITY_KINDS=json.dumps(["phone"]), ENCRYPTION_KEY=KEY)
    with _session(app) as session:
        assert crypto.rekey_identities(session=session, actor=ADMIN) == 3  # e-mails back to plain
        session.commit()
    emails = sorted(i.value for i in _identities(app) if i.kind == "email")
    assert emails == ["an.secret@example.com", "binh.secret@example.com", "chi.secret@example.com"]
    assert all(i.is_encrypted for i in _identities(app) if i.kind == "phone")


def test_fifty_thousand_values_encrypt_and_hash_in_bulk(app) -> None:
    frame = pl.DataFrame(
        {
            "kind": ["email"] * 25_000 + ["phone"] * 25_000,
            "value": [f"p{i}@example.com" for i in range(25_000)] + [f"+8490{i:07d}" for i in range(25_000)],
        }
    )
    stored = crypto.identity_storage(frame)
    assert stored.height == 50_000 and stored["is_encrypted"].all()
    assert stored["value"].str.len_chars().eq(64).all()
    back = crypto.decrypt_identity_values(stored["value_encrypted"], stored["key_id"], strict=True)
    assert sorted(back.to_list()) == sorted(frame["value"].to_list())
