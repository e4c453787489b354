"""Column -> field suggestions, templates by header signature, identifiers, new custom fields."""

from __future__ import annotations

import polars as pl
import pytest
from sqlmodel import select

from profile_ui.models import AuditEvent, FieldDefinition, IdentityKind
from profile_ui.services.bootstrap import IDENTITY_KINDS, SYSTEM_FIELDS
from profile_ui.services.importing import ImportMapping
from profile_ui.services.importing.mapping import (
    create_custom_fields,
    find_mapping_template,
    guess_field_type,
    headers_signature,
    infer_identifiers,
    mapping_from_template,
    propose_new_field,
    save_mapping_template,
    slugify_key,
    suggest_mapping,
    suggested_mapping,
)
from profile_ui.services.permissions import BUILTIN_ROLES, Actor, PermissionDenied


def _actor(role: str) -> Actor:
    return Actor(user_id=None, email=f"{role}@example.com", role=role, permissions=frozenset(BUILTIN_ROLES[role][1]))


MARKETER, VIEWER = _actor("marketer"), _actor("viewer")
FIELDS = [FieldDefinition(key=k, label=label, type=t, options=o, is_system=True) for k, label, t, o, _ in SYSTEM_FIELDS]
KINDS = [IdentityKind(key=k, label=label, is_builtin=True) for k, label in IDENTITY_KINDS]


def suggest(*headers: str, fields=FIELDS, kinds=KINDS):
    return {s.column: s for s in suggest_mapping(list(headers), fields=fields, identity_kinds=kinds)}


# ---------------------------------------------------------------- the rules, in order


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ("full_name", "full_name"),
        ("Full name", "full_name"),
        ("Birthday", "birthday"),
        ("Email", "identity:email"),
        ("user_id", "identity:user_id"),
        ("Phone", "identity:phone"),
        ("tags", "tags"),
    ],
)
def test_exact_key_or_label(header, target):
    s = suggest(header)[header]
    assert (s.target, s.method, s.confidence) == (target, "exact", 1.0)


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ("FULL NAME", "full_name"),
        ("  full   name ", "full_name"),
        ("Full-Name", "full_name"),
        ("BIRTHDAY", "birthday"),
        ("Member_Level", "member_level"),
        ("USER ID", "identity:user_id"),
        ("e-mail", "identity:email"),
        ("Registration Time!", "registered_at"),
    ],
)
def test_normalized_case_spaces_punctuation(header, target):
    s = suggest(header)[header]
    assert (s.target, s.method) == (target, "normalized")
    assert 0.9 <= s.confidence < 1.0


def test_normalized_ignores_diacritics_including_vietnamese_d():
    fields = [
        *FIELDS,
        FieldDefinition(key="dia_chi", label="Địa chỉ"),
        FieldDefinition(key="so_thich", label="Sở thích"),
    ]
    got = suggest("DIA CHI", "so thich", "Địa Chỉ ", fields=fields)
    assert got["DIA CHI"].target == "dia_chi" and got["DIA CHI"].method == "normalized"
    assert got["so thich"].target == "so_thich"
    assert got["Địa Chỉ "].target is None  # the same target twice: the first column keeps it


SYNONYM_FAMILIES = {
    "identity:email": [
        "E-mail Address",
        "Mail",
        "Email address",
        "Địa chỉ email",
        "Courriel",
        "Correo electrónico",
        "E-Mail-Adresse",
        "邮箱",
    ],
    "identity:phone": [
        "Mobile",
        "Phone 1",
        "Phone number",
        "Cell",
        "SĐT",
        "Số điện thoại",
        "sdt",
        "Điện thoại",
        "Téléphone",
        "Teléfono",
        "Handy",
        "手机号",
    ],
    "identity:user_id": ["Customer ID", "User-ID", "Mã khách hàng", "ID", "Kundennummer", "客户ID"],
    "full_name": ["Name", "Họ tên", "Họ và tên", "Tên khách hàng", "Nom complet", "Nombre", "姓名"],
    "gender": ["Giới tính", "Sex", "Sexe", "Geschlecht", "性别"],
    "birthday": ["DOB", "D.O.B.", "Date of birth", "Ngày sinh", "Fecha de nacimiento", "Geburtsdatum", "生日"],
    "city": ["Thành phố", "Tỉnh/Thành", "Ville", "Ciudad", "Stadt", "城市"],
    "member_level": ["Hạng thành viên", "Tier", "Level", "Membership level", "会员等级"],
    "registered_at": ["Registration date", "Ngày đăng ký", "Signup date"],
    "tags": ["Labels", "Nhãn", "Étiquettes", "标签"],
}


