"""Value normalizers: the one place for e-mail, phone, date, number, boolean and name rules.

Every rule is a polars expression over text (imports convert whole columns at once) and a
scalar function built on the same code (profile creation, inline edit), so a value is read
the same way wherever a person types or imports it. Expressions take text and return the
typed value, or null when the text is empty or not valid; the caller reports "text present
but value null" with `invalid_message`. Conversions run once per DISTINCT value and are
joined back (a 50,000-row column often holds a few hundred distinct values), and a value is
tried against the next date format only while no earlier format has read it.

Reading rules (documented for users in the import screen):
- Dates: ISO (1990-03-12, also with a time part), 12/03/1990, 12-03-1990, 12.03.1990,
  1990/03/12, 19900312, "12 Mar 1990", "Mar 12, 1990", and Excel serial numbers with five
  digits (10000-99999 = 1927-2173; a shorter number is more likely a typo than a date).
  An ambiguous day/month such as 03/04/1990 is read DAY FIRST (3 April 1990), as written in
  Vietnam and Europe; month-first is used only when day-first is impossible (12/25/1990).
  Years need four digits and must lie in 1800-2199.
- Date-times: the date forms above with a time (14:30, 14:30:05, 2:30 PM), ISO with an
  offset (converted to UTC) or without one (read as UTC), Excel serials with a fraction.
- Numbers: 1234.5, "1,234.5" (comma thousands), "1.234,5" (dot thousands, comma decimal),
  "1.234.567", "1 234,5", currency signs around the number (1.000.000đ, $12). A single
  group "1,234" is read as 1234 and "1.234" as 1.234; "1,5" is 1.5.
- Booleans: yes/no, y/n, true/false, 1/0, x (ticked), có/không, đúng/sai, oui/non, ja/nein, sí.
- Phones: E.164 (+84912345678) with the `phonenumbers` library; a number without a country
  code is read in the default region (settings.default_phone_region).
- E-mails: trimmed, lower-cased, checked with a practical pattern (international domains
  and Unicode letters allowed), at most 254 characters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import phonenumbers
import polars as pl

from ...settings import get_settings

MIN_YEAR, MAX_YEAR = 1800, 2199
EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 = 1900-01-01 (Excel's 1900 leap-year bug included)


class InvalidValue(ValueError):
    """A value a person typed or imported that cannot be read; the message is for them."""


# ---------------------------------------------------------------- shared machinery


def on_distinct(values: pl.Series, convert: Callable[[pl.Series], pl.Series], dtype: pl.DataType) -> pl.Series:
    """convert() each distinct non-null value once, then spread the results over `values`."""
    values = values.cast(pl.Utf8)
    distinct = values.drop_nulls().unique()
    if distinct.is_empty():
        return pl.Series(values.name, [None] * len(values), dtype=dtype)
    converted = convert(distinct)
    keep = converted.is_not_null()
    return values.replace_strict(distinct.filter(keep), converted.filter(keep), default=None, return_dtype=dtype)


def _distinct_expr(expr: pl.Expr, convert: Callable[[pl.Series], pl.Series], dtype: pl.DataType) -> pl.Expr:
    return expr.map_batches(lambda s: on_distinct(s, convert, dtype), return_dtype=dtype)


Parser = Callable[[pl.Series], pl.Series]


def _first_parse(values: pl.Series, parsers: Sequence[Parser], dtype: pl.DataType) -> pl.Series:
    """Each value read by the first parser that reads it (later parsers see only the rest)."""
    keys: list[pl.Series] = []
    parsed: list[pl.Series] = []
    remaining = values.drop_nulls().unique()
    for parse in parsers:
        if remaining.is_empty():
            break
        result = parse(remaining).cast(dtype)
        ok = result.is_not_null()
        keys.append(remaining.filter(ok))
        parsed.append(result.filter(ok))
        remaining = remaining.filter(~ok)
    if not keys:
        return pl.Series(values.name, [None] * len(values), dtype=dtype)
    return values.replace_strict(pl.concat(keys), pl.concat(parsed), default=None, return_dtype=dtype)


def _select(values: pl.Series, *steps: pl.Expr) -> pl.Series:
    """Evaluate expressions over column "v" of `values`, each step materialized before the next
    (so a cleaned intermediate column is computed once, not once per use)."""
    frame = pl.DataFrame({"v": values})
    for step in steps[:-1]:
        frame = frame.with_columns(step)
    return frame.select(steps[-1].alias(values.name)).to_series()


# ---------------------------------------------------------------- text and folding

_FOLD_KEEP = re.compile(r"[^\w]+", re.UNICODE)


def fold_text(value: str) -> str:
    """Lower-case, accents removed (Vietnamese đ too), punctuation -> single spaces.

    "Số điện thoại" -> "so dien thoai", "E-mail Address" -> "e mail address".
    """
    text = unicodedata.normalize("NFKD", value.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return " ".join(_FOLD_KEEP.sub(" ", text).replace("_", " ").split())


def fold_expr(expr: pl.Expr) -> pl.Expr:
    """`fold_text` as a polars expression."""
    return (
        expr.str.replace_all("[đĐ]", "d")
        .str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
        .str.to_lowercase()
        .str.replace_all(r"[\W_]+", " ")
        .str.strip_chars()
    )


def text_expr(expr: pl.Expr) -> pl.Expr:
    """Trimmed text; empty -> null."""
    text = expr.str.strip_chars()
    return pl.when(text.str.len_chars() > 0).then(text)


def name_expr(expr: pl.Expr) -> pl.Expr:
    """Names: trimmed, inner runs of spaces collapsed to one; empty -> null."""
    return text_expr(expr.str.replace_all(r"\s+", " "))


# ---------------------------------------------------------------- e-mail

_EMAIL_ATOM = r"[\w!#$%&'*+/=?^`{|}~-]+"
# Works in both Python `re` and polars' Rust regex (no look-arounds).
EMAIL_PATTERN = rf"^{_EMAIL_ATOM}(?:\.{_EMAIL_ATOM})*@(?:\w(?:[\w-]*\w)?\.)+(?:[^\W\d_]{{2,}}|xn--[a-z0-9-]+)$"


def _emails(values: pl.Series) -> pl.Series:
    e = pl.col("e")
    ok = e.str.contains(EMAIL_PATTERN) & (e.str.len_chars() <= 254) & (e.str.find("@", literal=True) <= 64)
    return _select(values, pl.col("v").str.strip_chars().str.to_lowercase().alias("e"), pl.when(ok).then(e))


def email_expr(expr: pl.Expr) -> pl.Expr:
    return _distinct_expr(expr, _emails, pl.Utf8())


# ---------------------------------------------------------------- phone

_PHONE_TYPES = (
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "personal_number",
    "voip",
    "pager",
    "uan",
    "voicemail",
)


@lru_cache(maxsize=32)
def _phone_rules(region: str) -> dict[str, Any] | None:
    """What the vectorized fast path needs from phonenumbers' metadata for one region."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region.upper())
    if metadata is None:
        return None

    def desc_rule(desc: Any) -> tuple[str, tuple[int, ...]] | None:
        if desc is None or not desc.national_number_pattern:
            return None
        # ASCII digit classes: smaller automata, and the input is checked to be ASCII digits
        return desc.national_number_pattern.replace(r"\d", "[0-9]"), tuple(desc.possible_length or ())

    # valid = matches the general description AND one number type (phonenumbers' rule)
    general = desc_rule(metadata.general_desc)
    types = [rule for name in _PHONE_TYPES if (rule := desc_rule(getattr(metadata, name, None)))]
    prefix = metadata.national_prefix
    simple_prefix = (
        prefix is not None
        and prefix.isdigit()
        and metadata.national_prefix_for_parsing in (None, prefix)
        and metadata.national_prefix_transform_rule is None
    )
    return {
        "cc": str(phonenumbers.country_code_for_region(region.upper())),
        "prefix": prefix if simple_prefix else None,
        # national numbers are only fast-pathed when the prefix rule is a plain literal
        "national_ok": simple_prefix or (prefix is None and metadata.national_prefix_for_parsing is None),
        "intl": metadata.international_prefix,
        "general": general,
        "types": types if general else [],
    }


