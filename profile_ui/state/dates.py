"""Dates typed in filter forms (an <input type="date"> sends YYYY-MM-DD) and the range
they stand for, as the services take it (UTC, the end exclusive)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta


class DayError(ValueError):
    """A typed date that cannot be read; the message names the field and is safe to show."""


def parse_day(text: str, what: str) -> date | None:
    """The day typed in field `what`, or None when it is empty."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DayError(f"'{text}' is not a date for '{what}' (use YYYY-MM-DD)") from None


def day_range(first: date | None, last: date | None) -> tuple[datetime | None, datetime | None]:
    """From the start of `first` to the end of `last` (included: the end bound returned is
    the start of the next day, as the services' bounds are exclusive); None is no bound."""
    since = datetime.combine(first, datetime.min.time(), UTC) if first else None
    until = datetime.combine(last, datetime.min.time(), UTC) + timedelta(days=1) if last else None
    return since, until
