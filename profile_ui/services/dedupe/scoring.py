"""Scoring: how likely two records are one person, and why, in words.

A Fellegi-Sunter model: each field of a pair falls into one comparison level (same,
nearly the same in a named way, different, or missing on a side), each level adds its
weight (log2 of how much likelier that level is among true duplicates than among
strangers), and the sum plus a prior gives the match probability, `score` (0..1).
String comparisons run in rapidfuzz's C++ (`process.cpdist`, element-wise over whole
columns, all cores); levels and weights are polars expressions; only the pairs kept get
their reasons written out in Python.

Weights were set from the m/u probabilities of each level (m: among duplicates, u: among
strangers that share a blocking key) and checked against benchmarks/dedupe_bench.py's
labelled set; DEFAULT_THRESHOLD is where that set reaches precision >= 0.95 with recall
>= 0.90 (0.958 / 0.904 on 100,000 records). A lower threshold finds more duplicates
(recall) and suggests more strangers (precision); a higher one the reverse: 0.90 gave
0.99 / 0.81 there, 0.50 gave 0.90 / 0.93. The score is the model's probability, not a
measured one: at the default threshold the suggestions are right more often than 70%.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import polars as pl
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from .blocking import hash_keys
from .features import nickname_pairs

DEFAULT_THRESHOLD = 0.70
STORE_FLOOR = 0.50  # pairs below this are not kept at all (the page's lowest filter)
PRIOR = -13.0  # log2 odds that two people sharing a blocking key are one person

TF_NAME_TOP = 10.0  # the same name: this, less log2 of how many people have it
TF_EMAIL_TOP = 8.0  # the same e-mail local part at another domain: likewise
TF_FLOOR = 3.0
_BOUND_SEED = 1313  # the bound's equality hashes (never stored)
_LETTER_BITS = {c: 1 << i for i, c in enumerate("abcdefghijklmnopqrstuvwxyz0123456789")}
_SUBSET_TEXT = 500  # token_set_ratio can pass 99.9 without a subset only for names this long
# field -> level -> weight (log2 Bayes factor). Level 0 is always "missing on a side" = 0.
NAME_EXACT, NAME_NICK, NAME_CLOSE, NAME_SUBSET, NAME_PARTIAL, NAME_DIFFER = 1, 2, 3, 4, 5, 6
SAME, NEAR, NEAR2, DIFFER = 1, 2, 3, 4  # the other fields (not every field has NEAR2)
WEIGHTS: dict[str, dict[int, float]] = {
    "name": {NAME_EXACT: 9.0, NAME_NICK: 7.0, NAME_CLOSE: 8.0, NAME_SUBSET: 4.0, NAME_PARTIAL: 0.5, NAME_DIFFER: -6.0},
    # dates: NEAR = one digit off, or day and month swapped
    "bday": {SAME: 9.0, NEAR: 6.0, DIFFER: -6.0},
    # e-mail: NEAR = same name at another domain, NEAR2 = one or two letters off
    "email": {SAME: 10.0, NEAR: 7.0, NEAR2: 8.0, DIFFER: -0.5},
    # phone: NEAR = same last digits, other country code; NEAR2 = one digit off
    "phone": {SAME: 7.0, NEAR: 6.0, NEAR2: 3.0, DIFFER: -0.5},
    "city": {SAME: 2.0, DIFFER: -1.5},
    "uid": {SAME: 10.0, DIFFER: -3.0},
}
# the field each comparison is about, as the profile names it (the page highlights these)
FIELD_OF = {
    "name": "full_name",
    "bday": "birthday",
    "email": "email",
    "phone": "phone",
    "city": "city",
    "uid": "user_id",
}

_COMPARED = (
    "full_name",
    "name_plain",
    "name_key",
    "name_tokens",
    "bday",
    "email",
    "email_local",
    "email_domain",
    "phone_digits",
    "phone_tail",
    "city_key",
    "uid_key",
)


def _both(column: str) -> pl.Expr:
    """Both records of the pair have `column`."""
    return pl.col(f"{column}_a").is_not_null() & pl.col(f"{column}_b").is_not_null()


def _same(column: str) -> pl.Expr:
    return pl.col(f"{column}_a") == pl.col(f"{column}_b")


def _length_gap(column: str) -> pl.Expr:
    # signed integers: an unsigned difference wraps when the first side is the shorter
    return (pl.col(f"{column}_len_a") - pl.col(f"{column}_len_b")).abs()


def _month_day(side: str) -> pl.Expr:
    """The month of a YYYYMMDD birthday integer."""
    return (pl.col(f"bday_{side}") // 100) % 100


def _day(side: str) -> pl.Expr:
    return pl.col(f"bday_{side}") % 100


def _pairwise(left: pl.Series, right: pl.Series, scorer: Callable[..., float]) -> pl.Series:
    """rapidfuzz over two columns element by element (nulls as empty text)."""
    if left.len() == 0:
        return pl.Series([], dtype=pl.Float64)
    values = process.cpdist(left.fill_null("").to_list(), right.fill_null("").to_list(), scorer=scorer, workers=-1)
    return pl.Series(values).cast(pl.Float64)


def compare_pairs(
    pairs: pl.DataFrame, left: pl.DataFrame, right: pl.DataFrame | None = None, frequencies: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Score pairs (a, b): `a` is looked up in `left`, `b` in `right` (default `left`), both
    feature frames (features.person_features). Adds the level of each field, `score`, and
    the columns reasons need.

    `frequencies` (key_hash, count), from blocking.key_frequencies: how many people share a
    name or an e-mail local part. Agreeing on a rare one says more than on a common one
    ("Nguyen Van An" is many people), as in splink's term-frequency adjustments: the same
    name among 2 people weighs TF_NAME_TOP - 1, among 64 people TF_NAME_TOP - 6.
    """
    left_bounds = _bound_columns(left, frequencies)
    right_bounds = left_bounds if right is None else _bound_columns(right, None)
    return _compare(pairs, left, left if right is None else right, left_bounds, right_bounds)


