"""What a kiosk says about itself, checked before the dashboard trusts any of it.

One heartbeat with a year-9999 clock and a queue of "x" once made the fleet page answer 500 for
every member of staff, and because its clock was "newest", no correct heartbeat replaced it.
So: every field the dashboard reads is checked for its type and range here; what fails is
dropped and named (the kiosk is flagged, the rest of its status still shows); and the kiosk's
clock orders heartbeats only while it agrees with the server's receive time within the bound,
otherwise arrival order does, and the skew itself is shown to staff.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_TEXT = 200


def _text(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TEXT


def _number(value: Any, low: float, high: float) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and low <= value <= high)


def _count(value: Any) -> bool:
    return _number(value, 0, 10**9) and float(value).is_integer()


def _moment(value: Any) -> bool:
    return parse_moment(value) is not None


def _text_list(value: Any) -> bool:
    return isinstance(value, list) and len(value) <= 50 and all(_text(v) for v in value)


_QUEUE: dict[str, Callable[[Any], bool]] = {
    "pending": _count, "conflicts": _count, "rejected": _count, "inflight": _count,
    "quarantined": _count,
    "oldest_pending": lambda v: v is None or _moment(v),
    "oldest_pending_age_s": lambda v: _number(v, 0, 10**10),
}
# the fields the dashboard reads; anything else a kiosk sends is kept as it came (bounded)
_FIELDS: dict[str, Callable[[Any], bool]] = {
    "time": _moment, "online": lambda v: isinstance(v, bool), "faults": _text_list,
    "heartbeat_s": lambda v: _number(v, 0.1, 86_400), "version": _text, "name": _text,
    "branch": _text, "kiosk_id": _text, "uptime_s": lambda v: _number(v, 0, 10**10),
    "queue": lambda v: isinstance(v, dict),
}


def parse_moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        moment.astimezone(UTC)  # an edge-of-calendar offset fails here, not later
    except (ValueError, OverflowError):
        return None
    return moment


@dataclass(frozen=True)
class Checked:
    status: dict[str, Any]  # what is valid, to store and show
    problems: tuple[str, ...]  # what was dropped, to flag
    skew_s: float | None  # the kiosk's clock minus the server's receive time


def check(status: Mapping[str, Any], received: datetime) -> Checked:
    clean: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in status.items():
        valid = _FIELDS.get(key)
        if valid is not None and not valid(value):
            problems.append(key)
            continue
        clean[key] = value
    queue = clean.get("queue")
    if isinstance(queue, dict):
        good = {k: v for k, v in queue.items() if _QUEUE.get(k, lambda _: True)(v)}
        problems += [f"queue.{k}" for k in queue if k not in good]
        clean["queue"] = good
    kiosk_time = parse_moment(clean.get("time"))
    skew = round((kiosk_time - received).total_seconds(), 1) if kiosk_time else None
    return Checked(clean, tuple(problems), skew)


def newer(checked: Checked, stored: Mapping[str, Any], stored_skew: float | None,
          bound_s: float) -> bool:
    """Whether `checked` replaces the stored status. Kiosk clocks order two heartbeats only
    when both agreed with the server within the bound (a slow older heartbeat must not win);
    otherwise the later arrival wins."""
    if checked.skew_s is None or abs(checked.skew_s) > bound_s:
        return True
    if stored_skew is None or abs(stored_skew) > bound_s:
        return True
    new, old = parse_moment(checked.status.get("time")), parse_moment(stored.get("time"))
    return new is None or old is None or new >= old