@pytest.mark.parametrize(
    ("header", "target"), [(header, target) for target, headers in SYNONYM_FAMILIES.items() for header in headers]
)
def test_synonyms_in_several_languages(header, target):
    s = suggest(header)[header]
    assert s.target == target
    assert s.method in ("synonym", "normalized", "exact")
    assert s.confidence >= 0.85


def test_synonym_with_a_number_counts_a_little_less():
    got = suggest("Phone 2", "Email 3")
    assert got["Phone 2"].target == "identity:phone" and got["Phone 2"].method == "synonym"
    assert got["Phone 2"].confidence < suggest("Mobile")["Mobile"].confidence
    assert got["Email 3"].target == "identity:email"


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ("Emial Adress", "identity:email"),
        ("Custmer ID", "identity:user_id"),
        ("Birthdy", "birthday"),
        ("Phone numbr", "identity:phone"),
        ("Membr level", "member_level"),
    ],
)
def test_fuzzy_catches_typos_with_lower_confidence(header, target):
    s = suggest(header)[header]
    assert (s.target, s.method) == (target, "fuzzy")
    assert 0.6 <= s.confidence <= 0.8


@pytest.mark.parametrize(
    "header",
    [
        "First name",
        "Last name",
        "Surname",
        "Notes",
        "Favourite colour",
        "Cty",
        "",
        "   ",
        "Country",
    ],
)
def test_unrelated_columns_stay_unmapped(header):
    s = suggest(header)[header]
    assert (s.target, s.confidence, s.method) == (None, 0.0, None)


def test_two_columns_never_get_the_same_target():
    got = suggest("Mail", "Email", "E-mail Address", "Mobile", "Phone 1", "Phone 2")
    assert got["Email"].target == "identity:email"  # exact beats the synonyms before it
    assert got["Mail"].target is None and got["E-mail Address"].target is None
    assert got["Mobile"].target == "identity:phone"  # equal confidence: the earlier column
    assert got["Phone 1"].target is None and got["Phone 2"].target is None
    targets = [s.target for s in got.values() if s.target]
    assert len(targets) == len(set(targets))


def test_suggestions_keep_header_order_and_become_a_mapping():
    headers = ["Notes", "SĐT", "Họ tên"]
    suggestions = suggest_mapping(headers, fields=FIELDS, identity_kinds=KINDS)
    assert [s.column for s in suggestions] == headers
    assert suggested_mapping(suggestions).columns == {"Notes": None, "SĐT": "identity:phone", "Họ tên": "full_name"}


def test_synonyms_only_for_targets_that_exist():
    no_level = [f for f in FIELDS if f.key != "member_level"]
    assert suggest("Tier", fields=no_level)["Tier"].target is None
    only_email = [k for k in KINDS if k.key == "email"]
    assert suggest("Mobile", kinds=only_email)["Mobile"].target is None


def test_custom_identity_kinds_and_custom_fields_match_by_label():
    kinds = [*KINDS, IdentityKind(key="zalo_id", label="Zalo ID")]
    fields = [*FIELDS, FieldDefinition(key="loyalty_points", label="Loyalty points", type="number")]
    got = suggest("Zalo ID", "loyalty points", "Loyalty pionts", kinds=kinds, fields=fields)
    assert got["Zalo ID"].target == "identity:zalo_id"
    assert got["loyalty points"].target == "loyalty_points"
    assert got["Loyalty pionts"].target is None  # fuzzy hit, but the target is already taken


