"""Customer files the app keeps under DATA_DIR (uploads, parsed-sheet cache, import error
files, exports): private on disk, and encrypted at rest when encryption is configured.

Private: every such file is created 0600 inside folders made 0700 (`private_dir`), so
another account on the machine reads neither the file nor the folder's listing.

Encrypted: when `files_encrypted()` (ENCRYPTION_KEY set or ENCRYPTED_IDENTITY_KINDS not
empty) a file is written through `open_private(path, "wb")` as a streaming AEAD in the
STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015) over AES-256-GCM from
`cryptography`, as Tink's AES-GCM-HKDF streaming does:

    header   = MAGIC (8) | key id (8, ASCII) | salt (16) | nonce prefix (7)
    file key = HKDF-SHA256(the app key of that key id, salt, info=FILE_KEY_INFO)
    segment i (SEGMENT_BYTES of plain text, the last one shorter, maybe empty)
             = AES-GCM(file key, nonce = prefix | i (4 bytes) | last (1 byte), aad = header)

A fresh salt per file gives each file its own key, so random nonce prefixes never
collide under one key; the counter stops segments being reordered, the last flag stops
truncation and appending. The app key is the one of services/crypto.py (the current one
writes; any configured one, by its key id, reads), so `profile-ui identities rekey`
rotates files too (`reencrypt_file`).

Reading (`read_bytes`, `iter_plain`, `open_plain`) tells an encrypted file by its magic
and reads a plain one as it is: files written before encryption was turned on (or before
this module existed) stay readable until the purge removes them. Plain text exists only
in the memory of the process that reads.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..settings import get_settings
from . import crypto

MAGIC = b"PUIFENC1"
KEY_ID_BYTES = crypto.KEY_ID_CHARS
SALT_BYTES = 16
PREFIX_BYTES = 7
HEADER_BYTES = len(MAGIC) + KEY_ID_BYTES + SALT_BYTES + PREFIX_BYTES
TAG_BYTES = 16
SEGMENT_BYTES = 64 * 1024
FILE_KEY_INFO = b"profile-ui file encryption key v1"
DIR_MODE = 0o700
FILE_MODE = 0o600


class FileCryptoError(ValueError):
    """A stored file cannot be decrypted (unknown key, wrong key, damaged or cut short)."""


def files_encrypted() -> bool:
    """Whether new customer files are written encrypted (see the module docstring)."""
    settings = get_settings()
    return bool(settings.encryption_key or settings.encrypted_identity_kinds)


def private_dir(folder: Path) -> Path:
    """`folder` made 0700 (and every folder created on the way to it); returns it."""
    folder = Path(folder)
    missing = []
    probe = folder
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for created in reversed(missing):
        with suppress(FileExistsError):
            created.mkdir(mode=DIR_MODE)
        with suppress(OSError):
            os.chmod(created, DIR_MODE)  # mkdir's mode is masked by the umask
    with suppress(OSError):
        os.chmod(folder, DIR_MODE)
    return folder


def _create_private(path: Path, *, exclusive: bool = False) -> IO[bytes]:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    with suppress(OSError):
        os.fchmod(fd, FILE_MODE)
    return os.fdopen(fd, "wb")


def _file_key(key: Any, salt: bytes) -> AESGCM:
    raw = HKDF(algorithm=hashes.SHA256(), length=crypto.KEY_BYTES, salt=salt, info=FILE_KEY_INFO).derive(key.lookup)
    return AESGCM(raw)


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", index, 1 if last else 0)


class EncryptingWriter(io.RawIOBase):
    """A write-only, non-seekable binary stream that encrypts into `raw` segment by
    segment (zipfile writes into it as into any unseekable stream)."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        key = crypto.keyring().current
        salt, self._prefix = os.urandom(SALT_BYTES), os.urandom(PREFIX_BYTES)
        self._header = MAGIC + key.key_id.encode() + salt + self._prefix
        self._aes = _file_key(key, salt)
        self._raw = raw
        self._buffer = bytearray()
        self._index = 0
        raw.write(self._header)

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._buffer += view
        while len(self._buffer) > SEGMENT_BYTES:  # keep one back: the last segment is marked
            self._seal(bytes(self._buffer[:SEGMENT_BYTES]), last=False)
            del self._buffer[:SEGMENT_BYTES]
        return len(view)

    def _seal(self, plain: bytes, *, last: bool) -> None:
        if self._index >= 2**32 - 1:
            raise FileCryptoError("file too large for one encrypted stream")
        self._raw.write(self._aes.encrypt(_nonce(self._prefix, self._index, last), plain, self._header))
        self._index += 1

    def close(self) -> None:
        if not self.closed:
            try:
                self._seal(bytes(self._buffer), last=True)
                self._buffer.clear()
            finally:
                self._raw.close()
        super().close()


