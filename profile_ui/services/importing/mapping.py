"""Column -> field mapping: suggestions, saved templates, identifiers, new custom fields.

Suggestions try, per column and in this order (the first rule that hits wins):
  exact       the header is a field's key or label, or an identity kind's key or label
  normalized  the same, ignoring case, spaces, punctuation and accents ("E-MAIL" = "Email")
  synonym     a known name for the target, in English, Vietnamese, French, Spanish, German,
              Chinese ("Mobile", "SĐT", "Ngày sinh", "手机号" ...); a trailing number counts
              too ("Phone 2"), with a little less confidence
  words       the same words as a key, label or synonym once near-synonyms, plurals, word
              order and filler are set aside ("Favourite Store" = "Preferred store",
              "Cell Phone Number" = "Phone", "Cửa hàng yêu thích"): header_words.py
  fuzzy       rapidfuzz ratio >= 80 against every key, label and synonym (typos)
Two columns never get the same target: the more confident keeps it (the earlier column
on a tie), the other is left unmapped for the user to decide (new custom field or ignore).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from rapidfuzz import fuzz, process
from sqlmodel import Session, select

from ...models import FIELD_TYPES, FieldDefinition, IdentityKind, MappingTemplate
from ..audit import record_event
from ..permissions import PROFILES_IMPORT, Actor
from . import IDENTITY_PREFIX, TAGS_TARGET, ImportMapping
from .header_words import header_words
from .normalize import boolean_expr, date_expr, email_expr, fold_text, number_expr

CONFIDENCE = {"exact": 1.0, "normalized": 0.95, "synonym": 0.9, "numbered_synonym": 0.85, "words": 0.85}
FUZZY_THRESHOLD = 80  # rapidfuzz ratio, 0-100
FUZZY_MAX_CONFIDENCE = 0.8  # a fuzzy hit is never as sure as a synonym
FUZZY_MIN_LENGTH = 4  # "Cty", "Tel": too short to guess from
DEFAULT_IDENTIFIER_ORDER = ("user_id", "email", "phone")


class MappingInvalid(ValueError):
    """The chosen mapping cannot be used as it is; the message says what to change."""


@dataclass(frozen=True)
class ColumnSuggestion:
    column: str
    target: str | None
    confidence: float  # 0..1
    method: str | None  # "exact" | "normalized" | "synonym" | "fuzzy" | None


# Known names per target (folded when compared). Keep each list to names people really use.
SYNONYMS: dict[str, tuple[str, ...]] = {
    IDENTITY_PREFIX + "email": (
        "E-mail Address",
        "Email Address",
        "Email",
        "E-mail",
        "Mail",
        "Mail address",
        "Primary email",
        "Personal email",
        "Work email",
        "Contact email",
        "Customer email",
        "Địa chỉ email",
        "Thư điện tử",
        "Courriel",
        "Adresse e-mail",
        "Adresse électronique",
        "Correo",
        "Correo electrónico",
        "E-Mail-Adresse",
        "邮箱",
        "电子邮件",
        "电子邮箱",
        "邮件地址",
    ),
    IDENTITY_PREFIX + "phone": (
        "Mobile",
        "Mobile phone",
        "Mobile number",
        "Phone",
        "Phone 1",
        "Phone number",
        "Telephone",
        "Telephone number",
        "Tel",
        "Cell",
        "Cell phone",
        "Cellphone",
        "Contact number",
        "Phone no",
        "SĐT",
        "Số điện thoại",
        "Điện thoại",
        "Di động",
        "Số di động",
        "SĐT di động",
        "Téléphone",
        "Portable",
        "Numéro de téléphone",
        "Teléfono",
        "Móvil",
        "Celular",
        "Telefon",
        "Telefonnummer",
        "Handy",
        "Mobilnummer",
        "手机",
        "手机号",
        "手机号码",
        "电话",
        "电话号码",
        "联系电话",
    ),
    IDENTITY_PREFIX + "user_id": (
        "Customer ID",
        "User ID",
        "Client ID",
        "Member ID",
        "Customer number",
        "Customer code",
        "Customer no",
        "External ID",
        "ID",
        "UID",
        "Mã khách hàng",
        "Mã KH",
        "ID khách hàng",
        "Mã thành viên",
        "Numéro client",
        "Identifiant client",
        "ID client",
        "ID de cliente",
        "Número de cliente",
        "Kundennummer",
        "Kunden-ID",
        "用户ID",
        "客户ID",
        "客户编号",
        "会员ID",
        "会员编号",
    ),
    "full_name": (
        "Name",
        "Full name",
        "Customer name",
        "Contact name",
        "Client name",
        "Họ tên",
        "Họ và tên",
        "Tên khách hàng",
        "Tên KH",
        "Tên đầy đủ",
        "Nom",
        "Nom complet",
        "Nombre",
        "Nombre completo",
        "Vollständiger Name",
        "姓名",
        "客户姓名",
        "全名",
    ),
    "gender": ("Gender", "Sex", "Giới tính", "Sexe", "Genre", "Sexo", "Género", "Geschlecht", "性别"),
    "birthday": (
        "DOB",
        "D.O.B.",
        "Date of birth",
        "Birth date",
        "Birthdate",
        "Birthday",
        "Ngày sinh",
        "Sinh nhật",
        "Ngày tháng năm sinh",
        "Date de naissance",
        "Fecha de nacimiento",
        "Geburtsdatum",
        "Geburtstag",
        "生日",
        "出生日期",
    ),
    "city": (
        "City",
        "Town",
        "Thành phố",
        "Tỉnh/Thành",
        "Tỉnh/Thành phố",
        "Tỉnh thành",
        "Ville",
        "Ciudad",
        "Stadt",
        "Ort",
        "城市",
    ),
    "member_level": (
        "Member level",
        "Membership level",
        "Member tier",
        "Membership tier",
        "Tier",
        "Level",
        "Loyalty tier",
        "Loyalty level",
        "Hạng thành viên",
        "Hạng",
        "Cấp độ thành viên",
        "Hạng hội viên",
        "Niveau",
        "Niveau de fidélité",
        "Nivel",
        "Mitgliedsstufe",
        "会员等级",
        "等级",
    ),
    "registered_at": (
        "Registration date",
        "Registration time",
        "Registered at",
        "Registered",
        "Sign-up date",
        "Signup date",
        "Join date",
        "Joined",
        "Ngày đăng ký",
        "Thời gian đăng ký",
        "Date d'inscription",
        "Fecha de registro",
        "Registrierungsdatum",
        "注册时间",
        "注册日期",
    ),
    TAGS_TARGET: ("Tags", "Tag", "Labels", "Label", "Nhãn", "Thẻ", "Étiquettes", "Etiquetas", "标签"),
}
# Names that look like a target but are not (kept away from fuzzy matching):
# a first or last name alone is not the full name.
NOT_A_MATCH = frozenset(
    fold_text(name).replace(" ", "")
    for name in (
        "First name",
        "Last name",
        "Surname",
        "Given name",
        "Middle name",
        "Family name",
        "Họ",
        "Tên đệm",
        "Prénom",
        "Nom de famille",
        "Apellido",
        "Vorname",
        "Nachname",
        "名",
        "姓",
    )
)


def _compact(text: str) -> str:
    return fold_text(text).replace(" ", "")


def _targets(fields: Sequence[FieldDefinition], identity_kinds: Sequence[IdentityKind]) -> dict[str, list[str]]:
    """target -> names it is known by (key, label); identity kinds first so they win ties."""
    names: dict[str, list[str]] = {}
    for kind in identity_kinds:
        names[IDENTITY_PREFIX + kind.key] = [kind.key, kind.label, IDENTITY_PREFIX + kind.key]
    for definition in fields:
        names.setdefault(definition.key, [definition.key, definition.label])
    names.setdefault(TAGS_TARGET, [TAGS_TARGET])
    return names


def _match_one(header: str, names: dict[str, list[str]]) -> tuple[str | None, float, str | None]:
    stripped = header.strip()
    for target, known in names.items():
        if stripped in known:
            return target, CONFIDENCE["exact"], "exact"
    compact = _compact(header)
    if not compact:
        return None, 0.0, None
    for target, known in names.items():
        if compact in {_compact(name) for name in known}:
            return target, CONFIDENCE["normalized"], "normalized"
    if compact in NOT_A_MATCH:
        return None, 0.0, None
    numbered = re.sub(r"\d+$", "", compact)
    for target, synonyms in SYNONYMS.items():
        if target not in names:
            continue
        folded = {_compact(s) for s in synonyms}
        if compact in folded:
            return target, CONFIDENCE["synonym"], "synonym"
        if numbered != compact and numbered in folded:
            return target, CONFIDENCE["numbered_synonym"], "synonym"
    words = header_words(header)
    if words:
        for target, known in names.items():
            if any(header_words(name) == words for name in (*known, *SYNONYMS.get(target, ()))):
                return target, CONFIDENCE["words"], "words"
    if len(compact) < FUZZY_MIN_LENGTH:
        return None, 0.0, None
    choices: dict[str, str] = {}  # compact name -> target
    for target, known in names.items():
        for name in (*known, *SYNONYMS.get(target, ())):
            choices.setdefault(_compact(name), target)
    best = process.extractOne(compact, list(choices), scorer=fuzz.ratio, score_cutoff=FUZZY_THRESHOLD)
    if best is None:
        return None, 0.0, None
    name, score, _ = best
    return choices[name], round(FUZZY_MAX_CONFIDENCE * score / 100, 3), "fuzzy"


def suggest_mapping(
    headers: Sequence[str],
    *,
    fields: Sequence[FieldDefinition],
    identity_kinds: Sequence[IdentityKind],
) -> list[ColumnSuggestion]:
    """One suggestion per header, in header order (see the module doc for the rules)."""
    names = _targets(fields, identity_kinds)
    raw = [(index, header, *_match_one(header, names)) for index, header in enumerate(headers)]
    taken: set[str] = set()
    winners: dict[int, tuple[str, float, str]] = {}
    for index, _header, target, confidence, method in sorted(raw, key=lambda r: (-r[3], r[0])):
        if target is not None and target not in taken:
            taken.add(target)
            winners[index] = (target, confidence, method)
    suggestions = []
    for index, header, *_ in raw:
        target, confidence, method = winners.get(index, (None, 0.0, None))
        suggestions.append(ColumnSuggestion(header, target, confidence, method))
    return suggestions


def suggested_mapping(suggestions: Iterable[ColumnSuggestion]) -> ImportMapping:
    """The suggestions as a mapping the user can start from."""
    return ImportMapping(columns={s.column: s.target for s in suggestions})


# ---------------------------------------------------------------- mapping helpers


def effective_targets(mapping: ImportMapping) -> dict[str, str]:
    """header -> target for every column that is imported (new custom fields included)."""
    targets: dict[str, str] = {}
    for header, target in mapping.columns.items():
        if target:
            targets[header] = target
        elif header in mapping.new_fields and mapping.new_fields[header].get("key"):
            targets[header] = mapping.new_fields[header]["key"]
    for header, spec in mapping.new_fields.items():
        if header not in targets and spec.get("key"):
            targets[header] = spec["key"]
    return targets


def identity_kind_of(target: str) -> str | None:
    return target[len(IDENTITY_PREFIX) :] if target.startswith(IDENTITY_PREFIX) else None


def infer_identifiers(mapping: ImportMapping, identifier_kinds: Sequence[str] = DEFAULT_IDENTIFIER_ORDER) -> list[str]:
    """The identity kinds that identify the person: the user's choice if made, else every
    mapped identity kind, in the sync rule's order (`identifier_kinds`), others after."""
    mapped = [k for t in effective_targets(mapping).values() if (k := identity_kind_of(t))]
    if mapping.identifiers:
        return [kind for kind in mapping.identifiers if kind in mapped]
    ranked = {kind: position for position, kind in enumerate(identifier_kinds)}
    return sorted(mapped, key=lambda kind: (ranked.get(kind, len(ranked)), mapped.index(kind)))


