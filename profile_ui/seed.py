"""Demo workspace: users to sign in with, and realistic profiles loaded in bulk.

`profile-ui seed` calls `seed_workspace`. Profiles and everything hanging off them
(identities, tags, segments, group memberships, consent, linked objects) are generated
chunk by chunk as polars frames, with numpy drawing the random values so one seed always
gives the same people, and written with each driver's fastest path: sqlite3
`executemany` on SQLite, `COPY` on PostgreSQL. Ids are handed out from max(id) + 1 under
a write lock, so seeding a database that already holds data appends to it.
"""

from __future__ import annotations

import json
import time
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from typing import Any, ClassVar

import numpy as np
import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from .db import get_engine
from .models import FieldDefinition, Group, Profile, Segment, Tag, TagGroup, User, fold_name
from .services.attribute_sort import ensure_sort_index
from .services.audit import record_event
from .services.bootstrap import ensure_reference_data
from .services.name_fold import folded_names
from .services.permissions import SYSTEM_ACTOR
from .services.users import create_user
from .settings import get_settings

Echo = Callable[[str], Any]
CHUNK_PROFILES = 100_000
SEED_SOURCE = "seed"
SEED_SOURCE_NAME = "demo seed"


@dataclass(frozen=True)
class DemoUser:
    email: str
    password: str
    role: str
    full_name: str


# Fixed on purpose: `make setup` prints them and the browser tests sign in with them.
DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin@demo.local", "demo-admin-pass", "admin", "Demo Admin"),
    DemoUser("marketer@demo.local", "demo-marketer-pass", "marketer", "Demo Marketer"),
    DemoUser("viewer@demo.local", "demo-viewer-pass", "viewer", "Demo Viewer"),
)


# ---------------------------------------------------------------- vocabulary
VN_FAMILY = [  # with rough shares of the population, so lists look familiar
    ("Nguyễn", 38),
    ("Trần", 11),
    ("Lê", 9.5),
    ("Phạm", 7),
    ("Hoàng", 4),
    ("Huỳnh", 4),
    ("Phan", 4.5),
    ("Vũ", 3),
    ("Võ", 3),
    ("Đặng", 2.1),
    ("Bùi", 2),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1),
    ("Lý", 0.5),
]
VN_MIDDLE = {
    "Female": ["Thị", "Ngọc", "Thu", "Thanh", "Minh", "Bảo", "Khánh"],
    "Male": ["Văn", "Minh", "Đức", "Quốc", "Hữu", "Thành", "Gia"],
}
VN_GIVEN = {
    "Female": [
        "Linh",
        "Trang",
        "Hương",
        "Lan",
        "Mai",
        "Ngọc",
        "Thảo",
        "Hà",
        "Anh",
        "Phương",
        "Vy",
        "Nhung",
        "Hạnh",
        "Yến",
        "Trâm",
        "Chi",
        "My",
        "Quỳnh",
        "Hoa",
        "Uyên",
    ],
    "Male": [
        "Anh",
        "Minh",
        "Tuấn",
        "Hùng",
        "Dũng",
        "Nam",
        "Huy",
        "Khoa",
        "Long",
        "Phúc",
        "Quang",
        "Sơn",
        "Thắng",
        "Bảo",
        "Đạt",
        "Hiếu",
        "Khang",
        "Trung",
        "Vinh",
        "Tâm",
    ],
}
EN_FIRST = {
    "Female": [
        "Emma",
        "Olivia",
        "Sophia",
        "Isabella",
        "Mia",
        "Charlotte",
        "Amelia",
        "Grace",
        "Chloe",
        "Emily",
        "Hannah",
        "Lucy",
        "Sarah",
        "Jessica",
        "Anna",
    ],
    "Male": [
        "James",
        "John",
        "Michael",
        "David",
        "Daniel",
        "Thomas",
        "William",
        "Oliver",
        "Henry",
        "Lucas",
        "Jack",
        "Ryan",
        "Samuel",
        "Peter",
        "Mark",
    ],
}
EN_LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Taylor",
    "Clark",
    "Walker",
    "Hall",
    "Young",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
]
VN_CITIES = [
    ("Hồ Chí Minh", 30),
    ("Hà Nội", 25),
    ("Đà Nẵng", 8),
    ("Hải Phòng", 6),
    ("Cần Thơ", 5),
    ("Biên Hòa", 4),
    ("Nha Trang", 3.5),
    ("Huế", 3),
    ("Vũng Tàu", 3),
    ("Quy Nhơn", 2.5),
    ("Đà Lạt", 2.5),
    ("Buôn Ma Thuột", 2),
    ("Hạ Long", 2),
    ("Vinh", 2),
    ("Thủ Đức", 1.5),
]
ABROAD_CITIES = [("Singapore", 30), ("Sydney", 15), ("London", 15), ("New York", 10), ("Bangkok", 15), ("Seoul", 15)]
MEMBER_LEVELS = [("Bronze", 50), ("Silver", 28), ("Gold", 15), ("Platinum", 5)]
INITIAL_SOURCES = [
    ("Website signup", 35),
    ("Store POS", 25),
    ("Mobile app", 20),
    ("Facebook lead form", 10),
    ("Event registration", 5),
    ("Partner list 2023.xlsx", 5),
]
EMAIL_DOMAINS = [
    ("gmail.com", 55),
    ("yahoo.com", 10),
    ("outlook.com", 10),
    ("icloud.com", 6),
    ("hotmail.com", 6),
    ("fpt.vn", 4),
    ("vnn.vn", 3),
    ("company.com.vn", 6),
]
# 2-digit Vietnamese mobile prefixes after +84 (9 national digits in all)
PHONE_PREFIXES = [
    "90",
    "91",
    "93",
    "94",
    "96",
    "97",
    "98",
    "32",
    "33",
    "34",
    "35",
    "36",
    "37",
    "38",
    "39",
    "70",
    "76",
    "77",
    "78",
    "79",
    "81",
    "82",
    "83",
    "84",
    "85",
    "86",
    "88",
]
STORES = [
    "Vincom Đồng Khởi",
    "Aeon Mall Tân Phú",
    "Crescent Mall",
    "Vincom Bà Triệu",
    "Lotte Mart Đà Nẵng",
    "Big C Thăng Long",
    "Online store",
    "Mobile app store",
]