def _compare(
    pairs: pl.DataFrame,
    left: pl.DataFrame,
    right: pl.DataFrame,
    left_bounds: pl.DataFrame,
    right_bounds: pl.DataFrame,
    *,
    floor: float = STORE_FLOOR,
) -> pl.DataFrame:
    """compare_pairs with the bound columns made (once per scan, not per chunk of pairs)."""
    return score_bounded(bounded_pairs(pairs, left_bounds, right_bounds, floor=floor), left, right)


def bounded_pairs(
    pairs: pl.DataFrame, left_bounds: pl.DataFrame, right_bounds: pl.DataFrame, *, floor: float = STORE_FLOOR
) -> pl.DataFrame:
    """The pairs (a in `left_bounds`, b in `right_bounds`: bound_columns) that may reach
    `floor` (_hopeful), with what score_bounded reads: a, b, bday_dist, name_count, local_count.
    Integers only: most pairs are strangers, dropped here before any text is read."""
    frame = pairs.join(left_bounds.rename(lambda c: f"{c}_a"), left_on="a", right_on="id_a").join(
        right_bounds.drop("name_count", "local_count").rename(lambda c: f"{c}_b"), left_on="b", right_on="id_b"
    )
    return _hopeful(frame, floor).select("a", "b", "bday_dist", name_count="name_count_a", local_count="local_count_a")


