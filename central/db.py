"""SQLite storage for the reference central service.

Why SQLite: a library branch can run the reference service on the same kind of small machine as
the kiosks, and a single file is easy to back up. WAL mode lets the dashboard and health checks
read while a checkout writes; `synchronous=FULL` because the service promises kiosks that an
answered transaction is durable (the kiosk then deletes it from its own journal).

One connection per thread (FastAPI runs plain `def` endpoints in a thread pool, and a sqlite3
connection must not be shared between threads mid-transaction). Writers take the write lock up
front with `BEGIN IMMEDIATE`, so a read-then-write decision can never be overtaken by another
kiosk's write in between.

Schema changes are migrations numbered by `PRAGMA user_version`: add a function to
`_MIGRATIONS`, never edit an old one.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)


class StorageError(Exception):
    """The database file cannot be opened or is not ours (wrong schema, newer version ...)."""


_SCHEMA_V1 = """
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE kiosks (
    kiosk_id    TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    branch      TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    last_seen   TEXT,
    last_status TEXT
);
CREATE TABLE patrons (
    patron_id    TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    pin_hash     TEXT,
    blocked      INTEGER NOT NULL DEFAULT 0,
    block_note   TEXT NOT NULL DEFAULT '',
    loan_limit   INTEGER,
    fines_cents  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE credentials (
    kind      TEXT NOT NULL CHECK (kind IN ('barcode', 'card_uid', 'eid')),
    value     TEXT NOT NULL,
    patron_id TEXT NOT NULL REFERENCES patrons(patron_id),
    PRIMARY KEY (kind, value)
);
CREATE INDEX credentials_patron ON credentials(patron_id);
CREATE TABLE items (
    item_id    TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    author     TEXT NOT NULL DEFAULT '',
    loanable   INTEGER NOT NULL DEFAULT 1,
    parts      INTEGER NOT NULL DEFAULT 1,
    collection TEXT NOT NULL DEFAULT 'A'
);
CREATE TABLE loans (
    item_id   TEXT PRIMARY KEY REFERENCES items(item_id),
    patron_id TEXT NOT NULL REFERENCES patrons(patron_id),
    loaned_at TEXT NOT NULL,
    due       TEXT NOT NULL,
    renewals  INTEGER NOT NULL DEFAULT 0,
    tx_id     TEXT
);
CREATE INDEX loans_patron ON loans(patron_id);
CREATE TABLE holds (
    hold_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id      TEXT NOT NULL REFERENCES items(item_id),
    patron_id    TEXT NOT NULL REFERENCES patrons(patron_id),
    placed_at    TEXT NOT NULL,
    ready        INTEGER NOT NULL DEFAULT 0,
    pickup_until TEXT
);
CREATE INDEX holds_item ON holds(item_id);
CREATE INDEX holds_patron ON holds(patron_id);
CREATE TABLE transactions (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    tx_id       TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    kiosk_id    TEXT NOT NULL,
    created_at  TEXT,
    received_at TEXT NOT NULL,
    patron_id   TEXT,
    item_id     TEXT,
    offline     INTEGER NOT NULL DEFAULT 0,
    status      TEXT NOT NULL,
    outcome     TEXT,
    detail      TEXT NOT NULL DEFAULT '',
    undo        TEXT,
    voided_by   TEXT
);
CREATE INDEX transactions_item ON transactions(item_id, seq);
CREATE TABLE conflicts (
    conflict_id INTEGER PRIMARY KEY AUTOINCREMENT,
    tx_id       TEXT NOT NULL,
    tx          TEXT NOT NULL,
    reason      TEXT NOT NULL,
    kiosk_id    TEXT NOT NULL,
    created     TEXT NOT NULL,
    resolved_at TEXT,
    resolved_by TEXT
);
CREATE TABLE events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind     TEXT NOT NULL,
    kiosk_id TEXT NOT NULL,
    day      TEXT NOT NULL,
    tx_id    TEXT
);
CREATE INDEX events_day ON events(day, kiosk_id, kind);
"""


def _execute_script(conn: Connection, script: str) -> None:
    # Not executescript(): it commits first, and a migration must stay one transaction.
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _migrate_to_v1(conn: Connection) -> None:
    _execute_script(conn, _SCHEMA_V1)


# --- staff accounts for the fleet dashboard (central/staff.py, issue 6) ---
_SCHEMA_V2_STAFF = """
CREATE TABLE staff (
    name            TEXT PRIMARY KEY,
    password_hash   TEXT NOT NULL,
    api_token_hash  TEXT UNIQUE,
    created         TEXT NOT NULL
);
CREATE TABLE staff_sessions (
    token_hash  TEXT PRIMARY KEY,
    name        TEXT NOT NULL REFERENCES staff(name) ON DELETE CASCADE,
    created     TEXT NOT NULL,
    expires     TEXT NOT NULL
);
CREATE INDEX conflicts_open ON conflicts(resolved_at, kiosk_id)
"""


def _migrate_to_v2_staff(conn: Connection) -> None:
    _execute_script(conn, _SCHEMA_V2_STAFF)


def _migrate_to_v3_card_expiry(conn: Connection) -> None:
    """Library cards run out (usually yearly); NULL means the card does not expire."""
    conn.execute("ALTER TABLE patrons ADD COLUMN card_expires TEXT")


def _migrate_to_v4_kiosk_scope(conn: Connection) -> None:
    """Idempotency keys are one kiosk's (UNIQUE (kiosk_id, tx_id), no longer tx_id alone): a
    kiosk that sends another's tx_id must neither read that kiosk's answer nor bar its
    transaction. And the kiosks' clocks: the skew the last heartbeat showed, and whether its
    status could be used."""
    _execute_script(conn, """
