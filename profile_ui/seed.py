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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from .models import (
    FieldDefinition, Group, Profile, Segment, Tag, TagGroup, User,
)
from .services.audit import record_event
from .services.bootstrap import ensure_reference_data
from .services.permissions import SYSTEM_ACTOR
from .services.users import create_user

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
    ("Nguyễn", 38), ("Trần", 11), ("Lê", 9.5), ("Phạm", 7), ("Hoàng", 4), ("Huỳnh", 4),
    ("Phan", 4.5), ("Vũ", 3), ("Võ", 3), ("Đặng", 2.1), ("Bùi", 2), ("Đỗ", 1.4),
    ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1), ("Lý", 0.5),
]
VN_MIDDLE = {
    "Female": ["Thị", "Ngọc", "Thu", "Thanh", "Minh", "Bảo", "Khánh"],
    "Male": ["Văn", "Minh", "Đức", "Quốc", "Hữu", "Thành", "Gia"],
}
VN_GIVEN = {
    "Female": ["Linh", "Trang", "Hương", "Lan", "Mai", "Ngọc", "Thảo", "Hà", "Anh", "Phương",
               "Vy", "Nhung", "Hạnh", "Yến", "Trâm", "Chi", "My", "Quỳnh", "Hoa", "Uyên"],
    "Male": ["Anh", "Minh", "Tuấn", "Hùng", "Dũng", "Nam", "Huy", "Khoa", "Long", "Phúc",
             "Quang", "Sơn", "Thắng", "Bảo", "Đạt", "Hiếu", "Khang", "Trung", "Vinh", "Tâm"],
}
EN_FIRST = {
    "Female": ["Emma", "Olivia", "Sophia", "Isabella", "Mia", "Charlotte", "Amelia", "Grace",
               "Chloe", "Emily", "Hannah", "Lucy", "Sarah", "Jessica", "Anna"],
    "Male": ["James", "John", "Michael", "David", "Daniel", "Thomas", "William", "Oliver",
             "Henry", "Lucas", "Jack", "Ryan", "Samuel", "Peter", "Mark"],
}
EN_LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
           "Taylor", "Clark", "Walker", "Hall", "Young", "King", "Wright", "Scott", "Green",
           "Baker", "Adams", "Nelson"]
VN_CITIES = [
    ("Hồ Chí Minh", 30), ("Hà Nội", 25), ("Đà Nẵng", 8), ("Hải Phòng", 6), ("Cần Thơ", 5),
    ("Biên Hòa", 4), ("Nha Trang", 3.5), ("Huế", 3), ("Vũng Tàu", 3), ("Quy Nhơn", 2.5),
    ("Đà Lạt", 2.5), ("Buôn Ma Thuột", 2), ("Hạ Long", 2), ("Vinh", 2), ("Thủ Đức", 1.5),
]
ABROAD_CITIES = [("Singapore", 30), ("Sydney", 15), ("London", 15), ("New York", 10),
                 ("Bangkok", 15), ("Seoul", 15)]
MEMBER_LEVELS = [("Bronze", 50), ("Silver", 28), ("Gold", 15), ("Platinum", 5)]
INITIAL_SOURCES = [("Website signup", 35), ("Store POS", 25), ("Mobile app", 20),
                   ("Facebook lead form", 10), ("Event registration", 5),
                   ("Partner list 2023.xlsx", 5)]
EMAIL_DOMAINS = [("gmail.com", 55), ("yahoo.com", 10), ("outlook.com", 10), ("icloud.com", 6),
                 ("hotmail.com", 6), ("fpt.vn", 4), ("vnn.vn", 3), ("company.com.vn", 6)]
# 2-digit Vietnamese mobile prefixes after +84 (9 national digits in all)
PHONE_PREFIXES = ["90", "91", "93", "94", "96", "97", "98", "32", "33", "34", "35", "36",
                  "37", "38", "39", "70", "76", "77", "78", "79", "81", "82", "83", "84",
                  "85", "86", "88", "89"]
