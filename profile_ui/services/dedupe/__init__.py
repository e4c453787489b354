"""Possible duplicates: profiles that look like one person although no identifier ties them.

features.py  a people frame -> comparable columns (names folded, e-mail split, phone digits)
blocking.py  which pairs to compare at all (a million profiles never mean 10^12 pairs)
scoring.py   a Fellegi-Sunter score per pair (rapidfuzz comparisons) and its reasons in words
people.py    profiles -> a people frame, in bulk
scan.py      the full scan, the incremental check of some profiles, import rows' look-alikes
review.py    the review queue: list pairs, decide (merge / not the same person / skip)

Permission: `profiles.merge` for everything here (the same permission merging needs).
"""

from ..permissions import PROFILES_MERGE

__all__ = ["PROFILES_MERGE"]
