"""Patron visits as staff may see them: stored once, counted, and shown only in numbers large
enough that no one patron can be picked out.

Why counts kept beside the visits: staff ask about a year of a whole library network (about two
million visits for 50 kiosks), and summing two million rows per page view is seconds on a small
server. Every stored visit adds one to a few counters, per day and per month, per kiosk, in the
same transaction as the visit itself (so a visit sent twice counts once: the visit's key decides,
and the counters only move when the visit row is new). A period is read from the month counters
for the whole months in it and the day counters for the days at its edges.

Why suppression (k-anonymity on every figure): a cell that rests on one or two visits (the only
German-speaking visit at 7 in the morning at a small branch) can point at a person. Every number
staff can see or export that counts fewer than `k` visits (default 5, the library's setting
`insights_min_visits`) is withheld (`null`), and so is every figure derived from such a count.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from central.db import Connection, Database, get_setting
from domain.visits import InvalidVisit, Visit, check

DEFAULT_MIN_VISITS = 5
# seconds buckets for the visit-time percentiles: the upper bound of each
_BUCKETS = (*range(5, 121, 5), *range(135, 601, 15), *range(660, 3601, 60), 14400)


def _bucket(seconds: int) -> int:
    return next(b for b in _BUCKETS if seconds <= b)


def counters(visit: Visit) -> list[tuple[str, str]]:
    """The (metric, key) counters one visit adds one to."""
    moment = datetime.fromisoformat(visit.started)
    out = [("visits", ""), ("heat", f"{moment.weekday()}-{moment.hour}"),
           ("ended", visit.ended), ("identified", visit.identified_by + ("+pin" if visit.pin
                                                                          else "")),
           ("language", visit.language), ("offline", str(visit.offline).lower()),
           ("seconds", str(_bucket(visit.seconds)))]
    if visit.ended != "done":
        out.append(("gave_up_on", visit.last_screen))
    if visit.receipt:
        out.append(("receipt", visit.receipt))
    out += [("access", mode) for mode in visit.access]
    if visit.feedback_asked:
        out.append(("feedback_asked", ""))
    if visit.feedback is not None:
        out.append(("feedback", str(visit.feedback)))
        if visit.feedback_reason:
            out.append(("feedback_reason", visit.feedback_reason))
    for kind in sorted({j.kind for j in visit.journeys}):
        out.append(("journey", kind))
        # a journey is completed when something in it was done; looking at one's account
        # has nothing to do, so it is completed when the visit ended well
        if any(j.kind == kind and j.ok for j in visit.journeys) or (
                kind == "account" and visit.ended == "done"):
            out.append(("journey_done", kind))
    for reason, n in visit.refusals.items():
        out += [("refusal", reason)] * n
    for experiment, variant in visit.variants.items():
        out.append(("variant", f"{experiment}={variant}"))
    return out


@dataclass(frozen=True)
class Stored:
    settled: list[str]  # visit ids the kiosk may forget: stored now or already, or refused
    new: int
    rejected: int


def store_visits(db: Database, kiosk_id: str, raw: Sequence[Any]) -> Stored:
    """A kiosk's visits, each checked (domain.visits.check); one transaction for all."""
    checked: list[Visit] = []
    settled: list[str] = []
    rejected = 0
    for entry in raw:
        try:
            checked.append(check(entry))
        except InvalidVisit:
            rejected += 1
            vid = entry.get("visit_id") if isinstance(entry, dict) else None
            if isinstance(vid, str) and len(vid) <= 64:
                settled.append(vid)  # never valid: the kiosk must not send it again
    new = 0
    with db.write() as conn:
        row = conn.execute("SELECT branch FROM kiosks WHERE kiosk_id = ?", (kiosk_id,)).fetchone()
        branch = row["branch"] if row else ""
        for visit in checked:
            if _insert(conn, kiosk_id, branch, visit):
                new += 1
            settled.append(visit.visit_id)
    return Stored(settled, new, rejected)


