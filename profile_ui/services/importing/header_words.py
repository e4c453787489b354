"""A column header as the set of words it means, for the "words" rule of mapping.py.

"Favourite Store", "Preferred stores" and "Cửa hàng yêu thích" all mean {prefer, store};
"Cell Phone Number", "Mobile No." and "Số ĐT" mean {phone}. Headers are folded (case,
accents, punctuation: normalize.fold_text), known phrases and words are replaced by one
canonical word (English near-synonyms, Vietnamese forms, which come in the other word
order, hence a set), plurals are stemmed ("cities" -> "city"), and filler words ("number"
beside a phone, "the", "customer") are dropped. Two names match when their sets are equal
and not empty.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .normalize import fold_text

# folded phrase -> canonical word; longer phrases are replaced first
_PHRASES: dict[str, str] = {
    # preferred / favourite
    "favourite": "prefer",
    "favorite": "prefer",
    "favourites": "prefer",
    "favorites": "prefer",
    "fav": "prefer",
    "fave": "prefer",
    "preferred": "prefer",
    "prefered": "prefer",
    "preference": "prefer",
    "yeu thich": "prefer",
    "ua thich": "prefer",
    "ua chuong": "prefer",
    # phone
    "mobile": "phone",
    "mob": "phone",
    "cell": "phone",
    "cellphone": "phone",
    "cellular": "phone",
    "telephone": "phone",
    "tel": "phone",
    "handphone": "phone",
    "so dien thoai": "phone",
    "dien thoai": "phone",
    "so di dong": "phone",
    "di dong": "phone",
    "sdt": "phone",
    "so dt": "phone",
    "dt di dong": "phone",
    # e-mail
    "e mail": "email",
    "mail": "email",
    "thu dien tu": "email",
    # store
    "shop": "store",
    "outlet": "store",
    "cua hang": "store",
    "chi nhanh": "store",
    # places, dates, levels
    "thanh pho": "city",
    "tinh thanh": "city",
    "tinh thanh pho": "city",
    "town": "city",
    "ngay sinh": "birth date",
    "sinh nhat": "birthday",
    "ngay sinh nhat": "birthday",
    "dob": "birth date",
    "hang thanh vien": "member level",
    "hang": "level",
    "tier": "level",
    "ho ten": "name",
    "ho va ten": "name",
    "khach hang": "customer",
}
# words that add nothing to what a column holds
_FILLER = frozenset(
    {
        "the",
        "a",
        "an",
        "of",
        "my",
        "your",
        "our",
        "customer",
        "customers",
        "client",
        "contact",
        "number",
        "no",
        "num",
        "nr",
        "so",
        "kh",
    }
)
_PHRASE_PATTERN = re.compile(r"\b(" + "|".join(re.escape(p) for p in sorted(_PHRASES, key=len, reverse=True)) + r")\b")


def _stem(word: str) -> str:
    """English plurals: "cities" -> "city", "addresses" -> "address", "stores" -> "store"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


@lru_cache(maxsize=4096)
def header_words(name: str) -> frozenset[str]:
    """The canonical words `name` means (empty when it is only filler)."""
    folded = " ".join(_stem(word) for word in fold_text(name).split())
    replaced = _PHRASE_PATTERN.sub(lambda match: _PHRASES[match.group(1)], folded)
    return frozenset(_stem(word) for word in replaced.split() if word not in _FILLER)