# custom attributes the seed fills: key, label, type
CUSTOM_FIELDS = [("loyalty_points", "Loyalty points", "number"), ("preferred_store", "Preferred store", "text")]

# tag group -> [(tag name, kind, values or [""])]
TAG_CATALOG: dict[str, list[tuple[str, str, list[str]]]] = {
    "Lifecycle": [("Stage", "text", ["New", "Active", "Loyal", "At risk", "Churned"])],
    "Interests": [
        ("Interest", "multi", ["Fashion", "Beauty", "Electronics", "Home & living", "Sports", "Travel", "Food & drink"])
    ],
    "Campaigns": [
        ("Newsletter subscriber", "text", [""]),
        ("Tet 2025 promo", "text", ["Received", "Clicked", "Purchased"]),
    ],
}
SEGMENTS = {
    "RFM tier": ["Champions", "Loyal", "Potential", "At risk", "Hibernating"],
    "Churn risk": ["Low", "Medium", "High"],
    "Last purchase channel": ["Online", "Store", "App"],
}
GROUPS = {
    "VIP Club": "Gold and Platinum members invited to VIP events",
    "Beta testers": "Customers who try the mobile app's new features first",
    "Store events Hà Nội": "Invitations to in-store events in Hà Nội",
}
CONSENT_CHANNELS = [("email", 0.6), ("sms", 0.4), ("push", 0.2), ("phone", 0.1)]
CONSENT_STATUSES = [("granted", 70), ("denied", 20), ("unknown", 10)]
CONSENT_SOURCES = [("Website signup form", 50), ("Store POS", 25), ("Mobile app settings", 25)]
LINKED_OBJECTS = {  # kind: (share of profiles, external id prefix, names)
    "account": (
        0.20,
        "ACC",
        ["Loyalty card account", "Online store account", "Family plan account", "Corporate gift account"],
    ),
    "opportunity": (
        0.08,
        "OPP",
        ["Upgrade to Gold membership", "Annual skincare bundle", "Corporate order for Tet", "Home appliance upsell"],
    ),
    "ticket": (
        0.12,
        "TCK",
        ["Late delivery", "Refund request", "Damaged item on arrival", "Points not credited", "Change of address"],
    ),
    "task": (
        0.06,
        "TSK",
        ["Call back about warranty", "Send birthday voucher", "Confirm store pickup", "Follow up on survey"],
    ),
}