INSERT_VISIT = (
    "INSERT OR IGNORE INTO visits (kiosk_id, visit_id, branch, started, day, weekday, hour,"
    " ended, last_screen, seconds, identified_by, pin, language, offline, receipt, feedback,"
    " feedback_reason, record) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
ADD_COUNTS = (
    "INSERT INTO visit_counts (period, kiosk_id, metric, key, n) VALUES (?,?,?,?,?)"
    " ON CONFLICT (period, kiosk_id, metric, key) DO UPDATE SET n = visit_counts.n + excluded.n")


def visit_row(kiosk_id: str, branch: str, visit: Visit) -> tuple[object, ...]:
    """The visits table's row for `visit` (INSERT_VISIT's values)."""
    moment = datetime.fromisoformat(visit.started)
    return (kiosk_id, visit.visit_id, branch, visit.started, moment.date().isoformat(),
            moment.weekday(), moment.hour, visit.ended, visit.last_screen, visit.seconds,
            visit.identified_by, int(visit.pin), visit.language, int(visit.offline),
            visit.receipt, visit.feedback, visit.feedback_reason, visit.to_json())


def counted(kiosk_id: str, visit: Visit) -> list[tuple[str, str, str, str]]:
    """The (period, kiosk, metric, key) counters `visit` adds one to: its day and its month."""
    day = visit.started[:10]
    return [(period, kiosk_id, metric, key) for metric, key in counters(visit)
            for period in (day, day[:7])]


def _insert(conn: Connection, kiosk_id: str, branch: str, visit: Visit) -> bool:
    if conn.execute(INSERT_VISIT, visit_row(kiosk_id, branch, visit)).rowcount == 0:
        return False  # sent before (its answer was lost): counted already
    conn.executemany(ADD_COUNTS, [(*key, 1) for key in counted(kiosk_id, visit)])
    return True


# ---- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Which visits: a period (days, both included) and a kiosk, a branch or the library."""

    start: date
    end: date
    kiosk_id: str = ""
    branch: str = ""

    def label(self) -> str:
        who = (f"kiosk {self.kiosk_id}" if self.kiosk_id else
               f"branch {self.branch}" if self.branch else "the whole library")
        return f"{who}, {self.start.isoformat()} to {self.end.isoformat()}"


def periods(start: date, end: date) -> list[str]:
    """Month keys for the whole months in [start, end], day keys for the days at its edges."""
    keys: list[str] = []
    day = start
    while day <= end:
        month_end = (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        if day.day == 1 and month_end <= end:
            keys.append(day.isoformat()[:7])
            day = month_end + timedelta(days=1)
        else:
            keys.append(day.isoformat())
            day += timedelta(days=1)
    return keys


def min_visits(db: Database) -> int:
    with db.read() as conn:
        try:
            return max(1, int(get_setting(conn, "insights_min_visits")))
        except (KeyError, ValueError):
            return DEFAULT_MIN_VISITS


def _counts(conn: Connection, scope: Scope) -> dict[str, dict[str, int]]:
    kiosks = _kiosks(conn, scope)
    keys = periods(scope.start, scope.end)
    out: dict[str, dict[str, int]] = {}
    for chunk in _chunks(keys, 400):
        where = f"period IN ({','.join('?' * len(chunk))})"
        args: list[Any] = list(chunk)
        if kiosks is not None:
            where += f" AND kiosk_id IN ({','.join('?' * len(kiosks))})"
            args += kiosks
        for metric, key, n in conn.execute(
                f"SELECT metric, key, SUM(n) FROM visit_counts WHERE {where}"
                " GROUP BY metric, key", args):
            bucket = out.setdefault(metric, {})
            bucket[key] = bucket.get(key, 0) + int(n)
    return out


def _kiosks(conn: Connection, scope: Scope) -> list[str] | None:
    if scope.kiosk_id:
        return [scope.kiosk_id]
    if scope.branch:
        return [r[0] for r in conn.execute("SELECT kiosk_id FROM kiosks WHERE branch = ?",
                                           (scope.branch,))] or [""]
    return None


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def withheld_with_complement(cells: dict[str, int], k: int) -> dict[str, int | None]:
    """Cells under k withheld, and so many more (the smallest first) that the withheld cells
    together rest on at least k visits. Without that, one small cell could be worked out from
    the total and the cells shown beside it (929 visits, 900 Dutch, 27 French: 2 German); an
    empty cell (0) says nothing about anyone and stays shown. Differences between scopes (a
    branch and the library, one period and a longer one) are not covered: docs/architecture.md
    says so."""
    out: dict[str, int | None] = {key: n if n >= k or n == 0 else None
                                  for key, n in cells.items()}
    hidden = [key for key, value in out.items() if value is None]
    if not hidden:
        return out
    withheld = sum(cells[key] for key in hidden)
    for key in sorted((key for key, value in out.items() if value), key=lambda c: cells[c]):
        if withheld >= k and len(hidden) > 1:
            break
        out[key] = None
        hidden.append(key)
        withheld += cells[key]
    return out


def _shown(n: int, k: int) -> int | None:
    return n if n >= k else None


def _share(part: int, whole: int, k: int) -> float | None:
    if part < k or whole < k:
        return None
    return round(part / whole, 3)


def _percentile(histogram: dict[str, int], fraction: float) -> int | None:
    total = sum(histogram.values())
    if not total:
        return None
    seen = 0
    for bound in sorted(int(b) for b in histogram):
        seen += histogram[str(bound)]
        if seen >= fraction * total:
            return bound
    return None  # pragma: no cover - the loop reaches the total


def summary(db: Database, scope: Scope, *, k: int | None = None) -> dict[str, Any]:
    """Every figure of the insights page for `scope`, small cells withheld (`None`)."""
    k = min_visits(db) if k is None else k
    with db.read() as conn:
        counts = _counts(conn, scope)
        kiosks = _kiosks(conn, scope)
    total = counts.get("visits", {}).get("", 0)

    def table(metric: str) -> dict[str, int | None]:
        return {key: _shown(n, k) for key, n in sorted(counts.get(metric, {}).items())}

    def parts(metric: str) -> dict[str, int | None]:
        """A table whose cells add up to a figure that is shown (each visit has one
        language ...): withheld with its complement (see `withheld_with_complement`)."""
        return withheld_with_complement(dict(sorted(counts.get(metric, {}).items())), k)

    cells = withheld_with_complement({f"{d}-{h}": counts.get("heat", {}).get(f"{d}-{h}", 0)
                                      for d in range(7) for h in range(24)}, k)
    heat = [[cells[f"{d}-{h}"] for h in range(24)] for d in range(7)]
    journeys = counts.get("journey", {})
    done = counts.get("journey_done", {})
    funnel = {kind: {"started": _shown(n, k), "completed": _shown(done.get(kind, 0), k),
                     "completion": _share(done.get(kind, 0), n, k)}
              for kind, n in sorted(journeys.items())}
    feedback = counts.get("feedback", {})
    answers = sum(feedback.values())
    seconds = counts.get("seconds", {}) if total >= k else {}
    return {
        "scope": {"start": scope.start.isoformat(), "end": scope.end.isoformat(),
                  "kiosk_id": scope.kiosk_id, "branch": scope.branch,
                  "kiosks": kiosks, "label": scope.label()},
        "min_visits": k,
        "visits": _shown(total, k),
        "heat": heat,
        "ended": parts("ended"),
        "gave_up_on": table("gave_up_on"),
        "funnel": funnel,
        "seconds": {"median": _percentile(seconds, 0.5), "p90": _percentile(seconds, 0.9)},
        "feedback": {"answers": _shown(answers, k),
                     "asked": _shown(counts.get("feedback_asked", {}).get("", 0), k),
                     "scores": parts("feedback"),
                     "mean": round(sum(int(s) * n for s, n in feedback.items()) / answers, 2)
                     if answers >= k else None,
                     "reasons": table("feedback_reason")},
        "refusals": table("refusal"),
        "languages": parts("language"),
        "access": table("access"),
        "identified": parts("identified"),
        "receipt": parts("receipt"),
        "offline_share": _share(counts.get("offline", {}).get("true", 0), total, k),
    }


def satisfaction_by_week(db: Database, scope: Scope, *, k: int | None = None
                         ) -> list[dict[str, Any]]:
    """Mean score per ISO week in the scope (weeks with fewer than k answers withheld)."""
    k = min_visits(db) if k is None else k
    with db.read() as conn:
        kiosks = _kiosks(conn, scope)
        where, args = "metric = 'feedback' AND length(period) = 10 AND period BETWEEN ? AND ?", [
            scope.start.isoformat(), scope.end.isoformat()]
        if kiosks is not None:
            where += f" AND kiosk_id IN ({','.join('?' * len(kiosks))})"
            args += kiosks
        rows = conn.execute(f"SELECT period, key, SUM(n) FROM visit_counts WHERE {where}"
                            " GROUP BY period, key", args).fetchall()
    weeks: dict[str, list[int]] = {}
    for period, key, n in rows:
        year, week, _ = date.fromisoformat(period).isocalendar()
        tally = weeks.setdefault(f"{year}-W{week:02d}", [0, 0])
        tally[0] += int(key) * int(n)
        tally[1] += int(n)
    return [{"week": week, "answers": _shown(n, k),
             "mean": round(total / n, 2) if n >= k else None}
            for week, (total, n) in sorted(weeks.items())]


def export_json(data: dict[str, Any]) -> str:
    """The aggregates as open data: what the page shows, nothing below k, with its licence
    and how it was made (a reader of the file should not need to ask)."""
    return json.dumps({
        "description": "Anonymous self-service kiosk visits, aggregated. Counts below "
                       f"{data['min_visits']} visits are withheld (null). Times are local; "
                       "visit times to the nearest bucket (5 s under two minutes).",
        "licence": "CC0-1.0",
        **data,
    }, indent=2, ensure_ascii=False)


def export_csv(data: dict[str, Any]) -> str:
    """The same aggregates, one figure per row: section, key, value (empty when withheld)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "key", "value"])
    writer.writerow(["scope", "label", data["scope"]["label"]])
    writer.writerow(["scope", "min_visits", data["min_visits"]])
    writer.writerow(["visits", "", _cell(data["visits"])])
    for day, row in enumerate(data["heat"]):
        for hour, n in enumerate(row):
            if n is not None:
                writer.writerow(["heat", f"{_WEEKDAYS[day]} {hour:02d}:00", n])
    for section in ("ended", "gave_up_on", "refusals", "languages", "access", "identified",
                    "receipt"):
        for key, n in data[section].items():
            writer.writerow([section, key, _cell(n)])
    for kind, row in data["funnel"].items():
        for what, value in row.items():
            writer.writerow(["funnel", f"{kind} {what}", _cell(value)])
    for what, value in data["seconds"].items():
        writer.writerow(["visit_seconds", what, _cell(value)])
    feedback = data["feedback"]
    writer.writerow(["feedback", "answers", _cell(feedback["answers"])])
    writer.writerow(["feedback", "mean", _cell(feedback["mean"])])
    for key, n in feedback["scores"].items():
        writer.writerow(["feedback_score", key, _cell(n)])
    for key, n in feedback["reasons"].items():
        writer.writerow(["feedback_reason", key, _cell(n)])
    writer.writerow(["offline_share", "", _cell(data["offline_share"])])
    return out.getvalue()


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _cell(value: Any) -> str:
    return "" if value is None else str(value)