CREATE TABLE transactions_v4 (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    tx_id       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    kiosk_id    TEXT NOT NULL,
    created_at  TEXT,
    received_at TEXT NOT NULL,
    patron_id   TEXT,
    item_id     TEXT,
    offline     INTEGER NOT NULL DEFAULT 0,
    status      TEXT NOT NULL,
    outcome     TEXT,
    detail      TEXT NOT NULL DEFAULT '',
    undo        TEXT,
    voided_by   TEXT,
    UNIQUE (kiosk_id, tx_id)
);
INSERT INTO transactions_v4 SELECT seq, tx_id, kind, kiosk_id, created_at, received_at,
    patron_id, item_id, offline, status, outcome, detail, undo, voided_by FROM transactions;
DROP TABLE transactions;
ALTER TABLE transactions_v4 RENAME TO transactions;
CREATE INDEX transactions_item ON transactions(item_id, seq);
ALTER TABLE kiosks ADD COLUMN clock_skew_s REAL;
ALTER TABLE kiosks ADD COLUMN status_problem TEXT
""")


def _migrate_to_v5_email(conn: Connection) -> None:
    """The address a patron asked the library to send receipts to (NULL: none)."""
    conn.execute("ALTER TABLE patrons ADD COLUMN email TEXT")


_SCHEMA_V6_VISITS = """
CREATE TABLE visits (
    kiosk_id     TEXT NOT NULL,
    visit_id     TEXT NOT NULL,
    branch       TEXT NOT NULL,
    started      TEXT NOT NULL,
    day          TEXT NOT NULL,
    weekday      INTEGER NOT NULL,
    hour         INTEGER NOT NULL,
    ended        TEXT NOT NULL,
    last_screen  TEXT NOT NULL,
    seconds      INTEGER NOT NULL,
    identified_by TEXT NOT NULL,
    pin          INTEGER NOT NULL,
    language     TEXT NOT NULL,
    offline      INTEGER NOT NULL,
    receipt      TEXT NOT NULL,
    feedback     INTEGER,
    feedback_reason TEXT NOT NULL,
    record       TEXT NOT NULL,
    PRIMARY KEY (kiosk_id, visit_id)
);
CREATE INDEX visits_day ON visits(day, kiosk_id);
CREATE TABLE visit_counts (
    period    TEXT NOT NULL,
    kiosk_id  TEXT NOT NULL,
    metric    TEXT NOT NULL,
    key       TEXT NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (period, kiosk_id, metric, key)
);
CREATE INDEX visit_counts_metric ON visit_counts(metric, period);
"""


def _migrate_to_v6_visits(conn: Connection) -> None:
    """Anonymous patron visits (domain/visits.py), one row per (kiosk, visit id): the key
    makes a visit sent twice (an answer lost on the way back) count once. The columns staff
    filter and group by are copied out of the record; the record keeps the rest."""
    _execute_script(conn, _SCHEMA_V6_VISITS)


def _migrate_to_v7_experiments(conn: Connection) -> None:
    """Experiments staff define (central/experiments.py); their results come from the visits."""
    conn.execute("""CREATE TABLE experiments (
        name       TEXT PRIMARY KEY,
        factor     TEXT NOT NULL,
        variants   TEXT NOT NULL,
        kiosks     TEXT NOT NULL,
        start      TEXT NOT NULL,
        "end"      TEXT NOT NULL,
        outcome    TEXT NOT NULL,
        planned    INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""")


def _migrate_to_v8_messages(conn: Connection) -> None:
    """Messages staff publish to patrons (central/messages.py), and the patron category they
    may be aimed at (the library system's own: adult, child, school ...)."""
    conn.execute("ALTER TABLE patrons ADD COLUMN category TEXT NOT NULL DEFAULT 'adult'")
    conn.execute("""CREATE TABLE messages (
        message_id INTEGER PRIMARY KEY AUTOINCREMENT,
        texts      TEXT NOT NULL,
        start      TEXT NOT NULL,
        "end"      TEXT NOT NULL,
        kiosks     TEXT NOT NULL,
        branches   TEXT NOT NULL,
        audience   TEXT NOT NULL,
        shown      INTEGER NOT NULL DEFAULT 0,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""")


def _migrate_to_v9_shared_limits(conn: Connection) -> None:
    """What several worker processes must agree on (central/shared_limits.py): wrong staff
    passwords per name, and the service-wide budget of password checks."""
    _execute_script(conn, """
CREATE TABLE staff_login_failures (
    name     TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    since    REAL NOT NULL
);
CREATE INDEX staff_login_failures_since ON staff_login_failures(since);
CREATE TABLE rate_buckets (
    bucket TEXT PRIMARY KEY,
    tokens REAL NOT NULL,
    at     REAL NOT NULL
)
""")


def _migrate_to_v10_fleet_series(conn: Connection) -> None:
    """The fleet over time for the dashboard's charts (central/fleet_series.py): one row per
    kiosk and quarter hour from its heartbeats, and loans and returns counted per hour."""
    _execute_script(conn, """
CREATE TABLE fleet_quarters (
    kiosk_id  TEXT NOT NULL,
    quarter   TEXT NOT NULL,
    queue_max INTEGER NOT NULL,
    online    INTEGER NOT NULL,
    PRIMARY KEY (kiosk_id, quarter)
);
CREATE INDEX fleet_quarters_quarter ON fleet_quarters(quarter);
CREATE TABLE circulation_hours (
    kiosk_id TEXT NOT NULL,
    hour     TEXT NOT NULL,
    kind     TEXT NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (kiosk_id, hour, kind)
);
CREATE INDEX circulation_hours_hour ON circulation_hours(hour)
""")


def _migrate_to_v11_profiles(conn: Connection) -> None:
    """Central profiles (central/profiles.py): one layer of kiosk settings per scope and
    target, and every change to them with who made it."""
    _execute_script(conn, """
CREATE TABLE profiles (
    scope      TEXT NOT NULL,
    target     TEXT NOT NULL,
    settings   TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    PRIMARY KEY (scope, target)
);
CREATE TABLE profile_changes (
    change_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    scope      TEXT NOT NULL,
    target     TEXT NOT NULL,
    before     TEXT,
    after      TEXT,
    changed_at TEXT NOT NULL,
    changed_by TEXT NOT NULL
)
""")


_MIGRATIONS: tuple[Callable[[Connection], None], ...] = (
    _migrate_to_v1, _migrate_to_v2_staff, _migrate_to_v3_card_expiry,
    _migrate_to_v4_kiosk_scope, _migrate_to_v5_email, _migrate_to_v6_visits,
    _migrate_to_v7_experiments, _migrate_to_v8_messages, _migrate_to_v9_shared_limits,
    _migrate_to_v10_fleet_series, _migrate_to_v11_profiles)
SCHEMA_VERSION = len(_MIGRATIONS)

DEFAULT_SETTINGS: dict[str, str] = {
    "require_pin": "false",
    "loan_period_days": "21",
    "max_renewals": "3",
    "loan_limit": "10",
    "fine_block_cents": "1000",
    "hold_pickup_days": "7",
    # where a patron collects a hold that is ready, as the kiosk says it ("the hold shelf by
    # the entrance"); in the library's main language
    "hold_pickup_place": "reserveringsrek bij de ingang",
    # an offline transaction stamped further back than this (or in the future by more than
    # clock_skew_bound_s) was stamped by a wrong kiosk clock: its due date counts from receipt
    "max_offline_age_days": "30",
    "clock_skew_bound_s": "300",
    # a figure about patrons resting on fewer visits than this is withheld (central/insights.py)
    "insights_min_visits": "5",
    # "true" when the visits are generated demo data (central/demo_visits.py): the page says so
    "insights_demo": "false",
}


def is_url(location: str | Path) -> bool:
    """A database URL (PostgreSQL) rather than a file path (SQLite)."""
    return str(location).startswith(("postgresql://", "postgres://"))


class Connection(Protocol):
    """What the service's code may do with a connection: the part of sqlite3's interface that
    central/postgres.py speaks too."""

    def execute(self, sql: str, params: Any = (), /) -> Any: ...

    def executemany(self, sql: str, seq: Any, /) -> Any: ...


def _open(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(
            path, timeout=10.0, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=10000")
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open database {path.name}: {exc}") from exc
    return conn


class _SqliteConnection:
    """The transaction verbs of central/postgres.py's PgConnection, for a sqlite3 connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.raw = conn

    def begin_write(self, keys: Iterable[str] | None = None) -> None:
        self.raw.execute("BEGIN IMMEDIATE")  # the write lock up front; one writer, any keys

    def begin_read(self) -> None:
        self.raw.execute("BEGIN")

    def commit(self) -> None:
        self.raw.execute("COMMIT")

    def rollback(self) -> None:
        if self.raw.in_transaction:
            self.raw.execute("ROLLBACK")

    def schema_version(self) -> int:
        return int(self.raw.execute("PRAGMA user_version").fetchone()[0])

    def set_schema_version(self, version: int) -> None:
        self.raw.execute(f"PRAGMA user_version={int(version)}")


def _migrate(conn: Any, sql: Connection) -> None:
    """Bring the schema to SCHEMA_VERSION in one write transaction (several worker processes
    starting at once migrate one after the other); refuses a database from a newer release."""
    conn.begin_write()
    try:
        version = conn.schema_version()
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"database schema version {version} is newer than this release ({SCHEMA_VERSION})"
            )
        for number in range(version, SCHEMA_VERSION):
            _MIGRATIONS[number](sql)
            conn.set_schema_version(number + 1)
            log.info("database migrated to schema version %d", number + 1)
        for key, value in DEFAULT_SETTINGS.items():
            sql.execute("INSERT OR IGNORE INTO settings(key, value) VALUES (?, ?)", (key, value))
        conn.commit()
    except BaseException as exc:
        conn.rollback()
        if isinstance(exc, (*ENGINE_ERRORS, *INTEGRITY_ERRORS)):
            raise StorageError(f"cannot prepare database: {exc}") from exc
        raise


class Database:
    """The service's database: a SQLite file (a path) or a PostgreSQL database (a URL),
    migrated on open.

    SQLite: one connection per thread, tracked so that `close()` closes them all. PostgreSQL:
    a pool of connections (central/postgres.py). Either way the service's code sees the same
    `write()` and `read()` transactions and the same SQL.
    """

    def __init__(self, location: str | Path, *, pool_size: int | None = None) -> None:
        self.location = str(location)
        self.dialect = "postgresql" if is_url(location) else "sqlite"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        self._pool: Any = None
        if self.dialect == "postgresql":
            from central.postgres import POOL_SIZE, PgPool

            try:
                self._pool = PgPool(self.location, size=pool_size or POOL_SIZE)
            except OSError as exc:
                raise StorageError(str(exc)) from exc
        try:
            with self._connection() as conn:
                _migrate(conn, self._sql(conn))
        except BaseException:
            self.close()
            raise

    @property
    def path(self) -> Path:
        """The SQLite file (tests and tools that open it directly)."""
        if self.dialect != "sqlite":
            raise StorageError("a PostgreSQL database has no file")
        return Path(self.location)

    @staticmethod
    def _sql(conn: Any) -> Connection:
        return conn.raw if isinstance(conn, _SqliteConnection) else conn  # type: ignore[no-any-return]

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Any]:
        if self._closed:
            raise StorageError("database is closed")
        if self._pool is not None:
            with self._pool.connection() as pooled:
                yield pooled
            return
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _SqliteConnection(_open(Path(self.location)))
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn.raw)
        yield conn

    @contextlib.contextmanager
    def write(self, keys: Iterable[str] | None = None) -> Iterator[Connection]:
        """One write transaction, holding its locks from the first statement: without `keys`
        the whole database's; with `keys`, only those, for a transaction that reads to decide
        nothing but rows those keys stand for ("item:<id>", "patron:<id>", "kiosk:<id>", by
        convention) and otherwise only adds rows or counts up. SQLite has one writer at a time
        either way; PostgreSQL runs writes with disjoint keys side by side."""
        with self._connection() as conn:
            conn.begin_write(keys)
            try:
                yield self._sql(conn)
                conn.commit()
            except BaseException:
                # Also after a failed COMMIT (busy, disk full): never leave this connection
                # inside a transaction that the next request would stumble over.
                conn.rollback()
                raise

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A consistent snapshot for several SELECTs (a patron's account, for instance)."""
        with self._connection() as conn:
            conn.begin_read()
            try:
                yield self._sql(conn)
            finally:
                conn.rollback()

    def one(self, sql: str, params: Any = ()) -> Any:
        """The first row of one statement on its own (no snapshot needed): a token's owner on
        every request costs one round trip, not three."""
        with self._connection() as conn:
            return self._sql(conn).execute(sql, params).fetchone()

    def json_text(self, column: str, outer: str, key: str) -> tuple[str, str]:
        """SQL for the text at `column`'s JSON object `outer`.`key` (NULL when absent), with
        its one parameter: the engines spell JSON paths differently. `outer` is ours, never
        input; `key` goes as a parameter."""
        if self.dialect == "postgresql":
            return f"({column}::jsonb -> '{outer}' ->> ?)", key
        return f"json_extract({column}, ?)", f"$.{outer}.{key}"

    def schema_version(self) -> int:
        with self._connection() as conn:
            return int(conn.schema_version())

    def pool_stats(self) -> dict[str, int]:
        """Connection pool figures (PostgreSQL), for /metrics; SQLite: its open connections."""
        if self._pool is not None:
            return dict(self._pool.stats())
        return {"pool_size": len(self._connections)}

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        if self._pool is not None:
            self._pool.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _errors(name: str) -> tuple[type[Exception], ...]:
    """The engines' own exceptions of one kind, for `except` clauses that serve both."""
    errors: tuple[type[Exception], ...] = {
        "integrity": (sqlite3.IntegrityError,),
        "unavailable": (sqlite3.OperationalError,),
        "engine": (sqlite3.Error,),
    }[name]
    try:
        import psycopg

        from central import postgres
    except ImportError:  # a SQLite-only install
        return errors
    theirs: dict[str, tuple[type[Exception], ...]] = {
        "integrity": postgres.INTEGRITY_ERRORS, "unavailable": postgres.UNAVAILABLE_ERRORS,
        "engine": (psycopg.Error,)}
    return errors + theirs[name]


# a UNIQUE or foreign key violation (a name taken, a row there already)
INTEGRITY_ERRORS = _errors("integrity")
# busy, locked, the server gone: the request may succeed later (HTTP 503)
UNAVAILABLE_ERRORS = _errors("unavailable")
ENGINE_ERRORS = _errors("engine")


def get_setting(conn: Connection, key: str) -> str:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    if row is None:
        return DEFAULT_SETTINGS[key]
    return str(row["value"])


def all_settings(conn: Connection) -> dict[str, str]:
    """Every setting in one statement: a replay of 200 rows reads them once, not 1,600 times
    (settings change only in a write that locks the whole database, so they hold for the
    transaction)."""
    stored = {str(row["key"]): str(row["value"])
              for row in conn.execute("SELECT key, value FROM settings")}
    return {**DEFAULT_SETTINGS, **stored}


def set_setting(conn: Connection, key: str, value: str) -> None:
    if key not in DEFAULT_SETTINGS:
        raise KeyError(f"unknown setting {key!r}; known: {', '.join(sorted(DEFAULT_SETTINGS))}")
    conn.execute(
        "INSERT INTO settings(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def copy_database(source: str | Path, destination: str | Path) -> Path:
    """A consistent copy of a (possibly live, WAL-mode) database file: backups, test fixtures."""
    destination = Path(destination)
    try:
        with contextlib.closing(sqlite3.connect(source)) as src, \
                contextlib.closing(sqlite3.connect(destination)) as dst:
            src.backup(dst)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot copy database: {exc}") from exc
    return destination
