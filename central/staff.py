"""Staff accounts for the fleet dashboard: passwords, login sessions and API tokens.

Why this shape: the dashboard shows which kiosk holds an unresolved loan conflict, with the
patron id the library already knows, so only staff may see it. Passwords are kept only as a
salted scrypt hash (central.hashing). A login gives a random session token that lives in an
HttpOnly, SameSite=Strict cookie; the database keeps only its SHA-256 (a leaked database
opens no browser session). Scripts and monitoring use a per-staff API token instead, sent as
`Authorization: Bearer ...`, also stored only as a hash.

Wrong passwords are counted per name: after five in a row that name is refused for a minute,
which turns password guessing over the network into a very slow job.

    kiosk-central add-staff NAME --db central.db [--api-token]
"""

from __future__ import annotations

import getpass
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from central.db import INTEGRITY_ERRORS, Database, StorageError
from central.hashing import hash_pin, hash_token, new_token, verify_pin
from central.shared_limits import LoginFailures

log = logging.getLogger(__name__)

SESSION_HOURS = 12
MIN_PASSWORD_LENGTH = 10
MAX_FAILURES = 5
LOCK_S = 60.0
# Failed logins are remembered per name, for LOCK_S: a name that cannot be a staff name is not
# remembered at all, and the table never holds more than this many names (oldest go first),
# so a flood of made-up names cannot grow the service's memory.
MAX_REMEMBERED_FAILURES = 10_000
_NAME_RE = re.compile(r"^[A-Za-z0-9._@-]{2,64}$")


class StaffError(ValueError):
    """A staff account cannot be created or changed as asked (bad name, weak password ...)."""


class StaffExists(StaffError):
    """There is already a staff member with this name."""


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def check_name(name: str) -> None:
    if not _NAME_RE.match(name):
        raise StaffError("staff name: 2-64 letters, digits, '.', '_', '-' or '@'")


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")


def add_staff(db: Database, name: str, password: str) -> None:
    check_name(name)
    check_password(password)
    try:
        with db.write() as conn:
            conn.execute("INSERT INTO staff(name, password_hash, created) VALUES (?, ?, ?)",
                         (name, hash_pin(password), _iso(_now())))
    except INTEGRITY_ERRORS as exc:
        raise StaffExists(f"staff member {name!r} exists already") from exc
    log.info("staff member %s added", name)


def set_password(db: Database, name: str, password: str) -> None:
    check_password(password)
    with db.write() as conn:
        changed = conn.execute("UPDATE staff SET password_hash = ? WHERE name = ?",
                               (hash_pin(password), name)).rowcount
        conn.execute("DELETE FROM staff_sessions WHERE name = ?", (name,))
    if not changed:
        raise StaffError(f"no staff member {name!r}")


def issue_api_token(db: Database, name: str) -> str:
    """A new API token for `name` (replaces the old one); shown once, stored as a hash."""
    token = new_token()
    with db.write() as conn:
        changed = conn.execute("UPDATE staff SET api_token_hash = ? WHERE name = ?",
                               (hash_token(token), name)).rowcount
    if not changed:
        raise StaffError(f"no staff member {name!r}")
    return token


class StaffAuth:
    """Checks passwords, sessions and API tokens against the database; thread-safe."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time,
                 session_hours: float = SESSION_HOURS) -> None:
        self.db = db
        self._session = timedelta(hours=session_hours)
        # in the database, not in memory: every worker process sees the same lock-out
        self._failures = LoginFailures(db, limit=MAX_FAILURES, lock_s=LOCK_S,
                                       cap=MAX_REMEMBERED_FAILURES, clock=clock)

    def locked_for(self, name: str) -> float:
        return self._failures.locked_for(name)

    @property
    def remembered_failures(self) -> int:
        return self._failures.remembered()

    def login(self, name: str, password: str) -> str | None:
        """A new session token, or None (wrong name or password, or locked)."""
        if not _NAME_RE.match(name) or len(password) > 1024:
            log.warning("staff login refused: not a possible name or password")
            return None
        if self.locked_for(name) > 0:
            log.warning("staff login refused: %s is locked after wrong passwords", _safe(name))
            return None
        row = self.db.one("SELECT password_hash FROM staff WHERE name = ?", (name,))
        # a missing name costs as much as a wrong password, so names cannot be probed by timing
        stored = row["password_hash"] if row else _DUMMY_HASH
        ok = verify_pin(password, stored) and row is not None
        if not ok:
            self._failures.count(name)
            log.warning("staff login failed for %s", _safe(name))
            return None
        self._failures.forget(name)
        token = new_token()
        now = _now()
        with self.db.write() as conn:
            conn.execute("DELETE FROM staff_sessions WHERE expires < ?", (_iso(now),))
            conn.execute("INSERT INTO staff_sessions(token_hash, name, created, expires) "
                         "VALUES (?, ?, ?, ?)",
                         (hash_token(token), name, _iso(now), _iso(now + self._session)))
        log.info("staff %s logged in", name)
        return token

    def session(self, token: str | None) -> str | None:
        """The staff name for a session cookie, or None when unknown or expired."""
        if not token:
            return None
        row = self.db.one("SELECT name, expires FROM staff_sessions WHERE token_hash = ?",
                          (hash_token(token),))
        if row is None or row["expires"] < _iso(_now()):
            return None
        return str(row["name"])

    def api_token(self, token: str | None) -> str | None:
        if not token:
            return None
        row = self.db.one("SELECT name FROM staff WHERE api_token_hash = ?", (hash_token(token),))
        return None if row is None else str(row["name"])

    def logout(self, token: str | None) -> None:
        if token:
            with self.db.write() as conn:
                conn.execute("DELETE FROM staff_sessions WHERE token_hash = ?",
                             (hash_token(token),))


_DUMMY_HASH = hash_pin("not-a-password-just-timing")


def _safe(name: str) -> str:
    """Staff names are not patron data, but a typed password can land in the name field."""
    return name if _NAME_RE.match(name) else "<invalid name>"


def add_staff_command(db_path: str | Path, name: str, *, api_token: bool = False,
                      read_secret: Callable[[str], str] = getpass.getpass,
                      out: Callable[[str], None] = print) -> int:
    """`kiosk-central add-staff NAME --db F [--api-token]`: asks the password twice, no echo."""
    try:
        check_name(name)
        first = read_secret(f"Password for {name} (at least {MIN_PASSWORD_LENGTH} characters): ")
        second = read_secret("Same password again: ")
    except StaffError as exc:
        out(f"add-staff: {exc}")
        return 1
    except (EOFError, KeyboardInterrupt):
        out("add-staff: cancelled; nothing changed")
        return 1
    if first != second:
        out("add-staff: the two passwords differ; nothing changed")
        return 1
    try:
        with Database(db_path) as db:
            add_staff(db, name, first)
            token = issue_api_token(db, name) if api_token else ""
    except (StaffError, StorageError) as exc:
        out(f"add-staff: {exc}")
        return 1
    out(f"staff member {name!r} added; log in at /staff/")
    if token:
        out(f"API token (shown once): {token}")
    return 0
