"""Normalizers (good and bad values) and row validation: the validated frame of the contract."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime

import phonenumbers
import polars as pl
import pytest
from phonenumbers import PhoneNumberType

from profile_ui.models import FieldDefinition
from profile_ui.services.bootstrap import SYSTEM_FIELDS
from profile_ui.services.importing import ERRORS_COL, ROW_COL, VALID_COL, ImportMapping
from profile_ui.services.importing.mapping import MappingInvalid
from profile_ui.services.importing.normalize import (
    InvalidValue,
    _phone_fast,
    _phone_slow,
    clean_name,
    normalize_email,
    normalize_phone,
    normalize_phone_series,
    parse_boolean,
    parse_date,
    parse_datetime,
    parse_number,
)
from profile_ui.services.importing.validate import error_rows, summary, validate_rows


@dataclass
class Sheet:  # what read.py hands over: SheetData's attributes
    file_name: str
    sheet: str | None
    headers: list[str]
    frame: pl.DataFrame


def sheet(rows: list[dict[str, str | None]], *, first_row: int = 2, name: str = "customers.xlsx") -> Sheet:
    headers = list(rows[0]) if rows else []
    frame = pl.DataFrame([{h: r.get(h) for h in headers} for r in rows], schema=dict.fromkeys(headers, pl.Utf8))
    frame = frame.with_columns(pl.int_range(first_row, first_row + len(rows), dtype=pl.Int64).alias(ROW_COL))
    return Sheet(name, "Sheet1", headers, frame)


FIELDS = {
    k: FieldDefinition(key=k, label=label, type=t, options=o, is_system=True) for k, label, t, o, _ in SYSTEM_FIELDS
}
FIELDS.update(
    {
        "score": FieldDefinition(key="score", label="Score", type="number"),
        "vip": FieldDefinition(key="vip", label="VIP", type="boolean"),
        "interests": FieldDefinition(
            key="interests", label="Interests", type="multiple_choice", options=["Sport", "Music", "Travel"]
        ),
        "last_order": FieldDefinition(key="last_order", label="Last order", type="date"),
        "work_email": FieldDefinition(key="work_email", label="Work e-mail", type="email"),
        "note": FieldDefinition(key="note", label="Note", type="text"),
    }
)


def validate(rows, columns, **mapping_kwargs):
    return validate_rows(
        sheet(rows), ImportMapping(columns=columns, **mapping_kwargs), fields=FIELDS, default_region="VN"
    )


def messages(frame: pl.DataFrame, row: int = 0) -> list[dict[str, str]]:
    return frame.get_column(ERRORS_COL)[row].to_list()


# ---------------------------------------------------------------- e-mail


@pytest.mark.parametrize(
    ("raw", "email"),
    [
        (" Foo.Bar@Example.COM ", "foo.bar@example.com"),
        ("a+tag@sub.domain.vn", "a+tag@sub.domain.vn"),
        ("o'neil@example.ie", "o'neil@example.ie"),
        ("nguyễn@việtnam.vn", "nguyễn@việtnam.vn"),
        ("user@xn--80ak6aa92e.com", "user@xn--80ak6aa92e.com"),
        ("x@example.xn--p1ai", "x@example.xn--p1ai"),
    ],
)
def test_email_good(raw, email):
    assert normalize_email(raw) == email


@pytest.mark.parametrize(
    "raw",
    [
        "abc@",
        "@example.com",
        "a b@example.com",
        "a..b@example.com",
        ".a@example.com",
        "a@example",
        "a@-example.com",
        "a@example.c",
        "a@@example.com",
        "a@example..com",
        "a" * 65 + "@example.com",
        "a@" + "b" * 250 + ".com",
        "a@example.123",
    ],
)
def test_email_bad(raw):
    with pytest.raises(InvalidValue, match="is not a valid e-mail address"):
        normalize_email(raw)


def test_empty_values_are_none_not_errors():
    assert normalize_email("  ") is None and parse_date("") is None and normalize_phone(None, "VN") is None


# ---------------------------------------------------------------- phone


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("0912345678", "+84912345678"),
        ("091 234 5678", "+84912345678"),
        ("(091) 234-5678", "+84912345678"),
        ("091.234.5678", "+84912345678"),
        ("+84 91 234 5678", "+84912345678"),
        ("+84912345678", "+84912345678"),
        ("0084912345678", "+84912345678"),
        ("84912345678", "+84912345678"),
        ("912345678", "+84912345678"),
        ("912345678.0", "+84912345678"),  # a numeric cell whose leading zero Excel dropped
        ("+84 0912345678", "+84912345678"),
        ("02438123456", "+842438123456"),  # Hà Nội landline
        ("+1 212-555-0123", "+12125550123"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+65 6123 4567", "+6561234567"),
    ],
)
def test_phone_good_vn_default_region(raw, e164):
    assert normalize_phone(raw, "VN") == e164


@pytest.mark.parametrize(
    "raw", ["12345", "abc", "0912", "+84 123", "09123456789012", "+999 123456789", "0912345678 ext. abc 12 34 56"]
)
def test_phone_bad(raw):
    with pytest.raises(InvalidValue, match=r"is not a valid phone number .*read as VN"):
        normalize_phone(raw, "VN")


def test_phone_default_region_matters():
    assert normalize_phone("(650) 253-0000", "US") == "+16502530000"
    assert normalize_phone("020 7946 0958", "GB") == "+442079460958"
    with pytest.raises(InvalidValue):
        normalize_phone("(650) 253-0000", "VN")


def _random_numbers(region: str, rnd: random.Random, count: int) -> list[str]:
    """Random digits and real-looking numbers (the region's examples with new tails), in the
    forms people type: +cc, 00cc, cc without +, national prefix, none, Excel floats, spaces."""
    cc = str(phonenumbers.country_code_for_region(region))
    examples = []
    for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.TOLL_FREE):
        example = phonenumbers.example_number_for_type(region, kind)
        if example is not None:
            examples.append(str(example.national_number))
    forms = [
        "+{cc}{n}",
        "+{cc} {n}",
        "0{n}",
        "{n}",
        "00{cc}{n}",
        "{cc}{n}",
        "0 {n}",
        "+{cc}0{n}",
        "{n}.0",
        "1{n}",
        "({n3}) {rest}",
    ]
    out = []
    for _ in range(count):
        if examples and rnd.random() < 0.6:
            base = rnd.choice(examples)
            keep = rnd.randint(max(1, len(base) - 6), len(base))
            n = base[:keep] + "".join(
                rnd.choice("0123456789") for _ in range(len(base) - keep + rnd.choice([0, 0, 1, -1]))
            )
        else:
            n = str(rnd.randint(10**5, 10**12 - 1))[: rnd.randint(6, 12)]
        out.append(rnd.choice(forms).format(cc=cc, n=n, n3=n[:3], rest=n[3:]))
    return out


@pytest.mark.parametrize(
    "region",
    [
        "VN",
        "US",
        "CA",
        "GB",
        "DE",
        "FR",
        "IT",
        "ES",
        "SG",
        "AU",
        "JP",
        "KR",
        "CN",
        "TH",
        "ID",
        "IN",
        "BR",
        "MX",
        "AR",
    ],
)
def test_vectorized_phone_path_agrees_with_the_library(region):
    """The fast path must never disagree with phonenumbers' parse + is_valid_number."""
    rnd = random.Random(f"phones-{region}")
    values = _random_numbers(region, rnd, 1200)
    fast = normalize_phone_series(pl.Series(values), region).to_list()
    expected = [_phone_slow(v, region) for v in values]
    mismatches = [(v, f, e) for v, f, e in zip(values, fast, expected) if f != e]
    assert mismatches == []
    valid = sum(e is not None for e in expected)
    assert valid > 100  # the sample holds plenty of valid numbers...
    assert _phone_fast(pl.Series(values), region).is_not_null().sum() > valid // 10  # ...the fast path settles


# ---------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("raw", "day"),
    [
        ("1990-03-12", date(1990, 3, 12)),
        ("1990-3-5", date(1990, 3, 5)),
        ("12/03/1990", date(1990, 3, 12)),
        ("2/3/1990", date(1990, 3, 2)),
        ("12-03-1990", date(1990, 3, 12)),
        ("12.03.1990", date(1990, 3, 12)),
        ("1990/03/12", date(1990, 3, 12)),
        ("19900312", date(1990, 3, 12)),
        ("12 Mar 1990", date(1990, 3, 12)),
        ("12 march 1990", date(1990, 3, 12)),
        ("12-Mar-1990", date(1990, 3, 12)),
        ("Mar 12, 1990", date(1990, 3, 12)),
        ("March 12 1990", date(1990, 3, 12)),
        ("32874", date(1990, 1, 1)),
        ("32874.75", date(1990, 1, 1)),
        ("1990-03-12T00:00:00", date(1990, 3, 12)),  # read.py's date cells
        ("1990-03-12 14:30:00", date(1990, 3, 12)),
        ("12/03/1990 10:22", date(1990, 3, 12)),
        ("  12 / 03 / 1990 ".replace(" / ", "/"), date(1990, 3, 12)),
    ],
)
def test_date_good(raw, day):
    assert parse_date(raw) == day