def score_bounded(frame: pl.DataFrame, left: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
    """Score bounded_pairs' pairs: a's texts from `left`, b's from `right` (feature frames;
    a pair whose side is missing there is dropped)."""
    cols = [c for c in _COMPARED if c in left.columns]
    frame = frame.join(left.select("id", *cols).rename({c: f"{c}_a" for c in cols}), left_on="a", right_on="id").join(
        right.select("id", *cols).rename({c: f"{c}_b" for c in cols}), left_on="b", right_on="id"
    )
    distances = {
        # sorted words, and as written: a typo in a first letter can change the sorted order
        "name_ratio": pl.max_horizontal(
            _pairwise(frame["name_key_a"], frame["name_key_b"], fuzz.ratio),
            _pairwise(frame["name_plain_a"], frame["name_plain_b"], fuzz.ratio),
        ),
        "name_set": _pairwise(frame["name_key_a"], frame["name_key_b"], fuzz.token_set_ratio),
        "name_dist": _pairwise(frame["name_key_a"], frame["name_key_b"], Levenshtein.distance),
        "email_dist": _pairwise(frame["email_a"], frame["email_b"], Levenshtein.distance),
        "phone_dist": _pairwise(frame["phone_digits_a"], frame["phone_digits_b"], Levenshtein.distance),
    }
    frame = frame.with_columns(**distances).with_columns(nickname=_nickname_pair(frame))
    both, same = _both, _same
    swapped_dm = (
        (pl.col("bday_a").str.slice(0, 4) == pl.col("bday_b").str.slice(0, 4))
        & (pl.col("bday_a").str.slice(5, 2) == pl.col("bday_b").str.slice(8, 2))
        & (pl.col("bday_a").str.slice(8, 2) == pl.col("bday_b").str.slice(5, 2))
    )
    frame = frame.with_columns(
        name_level=pl.when(~both("name_key"))
        .then(0)
        .when(same("name_key"))
        .then(NAME_EXACT)
        .when(pl.col("nickname"))
        .then(NAME_NICK)
        # a typo changes a letter or two; "Hoa"/"Thao" are two names however alike the rest
        .when((pl.col("name_ratio") >= 88) & (pl.col("name_dist") <= 2))
        .then(NAME_CLOSE)
        .when(pl.col("name_set") >= 99.9)
        .then(NAME_SUBSET)
        .when(pl.col("name_ratio") >= 70)
        .then(NAME_PARTIAL)
        .otherwise(NAME_DIFFER),
        bday_level=pl.when(~both("bday"))
        .then(0)
        .when(same("bday"))
        .then(SAME)
        .when((pl.col("bday_dist") <= 1) | swapped_dm)
        .then(NEAR)
        .otherwise(DIFFER),
        email_level=pl.when(~both("email"))
        .then(0)
        .when(same("email"))
        .then(SAME)
        .when(same("email_local") & (pl.col("email_local_a").str.len_chars() >= 3))
        .then(NEAR)
        # "datly86" / "datly95": other numbers are other accounts, not typos
        .when(
            (pl.col("email_dist") <= 2)
            & (pl.col("email_a").str.replace_all(r"\d", "") != pl.col("email_b").str.replace_all(r"\d", ""))
        )
        .then(NEAR2)
        .otherwise(DIFFER),
        phone_level=pl.when(~both("phone_digits"))
        .then(0)
        .when(same("phone_digits"))
        .then(SAME)
        .when(both("phone_tail") & same("phone_tail"))
        .then(NEAR)
        .when(pl.col("phone_dist") <= 1)
        .then(NEAR2)
        .otherwise(DIFFER),
        city_level=pl.when(~both("city_key")).then(0).when(same("city_key")).then(SAME).otherwise(DIFFER),
        uid_level=pl.when(~both("uid_key")).then(0).when(same("uid_key")).then(SAME).otherwise(DIFFER),
    )
    weight = pl.lit(PRIOR)
    for field, levels in WEIGHTS.items():
        level_weight = pl.col(f"{field}_level").replace_strict(levels, default=0.0, return_dtype=pl.Float64)
        if field == "name":
            level_weight = (
                pl.when(pl.col("name_level") == NAME_EXACT)
                .then((TF_NAME_TOP - pl.col("name_count").log(2)).clip(TF_FLOOR, TF_NAME_TOP))
                .otherwise(level_weight)
            )
        elif field == "email":
            level_weight = (
                pl.when(pl.col("email_level") == NEAR)
                .then((TF_EMAIL_TOP - pl.col("local_count").log(2)).clip(TF_FLOOR, TF_EMAIL_TOP))
                .otherwise(level_weight)
            )
        weight = weight + level_weight
    return frame.with_columns(score=(1.0 / (1.0 + (2.0**-weight))))


SCORE_CHUNK = 1_000_000  # pairs scored at once: bounds memory (~1 GB) on a full scan of a big base


def score_kept(
    pairs: pl.DataFrame,
    left: pl.DataFrame,
    right: pl.DataFrame | None = None,
    frequencies: pl.DataFrame | None = None,
    *,
    floor: float = STORE_FLOOR,
    integers: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """compare_pairs over SCORE_CHUNK pairs at a time, keeping those at or above `floor`
    (STORE_FLOOR, or a caller's threshold: the bound then drops more pairs unread).
    `integers`: bound_integers(left), when the caller made them already."""
    left_bounds = with_frequencies(bound_integers(left) if integers is None else integers, frequencies)
    # `right` may be `left` itself (a's among everyone): the bounds are made once
    right_bounds = left_bounds if right is None or right is left else _bound_columns(right, None)
    right = left if right is None else right
    parts = [
        _compare(pairs.slice(start, SCORE_CHUNK), left, right, left_bounds, right_bounds, floor=floor).filter(
            pl.col("score") >= floor
        )
        for start in range(0, max(pairs.height, 1), SCORE_CHUNK)
    ]
    return pl.concat(parts, how="vertical_relaxed")


def _letters_of(column: str) -> pl.Expr:
    """The letters and digits a text has, one bit each (Int64): two edits change at most
    four of them, so texts whose sets differ in more are more than two edits apart."""
    text = pl.col(column)
    return pl.sum_horizontal(
        [
            pl.when(text.str.contains(c, literal=True)).then(pl.lit(bit, pl.Int64)).otherwise(0)
            for c, bit in _LETTER_BITS.items()
        ]
    )


def _bound_columns(features: pl.DataFrame, frequencies: pl.DataFrame | None) -> pl.DataFrame:
    """Per person, the integers _hopeful reads, and name_count, local_count (see
    with_frequencies)."""
    return with_frequencies(bound_integers(features), frequencies)


def bound_integers(features: pl.DataFrame) -> pl.DataFrame:
    """Per person (a feature frame's rows), the integers _hopeful reads: 64-bit hashes for
    equality, lengths for gaps, the date of birth as YYYYMMDD, letter sets; and the hashes
    of the person's name and e-mail local part keys (`__n`, `__e`) with_frequencies looks
    up. Nothing in them depends on anyone else: dedupe/bound_cache.py keeps them."""

    def hashed(column: str) -> pl.Expr:
        return pl.when(pl.col(column).is_not_null()).then(pl.col(column).hash(seed=_BOUND_SEED))

    return features.select(
        "id",
        name=hashed("name_key"),
        name_len=pl.col("name_key").str.len_chars().cast(pl.Int32),  # signed: gaps are differences
        name_words=pl.col("name_tokens").list.n_unique(),
        # which letters and digits the name has (one bit each), and whether a word of it
        # has a nickname: a typo, a nickname or a word more cannot happen without them
        name_letters=_letters_of("name_key"),
        name_nick=pl.col("name_tokens").list.eval(pl.element().is_in(_nickname_words())).list.any(),
        bday=pl.col("bday").str.replace_all("-", "").cast(pl.Int32),
        email=hashed("email"),
        email_len=pl.col("email").str.len_chars().cast(pl.Int32),
        email_letters=_letters_of("email"),
        email_local=hashed("email_local"),
        phone_tail=hashed("phone_tail"),
        phone_len=pl.col("phone_digits").str.len_chars().cast(pl.Int32),
        city=hashed("city_key"),
        uid=hashed("uid_key"),
        __n=hash_keys(pl.lit("n:") + pl.col("name_key")),
        __e=hash_keys(pl.lit("e:") + pl.col("email_local")),
    )


def with_frequencies(bounds: pl.DataFrame, frequencies: pl.DataFrame | None) -> pl.DataFrame:
    """bound_integers' frame with name_count, local_count: people sharing the person's name /
    e-mail local part (>= 2; 2 without `frequencies`), scoring's term frequencies."""
    if frequencies is None:
        return bounds.with_columns(name_count=pl.lit(2.0), local_count=pl.lit(2.0)).drop("__n", "__e")
    counts = frequencies.select("key_hash", pl.col("count").cast(pl.Float64))
    bounds = bounds.join(counts.rename({"key_hash": "__n", "count": "name_count"}), on="__n", how="left").join(
        counts.rename({"key_hash": "__e", "count": "local_count"}), on="__e", how="left"
    )
    return bounds.with_columns(pl.col("name_count", "local_count").fill_null(2.0).clip(lower_bound=2.0)).drop(
        "__n", "__e"
    )


@lru_cache(maxsize=1)
def _nickname_words() -> pl.Series:
    """Every first name of the nickname list (either side of a pair)."""
    return nickname_pairs()["a"].unique()


def _nickname_pair(frame: pl.DataFrame) -> pl.Series:
    """Whether the names differ in exactly one token and those two are a nickname pair."""
    if frame.is_empty():
        return pl.Series("nickname", [], dtype=pl.Boolean)
    only = (
        frame.select(
            i=pl.int_range(pl.len()),
            t=pl.col("name_tokens_a").list.set_difference(pl.col("name_tokens_b")),
            u=pl.col("name_tokens_b").list.set_difference(pl.col("name_tokens_a")),
        )
        .filter((pl.col("t").list.len() == 1) & (pl.col("u").list.len() == 1))
        .select("i", pl.col("t").list.first(), pl.col("u").list.first())
    )
    hits = only.join(nickname_pairs(), left_on=["t", "u"], right_on=["a", "b"])["i"]
    return pl.Series("nickname", pl.int_range(frame.height, eager=True).is_in(hits.implode()))


def _digits_apart(a: pl.Expr, b: pl.Expr, width: int) -> pl.Expr:
    """Decimal digits that differ between two numbers of `width` digits (YYYYMMDD dates);
    0 when either is missing."""
    return pl.sum_horizontal(
        *[((a // 10**i) % 10 != (b // 10**i) % 10).cast(pl.Int32).fill_null(0) for i in range(width)]
    )


def _hopeful(frame: pl.DataFrame, floor_score: float = STORE_FLOOR) -> pl.DataFrame:
    """Drop the pairs that cannot reach `floor_score` however their fuzzy comparisons turn out.

    Most pairs that blocking finds are strangers; the cheap comparisons (equal or not, the
    date of birth digit by digit, lengths, which letters a name or an e-mail has, whether a
    name has a word with a nickname), on integers only (_bound_columns), bound each field's
    best level, and pairs whose best total stays under STORE_FLOOR are never joined with
    their texts nor reach the string distances (the costly part). Two names whose letters
    differ in more than four can be no typo apart (NAME_CLOSE: two edits), nor one the
    other's words plus some (NAME_SUBSET) when each has a letter the other lacks: at best
    "partly alike" (NAME_PARTIAL); e-mails likewise for NEAR2.
    Also adds `bday_dist` (ISO dates have one length: differing digits = edit distance).
    """
    frame = frame.with_columns(bday_dist=_digits_apart(pl.col("bday_a"), pl.col("bday_b"), 8))
    both, same, length_gap, month_day, day = _both, _same, _length_gap, _month_day, _day
    swapped_dm = (month_day("a") == day("b")) & (day("a") == month_day("b"))
    letters_a, letters_b = pl.col("name_letters_a"), pl.col("name_letters_b")
    w = WEIGHTS
    best = pl.lit(PRIOR) + pl.sum_horizontal(
        pl.when(~both("name"))
        .then(0.0)
        .when(same("name"))
        .then(TF_NAME_TOP)
        # two edits change at most four of the letters a name has
        .when((length_gap("name") <= 2) & ((letters_a ^ letters_b).bitwise_count_ones() <= 4))
        .then(w["name"][NAME_CLOSE])
        # a nickname swaps one word for one: as many distinct words, each side a nickname's
        .when((pl.col("name_words_a") == pl.col("name_words_b")) & pl.col("name_nick_a") & pl.col("name_nick_b"))
        .then(w["name"][NAME_NICK])
        # one name's words all in the other: its letters too
        .when(
            ((letters_a & ~letters_b) == 0)
            | ((letters_b & ~letters_a) == 0)
            | (pl.col("name_len_a") + pl.col("name_len_b") >= _SUBSET_TEXT)
        )
        .then(w["name"][NAME_SUBSET])
        .otherwise(w["name"][NAME_PARTIAL]),
        pl.when(~both("bday"))
        .then(0.0)
        .when(same("bday"))
        .then(w["bday"][SAME])
        .when((pl.col("bday_dist") <= 1) | swapped_dm)
        .then(w["bday"][NEAR])
        .otherwise(w["bday"][DIFFER]),
        pl.when(~both("email"))
        .then(0.0)
        .when(same("email"))
        .then(w["email"][SAME])
        .when(same("email_local"))
        .then(TF_EMAIL_TOP)
        .when(
            (length_gap("email") <= 2)
            & ((pl.col("email_letters_a") ^ pl.col("email_letters_b")).bitwise_count_ones() <= 4)
        )
        .then(w["email"][NEAR2])
        .otherwise(w["email"][DIFFER]),
        pl.when(~both("phone_len"))
        .then(0.0)
        .when(same("phone_tail"))
        .then(w["phone"][SAME])
        .when(length_gap("phone") <= 1)
        .then(w["phone"][NEAR2])
        .otherwise(w["phone"][DIFFER]),
        pl.when(~both("city")).then(0.0).when(same("city")).then(w["city"][SAME]).otherwise(w["city"][DIFFER]),
        pl.when(~both("uid")).then(0.0).when(same("uid")).then(w["uid"][SAME]).otherwise(w["uid"][DIFFER]),
    )
    floor = math.log2(floor_score / (1 - floor_score))
    return frame.filter(best >= floor)


# ---------------------------------------------------------------------- in words
_NOUNS = {"bday": "date of birth", "email": "e-mail", "phone": "phone", "city": "city", "uid": "customer id"}
_DIFFERENT = {
    "name": "different names",
    "bday": "different dates of birth",
    "email": "different e-mails",
    "phone": "different phones",
    "city": "different cities",
    "uid": "different customer ids",
}


def _letters(n: float, unit: str) -> str:
    return f"one {unit}" if n <= 1 else f"two {unit}s"


def describe(row: dict) -> tuple[str, dict[str, str]]:
    """One scored pair -> (reasons in words, {profile field: "same" | "near" | "differ"}).

    "same name and date of birth; e-mails differ by one letter; different phones"
    """
    same: list[str] = []
    other: list[str] = []
    fields: dict[str, str] = {}
    name = row["name_level"]
    if name == NAME_EXACT:
        if row.get("full_name_a") == row.get("full_name_b") or row["name_plain_a"] == row["name_plain_b"]:
            same.append("name")
            if row.get("full_name_a") != row.get("full_name_b"):
                other.append("names differ only in accents or case")
        else:
            other.append("same name with first and last name swapped")
    elif name == NAME_NICK:
        other.append("same name apart from a nickname")
    elif name == NAME_CLOSE:
        other.append(f"names differ by {_letters(row['name_dist'], 'letter')}")
    elif name == NAME_SUBSET:
        other.append("one name has a word the other lacks")
    elif name == NAME_PARTIAL:
        other.append("names partly alike")
    elif name == NAME_DIFFER:
        other.append(_DIFFERENT["name"])
    fields["full_name"] = _field_state(name, exact=NAME_EXACT, differ=NAME_DIFFER)

    for field in ("bday", "email", "phone", "city", "uid"):
        level = row[f"{field}_level"]
        fields[FIELD_OF[field]] = _field_state(level, exact=SAME, differ=DIFFER)
        if level == SAME:
            same.append(_NOUNS[field])
        elif level == DIFFER:
            other.append(_DIFFERENT[field])
        elif field == "bday" and level == NEAR:
            other.append(
                "dates of birth differ by one digit"
                if row["bday_dist"] <= 1
                else "dates of birth with day and month swapped"
            )
        elif field == "email" and level == NEAR:
            other.append("same e-mail name at another domain")
        elif field == "email" and level == NEAR2:
            other.append(f"e-mails differ by {_letters(row['email_dist'], 'letter')}")
        elif field == "phone" and level == NEAR:
            other.append("same phone number with another country code")
        elif field == "phone" and level == NEAR2:
            other.append("phones differ by one digit")
    parts = []
    if same:
        parts.append("same " + (same[0] if len(same) == 1 else ", ".join(same[:-1]) + " and " + same[-1]))
    # what nearly agrees before what differs: the reader weighs those first
    parts += sorted(other, key=lambda text: text.startswith("different"))
    return "; ".join(parts), fields


def _field_state(level: int, *, exact: int, differ: int) -> str:
    if level == 0:
        return "missing"
    return "same" if level == exact else "differ" if level == differ else "near"


def reasons_for(scored: pl.DataFrame) -> pl.DataFrame:
    """(a, b, score, reasons, fields): the words and highlights for each scored pair."""
    keep = [
        "a",
        "b",
        "score",
        "full_name_a",
        "full_name_b",
        "name_plain_a",
        "name_plain_b",
        "name_dist",
        "bday_dist",
        "email_dist",
        *[f"{field}_level" for field in WEIGHTS],
    ]
    texts, highlights = [], []
    for row in scored.select(keep).iter_rows(named=True):
        text, fields = describe(row)
        texts.append(text)
        highlights.append(fields)
    return scored.select("a", "b", "score").with_columns(
        reasons=pl.Series(texts, dtype=pl.Utf8),
        fields=pl.Series(highlights, dtype=pl.Struct(dict.fromkeys(FIELD_OF.values(), pl.Utf8))),
    )