# ---------------------------------------------------------------- templates


def headers_signature(headers: Iterable[str]) -> str:
    """Same for any file with the same column names, whatever their order, case or accents."""
    normalized = sorted(_compact(h) for h in headers if h is not None)
    return hashlib.sha256("\x1f".join(normalized).encode()).hexdigest()


def save_mapping_template(
    *, session: Session, actor: Actor, name: str, kind: str, headers: Sequence[str], mapping: ImportMapping
) -> MappingTemplate:
    actor.require(PROFILES_IMPORT)
    name = name.strip()
    if not name:
        raise ValueError("Give the mapping template a name")
    template = MappingTemplate(
        name=name[:128],
        kind=kind,
        headers_signature=headers_signature(headers),
        mapping=mapping.to_json(),
        created_by=actor.user_id,
    )
    session.add(template)
    session.flush()
    record_event(
        session=session,
        actor=actor,
        action="mapping_template.create",
        object_type="mapping_template",
        object_id=template.id,
        details={"name": template.name, "kind": kind, "columns": len(headers)},
    )
    return template


def find_mapping_template(
    *, session: Session, actor: Actor, kind: str, headers: Sequence[str]
) -> MappingTemplate | None:
    """The newest template saved for a file with the same headers, if any."""
    actor.require(PROFILES_IMPORT)
    query = (
        select(MappingTemplate)
        .where(MappingTemplate.kind == kind, MappingTemplate.headers_signature == headers_signature(headers))
        .order_by(MappingTemplate.created_at.desc(), MappingTemplate.id.desc())
        .limit(1)
    )
    return session.exec(query).first()