def test_ambiguous_day_month_is_read_day_first():
    assert parse_date("03/04/1990") == date(1990, 4, 3)  # 3 April (Vietnam/Europe), not March 4
    assert parse_date("12/25/1990") == date(1990, 12, 25)  # day-first impossible: month-first


@pytest.mark.parametrize(
    "raw",
    [
        "31/02/1990",
        "12/03/90",
        "1990",
        "abc",
        "32/01/2000",
        "0090-03-12",
        "12/13/14/15",
        "2500-01-01",
        "1234",
    ],
)
def test_date_bad(raw):
    with pytest.raises(InvalidValue, match=r"is not a date \(write it like 31/12/1990 or 1990-12-31\)"):
        parse_date(raw)


@pytest.mark.parametrize(
    ("raw", "moment"),
    [
        ("2024-01-02 10:11:12", datetime(2024, 1, 2, 10, 11, 12, tzinfo=UTC)),
        ("2024-01-02T10:11:12", datetime(2024, 1, 2, 10, 11, 12, tzinfo=UTC)),
        ("2024-01-02T10:11:12.250", datetime(2024, 1, 2, 10, 11, 12, 250000, tzinfo=UTC)),
        ("2024-01-02T10:11:12Z", datetime(2024, 1, 2, 10, 11, 12, tzinfo=UTC)),
        ("2024-01-02T10:11:12+07:00", datetime(2024, 1, 2, 3, 11, 12, tzinfo=UTC)),
        ("02/01/2024 14:30", datetime(2024, 1, 2, 14, 30, tzinfo=UTC)),
        ("02/01/2024 2:30 PM", datetime(2024, 1, 2, 14, 30, tzinfo=UTC)),
        ("02/01/2024", datetime(2024, 1, 2, tzinfo=UTC)),
        ("45293.5", datetime(2024, 1, 2, 12, 0, tzinfo=UTC)),
    ],
)
def test_datetime_good(raw, moment):
    assert parse_datetime(raw) == moment