_EXCEL_FLOAT = r"^(\+?[0-9]+)\.0+$"  # 912345678.0 from a numeric cell


def _phone_fast(values: pl.Series, region: str) -> pl.Series:
    """E.164 for numbers that plainly belong to `region`; null = ask phonenumbers.

    Mirrors phonenumbers' parse + is_valid_number for the common forms (+cc..., national
    with the plain national prefix, national without it); anything unusual falls through
    to the library, so the result is the library's (tests compare both on random numbers).
    """
    rules = _phone_rules(region)
    if rules is None or not rules["types"]:
        return pl.Series(values.name, [None] * len(values), dtype=pl.Utf8)
    cc, prefix = rules["cc"], rules["prefix"]
    digits = pl.col("d")
    national = (
        pl.when(digits.str.starts_with("+" + cc))
        .then(digits.str.slice(len(cc) + 1))
        .when(digits.str.starts_with("+"))
        .then(None)
        .when(~pl.lit(rules["national_ok"]))
        .then(None)
        .when(digits.str.contains(f"^(?:{rules['intl']})"))
        .then(None)
        .when(digits.str.starts_with(cc))
        .then(None)  # maybe a country code: library decides
    )
    if prefix:
        national = national.when(digits.str.starts_with(prefix)).then(digits.str.slice(len(prefix)))
    national = national.otherwise(digits)
    n = pl.col("n")

    def matches(rule: tuple[str, tuple[int, ...]]) -> pl.Expr:
        pattern, lengths = rule
        hit = n.str.contains(f"^(?:{pattern})$")
        return hit & pl.col("len").is_in(list(lengths)) if lengths else hit

    valid = pl.any_horizontal([matches(rule) for rule in rules["types"]]) & matches(rules["general"])
    return _select(
        values,
        pl.col("v")
        .str.strip_chars()
        .str.replace(_EXCEL_FLOAT, "${1}")
        .str.replace_all(r"[\s\-./()\u00a0]", "")
        .alias("d"),
        national.alias("n"),
        pl.when(n.str.contains(r"^[1-9][0-9]*$")).then(n).alias("n"),
        n.str.len_bytes().alias("len"),
        pl.when(valid).then(pl.lit("+" + cc) + n),
    )