STORES = ["Vincom Đồng Khởi", "Aeon Mall Tân Phú", "Crescent Mall", "Vincom Bà Triệu",
          "Lotte Mart Đà Nẵng", "Big C Thăng Long", "Online store", "Mobile app store"]

# custom attributes the seed fills: key, label, type
CUSTOM_FIELDS = [("loyalty_points", "Loyalty points", "number"),
                 ("preferred_store", "Preferred store", "text")]

# tag group -> [(tag name, kind, values or [""])]
TAG_CATALOG: dict[str, list[tuple[str, str, list[str]]]] = {
    "Lifecycle": [("Stage", "text", ["New", "Active", "Loyal", "At risk", "Churned"])],
    "Interests": [("Interest", "multi", ["Fashion", "Beauty", "Electronics", "Home & living",
                                         "Sports", "Travel", "Food & drink"])],
    "Campaigns": [("Newsletter subscriber", "text", [""]),
                  ("Tet 2025 promo", "text", ["Received", "Clicked", "Purchased"])],
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
CONSENT_CHANNELS = [("email", 0.75), ("sms", 0.55), ("push", 0.30), ("phone", 0.15)]
CONSENT_STATUSES = [("granted", 70), ("denied", 20), ("unknown", 10)]
CONSENT_SOURCES = [("Website signup form", 50), ("Store POS", 25), ("Mobile app settings", 25)]
LINKED_OBJECTS = {  # type: (share of profiles, external id prefix, names)
    "account": (0.20, "ACC", ["Loyalty card account", "Online store account",
                              "Family plan account", "Corporate gift account"]),
    "opportunity": (0.08, "OPP", ["Upgrade to Gold membership", "Annual skincare bundle",
                                  "Corporate order for Tet", "Home appliance upsell"]),
    "ticket": (0.12, "TCK", ["Late delivery", "Refund request", "Damaged item on arrival",
                             "Points not credited", "Change of address"]),
    "task": (0.06, "TSK", ["Call back about warranty", "Send birthday voucher",
                           "Confirm store pickup", "Follow up on survey"]),
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
        from .db import get_engine

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
    summary.rows = loader.run(profiles=profiles, random_seed=random_seed, catalog=catalog,
                              echo=echo, started=started)
    summary.seconds = time.perf_counter() - started
    with Session(engine) as session:
        record_event(session=session, actor=SYSTEM_ACTOR, action="profiles.seed",
                     object_type="profile", details={"seed": random_seed, "rows": summary.rows})
        session.commit()
    echo(f"seeded {profiles:,} profiles and {sum(summary.rows.values()) - profiles:,} related "
         f"rows in {summary.seconds:.1f} s")
    return summary


def _ensure_demo_users(*, session: Session) -> list[DemoUser]:
    existing = set(session.exec(
        select(User.email).where(User.email.in_([u.email for u in DEMO_USERS]))).all())
    for user in DEMO_USERS:
        if user.email not in existing:
            create_user(session=session, actor=SYSTEM_ACTOR, email=user.email,
                        password=user.password, role=user.role, full_name=user.full_name)
    return list(DEMO_USERS)


def _ensure_catalog(*, session: Session) -> _Catalog:
    """Get or create the custom fields, tags, segments and groups the seed refers to."""
    fields = {f.key for f in session.exec(select(FieldDefinition)).all()}
    position = len(fields)
    for key, label, type_ in CUSTOM_FIELDS:
        if key not in fields:
            session.add(FieldDefinition(key=key, label=label, type=type_, position=position))
            position += 1
    tag_ids: dict[str, int] = {}
    for group_name, tags in TAG_CATALOG.items():
        group = session.exec(select(TagGroup).where(TagGroup.name == group_name)).first()
        if group is None:
            group = TagGroup(name=group_name)
            session.add(group)
            session.flush()
        for tag_name, kind, _values in tags:
            tag = session.exec(select(Tag).where(Tag.group_id == group.id,
                                                 Tag.name == tag_name)).first()
            if tag is None:
                tag = Tag(group_id=group.id, name=tag_name, kind=kind)
                session.add(tag)
                session.flush()
            tag_ids[tag_name] = tag.id
    segment_ids: dict[str, int] = {}
    for name in SEGMENTS:
        segment = session.exec(select(Segment).where(Segment.name == name)).first()
        if segment is None:
            segment = Segment(name=name, source="import",
                              description="Demo segment made by `profile-ui seed`")
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


def _by_gender(rng: np.random.Generator, female: np.ndarray, names: dict[str, list[str]],
               transform: Callable[[str], str] = str) -> pl.Series:
    """One name per row from the female or male list, drawn uniformly."""
    out = []
    for key in ("Female", "Male"):
        out.append(pl.Series([transform(v) for v in names[key]], dtype=pl.String)
                   .gather(rng.integers(0, len(names[key]), size=len(female))))
    return pl.select(pl.when(pl.Series(female)).then(out[0]).otherwise(out[1])).to_series()


def _duration(seconds: np.ndarray) -> pl.Series:
    return pl.Series(seconds.astype(np.int64) * 1_000_000).cast(pl.Duration("us"))


def _seconds_ago(rng: np.random.Generator, now: datetime, n: int, max_seconds: int) -> pl.Series:
    base = int(now.timestamp())
    secs = base - rng.integers(0, max_seconds, size=n)
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
) -> list[tuple[str, pl.DataFrame]]:
    """Frames for `n` profiles starting at `first_id`, in insert order (parents first).

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
    names = pl.DataFrame({"viet": viet, "family": family, "middle": middle, "given": given,
                          "first": first, "last": last, "family_a": family_ascii,
                          "given_a": given_ascii, "pattern": rng.integers(0, 3, size=n),
                          "domain": _weighted(rng, n, EMAIL_DOMAINS), "id": ids})
    names = names.with_columns(
        full_name=pl.when("viet").then(pl.concat_str("family", "middle", "given", separator=" "))
        .otherwise(pl.concat_str("first", "last", separator=" ")),
        local_first=pl.when("viet").then("given_a").otherwise(pl.col("first").str.to_lowercase()),
        local_last=pl.when("viet").then("family_a").otherwise(pl.col("last").str.to_lowercase()),
    ).with_columns(
        email=pl.concat_str(
            pl.when(pl.col("pattern") == 0).then(pl.concat_str("local_first", pl.lit("."), "local_last"))
            .when(pl.col("pattern") == 1).then(pl.concat_str("local_last", "local_first"))
            .otherwise(pl.concat_str("local_first", pl.lit("_"), "local_last")),
            pl.col("id").cast(pl.String), pl.lit("@"), "domain"),
    )

    gender = pl.select(
        pl.when(pl.Series(r() < 0.03)).then(None)
        .when(pl.Series(r() < 0.01)).then(pl.lit("Other"))
        .when(pl.Series(female)).then(pl.lit("Female")).otherwise(pl.lit("Male"))).to_series()
    epoch = datetime(1970, 1, 1).date()
    first_day = (datetime(1960, 1, 1).date() - epoch).days
    last_day = (datetime(2007, 12, 31).date() - epoch).days
    birthday = pl.Series(rng.integers(first_day, last_day, size=n, dtype=np.int32)).cast(pl.Date)
    city = pl.select(pl.when(viet | pl.Series(r() < 0.7)).then(_weighted(rng, n, VN_CITIES))
                     .otherwise(_weighted(rng, n, ABROAD_CITIES))).to_series()
    level = _weighted(rng, n, MEMBER_LEVELS)
    registered = _seconds_ago(rng, now, n, 5 * 365 * 86400)
    now_dt = pl.lit(now.replace(tzinfo=None)).cast(pl.Datetime("us"))
    status_draw = r()
    status = pl.select(pl.when(pl.Series(status_draw < 0.01)).then(pl.lit("deleted"))
                       .when(pl.Series(status_draw < 0.06)).then(pl.lit("deactivated"))
                       .otherwise(pl.lit("active"))).to_series()

    # custom attributes (JSON text, escaped the way SQLAlchemy's JSON type writes it)
    points = pl.Series((rng.gamma(1.5, 900.0, size=n)).astype(np.int64))
    store = pl.Series([json.dumps(s) for s in STORES], dtype=pl.String).gather(
        rng.integers(0, len(STORES), size=n))
    has_points, has_store = r() < 0.9, r() < 0.7
    points_json = pl.concat_str(pl.lit('"loyalty_points": '), points.cast(pl.String))
    store_json = pl.concat_str(pl.lit('"preferred_store": '), store)

    profile = pl.DataFrame({
        "id": ids, "full_name": names["full_name"], "gender": gender,
        "birthday": pl.select(pl.when(pl.Series(r() < 0.06)).then(None).otherwise(birthday)).to_series(),
        "city": pl.select(pl.when(pl.Series(r() < 0.04)).then(None).otherwise(city)).to_series(),
        "member_level": pl.select(pl.when(pl.Series(r() < 0.02)).then(None).otherwise(level)).to_series(),
        "registered": registered,
        "status": status,
        "initial_source": _weighted(rng, n, INITIAL_SOURCES),
        "attributes": pl.select(
            pl.when(pl.Series(has_points) & pl.Series(has_store))
            .then(pl.concat_str(pl.lit("{"), points_json, pl.lit(", "), store_json, pl.lit("}")))
            .when(pl.Series(has_points)).then(pl.concat_str(pl.lit("{"), points_json, pl.lit("}")))
            .when(pl.Series(has_store)).then(pl.concat_str(pl.lit("{"), store_json, pl.lit("}")))
            .otherwise(pl.lit("{}"))).to_series(),
        "created_offset": _duration(rng.integers(0, 2 * 86400, size=n)),
        "updated_offset": _duration(rng.integers(0, 180 * 86400, size=n)),
        "deleted_offset": _duration(rng.integers(0, 25 * 86400, size=n)),
        "no_registration": r() < 0.03,
    }).with_columns(
        created_at=pl.min_horizontal(pl.col("registered") + pl.col("created_offset"), now_dt),
    ).with_columns(
        updated_at=pl.min_horizontal(pl.col("created_at") + pl.col("updated_offset"), now_dt),
        registered_at=pl.when("no_registration").then(None).otherwise("registered"),
    ).with_columns(
        deleted_at=pl.when(pl.col("status") == "deleted")
        .then(pl.max_horizontal(now_dt - pl.col("deleted_offset"), pl.col("updated_at"))),
        deleted_reason=pl.when(pl.col("status") == "deleted")
        .then(pl.lit("Customer asked to be removed")),
    ).with_columns(updated_at=pl.coalesce("deleted_at", "updated_at"))
    profiles = profile.select(
        "id", "full_name", "gender", "birthday", "city", "member_level", "registered_at",
        "status", "initial_source", "attributes", "created_at", "updated_at", "deleted_at",
        pl.lit(None, dtype=pl.Int64).alias("deleted_by"), "deleted_reason")
    created_at, updated_at = profile["created_at"], profile["updated_at"]
    frames: list[tuple[str, pl.DataFrame]] = [("profiles", profiles)]

    # identities: every profile has at least one; values are unique by construction
    # (each embeds the profile id), and anything already taken is left out
    has_user_id, has_email, has_phone = r() < 0.85, r() < 0.9, r() < 0.8
    has_email |= ~(has_user_id | has_phone)
    prefix = pl.Series(PHONE_PREFIXES, dtype=pl.String).gather(ids % len(PHONE_PREFIXES))
    # a bijection of id // len(prefixes) onto 7 digits (7_654_321 is coprime with 10**7)
    body = ((ids // len(PHONE_PREFIXES)) * 7_654_321 + 1_234_567) % 10_000_000
    phone = pl.concat_str(pl.lit("+84"), prefix, pl.Series(body).cast(pl.String).str.zfill(7))
    user_id = pl.concat_str(pl.lit("U"), pl.Series(ids).cast(pl.String).str.zfill(7))
    base = pl.DataFrame({"profile_id": pid, "first_seen_at": created_at, "last_seen_at": updated_at})
    identity_parts = []
    for kind, mask, values in (("user_id", has_user_id, user_id), ("email", has_email, names["email"]),
                               ("phone", has_phone, phone)):
        identity_parts.append(base.with_columns(kind=pl.lit(kind), value=values).filter(pl.Series(mask)))
    identities = pl.concat(identity_parts)
    if taken_identities is not None and taken_identities.height:
        identities = identities.join(taken_identities, on=["kind", "value"], how="anti")
    identities = _with_ids(identities, next_ids, "identities").select(
        "id", "profile_id", "kind", "value",
        pl.lit(None, dtype=pl.String).alias("value_encrypted"),
        pl.lit(None, dtype=pl.String).alias("key_id"), pl.lit(False).alias("is_encrypted"),
        pl.lit(SEED_SOURCE).alias("source_type"), pl.lit(SEED_SOURCE_NAME).alias("source_name"),
        "first_seen_at", "last_seen_at")
    frames.append(("identities", identities))

    # tags: a lifecycle stage, a few interests (multi-value), campaign tags
    tag_base = pl.DataFrame({"profile_id": pid, "created_at": updated_at})
    tag_parts = []
    stage_values = TAG_CATALOG["Lifecycle"][0][2]
    tag_parts.append(tag_base.with_columns(tag_id=pl.lit(catalog.tag_ids["Stage"]),
                                           value=_weighted(rng, n, list(zip(stage_values, [15, 40, 25, 12, 8]))))
                     .filter(pl.Series(r() < 0.85)))
    for interest in TAG_CATALOG["Interests"][0][2]:
        tag_parts.append(tag_base.with_columns(tag_id=pl.lit(catalog.tag_ids["Interest"]),
                                               value=pl.lit(interest)).filter(pl.Series(r() < 0.12)))
    tag_parts.append(tag_base.with_columns(tag_id=pl.lit(catalog.tag_ids["Newsletter subscriber"]),
                                           value=pl.lit("")).filter(pl.Series(r() < 0.4)))
    tag_parts.append(tag_base.with_columns(tag_id=pl.lit(catalog.tag_ids["Tet 2025 promo"]),
                                           value=_weighted(rng, n, [("Received", 60), ("Clicked", 28), ("Purchased", 12)]))
                     .filter(pl.Series(r() < 0.2)))
    profile_tags = _with_ids(pl.concat(tag_parts, how="diagonal_relaxed"), next_ids, "profile_tags").select(
        "id", "profile_id", "tag_id", "value", pl.lit(SEED_SOURCE).alias("source"),
        pl.lit(None, dtype=pl.String).alias("policy"),
        pl.lit(None, dtype=pl.Int64).alias("import_job_id"),
        pl.lit(None, dtype=pl.Int64).alias("created_by"), "created_at")
    frames.append(("profile_tags", profile_tags))

    # segments: a value per profile in each segment it belongs to
    share = {"RFM tier": 0.6, "Churn risk": 0.3, "Last purchase channel": 0.3}
    segment_parts = [
        pl.DataFrame({"segment_id": pl.Series([catalog.segment_ids[name]] * n, dtype=pl.Int64),
                      "profile_id": pid, "value": _uniform(rng, n, values), "added_at": updated_at})
        .filter(pl.Series(r() < share[name]))
        for name, values in SEGMENTS.items()
    ]
    frames.append(("segment_members", pl.concat(segment_parts).select(
        "segment_id", "profile_id", "value", pl.lit(None, dtype=pl.Int64).alias("import_job_id"),
        "added_at")))

    # groups: VIP Club for most Gold/Platinum members, small random audiences otherwise
    vip = profiles["member_level"].is_in(["Gold", "Platinum"]).fill_null(False).to_numpy()
    in_hanoi = (profiles["city"] == "Hà Nội").fill_null(False).to_numpy()
    group_masks = {"VIP Club": vip & (r() < 0.6), "Beta testers": r() < 0.03,
                   "Store events Hà Nội": in_hanoi & (r() < 0.2)}
    member_parts = []
    for name, mask in group_masks.items():
        member_parts.append(pl.DataFrame({
            "group_id": pl.Series([catalog.group_ids[name]] * n, dtype=pl.Int64), "profile_id": pid,
            "state": _weighted(rng, n, [("active", 70), ("invited", 20), ("deactivated", 10)]),
            "invited_before": _duration(rng.integers(0, 365 * 86400, size=n)),
            "created_at": created_at, "updated_at": updated_at,
        }).filter(pl.Series(mask)).select(
            "group_id", "profile_id", "state",
            pl.max_horizontal(pl.col("updated_at") - pl.col("invited_before"), "created_at")
            .alias("invited_at"),
            "updated_at"))
    frames.append(("group_memberships", pl.concat(member_parts)))

    # consent per channel
    consent_parts = [
        pl.DataFrame({"profile_id": pid, "channel": pl.Series([channel] * n, dtype=pl.String),
                      "status": _weighted(rng, n, CONSENT_STATUSES),
                      "source": _weighted(rng, n, CONSENT_SOURCES), "updated_at": updated_at})
        .filter(pl.Series(r() < share_))
        for channel, share_ in CONSENT_CHANNELS
    ]
    frames.append(("consents", pl.concat(consent_parts)))

    # linked objects: accounts, opportunities, tickets, tasks
    link_parts = []
    for object_type, (share_, code, titles) in LINKED_OBJECTS.items():
        link_parts.append(pl.DataFrame({
            "profile_id": pid, "object_type": pl.Series([object_type] * n, dtype=pl.String),
            "name": _uniform(rng, n, titles), "code": pl.Series([code] * n, dtype=pl.String),
            "created_at": updated_at}).filter(pl.Series(r() < share_)))
    links = _with_ids(pl.concat(link_parts), next_ids, "linked_objects").with_columns(
        external_id=pl.concat_str("code", pl.lit("-"), pl.col("id").cast(pl.String).str.zfill(7)))
    frames.append(("linked_objects", links.select(
        "id", "profile_id", "object_type", "name", "external_id", "created_at")))
    return frames


def _with_ids(frame: pl.DataFrame, next_ids: dict[str, int], table: str) -> pl.DataFrame:
    start = next_ids[table]
    next_ids[table] = start + frame.height
    return frame.with_columns(id=pl.int_range(start, start + frame.height, dtype=pl.Int64))


# ---------------------------------------------------------------- loading
SERIAL_TABLES = ("profiles", "identities", "profile_tags", "linked_objects")
LOADED_TABLES = ("profiles", "identities", "profile_tags", "segment_members",
                 "group_memberships", "consents", "linked_objects")
SEED_IDENTITY_KINDS = ("user_id", "email", "phone")


class _Loader:
    """Generates chunks and writes them in one transaction under a write lock."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def run(self, *, profiles: int, random_seed: int, catalog: _Catalog, echo: Echo,
            started: float) -> dict[str, int]:
        from .settings import get_settings

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
                rows = dict.fromkeys(LOADED_TABLES, 0)
                now = datetime.now(UTC)
                for chunk_no, first in enumerate(range(0, profiles, CHUNK_PROFILES)):
                    n = min(CHUNK_PROFILES, profiles - first)
                    rng = np.random.default_rng([random_seed, chunk_no])
                    frames = generate_chunk(rng=rng, first_id=next_ids["profiles"], n=n, now=now,
                                            catalog=catalog, next_ids=next_ids,
                                            taken_identities=taken)
                    next_ids["profiles"] += n
                    for table, frame in frames:
                        if table == "identities" and encrypted:
                            frame = frame.filter(~pl.col("kind").is_in(sorted(encrypted)))
                        self.write(conn, table, frame)
                        rows[table] += frame.height
                    echo(f"  {first + n:>12,} / {profiles:,} profiles  "
                         f"({time.perf_counter() - started:.1f} s)")
                self.finish(conn, next_ids)
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            finally:
                self.restore(conn)
        finally:
            raw.close()
        return rows

    def taken_identities(self, conn: Any) -> pl.DataFrame | None:
        cur = conn.cursor()
        cur.execute("SELECT kind, value FROM identities WHERE kind IN ('user_id', 'email', 'phone')")
        rows = cur.fetchall()
        cur.close()
        if not rows:
            return None
        return pl.DataFrame(rows, schema={"kind": pl.String, "value": pl.String}, orient="row")

    def max_id(self, conn: Any, table: str) -> int:
        cur = conn.cursor()
        cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        value = cur.fetchone()[0]
        cur.close()
        return int(value)

    # backend hooks
    def begin(self, conn: Any) -> None: ...
    def write(self, conn: Any, table: str, frame: pl.DataFrame) -> None: ...
    def finish(self, conn: Any, next_ids: dict[str, int]) -> None: ...
    def restore(self, conn: Any) -> None: ...