@pytest.mark.parametrize("raw", ["02/01/2024 25:00", "yesterday", "2024-13-01 10:00"])
def test_datetime_bad(raw):
    with pytest.raises(InvalidValue, match="is not a date and time"):
        parse_datetime(raw)


# ---------------------------------------------------------------- numbers, booleans, names


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("1234", 1234.0),
        ("-12.5", -12.5),
        ("1,234.5", 1234.5),
        ("1.234,5", 1234.5),
        ("1.234.567", 1234567.0),
        ("1,234,567.89", 1234567.89),
        ("1 234,5", 1234.5),
        ("1,5", 1.5),
        ("1,234", 1234.0),
        ("1.234", 1.234),
        ("1.000.000đ", 1_000_000.0),
        ("$12", 12.0),
        ("12 VND", 12.0),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("+7", 7.0),
    ],
)
def test_number_good(raw, number):
    assert parse_number(raw) == number


@pytest.mark.parametrize("raw", ["abc", "1,234,5", "12a", "inf", "NaN", "1.2.3,4,5", "--1"])
def test_number_bad(raw):
    with pytest.raises(InvalidValue, match="is not a number"):
        parse_number(raw)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("yes", True),
        ("Y", True),
        ("TRUE", True),
        ("1", True),
        ("x", True),
        ("Có", True),
        ("đúng", True),
        ("no", False),
        ("N", False),
        ("false", False),
        ("0", False),
        ("không", False),
        ("Sai", False),
    ],
)
def test_boolean_good(raw, value):
    assert parse_boolean(raw) is value


@pytest.mark.parametrize("raw", ["maybe", "2", "ok"])
def test_boolean_bad(raw):
    with pytest.raises(InvalidValue, match="is not yes or no"):
        parse_boolean(raw)


def test_names_trimmed_and_inner_spaces_collapsed():
    assert clean_name("  Nguyễn   Văn\tAn ") == "Nguyễn Văn An"
    assert clean_name("   ") is None


# ---------------------------------------------------------------- validate_rows: the frame


