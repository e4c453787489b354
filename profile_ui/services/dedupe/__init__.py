"""Possible duplicates: profiles that look like one person although no identifier ties them.

features.py  a people frame -> comparable columns (names folded, e-mail split, phone digits)
blocking.py  which pairs to compare at all (a million profiles never mean 10^12 pairs)
scoring.py   a Fellegi-Sunter score per pair (rapidfuzz comparisons) and its reasons in words
people.py    profiles -> a people frame, in bulk
bound_cache.py  the profiles' bound integers, kept for imports' checks (and when they hold)
scan.py      the full scan, the incremental check of some profiles, import rows' look-alikes
import_check.py  an import's new people checked once, in the dry run: its flag, and the pairs
             its apply stores (the apply reuses them when nothing changed in between)
(the review queue that lists pairs and decides on them is services/duplicate_review.py; the
import's look-alike flag is services/importing/possible_duplicates.py: both build on this)

Permission: `profiles.merge` for everything here (the same permission merging needs).
"""

from ..permissions import PROFILES_MERGE

__all__ = ["PROFILES_MERGE"]
