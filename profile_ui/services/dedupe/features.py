"""The comparable form of a person: names folded, e-mail split, phone digits, ids cleaned.

`person_features(people)` takes a "people frame" (one row per person: `id` Int64,
`full_name`, `city`, `email`, `phone`, `user_id` Utf8, `birthday` Date; any may be null)
and adds the columns blocking and scoring read (see FEATURE_COLUMNS). It is vectorized:
only names and cities that are not plain ASCII go through `anyascii`, once per distinct
value, so a million profiles take seconds.

Names: diacritics folded ("Nguyễn" = "Nguyen"), case and punctuation ignored, tokens
sorted (so "An Nguyen" = "Nguyen An"). Nicknames ("Bob" = "Robert") are not folded into one
spelling (the curated `nicknames` list ties "Bill" to both William and Robert): scoring asks
`nickname_pairs` whether the one differing token of two names is such a pair.
"""

from __future__ import annotations

from functools import lru_cache

import polars as pl
from anyascii import anyascii

PEOPLE_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64,
    "full_name": pl.Utf8,
    "birthday": pl.Date,
    "city": pl.Utf8,
    "email": pl.Utf8,
    "phone": pl.Utf8,
    "user_id": pl.Utf8,
}
FEATURE_COLUMNS = (
    "name_plain",  # folded, tokens in the written order: "nguyen van an"
    "name_key",  # folded, tokens sorted: what "same name" means
    "name_tokens",  # List(Utf8) of name_key's tokens
    "bday",  # ISO text or null
    "email_local",
    "email_domain",
    "email_skeleton",  # skeleton: the local part less its vowels
    "phone_digits",
    "phone_tail",  # every digit; the last PHONE_TAIL of them
    "city_key",
    "uid_key",
)
PHONE_TAIL = 8  # digits that survive a missing or different country code


def empty_people() -> pl.DataFrame:
    return pl.DataFrame(schema=PEOPLE_SCHEMA)


@lru_cache(maxsize=1)
def nickname_pairs() -> pl.DataFrame:
    """Pairs of first names that can be one person's ("bob"/"robert", "bob"/"rob"), both ways.

    From the curated `nicknames` list: a nickname and each of its given names, and two
    nicknames of the same given name. Columns `a`, `b` (lower-case ASCII).
    """
    from nicknames import NickNamer  # here: its list loads only when a scan first needs it

    given_by_nickname = NickNamer().canonical_lookup  # nickname -> {given names}
    pairs: set[tuple[str, str]] = set()
    nicknames_by_given: dict[str, set[str]] = {}
    for nickname, givens in given_by_nickname.items():
        for given in givens:
            pairs.add((nickname, given))
            nicknames_by_given.setdefault(given, set()).add(nickname)
    for nicknames in nicknames_by_given.values():
        pairs.update((a, b) for a in nicknames for b in nicknames if a != b)
    pairs |= {(b, a) for a, b in pairs}
    return pl.DataFrame(sorted(pairs), schema={"a": pl.Utf8, "b": pl.Utf8}, orient="row")


def _folded(column: str) -> pl.Expr:
    """Lower-case ASCII, punctuation as spaces, single spaces; null when nothing is left."""
    text = pl.col(column).str.to_lowercase()
    text = text.str.replace_all(r"[^a-z0-9]+", " ").str.strip_chars()
    return pl.when(text.str.len_chars() > 0).then(text)


def _ascii(series: pl.Series) -> pl.Series:
    """anyascii for the values that need it, as-is for the rest. anyascii maps each
    character on its own (a space to a space), so it runs once per distinct non-ASCII WORD:
    a base's names share a few thousand words, not its tens of thousands of names."""
    non_ascii = series.str.contains(r"[^\x00-\x7f]").fill_null(False)
    if not non_ascii.any():
        return series
    words = series.filter(non_ascii).str.split(" ").explode().unique()
    needs = words.filter(words.str.contains(r"[^\x00-\x7f]").fill_null(False))
    table = {word: anyascii(word) for word in needs.to_list()}
    folded = series.str.split(" ").list.eval(pl.element().replace(table)).list.join(" ")
    return pl.select(pl.when(non_ascii).then(folded).otherwise(series)).to_series().alias(series.name)


def person_features(people: pl.DataFrame) -> pl.DataFrame:
    """`people` with FEATURE_COLUMNS added (see the module docstring)."""
    people = people.select(
        [pl.col(c).cast(t) if c in people.columns else pl.lit(None, t).alias(c) for c, t in PEOPLE_SCHEMA.items()]
        + [c for c in people.columns if c not in PEOPLE_SCHEMA]
    )
    folded = people.with_columns(_ascii(people["full_name"]).alias("__name"), _ascii(people["city"]).alias("__city"))
    folded = folded.with_columns(_folded("__name").alias("name_plain"), _folded("__city").alias("city_key"))
    tokens = pl.col("name_plain").str.split(" ")
    email = pl.col("email").str.to_lowercase().str.strip_chars()
    local = email.str.split_exact("@", 1).struct.field("field_0")
    digits = pl.col("phone").str.replace_all(r"\D", "")
    return (
        folded.with_columns(
            name_tokens=tokens.list.sort(),
            bday=pl.col("birthday").dt.to_string("%Y-%m-%d"),
            # "a.b+news@x" and "ab@x" are one mailbox at most providers
            email_local=local.str.replace(r"\+.*$", "").str.replace_all(r"\.", ""),
            email_domain=email.str.split_exact("@", 1).struct.field("field_1"),
            phone_digits=pl.when(digits.str.len_chars() > 0).then(digits),
            phone_tail=pl.when(digits.str.len_chars() >= 6).then(digits.str.slice(-PHONE_TAIL)),
            uid_key=pl.col("user_id")
            .str.to_lowercase()
            .str.replace_all(r"[^a-z0-9]", "")
            .pipe(lambda e: pl.when(e.str.len_chars() > 0).then(e)),
        )
        .with_columns(
            name_key=pl.col("name_tokens").list.join(" "),
            email_skeleton=pl.col("email_local").str.replace_all(r"[aeiouy.]", ""),
        )
        .drop("__name", "__city")
    )
