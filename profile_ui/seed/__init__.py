"""Demo workspace: users to sign in with, and realistic profiles loaded in bulk.

`profile-ui seed` calls `seed_workspace` (workspace.py). Profiles and everything hanging
off them (identities, tags, segments, group memberships, consent, linked objects) are
generated chunk by chunk as polars frames (generate.py, drawing from demo_people.py), with
numpy drawing the random values so one seed always gives the same people, and written with
each driver's fastest path (load.py): sqlite3 `executemany` on SQLite, `COPY` on
PostgreSQL. Ids are handed out from max(id) + 1 under a write lock, so seeding a database
that already holds data appends to it.
"""

from __future__ import annotations

from .workspace import DEMO_USERS, DemoUser, SeedSummary, seed_workspace

__all__ = ["DEMO_USERS", "DemoUser", "SeedSummary", "seed_workspace"]