FULL_ROW = {
    "Customer ID": " C001 ",
    "E-mail": " An@Example.com",
    "SĐT": "0912 345 678",
    "Họ tên": "  Nguyễn   An ",
    "Giới tính": "Nam",
    "Ngày sinh": "12/03/1990",
    "Registered": "2024-01-02T10:00:00",
    "Hạng": "vàng",
    "Tags": "vip | summer |vip",
    "Score": "1.234,5",
    "VIP": "có",
    "Interests": "sport; music|Sport",
    "Last order": "45293",
    "Note": "  called twice ",
    "Work": "AN@work.vn",
}
FULL_COLUMNS = {
    "Customer ID": "identity:user_id",
    "E-mail": "identity:email",
    "SĐT": "identity:phone",
    "Họ tên": "full_name",
    "Giới tính": "gender",
    "Ngày sinh": "birthday",
    "Registered": "registered_at",
    "Hạng": "member_level",
    "Tags": "tags",
    "Score": "score",
    "VIP": "vip",
    "Interests": "interests",
    "Last order": "last_order",
    "Note": "note",
    "Work": "work_email",
}


def test_validated_frame_has_the_contract_columns_and_types():
    out = validate([FULL_ROW], FULL_COLUMNS)
    assert out.schema == pl.Schema(
        {
            ROW_COL: pl.Int64,
            "identity:user_id": pl.Utf8,
            "identity:email": pl.Utf8,
            "identity:phone": pl.Utf8,
            "full_name": pl.Utf8,
            "gender": pl.Utf8,
            "birthday": pl.Date,
            "registered_at": pl.Datetime("us", "UTC"),
            "member_level": pl.Utf8,
            "tags": pl.List(pl.Utf8),
            "score": pl.Float64,
            "vip": pl.Boolean,
            "interests": pl.List(pl.Utf8),
            "last_order": pl.Date,
            "note": pl.Utf8,
            "work_email": pl.Utf8,
            ERRORS_COL: pl.List(pl.Struct({"column": pl.Utf8, "message": pl.Utf8})),
            VALID_COL: pl.Boolean,
        }
    )
    assert out.row(0, named=True) == {
        ROW_COL: 2,
        "identity:user_id": "C001",
        "identity:email": "an@example.com",
        "identity:phone": "+84912345678",
        "full_name": "Nguyễn An",
        "gender": "Male",
        "birthday": date(1990, 3, 12),
        "registered_at": datetime(2024, 1, 2, 10, tzinfo=UTC),
        "member_level": "Gold",
        "tags": ["vip", "summer"],
        "score": 1234.5,
        "vip": True,
        "interests": ["Sport", "Music"],
        "last_order": date(2024, 1, 2),
        "note": "called twice",
        "work_email": "an@work.vn",
        ERRORS_COL: [],
        VALID_COL: True,
    }


def test_empty_cells_are_null_and_leave_values_alone():
    row = dict.fromkeys(FULL_ROW) | {"E-mail": "a@b.co", "Tags": " | ", "Interests": " ; "}
    out = validate([row], FULL_COLUMNS)
    values = out.row(0, named=True)
    assert values[VALID_COL] is True
    assert all(values[t] is None for t in FULL_COLUMNS.values() if t != "identity:email")


def test_errors_name_the_column_as_written_in_the_file():
    row = {
        "E-mail": "abc@",
        "SĐT": "12345",
        "Ngày sinh": "31/02/1990",
        "Score": "abc",
        "VIP": "maybe",
        "Registered": "soon",
        "Work": "x@",
    }
    out = validate([row], {h: FULL_COLUMNS[h] for h in row})
    assert messages(out) == [
        {"column": "E-mail", "message": "'abc@' is not a valid e-mail address"},
        {
            "column": "SĐT",
            "message": "'12345' is not a valid phone number (a number without +country code is read as VN)",
        },
        {"column": "Ngày sinh", "message": "'31/02/1990' is not a date (write it like 31/12/1990 or 1990-12-31)"},
        {"column": "Score", "message": "'abc' is not a number"},
        {"column": "VIP", "message": "'maybe' is not yes or no (use yes/no, true/false, 1/0 or x)"},
        {
            "column": "Registered",
            "message": "'soon' is not a date and time (write it like 31/12/2024 14:30 or 2024-12-31 14:30)",
        },
        {"column": "Work", "message": "'x@' is not a valid e-mail address"},
        {"column": "E-mail, SĐT", "message": "No identifier: fill in at least one of 'E-mail', 'SĐT'"},
    ]
    assert out.get_column(VALID_COL).to_list() == [False]


