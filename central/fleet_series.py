"""The fleet over time, for the dashboard's charts: kiosks online, queue depth, loans and
returns per hour, over the last 24 hours or 7 days.

Downsampled as it is written, not kept raw: a heartbeat (every 30 s from every kiosk) only
raises its kiosk's row for the quarter hour (the deepest queue seen, whether it was online in
it), and every loan or return adds one to its kiosk's count for the hour the patron did it. A
fleet of 5,000 kiosks thus keeps at most 96 rows a day per kiosk, and the 7-day chart reads
hours made of those quarters. Rows older than `KEEP` go as the kiosk's next heartbeat comes.

A kiosk counts as online in a quarter when it said so in any heartbeat of it; a silent kiosk
has no row and counts as not online. Times are UTC; the page shows them in the staff member's
time zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from central.db import Connection, Database

QUARTER = timedelta(minutes=15)
KEEP = timedelta(days=8)
SPANS = {"24h": (timedelta(hours=24), QUARTER), "7d": (timedelta(days=7), timedelta(hours=1))}

CIRCULATION_KINDS = {"checkout": "loans", "checkin": "returns"}


def _floor(moment: datetime, width: timedelta) -> datetime:
    moment = moment.astimezone(UTC).replace(second=0, microsecond=0)
    minutes = int(width.total_seconds() // 60)
    if minutes >= 60:
        return moment.replace(minute=0)
    return moment.replace(minute=moment.minute - moment.minute % minutes)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def record_beat(conn: Connection, kiosk_id: str, status: Mapping[str, Any],
                now: datetime) -> None:
    """One heartbeat (already checked, central/heartbeats.py) into its kiosk's quarter."""
    queue = status.get("queue")
    pending = queue.get("pending", 0) if isinstance(queue, Mapping) else 0
    pending = pending if isinstance(pending, int) and not isinstance(pending, bool) else 0
    online = int(status.get("online") is True)
    conn.execute(
        "INSERT INTO fleet_quarters(kiosk_id, quarter, queue_max, online) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (kiosk_id, quarter) DO UPDATE SET "
        "queue_max = CASE WHEN excluded.queue_max > fleet_quarters.queue_max "
        "THEN excluded.queue_max ELSE fleet_quarters.queue_max END, "
        "online = CASE WHEN excluded.online > fleet_quarters.online "
        "THEN excluded.online ELSE fleet_quarters.online END",
        (kiosk_id, _stamp(_floor(now, QUARTER)), pending, online))
    cutoff = _stamp(now - KEEP)
    conn.execute("DELETE FROM fleet_quarters WHERE kiosk_id = ? AND quarter < ?",
                 (kiosk_id, cutoff))
    conn.execute("DELETE FROM circulation_hours WHERE kiosk_id = ? AND hour < ?",
                 (kiosk_id, cutoff))


def count_circulation(conn: Connection, kiosk_id: str, kind: str, moment: datetime,
                      now: datetime) -> None:
    """One loan or return, in the hour the patron did it (other kinds are not charted). An
    offline act stamped by a kiosk clock outside the charts' window (a wrong clock) is left
    out of them: it would otherwise sit in the future forever."""
    if kind not in CIRCULATION_KINDS or not now - KEEP <= moment <= now + timedelta(hours=1):
        return
    conn.execute(
        "INSERT INTO circulation_hours(kiosk_id, hour, kind, n) VALUES (?, ?, ?, 1) "
        "ON CONFLICT (kiosk_id, hour, kind) DO UPDATE SET n = circulation_hours.n + 1",
        (kiosk_id, _stamp(_floor(moment, timedelta(hours=1))), kind))


def series(db: Database, span: str, now: datetime) -> dict[str, Any]:
    """The charts' points for `span` ("24h" or "7d"), oldest first, gaps filled with zeros."""
    length, width = SPANS[span]
    last = _floor(now, width)
    points = [last - width * i for i in range(int(length / width) - 1, -1, -1)]
    start = _stamp(points[0])
    cut = 16 if width == QUARTER else 13  # "YYYY-MM-DDTHH:MM" or its hour
    with db.read() as conn:
        fleet = conn.execute(
            "SELECT at, SUM(online) AS online, SUM(queue_max) AS queue FROM ("
            f" SELECT substr(quarter, 1, {cut}) AS at, kiosk_id, MAX(online) AS online,"
            "  MAX(queue_max) AS queue_max FROM fleet_quarters WHERE quarter >= ?"
            f" GROUP BY substr(quarter, 1, {cut}), kiosk_id) AS per_kiosk GROUP BY at",
            (start,)).fetchall()
        hours = conn.execute(
            "SELECT hour, kind, SUM(n) AS n FROM circulation_hours WHERE hour >= ? "
            "GROUP BY hour, kind", (_stamp(_floor(points[0], timedelta(hours=1))),)).fetchall()
    by_point = {row["at"][:cut]: row for row in fleet}
    counts: dict[tuple[str, str], int] = {(r["hour"][:13], r["kind"]): int(r["n"])
                                          for r in hours}
    hour_points = sorted({_floor(p, timedelta(hours=1)) for p in points})
    return {
        "span": span,
        "width_s": int(width.total_seconds()),
        "fleet": [{"at": p.isoformat(), **_fleet_point(by_point.get(_stamp(p)[:cut]))}
                  for p in points],
        "circulation": [{"at": h.isoformat(),
                         **{label: counts.get((_stamp(h)[:13], kind), 0)
                            for kind, label in CIRCULATION_KINDS.items()}}
                        for h in hour_points],
    }


def _fleet_point(row: Any) -> dict[str, int]:
    if row is None:
        return {"online": 0, "queue": 0}
    return {"online": int(row["online"] or 0), "queue": int(row["queue"] or 0)}