def mapping_from_template(template: MappingTemplate, headers: Sequence[str]) -> ImportMapping:
    """The template's mapping keyed by this file's headers (which may differ in case/accents)."""
    saved = ImportMapping.from_json(template.mapping)
    by_compact = {_compact(h): h for h in headers}

    def rekey(data: dict[str, Any]) -> dict[str, Any]:
        return {by_compact.get(_compact(h), h): v for h, v in data.items()}

    saved.columns = rekey(saved.columns)
    saved.new_fields = rekey(saved.new_fields)
    return saved


# ---------------------------------------------------------------- new custom fields

RESERVED_KEYS = frozenset(
    {
        "id",
        "status",
        "attributes",
        "created_at",
        "updated_at",
        "deleted_at",
        "deleted_by",
        "deleted_reason",
        "initial_source",
        TAGS_TARGET,
        "consent",
        "segments",
    }
)
_KEY_MAX = 64


def slugify_key(text: str) -> str:
    """A field key from a column name: "Sở thích (chính)" -> "so_thich_chinh"."""
    slug = re.sub(r"[^a-z0-9]+", "_", fold_text(text)).strip("_")
    if not slug:
        slug = "field"
    if slug[0].isdigit():
        slug = "f_" + slug
    return slug[:_KEY_MAX]


