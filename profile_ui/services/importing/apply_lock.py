"""One import apply at a time per database: two imports touching the same people, applied
by two workers at once, end as if applied one after the other.

An apply resolves each row's person against the profiles and identities it reads, then
writes. Two applies running side by side on PostgreSQL would each see the other's new
people as missing and both create them (the second then fails on the identities' unique
key, or adds a duplicate where no identity clashes), or each overwrite tags the other
just wrote. `hold_apply_lock` takes a transaction-level advisory lock first thing in the
apply's transaction, so the second apply waits for the first to commit and then reads
what it wrote (READ COMMITTED reads anew at each statement). Released at commit or
rollback, a dead worker's included. SQLite needs none: its single writer lock already
orders applies (the apply holds it from its first write).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session

# any fixed 64-bit number, shared by every worker of the deployment
IMPORT_APPLY_LOCK = 0x7072_6F66_696C_6501  # "profile" + 1


def hold_apply_lock(session: Session) -> None:
    """Wait until no other import apply runs, then hold the lock until this transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": IMPORT_APPLY_LOCK})
