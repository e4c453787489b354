"""Generating one chunk of demo profiles and their related rows (identities, tags,
segments, group memberships, consent, linked objects) as polars frames, numpy drawing the
random values so one seed always gives the same people. No database access: the loaders
(load.py) write what this returns."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from ..models import fold_name
from ..services.name_fold import folded_names
from .demo_people import (
    ABROAD_CITIES,
    CONSENT_CHANNELS,
    CONSENT_SOURCES,
    CONSENT_STATUSES,
    EMAIL_DOMAINS,
    EN_FIRST,
    EN_LAST,
    INITIAL_SOURCES,
    LINKED_OBJECTS,
    MEMBER_LEVELS,
    PHONE_PREFIXES,
    SEGMENTS,
    STORES,
    TAG_CATALOG,
    VN_CITIES,
    VN_FAMILY,
    VN_GIVEN,
    VN_MIDDLE,
    ascii_name,
)

SEED_SOURCE = "seed"
SEED_SOURCE_NAME = "demo seed"


@dataclass
class TableRows:
    """Generated rows of one table: varying columns in a frame, the rest the same for all."""

    table: str
    frame: pl.DataFrame
    constants: dict[str, Any] = field(default_factory=dict)


@dataclass
class SeedCatalog:
    """Ids of the tags, segments and groups the generated rows point at."""

    tag_ids: dict[str, int]
    segment_ids: dict[str, int]
    group_ids: dict[str, int]


def _weighted(rng: np.random.Generator, n: int, pairs: Sequence[tuple[str, float]]) -> pl.Series:
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
    catalog: SeedCatalog,
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
    family_ascii = family.replace_strict({f: ascii_name(f) for f, _ in VN_FAMILY})
    middle = _by_gender(rng, female, VN_MIDDLE)
    given = _by_gender(rng, female, VN_GIVEN)
    given_ascii = given.replace_strict({g: ascii_name(g) for k in VN_GIVEN for g in VN_GIVEN[k]})
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
    identities = with_ids(identities.sort("kind", "value"), next_ids, "identities").select(
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
    profile_tags = with_ids(pl.concat(tag_parts, how="diagonal_relaxed"), next_ids, "profile_tags")
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
    links = with_ids(pl.concat(link_parts), next_ids, "linked_objects").with_columns(
        external_id=pl.concat_str("code", pl.lit("-"), pl.col("id").cast(pl.String).str.zfill(7))
    )
    out.append(
        TableRows(
            "linked_objects", links.select("id", "profile_id", "object_type", "name", "external_id", "created_at")
        )
    )
    return out


def with_ids(frame: pl.DataFrame, next_ids: dict[str, int], table: str) -> pl.DataFrame:
    start = next_ids[table]
    next_ids[table] = start + frame.height
    return frame.with_columns(id=pl.int_range(start, start + frame.height, dtype=pl.Int64))