def test_long_values_are_shortened_in_messages():
    out = validate([{"E-mail": "x" * 100}], {"E-mail": "identity:email"})
    message = messages(out)[0]["message"]
    assert message.startswith("'" + "x" * 59 + "…'") and len(message) < 110


def test_a_row_without_a_usable_identifier_is_invalid():
    rows = [
        {"Mail": "a@b.co", "Phone": None, "Name": "A"},
        {"Mail": None, "Phone": "0912345678", "Name": "B"},
        {"Mail": None, "Phone": None, "Name": "C"},
        {"Mail": "bad", "Phone": None, "Name": "D"},
    ]
    out = validate(rows, {"Mail": "identity:email", "Phone": "identity:phone", "Name": "full_name"})
    assert out.get_column(VALID_COL).to_list() == [True, True, False, False]
    assert messages(out, 2) == [
        {"column": "Mail, Phone", "message": "No identifier: fill in at least one of 'Mail', 'Phone'"}
    ]
    assert [e["column"] for e in messages(out, 3)] == ["Mail", "Mail, Phone"]


def test_only_the_chosen_identifiers_count():
    rows = [{"Mail": "a@b.co", "Phone": None}, {"Mail": None, "Phone": "0912345678"}]
    out = validate(rows, {"Mail": "identity:email", "Phone": "identity:phone"}, identifiers=["phone"])
    assert out.get_column(VALID_COL).to_list() == [False, True]
    assert messages(out, 0) == [{"column": "Phone", "message": "No identifier: fill in at least one of 'Phone'"}]


def test_an_invalid_value_in_any_column_makes_the_whole_row_invalid():
    out = validate(
        [{"Mail": "a@b.co", "Birthday": "someday", "Name": "A"}],
        {"Mail": "identity:email", "Birthday": "birthday", "Name": "full_name"},
    )
    assert out.get_column(VALID_COL).to_list() == [False]
    assert out.get_column("identity:email").to_list() == ["a@b.co"]  # still normalized, for reports


def test_user_id_and_custom_identity_kinds_are_trimmed_text():
    out = validate([{"ID": " 0049151 ", "Zalo": "  z-1 "}], {"ID": "identity:user_id", "Zalo": "identity:zalo_id"})
    assert out.select("identity:user_id", "identity:zalo_id").row(0) == ("0049151", "z-1")
    too_long = validate([{"ID": "9" * 256}], {"ID": "identity:user_id"})
    assert messages(too_long)[0] == {"column": "ID", "message": "The value is longer than 255 characters"}


# ---------------------------------------------------------------- choices


def test_choices_via_the_value_map_then_matching_words():
    rows = [
        {"Mail": "a@b.co", "Level": "VIP 1"},
        {"Mail": "b@b.co", "Level": "Vàng"},
        {"Mail": "c@b.co", "Level": "Diamond"},
        {"Mail": "d@b.co", "Level": "n/a"},
    ]
    out = validate(
        rows,
        {"Mail": "identity:email", "Level": "member_level"},
        values={"member_level": {"VIP 1": "Platinum", "n/a": ""}},
    )
    assert out.get_column("member_level").to_list() == ["Platinum", "Gold", None, None]
    assert out.get_column(VALID_COL).to_list() == [True, True, False, True]  # "n/a" mapped to nothing
    assert messages(out, 2) == [
        {
            "column": "Level",
            "message": "'Diamond' is not one of the choices for Member level: Bronze, Silver, Gold, Platinum",
        }
    ]


def test_a_value_map_pointing_at_a_removed_option_is_an_error():
    out = validate(
        [{"Mail": "a@b.co", "Level": "VIP"}],
        {"Mail": "identity:email", "Level": "member_level"},
        values={"member_level": {"VIP": "Diamond"}},
    )
    assert out.get_column(VALID_COL).to_list() == [False]


def test_multiple_choice_split_on_bar_or_semicolon():
    rows = [{"Mail": "a@b.co", "Hobbies": "Sport|travel ; MUSIC"}, {"Mail": "b@b.co", "Hobbies": "sport|cooking|x"}]
    out = validate(rows, {"Mail": "identity:email", "Hobbies": "interests"})
    assert out.get_column("interests").to_list() == [["Sport", "Travel", "Music"], ["Sport"]]
    assert messages(out, 1) == [
        {"column": "Hobbies", "message": "'cooking', 'x' is not one of the choices for Interests: Sport, Music, Travel"}
    ]