def unique_key(base: str, taken: set[str]) -> str:
    key, n = base, 1
    while key in taken or key in RESERVED_KEYS:
        n += 1
        suffix = f"_{n}"
        key = base[: _KEY_MAX - len(suffix)] + suffix
    return key


def guess_field_type(values: pl.Series, sample: int = 500) -> str:
    """A sensible type for a new custom field from a column's values (text when unsure)."""
    text = values.cast(pl.Utf8).str.strip_chars()
    text = text.filter(text.is_not_null() & (text.str.len_chars() > 0)).head(sample)
    if text.is_empty():
        return "text"
    frame = pl.DataFrame({"v": text})

    def all_read(expr: pl.Expr) -> bool:
        return bool(frame.select(expr.is_not_null().all()).item())

    v = pl.col("v")
    if all_read(email_expr(v)):
        return "email"
    if all_read(pl.when(v.str.contains(r"^\+?[\d\s().-]{8,20}$") & v.str.contains(r"^(?:\+|0)")).then(v)):
        return "phone"
    if all_read(pl.when(~v.str.contains(r"^\d{5}$")).then(date_expr(v))):
        return "date"
    if all_read(number_expr(v)):
        return "number"
    if all_read(boolean_expr(v)):
        return "boolean"
    return "text"


def propose_new_field(header: str, values: pl.Series | Sequence[str | None], taken_keys: set[str]) -> dict[str, Any]:
    """What to offer for "new custom field" on an unmatched column: {"key", "label", "type"}."""
    series = values if isinstance(values, pl.Series) else pl.Series(list(values), dtype=pl.Utf8)
    return {
        "key": unique_key(slugify_key(header), taken_keys),
        "label": header.strip()[:128],
        "type": guess_field_type(series),
    }


def create_custom_fields(*, session: Session, actor: Actor, new_fields: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Create ImportMapping.new_fields (header -> {"key", "label", "type", "options"?}).

    Keys are slugified and made unique against existing fields; returns header -> the key
    created, for the caller to put into ImportMapping.columns.
    """
    actor.require(PROFILES_IMPORT)
    taken = set(session.exec(select(FieldDefinition.key)).all())
    position = max(session.exec(select(FieldDefinition.position)).all(), default=0)
    created: dict[str, str] = {}
    for header, spec in new_fields.items():
        field_type = spec.get("type") or "text"
        if field_type not in FIELD_TYPES:
            raise ValueError(f"Column '{header}': '{field_type}' is not a field type ({', '.join(FIELD_TYPES)})")
        label = (spec.get("label") or header).strip()[:128] or header
        key = unique_key(slugify_key(spec.get("key") or label), taken)
        taken.add(key)
        position += 1
        options = [str(o).strip() for o in spec.get("options") or [] if str(o).strip()]
        session.add(
            FieldDefinition(key=key, label=label, type=field_type, options=options, is_system=False, position=position)
        )
        created[header] = key
        record_event(
            session=session,
            actor=actor,
            action="field.create",
            object_type="field",
            object_id=key,
            details={"label": label, "type": field_type, "options": options, "from_column": header},
        )
    session.flush()
    return created
