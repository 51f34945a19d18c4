"""The days the library is open, for the dates the kiosk gives patrons.

Why: a date a patron is given (an offline loan's due date, the last day to pick up a hold)
must be a day on which they can come; "bring it back by Sunday" for a library closed on
Sundays is a broken promise. The library says which weekdays it is closed and its closing
days (holidays) in `[library]`; every other day counts as open.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LOOK_AHEAD_DAYS = 60  # a library closed longer than this is not one to promise dates for


class BadOpeningDays(ValueError):
    """A closed weekday or closing day the kiosk cannot read (the config check reports it)."""


@dataclass(frozen=True)
class OpenDays:
    closed_weekdays: frozenset[int] = field(default_factory=frozenset)  # 0 = Monday
    closed_dates: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, weekdays: Iterable[str] = (), dates: Iterable[str] = ()) -> OpenDays:
        """From the config's names ("sun") and ISO days ("2026-12-25")."""
        closed: set[int] = set()
        for name in weekdays:
            key = name.strip().lower()[:3]
            if key not in WEEKDAYS:
                raise BadOpeningDays(f"{name!r} is not a weekday; expected one of "
                                     f"{', '.join(WEEKDAYS)}")
            closed.add(WEEKDAYS.index(key))
        if len(closed) == len(WEEKDAYS):
            raise BadOpeningDays("the library cannot be closed on every weekday")
        days: set[date] = set()
        for text in dates:
            try:
                days.add(date.fromisoformat(text.strip()))
            except ValueError as exc:
                raise BadOpeningDays(f"{text!r} is not a day like 2026-12-25") from exc
        return cls(frozenset(closed), frozenset(days))

    def is_open(self, day: date) -> bool:
        return day.weekday() not in self.closed_weekdays and day not in self.closed_dates

    def on_or_after(self, day: date) -> date:
        """`day` if the library opens then, else its next opening day (or `day` itself when
        none comes within LOOK_AHEAD_DAYS: a date is better than none)."""
        for n in range(LOOK_AHEAD_DAYS):
            candidate = day + timedelta(days=n)
            if self.is_open(candidate):
                return candidate
        return day


ALWAYS_OPEN = OpenDays()