class _SqliteLoader(_Loader):
    """sqlite3 executemany in big batches; datetimes as SQLAlchemy's SQLite text format."""

    def begin(self, conn: Any) -> None:
        cur = conn.cursor()
        # for the load only: generated rows are consistent, so skip per-row FK lookups;
        # a large page cache keeps the index B-trees in memory
        cur.execute("PRAGMA foreign_keys=OFF")
        cur.execute("PRAGMA cache_size=-1000000")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.execute("BEGIN IMMEDIATE")  # the write lock: nobody takes our ids meanwhile
        cur.close()

    def write(self, conn: Any, table: str, frame: pl.DataFrame) -> None:
        if not frame.height:
            return
        frame = frame.with_columns(
            pl.col(pl.Datetime).dt.strftime("%Y-%m-%d %H:%M:%S%.6f"),
            pl.col(pl.Date).dt.strftime("%Y-%m-%d"),
        )
        columns = ", ".join(frame.columns)
        marks = ", ".join("?" * frame.width)
        conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", frame.iter_rows())

    def restore(self, conn: Any) -> None:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA cache_size=-2000")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


class _PostgresLoader(_Loader):
    """COPY … FROM STDIN (CSV) per table and chunk; sequences moved past the new ids."""

    def begin(self, conn: Any) -> None:
        with conn.cursor() as cur:
            cur.execute(f"LOCK TABLE {', '.join(SERIAL_TABLES)} IN EXCLUSIVE MODE")

    def max_id(self, conn: Any, table: str) -> int:
        # also past the sequence, so ids it handed out (even rolled back) stay unused
        with conn.cursor() as cur:
            cur.execute(f"SELECT GREATEST(COALESCE(MAX(id), 0), (SELECT last_value FROM "
                        f"{self._sequence(conn, table)})) FROM {table}")
            return int(cur.fetchone()[0])

    @staticmethod
    def _sequence(conn: Any, table: str) -> str:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table,))
            return cur.fetchone()[0]

    def write(self, conn: Any, table: str, frame: pl.DataFrame) -> None:
        if not frame.height:
            return
        data = frame.write_csv(include_header=False, null_value="\\N",
                               datetime_format="%Y-%m-%d %H:%M:%S%.6f+00", date_format="%Y-%m-%d")
        with conn.cursor() as cur:
            with cur.copy(f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN "
                          "WITH (FORMAT csv, NULL '\\N')") as copy:
                copy.write(data)

    def finish(self, conn: Any, next_ids: dict[str, int]) -> None:
        with conn.cursor() as cur:
            for table in SERIAL_TABLES:
                sequence = self._sequence(conn, table)
                cur.execute(f"SELECT setval(%s, GREATEST(%s, (SELECT last_value FROM {sequence})))",
                            (sequence, next_ids[table] - 1))

    def restore(self, conn: Any) -> None:
        pass


def iter_tables() -> Iterable[str]:
    """The tables a seed writes rows into (tests and benchmarks count them)."""
    return LOADED_TABLES