def test_tags_column_split_on_bar():
    out = validate([{"Mail": "a@b.co", "Tags": "vip|| summer 2024 |vip"}], {"Mail": "identity:email", "Tags": "tags"})
    assert out.get_column("tags").to_list() == [["vip", "summer 2024"]]
    long_tag = validate([{"Mail": "a@b.co", "Tags": "ok|" + "t" * 129}], {"Mail": "identity:email", "Tags": "tags"})
    assert messages(long_tag) == [{"column": "Tags", "message": "A tag is longer than 128 characters"}]


def test_system_text_longer_than_its_column_is_an_error():
    out = validate([{"Mail": "a@b.co", "City": "x" * 129}], {"Mail": "identity:email", "City": "city"})
    assert messages(out) == [
        {"column": "City", "message": "The value is longer than 128 characters (the most City can hold)"}
    ]


def test_new_custom_fields_are_validated_before_they_exist():
    mapping = ImportMapping(
        columns={"Mail": "identity:email", "Points": None},
        new_fields={"Points": {"key": "points", "label": "Points", "type": "number"}},
    )
    out = validate_rows(
        sheet([{"Mail": "a@b.co", "Points": "1,5"}, {"Mail": "b@b.co", "Points": "many"}]),
        mapping,
        fields=FIELDS,
        default_region="VN",
    )
    assert out.get_column("points").to_list() == [1.5, None]
    assert messages(out, 1) == [{"column": "Points", "message": "'many' is not a number"}]


# ---------------------------------------------------------------- mapping problems, shapes, order


@pytest.mark.parametrize(
    ("columns", "identifiers", "message"),
    [
        ({"Name": "full_name"}, [], "Map at least one column to an identifier"),
        ({"Mail": "identity:email", "Gone": "city"}, [], "Column 'Gone' is not in customers.xlsx"),
        (
            {"Mail": "identity:email", "Name": "identity:email"},
            [],
            "Columns 'Mail' and 'Name' are both mapped to Email",
        ),
        (
            {"Mail": "identity:email", "Name": "nickname"},
            [],
            "Column 'Name' is mapped to 'nickname', which is not a field",
        ),
        ({"Mail": "identity:email"}, ["phone"], "No column is mapped to the identifier phone"),
    ],
)
def test_unusable_mappings_are_refused_with_a_reason(columns, identifiers, message):
    with pytest.raises(MappingInvalid, match=message):
        validate([{"Mail": "a@b.co", "Name": "A"}], columns, identifiers=identifiers)


def test_ignored_columns_are_left_out():
    out = validate([{"Mail": "a@b.co", "Junk": "zzz"}], {"Mail": "identity:email", "Junk": None})
    assert out.columns == [ROW_COL, "identity:email", ERRORS_COL, VALID_COL]


def test_an_empty_sheet_gives_an_empty_frame_with_the_same_columns():
    empty = Sheet(
        "e.csv", None, ["Mail"], pl.DataFrame({"Mail": [], ROW_COL: []}, schema={"Mail": pl.Utf8, ROW_COL: pl.Int64})
    )
    out = validate_rows(empty, ImportMapping(columns={"Mail": "identity:email"}), fields=FIELDS, default_region="VN")
    assert out.height == 0 and out.columns == [ROW_COL, "identity:email", ERRORS_COL, VALID_COL]


def test_row_numbers_and_order_survive_and_errors_stay_on_their_rows():
    rnd = random.Random(3)
    rows = [{"Mail": f"u{i}@x.vn" if rnd.random() > 0.2 else f"bad{i}@", "Age": str(i)} for i in range(3000)]
    out = validate_rows(
        sheet(rows, first_row=5),
        ImportMapping(columns={"Mail": "identity:email", "Age": "score"}),
        fields=FIELDS,
        default_region="VN",
    )
    assert out.get_column(ROW_COL).to_list() == list(range(5, 3005))
    assert out.get_column("score").to_list() == [float(i) for i in range(3000)]
    errors = error_rows(out)
    bad_rows = [i + 5 for i, r in enumerate(rows) if r["Mail"].startswith("bad")]
    invalid_emails = errors.filter(pl.col("message").str.contains("not a valid e-mail"))
    assert invalid_emails.get_column(ROW_COL).to_list() == bad_rows
    assert errors.filter(pl.col(ROW_COL) == bad_rows[0]).get_column("message").to_list() == [
        f"'{rows[bad_rows[0] - 5]['Mail']}' is not a valid e-mail address",
        "No identifier: fill in at least one of 'Mail'",
    ]
    assert summary(out) == {"rows": 3000, "valid": 3000 - len(bad_rows), "invalid": len(bad_rows)}