def open_private(path: Path | str, *, exclusive: bool = False, encrypt: bool | None = None) -> IO[bytes]:
    """A new private file (0600) open for binary writing: encrypting when `encrypt`
    (default: files_encrypted()). Close it to finish the file. A missing folder is made
    0700; an existing one is left as it is (it may be the user's own: callers make the
    app's folders private with `private_dir`)."""
    path = Path(path)
    if not path.parent.exists():
        private_dir(path.parent)
    raw = _create_private(path, exclusive=exclusive)
    if not (files_encrypted() if encrypt is None else encrypt):
        return raw
    try:
        return io.BufferedWriter(EncryptingWriter(raw), buffer_size=SEGMENT_BYTES)
    except BaseException:
        raw.close()
        raise


@contextmanager
def replacing(path: Path | str, *, encrypt: bool | None = None, exclusive: bool = False) -> Iterator[IO[bytes]]:
    """open_private for a file that appears at `path` complete or not at all: written as
    "<name>.part" beside it and renamed into place when the block ends; an error in the
    block leaves nothing behind."""
    path = Path(path)
    partial = path.with_name(f"{path.name}.part")
    try:
        with open_private(partial, encrypt=encrypt, exclusive=exclusive) as out:
            yield out
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_bytes(path: Path | str, data: bytes, *, encrypt: bool | None = None) -> Path:
    """`data` into a private file at `path` (see `replacing`)."""
    with replacing(path, encrypt=encrypt) as out:
        out.write(data)
    return Path(path)


def stored_size(plain_bytes: int) -> int:
    """The most bytes a stored file of `plain_bytes` plain bytes can take (encrypted)."""
    return HEADER_BYTES + plain_bytes + (plain_bytes // SEGMENT_BYTES + 1) * TAG_BYTES


def is_encrypted(path: Path | str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(len(MAGIC)) == MAGIC


def key_id_of_file(path: Path | str) -> str | None:
    """The key id an encrypted file was written with (None for a plain file)."""
    with open(path, "rb") as handle:
        header = handle.read(HEADER_BYTES)
    if not header.startswith(MAGIC):
        return None
    return header[len(MAGIC) : len(MAGIC) + KEY_ID_BYTES].decode("ascii", "replace")


def _decrypt_segments(handle: IO[bytes], name: str) -> Iterator[bytes]:
    header = handle.read(HEADER_BYTES)
    if len(header) < HEADER_BYTES:
        raise FileCryptoError(f"{name}: the encrypted file is cut short")
    key_id = header[len(MAGIC) : len(MAGIC) + KEY_ID_BYTES].decode("ascii", "replace")
    salt = header[len(MAGIC) + KEY_ID_BYTES : len(MAGIC) + KEY_ID_BYTES + SALT_BYTES]
    prefix = header[-PREFIX_BYTES:]
    key = crypto.keyring().by_id.get(key_id)
    if key is None:
        raise FileCryptoError(
            f"{name} was encrypted with key {key_id}, which is not configured "
            "(ENCRYPTION_KEY / PREVIOUS_ENCRYPTION_KEYS)"
        )
    aes = _file_key(key, salt)
    size = SEGMENT_BYTES + TAG_BYTES
    block = handle.read(size)
    index = 0
    while True:
        following = handle.read(size)
        last = not following
        try:
            yield aes.decrypt(_nonce(prefix, index, last), block, header)
        except InvalidTag:
            raise FileCryptoError(
                f"{name} does not decrypt with key {key_id} (wrong key, or the file is damaged or cut short)"
            ) from None
        if last:
            return
        block, index = following, index + 1


def iter_plain(path: Path | str, *, chunk_bytes: int = SEGMENT_BYTES) -> Iterator[bytes]:
    """The plain content of a stored file, in chunks (encrypted or not)."""
    path = Path(path)
    with open(path, "rb") as handle:
        if handle.read(len(MAGIC)) == MAGIC:
            handle.seek(0)
            yield from _decrypt_segments(handle, path.name)
            return
        handle.seek(0)
        yield from iter(lambda: handle.read(chunk_bytes), b"")


def read_bytes(path: Path | str) -> bytes:
    """The whole plain content of a stored file (encrypted or not)."""
    return b"".join(iter_plain(path))


def open_plain(path: Path | str) -> IO[bytes]:
    """A seekable binary stream of the plain content (in memory for an encrypted file)."""
    path = Path(path)
    if is_encrypted(path):
        return io.BytesIO(read_bytes(path))
    return open(path, "rb")


def reencrypt_file(path: Path | str) -> bool:
    """Bring one stored file in line with the settings: encrypted under the current key
    when files are encrypted, plain otherwise. True when it was rewritten."""
    path = Path(path)
    wanted = files_encrypted()
    key_id = key_id_of_file(path)
    if (key_id == crypto.current_key_id()) if wanted else key_id is None:
        return False
    with replacing(path, encrypt=wanted) as out:
        for chunk in iter_plain(path):
            out.write(chunk)
    return True
