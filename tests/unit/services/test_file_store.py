"""services/file_store.py: private files, and the streaming AEAD they are encrypted with."""

from __future__ import annotations

import base64
import json
import os
import stat
import zipfile
from pathlib import Path

import pytest

from profile_ui.services import crypto, file_store

KEY = base64.b64encode(bytes(range(32))).decode()
OTHER_KEY = base64.b64encode(bytes(range(100, 132))).decode()


@pytest.fixture
def encrypted(app_env, sqlite_url: str) -> Path:
    return app_env(sqlite_url, ENCRYPTION_KEY=KEY)


@pytest.mark.parametrize(
    "size",
    [
        0,
        1,
        file_store.SEGMENT_BYTES - 1,
        file_store.SEGMENT_BYTES,
        file_store.SEGMENT_BYTES + 1,
        3 * file_store.SEGMENT_BYTES + 17,
    ],
)
def test_round_trip_of_every_segment_boundary(encrypted: Path, size: int) -> None:
    data = os.urandom(size)
    path = file_store.write_bytes(encrypted / "f" / "x.bin", data)
    stored = path.read_bytes()
    assert stored.startswith(file_store.MAGIC)
    assert len(stored) > size + file_store.HEADER_BYTES and (size < 32 or data[:32] not in stored)
    assert file_store.read_bytes(path) == data
    assert file_store.open_plain(path).read() == data


def test_plain_text_never_on_disk_and_files_are_private(encrypted: Path) -> None:
    secret = b"an.secret@example.com,0901234567\n" * 1000
    path = file_store.write_bytes(encrypted / "uploads" / "a.csv", secret)
    assert b"an.secret" not in path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not list(path.parent.glob("*.part"))


def test_tampering_truncation_and_reordering_are_refused(encrypted: Path) -> None:
    data = os.urandom(3 * file_store.SEGMENT_BYTES + 5)
    path = file_store.write_bytes(encrypted / "t.bin", data)
    stored = path.read_bytes()
    segment = file_store.SEGMENT_BYTES + file_store.TAG_BYTES
    header = file_store.HEADER_BYTES
    flipped = bytearray(stored)
    flipped[header + 10] ^= 1
    cut_at_segment = stored[: header + 2 * segment]
    swapped = (
        stored[:header]
        + stored[header + segment : header + 2 * segment]
        + stored[header : header + segment]
        + stored[header + 2 * segment :]
    )
    for bad in (bytes(flipped), cut_at_segment, swapped, stored[:header]):
        path.write_bytes(bad)
        with pytest.raises(file_store.FileCryptoError):
            file_store.read_bytes(path)


def test_zip_writes_into_the_encrypting_stream(encrypted: Path) -> None:
    path = encrypted / "e.zip"
    with file_store.open_private(path) as out, zipfile.ZipFile(out, "w") as archive:
        archive.writestr("inner.csv", "name\nAn Nguyen\n")
    assert b"An Nguyen" not in path.read_bytes()
    with zipfile.ZipFile(file_store.open_plain(path)) as archive:
        assert archive.read("inner.csv") == b"name\nAn Nguyen\n"


def test_plain_files_still_read_and_without_encryption_files_stay_plain(app_env, sqlite_url: str) -> None:
    data_dir = app_env(sqlite_url)
    assert not file_store.files_encrypted()
    path = file_store.write_bytes(data_dir / "p.csv", b"plain")
    assert path.read_bytes() == b"plain" and file_store.read_bytes(path) == b"plain"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_encrypted_kinds_alone_turn_file_encryption_on(app_env, sqlite_url: str) -> None:
    app_env(sqlite_url, ENCRYPTED_IDENTITY_KINDS=json.dumps(["email"]))
    assert file_store.files_encrypted()


def test_rotation_reads_old_files_and_reencrypt_moves_them(app_env, sqlite_url: str, tmp_path: Path) -> None:
    data_dir = app_env(sqlite_url, ENCRYPTION_KEY=KEY)
    path = file_store.write_bytes(data_dir / "r.bin", b"secret rows")
    old_id = file_store.key_id_of_file(path)
    app_env(sqlite_url, ENCRYPTION_KEY=OTHER_KEY, PREVIOUS_ENCRYPTION_KEYS=json.dumps([KEY]))
    assert file_store.read_bytes(path) == b"secret rows"
    assert file_store.reencrypt_file(path)
    assert file_store.key_id_of_file(path) == crypto.current_key_id() != old_id
    assert not file_store.reencrypt_file(path)
    app_env(sqlite_url, ENCRYPTION_KEY=OTHER_KEY)  # the old key dropped: the file still reads
    assert file_store.read_bytes(path) == b"secret rows"
    app_env(sqlite_url, ENCRYPTION_KEY=KEY)
    with pytest.raises(file_store.FileCryptoError, match="not configured"):
        file_store.read_bytes(path)