def _phone_slow(value: str, region: str) -> str | None:
    text = re.sub(_EXCEL_FLOAT, r"\1", value.strip())
    try:
        number = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_phone_series(values: pl.Series, region: str) -> pl.Series:
    """E.164 per value (null when empty or invalid); each DISTINCT value is parsed once."""

    def convert(distinct: pl.Series) -> pl.Series:
        fast = _phone_fast(distinct, region)
        slow = [None if f is not None else _phone_slow(v, region) for v, f in zip(distinct, fast)]
        return fast.zip_with(fast.is_not_null(), pl.Series(slow, dtype=pl.Utf8))

    return on_distinct(values, convert, pl.Utf8())


def phone_expr(expr: pl.Expr, region: str) -> pl.Expr:
    return expr.map_batches(lambda s: normalize_phone_series(s, region), return_dtype=pl.Utf8)


# ---------------------------------------------------------------- dates

# Tried in order; the first that reads the text wins (day-first before month-first).
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%Y/%m/%d",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%Y.%m.%d",
    "%d %b %Y",
    "%d %B %Y",
    "%d-%b-%Y",
    "%d-%B-%Y",
    "%d %b, %Y",
    "%d %B, %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y",
    "%B %d %Y",
    "%m/%d/%Y",
    "%m-%d-%Y",
    "%m.%d.%Y",
    "%Y%m%d",
)
_TIME_FORMATS = ("%H:%M:%S%.f", "%H:%M", "%I:%M:%S %p", "%I:%M %p")
_ISO_WITH_OFFSET = ("%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%d %H:%M%z")
_ISO_NAIVE = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
_TIME_SUFFIX = r"(?i)(?:T|\s+)\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[ap]\.?m\.?)?\s*(?:Z|UTC|[+-]\d{2}:?\d{2})?$"
_SERIAL_DATE = r"^\d{5}(?:\.\d+)?$"
_DATE_AND_TIME = r"(?i)^(?P<date>.+?)(?:T|\s+)(?P<time>\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s*[ap]\.?m\.?)?)$"
_UTC = pl.Datetime("us", "UTC")


