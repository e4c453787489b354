"""Blocking: which pairs of people are worth comparing at all.

Comparing every pair of a million profiles is 5 * 10^11 comparisons; instead each person
gets a few keys, and only people sharing a key are compared. A pair of duplicates needs
only ONE key in common, so the keys are chosen so that each usual difference between two
records of one person leaves at least one intact:

  n:<name tokens sorted>          case, accents, order of the names; any other field changed
  b:<date of birth>:<name token>  one per name token: a typo or nickname in one name
  e:<e-mail local part>           another e-mail domain
  m:<first 3 + last 3 letters of the local part>@<domain>   a typo inside the e-mail
  x:<the local part's consonants>@<domain>                  a typo in its first or last letters
  r:<the name less one of its words>|<city>  one per word, names of 3+ words: a typo in
                                  that word (and no date of birth or e-mail to pair on);
                                  only blocks of at most NAME_LESS_ONE_MAX people
  p:<last 8 phone digits>         the phone with or without its country code
  u:<customer id, letters/digits> the same customer id written differently

A key shared by more than MAX_BLOCK people (a very common name, a shop's phone number)
says too little to be worth its n^2 pairs and is dropped; the other keys still pair such
people when they share more than that. Keys are stored as 64-bit hashes (polars' hash
with a fixed seed) in `dedupe_keys`; a polars upgrade that changed the hash only makes
imports find fewer look-alikes until the next full scan rewrites the keys.
"""

from __future__ import annotations

import polars as pl

MAX_BLOCK = 40
# "name less one word + city" blocks hold every namesake in a city: at 1,000,000 profiles
# with Vietnamese names they reach 30+ people each and made 15 of 26 million pairs. They are
# kept only while small (as they are in most bases, and in any import's rows).
NAME_LESS_ONE_MAX = 12
_HASH_SEED = 1303
_PACK = 1 << 32
_MIN_TOKEN = 2  # one-letter initials pair everybody born on a day
_MIN_LOCAL = 4  # e-mail local parts like "an" or "info" are shared by strangers


def blocking_keys(features: pl.DataFrame) -> pl.DataFrame:
    """(key_hash Int64, id Int64): every blocking key of every person, distinct."""
    local = pl.col("email_local")
    parts = [
        features.filter(pl.col("name_tokens").list.len() >= 2).select("id", key=pl.lit("n:") + pl.col("name_key")),
        features.filter(pl.col("bday").is_not_null())
        .select("id", "bday", token=pl.col("name_tokens"))
        .explode("token")
        .filter(pl.col("token").str.len_chars() >= _MIN_TOKEN)
        .select("id", key=pl.lit("b:") + pl.col("bday") + pl.lit(":") + pl.col("token")),
        features.filter(local.str.len_chars() >= _MIN_LOCAL).select("id", key=pl.lit("e:") + local),
        features.filter((local.str.len_chars() >= 6) & pl.col("email_domain").is_not_null()).select(
            "id", key=pl.lit("m:") + local.str.slice(0, 3) + local.str.slice(-3) + pl.lit("@") + pl.col("email_domain")
        ),
        features.filter((pl.col("email_skeleton").str.len_chars() >= 4) & pl.col("email_domain").is_not_null()).select(
            "id", key=pl.lit("x:") + pl.col("email_skeleton") + pl.lit("@") + pl.col("email_domain")
        ),
        _name_less_one_word(features),
        features.filter(pl.col("phone_tail").is_not_null()).select("id", key=pl.lit("p:") + pl.col("phone_tail")),
        features.filter(pl.col("uid_key").is_not_null()).select("id", key=pl.lit("u:") + pl.col("uid_key")),
    ]
    keys = pl.concat([p.select(pl.col("id").cast(pl.Int64), "key") for p in parts])
    return keys.select(key_hash=hash_keys(pl.col("key")), id="id").unique()


def _name_less_one_word(features: pl.DataFrame) -> pl.DataFrame:
    named = features.filter((pl.col("name_tokens").list.len() >= 3) & pl.col("city_key").is_not_null()).select(
        "id", "city_key", "name_tokens"
    )
    if named.is_empty():
        return pl.DataFrame(schema={"id": pl.Int64, "key": pl.Utf8})
    tokens = pl.col("name_tokens")
    # one pass per word position (names have a handful of words), list slices rather than
    # exploding every word against every other: a million names in a second or two
    parts = [
        named.filter(tokens.list.len() > drop).select(
            "id",
            key=pl.lit("r:")
            + pl.concat_list(tokens.list.slice(0, drop), tokens.list.slice(drop + 1)).list.join(" ")
            + pl.lit("|")
            + pl.col("city_key"),
        )
        for drop in range(int(named["name_tokens"].list.len().max()))  # type: ignore[arg-type]  # polars types max() as any scalar; a list length is an int
    ]
    keys = pl.concat(parts).unique()
    return keys.filter(pl.len().over("key") <= NAME_LESS_ONE_MAX)


def key_frequencies(keys: pl.DataFrame) -> pl.DataFrame:
    """(key_hash, count): how many people have each key (scoring's term frequencies)."""
    return keys.group_by("key_hash").agg(pl.len().cast(pl.Int64).alias("count"))


def hash_keys(expr: pl.Expr) -> pl.Expr:
    """A key's stored form: polars' 64-bit hash, as a signed integer (SQL BIGINT)."""
    return expr.hash(seed=_HASH_SEED).reinterpret(signed=True)


def candidate_pairs(keys: pl.DataFrame) -> pl.DataFrame:
    """(a, b) with a < b: the distinct pairs sharing a key of at most MAX_BLOCK people."""
    shared = keys.filter(pl.len().over("key_hash").is_between(2, MAX_BLOCK))
    pairs = shared.join(shared, on="key_hash", suffix="_b").filter(pl.col("id") < pl.col("id_b"))
    # distinct on one packed integer rather than two columns (profile ids are below 2^32)
    packed = pairs.select(pair=pl.col("id") * _PACK + pl.col("id_b")).unique()
    return packed.select(a=pl.col("pair") // _PACK, b=pl.col("pair") % _PACK)


def cross_pairs(new_keys: pl.DataFrame, base_keys: pl.DataFrame) -> pl.DataFrame:
    """(a = a new person's id, b = an existing profile's id) sharing a key that at most
    MAX_BLOCK existing profiles have."""
    base = base_keys.filter(pl.len().over("key_hash") <= MAX_BLOCK)
    pairs = new_keys.join(base.rename({"id": "b"}), on="key_hash")
    return pairs.select(a="id", b="b").unique()