# ---------------------------------------------------------------- identifiers


def test_identifiers_inferred_in_the_sync_rule_order():
    mapping = ImportMapping(
        columns={"Mobile": "identity:phone", "Mail": "identity:email", "Zalo": "identity:zalo_id", "Name": "full_name"}
    )
    assert infer_identifiers(mapping) == ["email", "phone", "zalo_id"]
    assert infer_identifiers(mapping, ["phone", "zalo_id", "email"]) == ["phone", "zalo_id", "email"]


def test_identifiers_chosen_explicitly_are_kept():
    mapping = ImportMapping(columns={"Mobile": "identity:phone", "Mail": "identity:email"}, identifiers=["phone"])
    assert infer_identifiers(mapping) == ["phone"]


# ---------------------------------------------------------------- templates


def test_headers_signature_ignores_order_case_and_accents():
    assert headers_signature(["Email", "Số điện thoại"]) == headers_signature(["so dien thoai", "EMAIL"])
    assert headers_signature(["Email", "Phone"]) != headers_signature(["Email", "Phone", "City"])
    assert len(headers_signature(["a"])) == 64


def test_template_saved_and_found_by_signature(session):
    headers = ["E-mail", "SĐT", "Hạng"]
    mapping = ImportMapping(
        columns={"E-mail": "identity:email", "SĐT": "identity:phone", "Hạng": None},
        values={"member_level": {"Vàng": "Gold"}},
        identifiers=["email"],
    )
    first = save_mapping_template(
        session=session, actor=MARKETER, name="Shop export", kind="profiles", headers=headers, mapping=mapping
    )
    mapping.columns["Hạng"] = "member_level"
    newest = save_mapping_template(
        session=session, actor=MARKETER, name="Shop export v2", kind="profiles", headers=headers, mapping=mapping
    )
    session.commit()
    assert first.id != newest.id

    found = find_mapping_template(session=session, actor=MARKETER, kind="profiles", headers=["hang", "sdt", "E-MAIL"])
    assert found is not None and found.name == "Shop export v2"
    again = mapping_from_template(found, ["hang", "sdt", "E-MAIL"])
    assert again.columns == {"E-MAIL": "identity:email", "sdt": "identity:phone", "hang": "member_level"}
    assert again.values == {"member_level": {"Vàng": "Gold"}} and again.identifiers == ["email"]

    assert find_mapping_template(session=session, actor=MARKETER, kind="profiles", headers=["E-mail", "SĐT"]) is None
    assert find_mapping_template(session=session, actor=MARKETER, kind="segments", headers=headers) is None
    actions = session.exec(select(AuditEvent.action)).all()
    assert actions.count("mapping_template.create") == 2


def test_templates_need_import_permission(session):
    with pytest.raises(PermissionDenied):
        save_mapping_template(
            session=session,
            actor=VIEWER,
            name="x",
            kind="profiles",
            headers=["a"],
            mapping=ImportMapping(columns={"a": None}),
        )
    with pytest.raises(PermissionDenied):
        find_mapping_template(session=session, actor=VIEWER, kind="profiles", headers=["a"])


# ---------------------------------------------------------------- new custom fields


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Sở thích (chính)", "so_thich_chinh"),
        ("Điểm tích luỹ", "diem_tich_luy"),
        ("2nd address", "f_2nd_address"),
        ("会员", "field"),
        ("  Zip-Code ", "zip_code"),
    ],
)
def test_slugified_keys(text, key):
    assert slugify_key(text) == key