def _in_year_range(expr: pl.Expr) -> pl.Expr:
    return expr.dt.year().is_between(MIN_YEAR, MAX_YEAR)


def _tidy(values: pl.Series) -> pl.Series:
    return values.str.strip_chars().str.replace_all(r"\s+", " ")


def _date_format(fmt: str) -> Callable[[pl.Series], pl.Series]:
    def parse(values: pl.Series) -> pl.Series:
        return _select(
            values,
            pl.col("v").str.strptime(pl.Date, fmt, strict=False).alias("d"),
            pl.when(_in_year_range(pl.col("d"))).then(pl.col("d")),
        )

    return parse


def _serial_date(values: pl.Series) -> pl.Series:
    days = pl.col("v").cast(pl.Float64, strict=False).floor().cast(pl.Int64)
    return _select(
        values, pl.when(pl.col("v").str.contains(_SERIAL_DATE)).then(pl.lit(EXCEL_EPOCH) + pl.duration(days=days))
    )


# serials first: five bare digits, which no format reads, so the order changes no result
_DATE_PARSERS = [_serial_date, *(_date_format(f) for f in _DATE_FORMATS)]


def _dates(values: pl.Series) -> pl.Series:
    """Date per text value; a trailing time part is ignored."""
    text = _tidy(values).str.replace(_TIME_SUFFIX, "")
    return _first_parse(text, _DATE_PARSERS, pl.Date()).rename(values.name)


def date_expr(expr: pl.Expr) -> pl.Expr:
    """Date from text (see the module's reading rules); a time part is ignored."""
    return expr.map_batches(_dates, return_dtype=pl.Date())  # _first_parse works on distinct values


def _aware_format(fmt: str) -> Callable[[pl.Series], pl.Series]:
    def parse(values: pl.Series) -> pl.Series:
        return _select(
            values,
            pl.col("v").str.strptime(_UTC, fmt, strict=False).alias("d"),
            pl.when(_in_year_range(pl.col("d"))).then(pl.col("d").dt.convert_time_zone("UTC")),
        )

    return parse


def _naive_format(fmt: str) -> Callable[[pl.Series], pl.Series]:
    def parse(values: pl.Series) -> pl.Series:
        return _select(
            values,
            pl.col("v").str.strptime(pl.Datetime("us"), fmt, strict=False).alias("d"),
            pl.when(_in_year_range(pl.col("d"))).then(pl.col("d").dt.replace_time_zone("UTC")),
        )

    return parse


def _serial_datetime(values: pl.Series) -> pl.Series:
    micros = (pl.col("v").cast(pl.Float64, strict=False) * 86_400_000_000).round().cast(pl.Int64)
    return _select(
        values,
        pl.when(pl.col("v").str.contains(_SERIAL_DATE)).then(
            (pl.lit(datetime(1899, 12, 30)) + pl.duration(microseconds=micros)).dt.replace_time_zone("UTC")
        ),
    )


def _time_format(fmt: str) -> Callable[[pl.Series], pl.Series]:
    return lambda values: values.str.strptime(pl.Time, fmt, strict=False)


def _naive_datetime(values: pl.Series) -> pl.Series:
    """A date in any date form, then an optional time; read as UTC."""
    parts = values.str.extract_groups(_DATE_AND_TIME).struct.unnest()
    date_text = parts.get_column("date").fill_null(values)
    time_text = (
        parts.get_column("time")
        .str.replace(",", ".")
        .str.replace(r"(?i)\s*([ap])\.?m\.?$", " ${1}M")
        .str.to_uppercase()
    )
    day = _first_parse(date_text, _DATE_PARSERS, pl.Date())
    time = _first_parse(time_text, [_time_format(f) for f in _TIME_FORMATS], pl.Time())
    frame = pl.DataFrame({"day": day, "time": time, "has_time": time_text.is_not_null()})
    return frame.select(
        pl.when(~pl.col("has_time"))
        .then(pl.col("day").cast(pl.Datetime("us")))
        .otherwise(pl.col("day").dt.combine(pl.col("time"), "us"))
        .dt.replace_time_zone("UTC")
        .alias(values.name)
    ).to_series()


