"""Value normalizers: the one place for e-mail, phone, date, number, boolean and name rules.

Every rule is a polars expression over text (imports convert whole columns at once) and a
scalar function built on that same expression (profile creation, inline edit), so a value
is read the same way wherever a person types or imports it.

Expressions take text and return the typed value, or null when the text is empty or not
valid; the caller reports "text present but value null" with `invalid_message`.

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
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import phonenumbers
import polars as pl

MIN_YEAR, MAX_YEAR = 1800, 2199
EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 = 1900-01-01 (Excel's 1900 leap-year bug included)


class InvalidValue(ValueError):
    """A value a person typed or imported that cannot be read; the message is for them."""


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
EMAIL_PATTERN = (
    rf"^{_EMAIL_ATOM}(?:\.{_EMAIL_ATOM})*@(?:\w(?:[\w-]*\w)?\.)+(?:[^\W\d_]{{2,}}|xn--[a-z0-9-]+)$"
)


def email_expr(expr: pl.Expr) -> pl.Expr:
    email = expr.str.strip_chars().str.to_lowercase()
    ok = email.str.contains(EMAIL_PATTERN) & (email.str.len_chars() <= 254) & (
        email.str.extract(r"^(.*)@", 1).str.len_chars() <= 64
    )
    return pl.when(ok).then(email)


# ---------------------------------------------------------------- phone

_PHONE_TYPES = (
    "fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "personal_number",
    "voip", "pager", "uan", "voicemail",
)


@lru_cache(maxsize=32)
def _phone_rules(region: str) -> dict[str, Any] | None:
    """What the vectorized fast path needs from phonenumbers' metadata for one region."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region.upper())
    if metadata is None:
        return None
    types = []
    for name in _PHONE_TYPES:
        desc = getattr(metadata, name, None)
        if desc is not None and desc.national_number_pattern:
            types.append((desc.national_number_pattern, tuple(desc.possible_length or ())))
    prefix = metadata.national_prefix
    simple_prefix = (
        prefix is not None and prefix.isdigit()
        and metadata.national_prefix_for_parsing in (None, prefix)
        and metadata.national_prefix_transform_rule is None
    )
    return {
        "cc": str(phonenumbers.country_code_for_region(region.upper())),
        "prefix": prefix if simple_prefix else None,
        # national numbers are only fast-pathed when the prefix rule is a plain literal
        "national_ok": simple_prefix or (prefix is None and metadata.national_prefix_for_parsing is None),
        "intl": metadata.international_prefix,
        "types": types,
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
    raw = pl.col("v").str.strip_chars().str.replace(_EXCEL_FLOAT, "${1}")
    digits = raw.str.replace_all(r"[\s\-./()\u00a0]", "")
    national = (
        pl.when(digits.str.starts_with("+" + cc)).then(digits.str.slice(len(cc) + 1))
        .when(digits.str.starts_with("+")).then(None)
        .when(~pl.lit(rules["national_ok"])).then(None)
        .when(digits.str.contains(f"^(?:{rules['intl']})")).then(None)
        .when(digits.str.starts_with(cc)).then(None)  # maybe a country code: library decides
    )
    if prefix:
        national = national.when(digits.str.starts_with(prefix)).then(digits.str.slice(len(prefix)))
    national = national.otherwise(digits)
    valid = pl.lit(False)
    length = pl.col("n").str.len_bytes()
    for pattern, lengths in rules["types"]:
        matches = pl.col("n").str.contains(f"^(?:{pattern})$")
        if lengths:
            matches = matches & length.is_in(list(lengths))
        valid = valid | matches
    usable = pl.col("n").str.contains(r"^[1-9][0-9]*$")
    out = (
        pl.DataFrame({"v": values})
        .with_columns(n=national)
        .select(pl.when(usable & valid).then(pl.lit("+" + cc) + pl.col("n")).alias(values.name))
    )
    return out.to_series()


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
    values = values.cast(pl.Utf8)
    distinct = values.drop_nulls().unique()
    if distinct.is_empty():
        return pl.Series(values.name, [None] * len(values), dtype=pl.Utf8)
    fast = _phone_fast(distinct, region)
    missing = distinct.filter(fast.is_null())
    slow = {v: _phone_slow(v, region) for v in missing.to_list()}
    keys = distinct.filter(fast.is_not_null()).to_list() + list(slow)
    normalized = fast.drop_nulls().to_list() + list(slow.values())
    return values.replace_strict(keys, normalized, default=None, return_dtype=pl.Utf8)


def phone_expr(expr: pl.Expr, region: str) -> pl.Expr:
    return expr.map_batches(lambda s: normalize_phone_series(s, region), return_dtype=pl.Utf8)


# ---------------------------------------------------------------- dates

# Tried in order; the first that reads the text wins (day-first before month-first).
_DATE_FORMATS = (
    "%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d",
    "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y",
    "%d %b %Y", "%d %B %Y", "%d-%b-%Y", "%d-%B-%Y", "%d %b, %Y", "%d %B, %Y",
    "%b %d, %Y", "%B %d, %Y", "%b %d %Y", "%B %d %Y",
    "%m/%d/%Y", "%m-%d-%Y", "%m.%d.%Y",
    "%Y%m%d",
)
_TIME_FORMATS = ("%H:%M:%S%.f", "%H:%M", "%I:%M:%S %p", "%I:%M %p")
_DATE_TIME_SEPARATORS = (" ", "T")
_TIME_SUFFIX = (
    r"(?i)(?:T|\s+)\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[ap]\.?m\.?)?\s*(?:Z|UTC|[+-]\d{2}:?\d{2})?$"
)
_SERIAL_DATE = r"^\d{5}(?:\.\d+)?$"
_DATE_AND_TIME = (
    r"(?i)^(?P<date>.+?)(?:T|\s+)(?P<time>\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s*[ap]\.?m\.?)?)$"
)


def _in_year_range(expr: pl.Expr) -> pl.Expr:
    return expr.dt.year().is_between(MIN_YEAR, MAX_YEAR)


def _tidy_date_text(expr: pl.Expr) -> pl.Expr:
    return expr.str.strip_chars().str.replace_all(r"\s+", " ")


def _date_core(text: pl.Expr) -> pl.Expr:
    candidates = []
    for fmt in _DATE_FORMATS:
        parsed = text.str.strptime(pl.Date, fmt, strict=False)
        candidates.append(pl.when(_in_year_range(parsed)).then(parsed))
    serial_days = text.cast(pl.Float64, strict=False).floor().cast(pl.Int64)
    candidates.append(
        pl.when(text.str.contains(_SERIAL_DATE))
        .then(pl.lit(EXCEL_EPOCH) + pl.duration(days=serial_days))
    )
    return pl.coalesce(candidates)


def date_expr(expr: pl.Expr) -> pl.Expr:
    """Date from text (see the module's reading rules); a time part is ignored."""
    text = _tidy_date_text(expr)
    return _date_core(text.str.replace(_TIME_SUFFIX, ""))


def datetime_expr(expr: pl.Expr) -> pl.Expr:
    """UTC datetime from text; an offset is honoured, a time without one is read as UTC."""
    text = _tidy_date_text(expr).str.replace(r"(?i)\s*(?:Z|UTC)$", "+00:00")
    aware = []
    for sep in _DATE_TIME_SEPARATORS:
        for tail in ("%H:%M:%S%.f%z", "%H:%M%z"):
            parsed = text.str.strptime(pl.Datetime("us", "UTC"), f"%Y-%m-%d{sep}{tail}", strict=False)
            aware.append(pl.when(_in_year_range(parsed)).then(parsed.dt.convert_time_zone("UTC")))
    # a naive date-time: the date (any of the date forms) and an optional time, read apart
    parts = text.str.extract_groups(_DATE_AND_TIME)
    date_text = pl.coalesce(parts.struct.field("date"), text)
    time_text = (
        parts.struct.field("time").str.replace(",", ".")
        .str.replace(r"(?i)\s*([ap])\.?m\.?$", " ${1}M").str.to_uppercase()
    )
    time = pl.coalesce([time_text.str.strptime(pl.Time, fmt, strict=False) for fmt in _TIME_FORMATS])
    day = _date_core(date_text)
    naive = (
        pl.when(time_text.is_null()).then(day.cast(pl.Datetime("us")))
        .otherwise(day.dt.combine(time, "us"))
    )
    serial = text.cast(pl.Float64, strict=False)
    from_serial = pl.when(text.str.contains(_SERIAL_DATE)).then(
        pl.lit(datetime(1899, 12, 30)) + pl.duration(microseconds=(serial * 86_400_000_000).round().cast(pl.Int64))
    )
    return pl.coalesce(
        [*aware, pl.coalesce(from_serial, naive).dt.replace_time_zone("UTC")]
    ).cast(pl.Datetime("us", "UTC"))


# ---------------------------------------------------------------- numbers and booleans

_CURRENCY = r"(?i)^(?:[$€£¥₫đ]|vnd|usd|eur)\s*|\s*(?:[$€£¥₫đ]|vnd|usd|eur)$"


def number_expr(expr: pl.Expr) -> pl.Expr:
    """Float from text with either thousands/decimal convention (see reading rules)."""
    text = expr.str.strip_chars().str.replace(_CURRENCY, "").str.replace_all(r"[\s\u00a0\u202f']", "")
    sign = r"^[+-]?"
    plain = text.str.replace_all(",", "")
    cleaned = (
        pl.when(text.str.contains(sign + r"\d{1,3}(?:,\d{3})+(?:\.\d+)?$")).then(plain)  # 1,234.5
        .when(text.str.contains(sign + r"\d{1,3}(?:\.\d{3})+,\d+$"))  # 1.234,5
        .then(text.str.replace_all(r"\.", "").str.replace(",", "."))
        .when(text.str.contains(sign + r"\d{1,3}(?:\.\d{3}){2,}$")).then(text.str.replace_all(r"\.", ""))
        .when(text.str.contains(sign + r"\d*,\d+$")).then(text.str.replace(",", "."))  # 1,5
        .when(text.str.contains(sign + r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")).then(text)
    )
    number = cleaned.cast(pl.Float64, strict=False)
    return pl.when(number.is_finite()).then(number)


TRUE_WORDS = ("yes", "y", "true", "t", "1", "1 0", "x", "co", "dung", "oui", "si", "ja", "on", "checked")
FALSE_WORDS = ("no", "n", "false", "f", "0", "0 0", "khong", "sai", "non", "nein", "off", "unchecked")


def boolean_expr(expr: pl.Expr) -> pl.Expr:
    folded = fold_expr(expr)
    return (
        pl.when(folded.is_in(TRUE_WORDS)).then(pl.lit(True))
        .when(folded.is_in(FALSE_WORDS)).then(pl.lit(False))
    )


# ---------------------------------------------------------------- typed conversion by field type

FIELD_DTYPES: dict[str, pl.DataType] = {
    "text": pl.Utf8(), "email": pl.Utf8(), "phone": pl.Utf8(), "single_choice": pl.Utf8(),
    "number": pl.Float64(), "boolean": pl.Boolean(), "date": pl.Date(),
    "datetime": pl.Datetime("us", "UTC"), "multiple_choice": pl.List(pl.Utf8),
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


def _one(expr_fn, value: Any, dtype: pl.DataType = pl.Utf8()) -> Any:  # noqa: ANN001
    return pl.select(expr_fn(pl.lit(value, dtype=pl.Utf8)).alias("v")).item()


def _scalar(field_type: str, value: str | None, region: str) -> Any:
    if value is None or not str(value).strip():
        return None
    text = str(value)
    if field_type == "phone":
        result = normalize_phone_series(pl.Series([text]), region)[0]
    else:
        result = _one(lambda e: convert_expr(field_type, e, region=region), text)
    if result is None:
        raise InvalidValue(invalid_message(field_type, text.strip(), region=region))
    return result


def normalize_email(value: str | None) -> str | None:
    """Lower-cased e-mail, None when empty; raises InvalidValue with a readable message."""
    return _scalar("email", value, "")


def normalize_phone(value: str | None, region: str) -> str | None:
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
    return None if value is None else _one(name_expr, value)


def clean_text(value: str | None) -> str | None:
    return None if value is None else _one(text_expr, value)
