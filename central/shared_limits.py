"""Limits every worker process of the service must agree on, kept in the database.

Why not in memory: with several workers (`kiosk-central serve --workers N`) a lock-out kept
in one worker's memory is no lock-out at all (the next login lands on another worker), and a
rate limit per worker is N times the limit. Both are a row per name, written under the
database's write lock, so the read-then-update of a count cannot be overtaken by another
worker. Times are wall-clock seconds (`time.time`): they are compared across processes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from central.db import Database


class LoginFailures:
    """Wrong passwords per staff name, forgotten `lock_s` after the last one; at most
    `cap` names are remembered (the oldest go first), so a flood of made-up names cannot
    grow the table."""

    def __init__(self, db: Database, *, limit: int, lock_s: float, cap: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.limit = limit
        self.lock_s = lock_s
        self.cap = cap
        self.clock = clock

    def locked_for(self, name: str) -> float:
        """Seconds until `name` may try again (0: it may now)."""
        row = self.db.one("SELECT failures, since FROM staff_login_failures WHERE name = ?",
                          (name,))
        if row is None or row[0] < self.limit:
            return 0.0
        return max(0.0, self.lock_s - (self.clock() - float(row[1])))

    def count(self, name: str) -> None:
        now = self.clock()
        with self.db.write() as conn:
            conn.execute("DELETE FROM staff_login_failures WHERE since < ?", (now - self.lock_s,))
            conn.execute(
                "INSERT INTO staff_login_failures (name, failures, since) VALUES (?, 1, ?) "
                "ON CONFLICT (name) DO UPDATE SET "
                "failures = staff_login_failures.failures + 1, since = excluded.since",
                (name, now))
            conn.execute(
                "DELETE FROM staff_login_failures WHERE name IN (SELECT name FROM "
                "staff_login_failures ORDER BY since DESC, name LIMIT -1 OFFSET ?)"
                if self.db.dialect == "sqlite" else
                "DELETE FROM staff_login_failures WHERE name IN (SELECT name FROM "
                "staff_login_failures ORDER BY since DESC, name OFFSET ?)", (self.cap,))

    def forget(self, name: str) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM staff_login_failures WHERE name = ?", (name,))

    def remembered(self) -> int:
        now = self.clock()
        row = self.db.one("SELECT COUNT(*) FROM staff_login_failures WHERE since >= ?",
                          (now - self.lock_s,))
        return int(row[0])


class SharedBucket:
    """A token bucket for the whole service: `rate` tokens a second, up to `burst` saved up."""

    def __init__(self, db: Database, name: str, *, rate: float, burst: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.name = name
        self.rate = rate
        self.burst = burst
        self.clock = clock

    def take(self) -> bool:
        now = self.clock()
        with self.db.write(keys=[f"bucket:{self.name}"]) as conn:
            row = conn.execute("SELECT tokens, at FROM rate_buckets WHERE bucket = ?",
                               (self.name,)).fetchone()
            tokens = float(self.burst) if row is None else min(
                float(self.burst), float(row[0]) + max(0.0, now - float(row[1])) * self.rate)
            taken = tokens >= 1
            conn.execute(
                "INSERT INTO rate_buckets (bucket, tokens, at) VALUES (?, ?, ?) "
                "ON CONFLICT (bucket) DO UPDATE SET tokens = excluded.tokens, at = excluded.at",
                (self.name, tokens - 1 if taken else tokens, now))
        return taken