def _ascii(text: str) -> str:
    """'Nguyễn' -> 'nguyen': the local part of a made-up e-mail address."""
    folded = unicodedata.normalize("NFKD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in folded if c.isascii() and c.isalnum()).lower()


# ---------------------------------------------------------------- result
@dataclass
class SeedSummary:
    """What one run did: rows written per table (empty when it skipped)."""

    skipped: bool = False
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    demo_users: list[DemoUser] = field(default_factory=list)


@dataclass
class TableRows:
    """Generated rows of one table: varying columns in a frame, the rest the same for all."""

    table: str
    frame: pl.DataFrame
    constants: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Catalog:
    """Ids of the tags, segments and groups the generated rows point at."""

    tag_ids: dict[str, int]
    segment_ids: dict[str, int]
    group_ids: dict[str, int]


# ---------------------------------------------------------------- entry point
def seed_workspace(
    *,
    profiles: int,
    random_seed: int = 42,
    demo_users: bool = False,
    only_if_empty: bool = False,
    echo: Echo = print,
    engine: Engine | None = None,
) -> SeedSummary:
    """Create the demo users (optional) and `profiles` realistic profiles.

    With `only_if_empty`, profiles are only made when there are none yet; the demo
    credentials are printed on every run either way.
    """
    if profiles < 0:
        raise ValueError("--profiles must be zero or more")
    if engine is None:
        engine = get_engine()
    summary = SeedSummary()
    with Session(engine, expire_on_commit=False) as session:
        ensure_reference_data(session=session)
        if demo_users:
            summary.demo_users = _ensure_demo_users(session=session)
        session.commit()
        existing = session.exec(select(sa.func.count()).select_from(Profile)).one()
    if summary.demo_users:
        echo("Demo sign-ins:")
        for user in summary.demo_users:
            echo(f"  {user.role:<8}  {user.email:<22}  password: {user.password}")
    if only_if_empty and existing:
        echo(f"{existing:,} profiles exist already: no demo profiles added")
        summary.skipped = True
        return summary
    if profiles == 0:
        return summary

    started = time.perf_counter()
    with Session(engine, expire_on_commit=False) as session:
        catalog = _ensure_catalog(session=session)
        session.commit()
    echo(f"seeding {profiles:,} profiles (seed {random_seed}) into {engine.dialect.name}…")
    loader = _PostgresLoader(engine) if engine.dialect.name == "postgresql" else _SqliteLoader(engine)
    summary.rows = loader.run(
        profiles=profiles,
        existing_profiles=existing,
        random_seed=random_seed,
        catalog=catalog,
        echo=echo,
        started=started,
    )
    summary.seconds = time.perf_counter() - started
    with Session(engine) as session:
        record_event(
            session=session,
            actor=SYSTEM_ACTOR,
            action="profiles.seed",
            object_type="profile",
            details={"seed": random_seed, "rows": summary.rows},
        )
        session.commit()
    echo(
        f"seeded {profiles:,} profiles and {sum(summary.rows.values()) - profiles:,} related "
        f"rows in {summary.seconds:.1f} s"
    )
    return summary


def _ensure_demo_users(*, session: Session) -> list[DemoUser]:
    existing = set(session.exec(select(User.email).where(User.email.in_([u.email for u in DEMO_USERS]))).all())
    for user in DEMO_USERS:
        if user.email not in existing:
            create_user(
                session=session,
                actor=SYSTEM_ACTOR,
                email=user.email,
                password=user.password,
                role=user.role,
                full_name=user.full_name,
            )
    return list(DEMO_USERS)


def _ensure_catalog(*, session: Session) -> _Catalog:
    """Get or create the custom fields, tags, segments and groups the seed refers to."""
    fields = {f.key for f in session.exec(select(FieldDefinition)).all()}
    position = len(fields)
    for key, label, type_ in CUSTOM_FIELDS:
        if key not in fields:
            session.add(FieldDefinition(key=key, label=label, type=type_, position=position))
            ensure_sort_index(session, key)
            position += 1
    tag_ids: dict[str, int] = {}
    for group_name, tags in TAG_CATALOG.items():
        group = session.exec(select(TagGroup).where(TagGroup.name == group_name)).first()
        if group is None:
            group = TagGroup(name=group_name)
            session.add(group)
            session.flush()
        for tag_name, kind, _values in tags:
            tag = session.exec(select(Tag).where(Tag.group_id == group.id, Tag.name == tag_name)).first()
            if tag is None:
                tag = Tag(group_id=group.id, name=tag_name, kind=kind)
                session.add(tag)
                session.flush()
            tag_ids[tag_name] = tag.id
    segment_ids: dict[str, int] = {}
    for name in SEGMENTS:
        segment = session.exec(select(Segment).where(Segment.name == name)).first()
        if segment is None:
            segment = Segment(name=name, source="import", description="Demo segment made by `profile-ui seed`")
            session.add(segment)
            session.flush()
        segment_ids[name] = segment.id
    group_ids: dict[str, int] = {}
    for name, description in GROUPS.items():
        group_row = session.exec(select(Group).where(Group.name == name)).first()
        if group_row is None:
            group_row = Group(name=name, description=description)
            session.add(group_row)
            session.flush()
        group_ids[name] = group_row.id
    return _Catalog(tag_ids=tag_ids, segment_ids=segment_ids, group_ids=group_ids)


# ---------------------------------------------------------------- generation
def _weighted(rng: np.random.Generator, n: int, pairs: list[tuple[str, float]]) -> pl.Series:
    values = [v for v, _ in pairs]
    weights = np.array([w for _, w in pairs], dtype=float)
    idx = rng.choice(len(values), size=n, p=weights / weights.sum())
    return pl.Series(values, dtype=pl.String).gather(idx)


def _uniform(rng: np.random.Generator, n: int, values: list[str]) -> pl.Series:
    return pl.Series(values, dtype=pl.String).gather(rng.integers(0, len(values), size=n))


def _by_gender(rng: np.random.Generator, female: np.ndarray, names: dict[str, list[str]]) -> pl.Series:
    """One name per row from the female or male list, drawn uniformly."""
    women, men = (_uniform(rng, len(female), names[key]) for key in ("Female", "Male"))
    return pl.select(pl.when(pl.Series(female)).then(women).otherwise(men)).to_series()


def _duration(seconds: np.ndarray) -> pl.Series:
    return pl.Series(seconds.astype(np.int64) * 1_000_000).cast(pl.Duration("us"))


HISTORY_SECONDS = 5 * 365 * 86400  # registrations spread over the last five years


def _registration_times(rng: np.random.Generator, now: datetime, n: int, time_slice: tuple[float, float]) -> pl.Series:
    """Ascending times inside `time_slice` (fractions of the history, oldest = 0).

    Ascending, so a profile's id grows with its registration and creation time as in a
    real workspace, and the (status, …, created_at / id) indexes grow at their ends.
    """
    low, high = time_slice
    fractions = np.sort(low + rng.random(n) * (high - low))
    secs = int(now.timestamp()) - HISTORY_SECONDS + (fractions * HISTORY_SECONDS).astype(np.int64)
    return pl.Series(secs * 1_000_000).cast(pl.Datetime("us"))


def generate_chunk(
    *,
    rng: np.random.Generator,
    first_id: int,
    n: int,
    now: datetime,
    catalog: _Catalog,
    next_ids: dict[str, int],
    taken_identities: pl.DataFrame | None,
    time_slice: tuple[float, float] = (0.0, 1.0),
) -> list[TableRows]:
    """Rows for `n` profiles starting at `first_id`, in insert order (parents first).

    `next_ids` holds the next free id of the tables with serial keys and is advanced.
    Identities already in `taken_identities` (kind, value) are left out, so appending
    to a database never breaks the one-value-one-profile rule.
    """
    ids = np.arange(first_id, first_id + n, dtype=np.int64)
    pid = pl.Series("profile_id", ids)
    r = lambda: rng.random(n)  # noqa: E731  (one fresh uniform draw per row)
    vietnamese = r() < 0.7
    female = r() < 0.52

    # names: Vietnamese "Family Middle Given", English "First Last"
    family = _weighted(rng, n, VN_FAMILY)
    family_ascii = family.replace_strict({f: _ascii(f) for f, _ in VN_FAMILY})
    middle = _by_gender(rng, female, VN_MIDDLE)
    given = _by_gender(rng, female, VN_GIVEN)
    given_ascii = given.replace_strict({g: _ascii(g) for k in VN_GIVEN for g in VN_GIVEN[k]})
    first = _by_gender(rng, female, EN_FIRST)
    last = _uniform(rng, n, EN_LAST)
    viet = pl.Series(vietnamese)
    names = pl.DataFrame(
        {
            "viet": viet,
            "family": family,
            "middle": middle,
            "given": given,
            "first": first,
            "last": last,
            "family_a": family_ascii,
            "given_a": given_ascii,
            "pattern": rng.integers(0, 3, size=n),
            "domain": _weighted(rng, n, EMAIL_DOMAINS),
            "id": ids,
        }
    )
    names = names.with_columns(
        full_name=pl.when("viet")
        .then(pl.concat_str("family", "middle", "given", separator=" "))
        .otherwise(pl.concat_str("first", "last", separator=" ")),
        local_first=pl.when("viet").then("given_a").otherwise(pl.col("first").str.to_lowercase()),
        local_last=pl.when("viet").then("family_a").otherwise(pl.col("last").str.to_lowercase()),
    ).with_columns(
        email=pl.concat_str(
            pl.when(pl.col("pattern") == 0)
            .then(pl.concat_str("local_first", pl.lit("."), "local_last"))
            .when(pl.col("pattern") == 1)
            .then(pl.concat_str("local_last", "local_first"))
            .otherwise(pl.concat_str("local_first", pl.lit("_"), "local_last")),
            pl.col("id").cast(pl.String),
            pl.lit("@"),
            "domain",
        ),
    )

    gender = pl.select(
        pl.when(pl.Series(r() < 0.03))
        .then(None)
        .when(pl.Series(r() < 0.01))
        .then(pl.lit("Other"))
        .when(pl.Series(female))
        .then(pl.lit("Female"))
        .otherwise(pl.lit("Male"))
    ).to_series()
    epoch = datetime(1970, 1, 1).date()
    first_day = (datetime(1960, 1, 1).date() - epoch).days
    last_day = (datetime(2007, 12, 31).date() - epoch).days
    birthday = pl.Series(rng.integers(first_day, last_day, size=n, dtype=np.int32)).cast(pl.Date)
    city = pl.select(
        pl.when(viet | pl.Series(r() < 0.7))
        .then(_weighted(rng, n, VN_CITIES))
        .otherwise(_weighted(rng, n, ABROAD_CITIES))
    ).to_series()
    level = _weighted(rng, n, MEMBER_LEVELS)
    registered = _registration_times(rng, now, n, time_slice)
    now_dt = pl.lit(now.replace(tzinfo=None)).cast(pl.Datetime("us"))
    status_draw = r()
    status = pl.select(
        pl.when(pl.Series(status_draw < 0.01))
        .then(pl.lit("deleted"))
        .when(pl.Series(status_draw < 0.06))
        .then(pl.lit("deactivated"))
        .otherwise(pl.lit("active"))
    ).to_series()

    # custom attributes (JSON text, escaped the way SQLAlchemy's JSON type writes it)
    points = pl.Series((rng.gamma(1.5, 900.0, size=n)).astype(np.int64))
    store_of = rng.integers(0, len(STORES), size=n)
    store = pl.Series([json.dumps(s) for s in STORES], dtype=pl.String).gather(store_of)
    has_points, has_store = r() < 0.9, r() < 0.7
    points_json = pl.concat_str(pl.lit('"loyalty_points": '), points.cast(pl.String))
    store_json = pl.concat_str(pl.lit('"preferred_store": '), store)
    # the same stores folded (models.fold_attributes), for the query box's folded search
    folded_store = pl.Series([json.dumps(fold_name(s)) for s in STORES], dtype=pl.String).gather(store_of)

    profile = (
        pl.DataFrame(
            {
                "id": ids,
                "full_name": names["full_name"],
                "gender": gender,
                "birthday": pl.select(pl.when(pl.Series(r() < 0.06)).then(None).otherwise(birthday)).to_series(),
                "city": pl.select(pl.when(pl.Series(r() < 0.04)).then(None).otherwise(city)).to_series(),
                "member_level": pl.select(pl.when(pl.Series(r() < 0.02)).then(None).otherwise(level)).to_series(),
                "registered": registered,
                "status": status,
                "initial_source": _weighted(rng, n, INITIAL_SOURCES),
                "attributes": pl.select(
                    pl.when(pl.Series(has_points) & pl.Series(has_store))
                    .then(pl.concat_str(pl.lit("{"), points_json, pl.lit(", "), store_json, pl.lit("}")))
                    .when(pl.Series(has_points))
                    .then(pl.concat_str(pl.lit("{"), points_json, pl.lit("}")))
                    .when(pl.Series(has_store))
                    .then(pl.concat_str(pl.lit("{"), store_json, pl.lit("}")))
                    .otherwise(pl.lit("{}"))
                ).to_series(),
                "attributes_folded": pl.select(
                    pl.when(pl.Series(has_store))
                    .then(pl.concat_str(pl.lit('{"preferred_store": '), folded_store, pl.lit("}")))
                    .otherwise(pl.lit("{}"))
                ).to_series(),
                "created_offset": _duration(rng.integers(0, 2 * 86400, size=n)),
                "updated_offset": _duration(rng.integers(0, 180 * 86400, size=n)),
                "deleted_offset": _duration(rng.integers(0, 25 * 86400, size=n)),
                "no_registration": r() < 0.03,
            }
        )
        .with_columns(
            created_at=pl.min_horizontal(pl.col("registered") + pl.col("created_offset"), now_dt),
        )
        .with_columns(
            updated_at=pl.min_horizontal(pl.col("created_at") + pl.col("updated_offset"), now_dt),
            registered_at=pl.when("no_registration").then(None).otherwise("registered"),
        )
        .with_columns(
            deleted_at=pl.when(pl.col("status") == "deleted").then(
                pl.max_horizontal(now_dt - pl.col("deleted_offset"), pl.col("updated_at"))
            ),
            deleted_reason=pl.when(pl.col("status") == "deleted").then(pl.lit("Customer asked to be removed")),
        )
        .with_columns(updated_at=pl.coalesce("deleted_at", "updated_at"))
    )
    profiles = profile.with_columns(folded_names(profile["full_name"])).select(
        "id",
        "full_name",
        "name_folded",
        "gender",
        "birthday",
        "city",
        "member_level",
        "registered_at",
        "status",
        "initial_source",
        "attributes",
        "attributes_folded",
        "created_at",
        "updated_at",
        "deleted_at",
        "deleted_reason",
    )
    created_at, updated_at = profile["created_at"], profile["updated_at"]
    out = [TableRows("profiles", profiles, {"deleted_by": None})]

    # identities: every profile has at least one; values are unique by construction
    # (each embeds the profile id), and anything already taken is left out
    has_user_id, has_email, has_phone = r() < 0.85, r() < 0.9, r() < 0.8
    has_email |= ~(has_user_id | has_phone)
    # a bijection of the id onto (prefix, 7 digits): 7_654_321 is coprime with
    # len(PHONE_PREFIXES) * 10**7, so two profiles never get the same number
    mixed = (ids * 7_654_321 + 1_234_567) % (len(PHONE_PREFIXES) * 10_000_000)
    prefix = pl.Series(PHONE_PREFIXES, dtype=pl.String).gather(mixed // 10_000_000)
    body = mixed % 10_000_000
    phone = pl.concat_str(pl.lit("+84"), prefix, pl.Series(body).cast(pl.String).str.zfill(7))
    user_id = pl.concat_str(pl.lit("U"), pl.Series(ids).cast(pl.String).str.zfill(7))
    base = pl.DataFrame({"profile_id": pid, "first_seen_at": created_at, "last_seen_at": updated_at})
    identity_parts = []
    for kind, mask, values in (
        ("user_id", has_user_id, user_id),
        ("email", has_email, names["email"]),
        ("phone", has_phone, phone),
    ):
        identity_parts.append(base.with_columns(kind=pl.lit(kind), value=values).filter(pl.Series(mask)))
    identities = pl.concat(identity_parts)
    if taken_identities is not None and taken_identities.height:
        identities = identities.join(taken_identities, on=["kind", "value"], how="anti")
    # in (kind, value) order, so the unique index grows by runs instead of random inserts
    identities = _with_ids(identities.sort("kind", "value"), next_ids, "identities").select(
        "id", "profile_id", "kind", "value", "first_seen_at", "last_seen_at"
    )
    out.append(
        TableRows(
            "identities",
            identities,
            {
                "value_encrypted": None,
                "key_id": None,
                "is_encrypted": False,
                "source_type": SEED_SOURCE,
                "source_name": SEED_SOURCE_NAME,
            },
        )
    )

    # tags: a lifecycle stage, a few interests (multi-value), campaign tags
    tag_base = pl.DataFrame({"profile_id": pid, "created_at": updated_at})
    tag_parts = []
    stage_values = TAG_CATALOG["Lifecycle"][0][2]
    tag_parts.append(
        tag_base.with_columns(
            tag_id=pl.lit(catalog.tag_ids["Stage"]),
            value=_weighted(rng, n, list(zip(stage_values, [15, 40, 25, 12, 8]))),
        ).filter(pl.Series(r() < 0.8))
    )
    for interest in TAG_CATALOG["Interests"][0][2]:
        tag_parts.append(
            tag_base.with_columns(tag_id=pl.lit(catalog.tag_ids["Interest"]), value=pl.lit(interest)).filter(
                pl.Series(r() < 0.08)
            )
        )
    tag_parts.append(
        tag_base.with_columns(tag_id=pl.lit(catalog.tag_ids["Newsletter subscriber"]), value=pl.lit("")).filter(
            pl.Series(r() < 0.3)
        )
    )
    tag_parts.append(
        tag_base.with_columns(
            tag_id=pl.lit(catalog.tag_ids["Tet 2025 promo"]),
            value=_weighted(rng, n, [("Received", 60), ("Clicked", 28), ("Purchased", 12)]),
        ).filter(pl.Series(r() < 0.2))
    )
    profile_tags = _with_ids(pl.concat(tag_parts, how="diagonal_relaxed"), next_ids, "profile_tags")
    out.append(
        TableRows(
            "profile_tags",
            profile_tags.select("id", "profile_id", "tag_id", "value", "created_at"),
            {"source": SEED_SOURCE, "policy": None, "import_job_id": None, "created_by": None},
        )
    )

    # segments: a value per profile in each segment it belongs to
    share = {"RFM tier": 0.5, "Churn risk": 0.25, "Last purchase channel": 0.25}
    segment_parts = [
        pl.DataFrame(
            {
                "segment_id": pl.Series([catalog.segment_ids[name]] * n, dtype=pl.Int64),
                "profile_id": pid,
                "value": _uniform(rng, n, values),
                "added_at": updated_at,
            }
        ).filter(pl.Series(r() < share[name]))
        for name, values in SEGMENTS.items()
    ]
    out.append(TableRows("segment_members", pl.concat(segment_parts), {"import_job_id": None}))

    # groups: VIP Club for most Gold/Platinum members, small random audiences otherwise
    vip = profiles["member_level"].is_in(["Gold", "Platinum"]).fill_null(False).to_numpy()
    in_hanoi = (profiles["city"] == "Hà Nội").fill_null(False).to_numpy()
    group_masks = {
        "VIP Club": vip & (r() < 0.6),
        "Beta testers": r() < 0.03,
        "Store events Hà Nội": in_hanoi & (r() < 0.2),
    }
    member_parts = []
    for name, mask in group_masks.items():
        member_parts.append(
            pl.DataFrame(
                {
                    "group_id": pl.Series([catalog.group_ids[name]] * n, dtype=pl.Int64),
                    "profile_id": pid,
                    "state": _weighted(rng, n, [("active", 70), ("invited", 20), ("deactivated", 10)]),
                    "invited_before": _duration(rng.integers(0, 365 * 86400, size=n)),
                    "created_at": created_at,
                    "updated_at": updated_at,
                }
            )
            .filter(pl.Series(mask))
            .select(
                "group_id",
                "profile_id",
                "state",
                pl.max_horizontal(pl.col("updated_at") - pl.col("invited_before"), "created_at").alias("invited_at"),
                "updated_at",
            )
        )
    out.append(TableRows("group_memberships", pl.concat(member_parts)))

    # consent per channel
    consent_parts = [
        pl.DataFrame(
            {
                "profile_id": pid,
                "channel": pl.Series([channel] * n, dtype=pl.String),
                "status": _weighted(rng, n, CONSENT_STATUSES),
                "source": _weighted(rng, n, CONSENT_SOURCES),
                "updated_at": updated_at,
            }
        ).filter(pl.Series(r() < share_))
        for channel, share_ in CONSENT_CHANNELS
    ]
    out.append(TableRows("consents", pl.concat(consent_parts)))

    # linked objects: accounts, opportunities, tickets, tasks
    link_parts = []
    for object_type, (share_, code, titles) in LINKED_OBJECTS.items():
        link_parts.append(
            pl.DataFrame(
                {
                    "profile_id": pid,
                    "object_type": pl.Series([object_type] * n, dtype=pl.String),
                    "name": _uniform(rng, n, titles),
                    "code": pl.Series([code] * n, dtype=pl.String),
                    "created_at": updated_at,
                }
            ).filter(pl.Series(r() < share_))
        )
    links = _with_ids(pl.concat(link_parts), next_ids, "linked_objects").with_columns(
        external_id=pl.concat_str("code", pl.lit("-"), pl.col("id").cast(pl.String).str.zfill(7))
    )
    out.append(
        TableRows(
            "linked_objects", links.select("id", "profile_id", "object_type", "name", "external_id", "created_at")
        )
    )
    return out


def _with_ids(frame: pl.DataFrame, next_ids: dict[str, int], table: str) -> pl.DataFrame:
    start = next_ids[table]
    next_ids[table] = start + frame.height
    return frame.with_columns(id=pl.int_range(start, start + frame.height, dtype=pl.Int64))


# ---------------------------------------------------------------- loading
SERIAL_TABLES = ("profiles", "identities", "profile_tags", "linked_objects")
LOADED_TABLES = (
    "profiles",
    "identities",
    "profile_tags",
    "segment_members",
    "group_memberships",
    "consents",
    "linked_objects",
)
SEED_IDENTITY_KINDS = ("user_id", "email", "phone")


class _Loader:
    """Generates chunks and writes them in one transaction under a write lock.

    When the load is bigger than what the tables hold, their plain (non-unique) indexes
    are dropped first and rebuilt at the end: building an index from sorted data is much
    cheaper than a million random B-tree inserts. Unique indexes stay, so the database
    keeps refusing a duplicate identity.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def run(
        self, *, profiles: int, existing_profiles: int, random_seed: int, catalog: _Catalog, echo: Echo, started: float
    ) -> dict[str, int]:
        encrypted = set(get_settings().encrypted_identity_kinds) & set(SEED_IDENTITY_KINDS)
        if encrypted:
            # their values must go through the crypto service, which bulk seeding bypasses
            echo(f"note: identity kinds stored encrypted are not seeded: {', '.join(sorted(encrypted))}")
        raw = self.engine.raw_connection()
        try:
            conn = raw.driver_connection
            self.begin(conn)
            try:
                next_ids = {t: self.max_id(conn, t) + 1 for t in SERIAL_TABLES}
                taken = self.taken_identities(conn)
                rebuild = self.drop_for_load(conn) if profiles > existing_profiles else []
                rows = dict.fromkeys(LOADED_TABLES, 0)
                now = datetime.now(UTC)

                def make_chunk(chunk_no: int) -> tuple[int, list[tuple[str, int, Any]]]:
                    """Generate and encode one chunk (runs beside the writes of the last one)."""
                    first = chunk_no * CHUNK_PROFILES
                    n = min(CHUNK_PROFILES, profiles - first)
                    rng = np.random.default_rng([random_seed, chunk_no])
                    parts = generate_chunk(
                        rng=rng,
                        first_id=next_ids["profiles"],
                        n=n,
                        now=now,
                        catalog=catalog,
                        next_ids=next_ids,
                        taken_identities=taken,
                        time_slice=(first / profiles, (first + n) / profiles),
                    )
                    next_ids["profiles"] += n
                    encoded = []
                    for part in parts:
                        if part.table == "identities" and encrypted:
                            part.frame = part.frame.filter(~pl.col("kind").is_in(sorted(encrypted)))
                        if part.frame.height:
                            encoded.append((part.table, part.frame.height, self.encode(part)))
                    return first + n, encoded

                chunks = -(-profiles // CHUNK_PROFILES)
                # one thread generates chunk k+1 while this one writes chunk k: polars,
                # the driver's B-tree work and PostgreSQL's all run without the GIL
                with ThreadPoolExecutor(max_workers=1, thread_name_prefix="seed") as pool:
                    pending = pool.submit(make_chunk, 0)
                    for chunk_no in range(chunks):
                        done, encoded = pending.result()
                        if chunk_no + 1 < chunks:
                            pending = pool.submit(make_chunk, chunk_no + 1)
                        for table, height, payload in encoded:
                            self.write(conn, payload)
                            rows[table] += height
                        echo(f"  {done:>12,} / {profiles:,} profiles  ({time.perf_counter() - started:.1f} s)")
                if rebuild:
                    echo(f"  rebuilding indexes and constraints  ({time.perf_counter() - started:.1f} s)")
                    for statement in rebuild:
                        self.execute(conn, statement)
                self.finish(conn, next_ids)
                echo(f"  committing  ({time.perf_counter() - started:.1f} s)")
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            finally:
                self.restore(conn)
        finally:
            raw.close()
        return rows

    @staticmethod
    def execute(conn: Any, statement: str, params: tuple = ()) -> list[tuple]:
        cur = conn.cursor()
        try:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []
        finally:
            cur.close()

    def taken_identities(self, conn: Any) -> pl.DataFrame | None:
        rows = self.execute(conn, "SELECT kind, value FROM identities WHERE kind IN ('user_id', 'email', 'phone')")
        if not rows:
            return None
        return pl.DataFrame(rows, schema={"kind": pl.String, "value": pl.String}, orient="row")

    def max_id(self, conn: Any, table: str) -> int:
        return int(self.execute(conn, f"SELECT COALESCE(MAX(id), 0) FROM {table}")[0][0])

    def drop_for_load(self, conn: Any) -> list[str]:
        """Drop the non-unique indexes of the loaded tables; return what rebuilds them."""
        statements = []
        for name, sql in self.plain_indexes(conn):
            self.execute(conn, f'DROP INDEX "{name}"')
            statements.append(sql)
        return statements

    # backend hooks
    def begin(self, conn: Any) -> None: ...
    def plain_indexes(self, conn: Any) -> list[tuple[str, str]]: ...
    def encode(self, rows: TableRows) -> Any: ...
    def write(self, conn: Any, payload: Any) -> None: ...
    def finish(self, conn: Any, next_ids: dict[str, int]) -> None: ...
    def restore(self, conn: Any) -> None: ...


def _sql_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


SQLITE_ROWS_PER_INSERT = 200
SQLITE_MAX_PARAMETERS = 32_000  # SQLite >= 3.32 allows 32,766 per statement


class _SqliteLoader(_Loader):
    """sqlite3 executemany in big batches; datetimes as SQLAlchemy's SQLite text format."""

    # for the load only, then set back: generated rows are consistent, so skip per-row FK
    # lookups; a large page cache keeps the B-trees being filled in memory; index
    # rebuilds sort in memory with a helper thread
    LOAD_PRAGMAS: ClassVar[dict[str, int]] = {
        "foreign_keys": 0,
        "cache_size": -1_000_000,
        "temp_store": 2,
        "threads": 2,
    }

    def begin(self, conn: Any) -> None:
        self.saved_pragmas = {name: self.execute(conn, f"PRAGMA {name}")[0][0] for name in self.LOAD_PRAGMAS}
        for name, value in self.LOAD_PRAGMAS.items():
            self.execute(conn, f"PRAGMA {name}={value}")
        # A rollback journal writes the new pages once, where WAL writes them twice (log,
        # then checkpoint). SQLite only allows the switch when no other connection has
        # the file open (a running app keeps it in WAL, and the load still works).
        self.saved_journal = self.execute(conn, "PRAGMA journal_mode")[0][0]
        if self.saved_journal == "wal":
            self.execute(conn, "PRAGMA journal_mode=DELETE")
        try:
            self.execute(conn, "BEGIN IMMEDIATE")  # the write lock: nobody takes our ids meanwhile
        except BaseException:
            self.restore(conn)  # the pooled connection goes back as it came
            raise

    def plain_indexes(self, conn: Any) -> list[tuple[str, str]]:
        marks = ", ".join("?" * len(LOADED_TABLES))
        rows = self.execute(
            conn,
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks})",
            LOADED_TABLES,
        )
        return [(name, sql) for name, sql in rows if not sql.upper().startswith("CREATE UNIQUE")]

    def encode(self, rows: TableRows) -> tuple[str, list[list], str | None, list]:
        """The INSERT statements and their parameters; datetimes as SQLAlchemy stores them."""
        frame = rows.frame.with_columns(
            pl.col(pl.Datetime).dt.strftime("%Y-%m-%d %H:%M:%S%.6f"),
            pl.col(pl.Date).dt.strftime("%Y-%m-%d"),
        )
        columns = ", ".join([*frame.columns, *rows.constants])
        one_row = "(" + ", ".join(["?"] * frame.width + [_sql_literal(v) for v in rows.constants.values()]) + ")"
        # many rows per INSERT (about 40% less CPU than one per statement), parameters
        # flattened row by row from the column lists (much cheaper than iter_rows())
        per_statement = max(1, min(SQLITE_ROWS_PER_INSERT, SQLITE_MAX_PARAMETERS // frame.width))
        flat = list(chain.from_iterable(zip(*(c.to_list() for c in frame.get_columns()), strict=True)))
        step = per_statement * frame.width
        full = frame.height // per_statement * step
        insert = f"INSERT INTO {rows.table} ({columns}) VALUES "
        batches = [flat[i : i + step] for i in range(0, full, step)]
        rest = (len(flat) - full) // frame.width
        return (
            insert + ", ".join([one_row] * per_statement),
            batches,
            insert + ", ".join([one_row] * rest) if rest else None,
            flat[full:],
        )

    def write(self, conn: Any, payload: tuple[str, list[list], str | None, list]) -> None:
        statement, batches, rest_statement, rest = payload
        if batches:
            conn.executemany(statement, batches)
        if rest_statement:
            conn.execute(rest_statement, rest)

    def restore(self, conn: Any) -> None:
        for name, value in self.saved_pragmas.items():
            self.execute(conn, f"PRAGMA {name}={value}")
        if self.execute(conn, "PRAGMA journal_mode")[0][0] != self.saved_journal:
            self.execute(conn, f"PRAGMA journal_mode={self.saved_journal}")


class _PostgresLoader(_Loader):
    """COPY … FROM STDIN (CSV) per table and chunk; sequences moved past the new ids."""

    def begin(self, conn: Any) -> None:
        self.execute(conn, f"LOCK TABLE {', '.join(SERIAL_TABLES)} IN EXCLUSIVE MODE")

    def max_id(self, conn: Any, table: str) -> int:
        # also past the sequence, so ids it handed out (even rolled back) stay unused
        last_given = (
            f"SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {self._sequence(conn, table)}"
        )
        return int(self.execute(conn, f"SELECT GREATEST(COALESCE(MAX(id), 0), ({last_given})) FROM {table}")[0][0])

    def _sequence(self, conn: Any, table: str) -> str:
        return self.execute(conn, "SELECT pg_get_serial_sequence(%s, 'id')", (table,))[0][0]

    def drop_for_load(self, conn: Any) -> list[str]:
        """Also drop the foreign keys of the loaded tables: a per-row check trigger costs as
        much as the row itself, while re-adding the constraint checks all rows in one join."""
        self.execute(conn, "SET LOCAL maintenance_work_mem = '256MB'")
        foreign_keys = self.execute(
            conn,
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s)",
            (list(LOADED_TABLES),),
        )
        for table, name, _definition in foreign_keys:
            self.execute(conn, f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        return [
            *super().drop_for_load(conn),
            *(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for table, name, definition in foreign_keys),
        ]

    def plain_indexes(self, conn: Any) -> list[tuple[str, str]]:
        rows = self.execute(
            conn,
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ANY(%s)",
            (list(LOADED_TABLES),),
        )
        return [(name, sql) for name, sql in rows if not sql.upper().startswith("CREATE UNIQUE")]

    def encode(self, rows: TableRows) -> tuple[str, bytes]:
        frame = rows.frame.with_columns(pl.lit(v).alias(k) for k, v in rows.constants.items())
        data = frame.write_csv(
            include_header=False, null_value="\\N", datetime_format="%Y-%m-%d %H:%M:%S%.6f+00", date_format="%Y-%m-%d"
        )
        return (
            f"COPY {rows.table} ({', '.join(frame.columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')",
            data.encode(),
        )

    def write(self, conn: Any, payload: tuple[str, bytes]) -> None:
        statement, data = payload
        with conn.cursor() as cur, cur.copy(statement) as copy:
            copy.write(data)

    def finish(self, conn: Any, next_ids: dict[str, int]) -> None:
        for table in SERIAL_TABLES:
            sequence = self._sequence(conn, table)
            if next_ids[table] > 1:  # (setval refuses 0: an empty table keeps its sequence)
                self.execute(
                    conn,
                    f"SELECT setval(%s, GREATEST(%s, (SELECT last_value FROM {sequence})))",
                    (sequence, next_ids[table] - 1),
                )
        for table in LOADED_TABLES:
            self.execute(conn, f"ANALYZE {table}")