def _datetimes(values: pl.Series) -> pl.Series:
    text = _tidy(values).str.replace(r"(?i)\s*(?:Z|UTC)$", "+00:00")
    parsers = [
        *(_naive_format(f) for f in _ISO_NAIVE),  # the common case first: one cheap pass
        *(_aware_format(f) for f in _ISO_WITH_OFFSET),
        _serial_datetime,
        _naive_datetime,
    ]
    return _first_parse(text, parsers, _UTC).rename(values.name)


def datetime_expr(expr: pl.Expr) -> pl.Expr:
    """UTC datetime from text; an offset is honoured, a time without one is read as UTC."""
    return expr.map_batches(_datetimes, return_dtype=_UTC)  # _first_parse works on distinct values


# ---------------------------------------------------------------- numbers and booleans

_CURRENCY = r"(?i)^(?:[$€£¥₫đ]|vnd|usd|eur)\s*|\s*(?:[$€£¥₫đ]|vnd|usd|eur)$"


def _numbers(values: pl.Series) -> pl.Series:
    t = pl.col("t")
    sign = r"^[+-]?"
    cleaned = (
        pl.when(t.str.contains(sign + r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?$"))
        .then(t.str.replace_all(",", ""))
        .when(t.str.contains(sign + r"[0-9]{1,3}(?:\.[0-9]{3})+,[0-9]+$"))  # 1.234,5
        .then(t.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True))
        .when(t.str.contains(sign + r"[0-9]{1,3}(?:\.[0-9]{3}){2,}$"))
        .then(t.str.replace_all(".", "", literal=True))
        .when(t.str.contains(sign + r"[0-9]*,[0-9]+$"))
        .then(t.str.replace(",", ".", literal=True))  # 1,5
        .when(t.str.contains(sign + r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"))
        .then(t)
    )
    return _select(
        values,
        pl.col("v").str.strip_chars().str.replace(_CURRENCY, "").str.replace_all(r"[\s\u00a0\u202f']", "").alias("t"),
        cleaned.cast(pl.Float64, strict=False).alias("n"),
        pl.when(pl.col("n").is_finite()).then(pl.col("n")),
    )


def number_expr(expr: pl.Expr) -> pl.Expr:
    """Float from text with either thousands/decimal convention (see reading rules)."""
    return _distinct_expr(expr, _numbers, pl.Float64())


TRUE_WORDS = ("yes", "y", "true", "t", "1", "1 0", "x", "co", "dung", "oui", "si", "ja", "on", "checked")
FALSE_WORDS = ("no", "n", "false", "f", "0", "0 0", "khong", "sai", "non", "nein", "off", "unchecked")


def _booleans(values: pl.Series) -> pl.Series:
    folded = pl.col("f")
    return _select(
        values,
        fold_expr(pl.col("v")).alias("f"),
        pl.when(folded.is_in(TRUE_WORDS)).then(pl.lit(True)).when(folded.is_in(FALSE_WORDS)).then(pl.lit(False)),
    )


def boolean_expr(expr: pl.Expr) -> pl.Expr:
    return _distinct_expr(expr, _booleans, pl.Boolean())


# ---------------------------------------------------------------- typed conversion by field type

FIELD_DTYPES: dict[str, pl.DataType] = {
    "text": pl.Utf8(),
    "email": pl.Utf8(),
    "phone": pl.Utf8(),
    "single_choice": pl.Utf8(),
    "number": pl.Float64(),
    "boolean": pl.Boolean(),
    "date": pl.Date(),
    "datetime": pl.Datetime("us", "UTC"),
    "multiple_choice": pl.List(pl.Utf8),
}


def convert_expr(field_type: str, expr: pl.Expr, *, region: str) -> pl.Expr:
    """The typed value of a non-choice field type (choices need the value map: validate.py)."""
    if field_type == "email":
        return email_expr(expr)
    if field_type == "phone":
        return phone_expr(expr, region)
    if field_type == "number":
        return number_expr(expr)
    if field_type == "boolean":
        return boolean_expr(expr)
    if field_type == "date":
        return date_expr(expr)
    if field_type == "datetime":
        return datetime_expr(expr)
    return text_expr(expr)


_CONVERTERS: dict[str, Callable[[pl.Series], pl.Series]] = {
    "email": _emails,
    "number": _numbers,
    "boolean": _booleans,
    "date": _dates,
    "datetime": _datetimes,
}


def convert_series(field_type: str, values: pl.Series, *, region: str) -> pl.Series:
    """`convert_expr` for a Series (the scalar functions below use it with one value)."""
    values = values.cast(pl.Utf8)
    if field_type == "phone":
        return normalize_phone_series(values, region)
    if field_type in _CONVERTERS:
        return on_distinct(values, _CONVERTERS[field_type], FIELD_DTYPES[field_type])
    stripped = values.str.strip_chars()
    return stripped.set(stripped.str.len_chars() == 0, None)


def shorten(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def invalid_message(field_type: str, value: str, *, region: str = "VN") -> str:
    """What a marketer reads when `value` is not valid for a field of `field_type`."""
    shown = shorten(value)
    return {
        "email": f"'{shown}' is not a valid e-mail address",
        "phone": f"'{shown}' is not a valid phone number (a number without +country code is read as {region})",
        "number": f"'{shown}' is not a number",
        "boolean": f"'{shown}' is not yes or no (use yes/no, true/false, 1/0 or x)",
        "date": f"'{shown}' is not a date (write it like 31/12/1990 or 1990-12-31)",
        "datetime": f"'{shown}' is not a date and time (write it like 31/12/2024 14:30 or 2024-12-31 14:30)",
    }.get(field_type, f"'{shown}' is not valid")


def invalid_message_expr(field_type: str, raw: pl.Expr, *, region: str) -> pl.Expr:
    """`invalid_message` as an expression over the raw text (for whole columns)."""
    marker = "\x00"
    before, _, after = invalid_message(field_type, marker, region=region).partition(f"'{marker}'")
    shown = pl.when(raw.str.len_chars() <= 60).then(raw).otherwise(raw.str.slice(0, 59) + pl.lit("…"))
    return pl.concat_str([pl.lit(before + "'"), shown, pl.lit("'" + after)])


# ---------------------------------------------------------------- scalar forms (forms, inline edit)


def _scalar(field_type: str, value: str | None, region: str) -> Any:
    if value is None or not str(value).strip():
        return None
    text = str(value)
    result = convert_series(field_type, pl.Series([text], dtype=pl.Utf8), region=region)[0]
    if result is None:
        raise InvalidValue(invalid_message(field_type, text.strip(), region=region))
    return result


def normalize_email(value: str | None) -> str | None:
    """Lower-cased e-mail, None when empty; raises InvalidValue with a readable message."""
    return _scalar("email", value, "")


def normalize_phone(value: str | None, region: str | None = None) -> str | None:
    """E.164, None when empty; without `region`, settings.default_phone_region. Raises InvalidValue."""
    if region is None:
        region = get_settings().default_phone_region
    return _scalar("phone", value, region)


def parse_date(value: str | None) -> date | None:
    return _scalar("date", value, "")


def parse_datetime(value: str | None) -> datetime | None:
    return _scalar("datetime", value, "")


def parse_number(value: str | None) -> float | None:
    return _scalar("number", value, "")


def parse_boolean(value: str | None) -> bool | None:
    return _scalar("boolean", value, "")


def clean_name(value: str | None) -> str | None:
    """Trimmed, inner spaces collapsed; None when empty."""
    return None if value is None else (" ".join(str(value).split()) or None)


def clean_text(value: str | None) -> str | None:
    """Trimmed; None when empty."""
    return None if value is None else (str(value).strip() or None)