def test_create_custom_fields_with_unique_keys_and_audit(session):
    created = create_custom_fields(
        session=session,
        actor=MARKETER,
        new_fields={
            "City": {"label": "City (shop)", "type": "text", "key": "city"},  # "city" is a system field
            "Sở thích": {"label": "Sở thích", "type": "multiple_choice", "options": ["Sport", " Music ", ""]},
            "Sở-thích": {"label": "Sở thích", "type": "text"},
        },
    )
    session.commit()
    assert created == {"City": "city_2", "Sở thích": "so_thich", "Sở-thích": "so_thich_2"}
    hobby = session.get(FieldDefinition, "so_thich")
    assert (hobby.type, hobby.options, hobby.is_system) == ("multiple_choice", ["Sport", "Music"], False)
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "field.create")).all()
    assert sorted(e.object_id for e in events) == ["city_2", "so_thich", "so_thich_2"]


def test_create_custom_fields_refuses_bad_type_and_viewers(session):
    with pytest.raises(ValueError, match="'colour' is not a field type"):
        create_custom_fields(session=session, actor=MARKETER, new_fields={"Fav": {"type": "colour"}})
    with pytest.raises(PermissionDenied):
        create_custom_fields(session=session, actor=VIEWER, new_fields={"Fav": {"type": "text"}})


@pytest.mark.parametrize(
    ("values", "field_type"),
    [
        (["a@b.com", "C@D.org", None], "email"),
        (["0912345678", "+84 91 234 5678"], "phone"),
        (["12/03/1990", "1990-01-02"], "date"),
        (["1,234.5", "7", ""], "number"),
        (["yes", "không", "x"], "boolean"),
        (["hello", "12"], "text"),
        ([None, ""], "text"),
    ],
)
def test_new_field_type_guessed_from_values(values, field_type):
    assert guess_field_type(pl.Series(values, dtype=pl.Utf8)) == field_type


def test_propose_new_field_for_an_unmatched_column():
    proposal = propose_new_field("Điểm thưởng", pl.Series(["10", "12,5"]), {"diem_thuong"})
    assert proposal == {"key": "diem_thuong_2", "label": "Điểm thưởng", "type": "number"}


# Real header spellings seen in marketers' files, and the field each one holds (issue 11).
PREFERRED_STORE = FieldDefinition(key="preferred_store", label="Preferred store", type="text")
REAL_HEADERS = [
    ("Favourite Store", "preferred_store"),
    ("Favorite store", "preferred_store"),
    ("Fav. Store", "preferred_store"),
    ("Preferred Stores", "preferred_store"),
    ("Favourite shop", "preferred_store"),
    ("Cửa hàng yêu thích", "preferred_store"),
    ("Cửa hàng ưa thích", "preferred_store"),
    ("CUA HANG YEU THICH", "preferred_store"),
    ("Cell Phone Number", "identity:phone"),
    ("Mobile No.", "identity:phone"),
    ("Mobile phone number", "identity:phone"),
    ("Phone Numbers", "identity:phone"),
    ("Customer mobile", "identity:phone"),
    ("Số ĐT", "identity:phone"),
    ("Số điện thoại di động", "identity:phone"),
    ("ĐT di động", "identity:phone"),
    ("E-mail addresses", "identity:email"),
    ("Emails", "identity:email"),
    ("Customer E-mail", "identity:email"),
    ("Birth Dates", "birthday"),
    ("Ngày sinh nhật", "birthday"),
    ("Cities", "city"),
    ("Tỉnh / Thành phố", "city"),
    ("Member Levels", "member_level"),
    ("Hạng khách hàng", "member_level"),
    ("Customer Tags", "tags"),
]


@pytest.mark.parametrize(("header", "target"), REAL_HEADERS)
def test_real_header_spellings_find_their_field(header, target):
    s = suggest(header, fields=[*FIELDS, PREFERRED_STORE])[header]
    assert s.target == target, (header, s)
    assert s.confidence >= 0.8


@pytest.mark.parametrize("header", ["Store", "Favourite colour", "Home address", "Order number", "Ngày mua"])
def test_near_synonyms_need_every_word(header):
    assert suggest(header, fields=[*FIELDS, PREFERRED_STORE])[header].target is None
