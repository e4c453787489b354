"""Reading a CSV/TSV/TXT upload or pasted cells: the encoding (a BOM, else UTF-8, else
the legacy code pages a spreadsheet program writes), the delimiter (a `sep=` line, else
the most consistent of DELIMITERS in a sample), then polars parses every value as text;
a file whose rows are ragged is read again leniently."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from itertools import islice

import polars as pl

from ...settings import get_settings
from . import limits
from .read_grid import sheet_from_grid
from .sheet_data import FileRejected, SheetData

SAMPLE_CHARS = 64 * 1024
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8", "UTF-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32"),
    (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32"),
    (b"\xff\xfe", "utf-16-le", "UTF-16"),
    (b"\xfe\xff", "utf-16-be", "UTF-16"),
)

_SEP_LINE = re.compile(r"sep=(.)\r?\n")


def read_text_file(data: bytes, file_name: str, suffix: str) -> SheetData:
    settings = get_settings()
    text = _decode(data, file_name)
    separator_line = _SEP_LINE.match(text)
    if separator_line:  # Excel's "sep=;" hint line: Excel hides it, so row 1 is the next
        delimiter = separator_line.group(1)
        text = text[separator_line.end() :]
    else:
        delimiter = _detect_delimiter(text, suffix)
    if "\n" not in text:
        text = text.replace("\r", "\n")  # classic Mac line ends
    grid = parse_delimited(text, delimiter, file_name)
    if grid is None:
        raise FileRejected(file_name, "the file has no data: it holds only blank lines")
    return sheet_from_grid(
        file_name,
        None,
        grid,
        first_row=1,
        has_header=True,
        max_rows=settings.upload_max_rows,
        too_many=limits.too_many_rows,
        empty_reason="the file has no data: it holds only blank lines",
    )


def _decode(raw: bytes, file_name: str) -> str:
    """Text from bytes: a BOM's encoding, else UTF-8, UTF-16 without BOM, cp1252, latin-1."""
    for bom, encoding, label in _BOMS:
        if raw.startswith(bom):
            try:
                text = raw[len(bom) :].decode(encoding)
            except UnicodeDecodeError:
                raise FileRejected(
                    file_name, f"the file starts with a {label} byte-order mark but is not valid {label} text"
                ) from None
            break
    else:
        text = _decode_without_bom(raw, file_name)
    if "\x00" in text:
        raise FileRejected(file_name, "the file holds binary data (NUL bytes): it is not a text (CSV) file")
    return text


def _decode_without_bom(raw: bytes, file_name: str) -> str:
    head = raw[:4096]
    if b"\x00" in head:
        # UTF-16 without BOM: ASCII text gives a NUL in every other byte
        even, odd = head[0::2].count(0), head[1::2].count(0)
        half = max(len(head) // 2, 1)
        encoding = "utf-16-le" if odd > 0.3 * half > even else "utf-16-be" if even > 0.3 * half > odd else None
        if encoding:
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError:
                pass
        raise FileRejected(file_name, "the file holds binary data (NUL bytes): it is not a text (CSV) file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # maps every byte: the last resort never fails


def _detect_delimiter(text: str, suffix: str) -> str:
    """The candidate that splits the first records into the same number (>1) of fields."""
    sample = text[:SAMPLE_CHARS]
    cut = len(text) > len(sample)
    if cut and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    order = ["\t", ",", ";", "|"] if suffix == ".tsv" else [",", ";", "\t", "|"]
    best, best_score = order[0], (0.0, 0)
    for delimiter in order:
        try:
            counts = [len(r) for r in islice(csv.reader(io.StringIO(sample), delimiter=delimiter), 200) if r]
        except csv.Error:
            continue
        if not counts:
            continue
        fields, times = Counter(counts).most_common(1)[0]
        if fields < 2:
            continue
        score = (times / len(counts), fields)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def parse_delimited(text: str, delimiter: str, file_name: str) -> pl.DataFrame | None:
    """Every record as text columns c0..cN (short records padded with nulls); None if blank.

    polars parses well-formed text fast; it refuses a stray quote inside a field (`5" screen`,
    `"Bob" Smith`), which spreadsheet programs accept, so such text is parsed again with the
    csv module the way they read it.
    """
    if not text.strip():
        return None
    width = _width(text[:SAMPLE_CHARS], delimiter, sample=True)
    data = text.encode("utf-8")
    for _attempt in range(2):
        try:
            return pl.read_csv(
                data,
                has_header=False,
                separator=delimiter,
                quote_char='"',
                infer_schema=False,
                schema={f"c{i}": pl.String for i in range(width)},
                missing_columns="insert",
                raise_if_empty=False,
            )
        except pl.exceptions.PolarsError:
            # a record further down has more fields than the sample showed, or a stray quote
            full_width = _width(text, delimiter, sample=False)
            if full_width == width:
                break
            width = full_width
    return _parse_leniently(text, delimiter, width, file_name)


def _width(text: str, delimiter: str, *, sample: bool) -> int:
    try:
        rows = csv.reader(io.StringIO(text), delimiter=delimiter)
        return max((len(r) for r in (islice(rows, 1000) if sample else rows)), default=1) or 1
    except csv.Error:
        return 1


def _parse_leniently(text: str, delimiter: str, width: int, file_name: str) -> pl.DataFrame:
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:  # e.g. a field over the csv module's 128K-character limit
        raise FileRejected(
            file_name,
            f"the file could not be read as {DELIMITERS.get(delimiter, repr(delimiter))}-separated text ({exc})",
        ) from None
    padded = [row + [""] * (width - len(row)) for row in rows]
    columns = zip(*padded, strict=True) if padded else [()] * width
    grid = pl.DataFrame(
        {f"c{i}": list(column) for i, column in enumerate(columns)}, schema={f"c{i}": pl.String for i in range(width)}
    )
    return grid.with_columns(pl.col(pl.String).replace("", None))
