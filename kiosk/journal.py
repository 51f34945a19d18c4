"""The durable transaction journal: the kiosk's promise that no loan is ever lost.

Every transaction is committed here (SQLite, WAL, synchronous=FULL, so each commit is fsync'd)
before the patron is told it succeeded and before an RFID tag's security bit changes. The sync
worker forwards what is pending, in order, and records the server's answer.

States of a journal row::

    inflight ──server OK──▶ done ──retention──▶ purged
       │ └──BackendUnavailable + policy allows──▶ pending ──▶ sent ──▶ done | conflict | rejected
       │                                            ▲          │ (crash or no answer)
       │                                            └──────────┘
       └──kiosk restarted before the patron saw an answer──▶ voided (+ a VOID row that is pending)

`inflight` exists because the patron has not been told yet: if the kiosk dies there, the server
may or may not have applied it, so a VOID carrying the same UUID cancels it on the server.

Group commit: the items a patron puts on the pad together are journaled in one commit
(`record_many`) and their answers settled in one (`settle_many`); every single-item write is the
same code with a group of one. A crash between the two leaves inflight rows, voided or read back
exactly as for one item.

Errors::

    JournalError
    ├── JournalFull      disk (or configured size) full: refuse new offline transactions
    └── JournalCorrupt   raised only when even a fresh journal cannot be made

PINs are never written. Patron identifiers are stored only as long as the transaction needs
forwarding; the offline patron cache keys on a salted hash of the card, never the card itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import json
import logging
import os
import secrets
import shutil
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from domain import privacy
from domain.model import (
    Credential,
    Outcome,
    ReasonCode,
    ReplayResult,
    ReplayStatus,
    Transaction,
    TransactionKind,
    utcnow,
)
from kiosk import journal_salvage

log = logging.getLogger(__name__)

SCHEMA_VERSION = 8

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE transactions (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        tx_id       TEXT NOT NULL UNIQUE,
        kind        TEXT NOT NULL,
        patron_id   TEXT,
        item_id     TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        offline     INTEGER NOT NULL,
        kiosk_id    TEXT NOT NULL DEFAULT '',
        ref_tx_id   TEXT,
        state       TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        last_error  TEXT NOT NULL DEFAULT '',
        answer      TEXT,
        updated_at  TEXT NOT NULL
    );
    CREATE INDEX transactions_state ON transactions(state, seq);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    2: """
    CREATE TABLE patron_cache (
        card_hash    TEXT PRIMARY KEY,
        patron_id    TEXT NOT NULL,
        blocked      INTEGER NOT NULL,
        verified_at  TEXT NOT NULL
    );
    """,
    3: """
    ALTER TABLE transactions ADD COLUMN ref_kind TEXT
    """,
    # why a cached card may not borrow (blocked, card_expired, fines_too_high): offline, the
    # patron hears the same reason as online, not a bare "blocked"
    4: """
    ALTER TABLE patron_cache ADD COLUMN block_reason TEXT
    """,
    # the due date (ISO day) a patron saw before renewing: SIP2 has no idempotency key, so a
    # renewal whose answer was lost is read back by the due date moving later (also after a
    # restart, hence stored); NULL for other kinds and for rows written before v5
    5: """
    ALTER TABLE transactions ADD COLUMN due_before TEXT
    """,
    # the due date an offline loan was promised (forwarded with it), and the titles of items
    # seen online, so that an item borrowed or returned offline shows its title: by a salted
    # hash of the item number, with the day it was seen, never linked to a patron
    6: """
    ALTER TABLE transactions ADD COLUMN promised_due TEXT;
    CREATE TABLE item_titles (
        item_id  TEXT PRIMARY KEY,
        title    TEXT NOT NULL,
        seen_at  TEXT NOT NULL
    )
    """,
    # receipts a patron asked to get by e-mail, until the relay took them: the patron id (the
    # address is asked of the library when sending, never stored) and what the receipt says
    7: """
    CREATE TABLE mail_out (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        patron_id   TEXT NOT NULL,
        receipt     TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        last_error  TEXT NOT NULL DEFAULT ''
    )
    """,
    # patron visits as the library may learn them (domain/visits.py: no patron, item or free
    # text), until the central service acknowledged them
    8: """
    CREATE TABLE visits (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        visit_id  TEXT NOT NULL UNIQUE,
        record    TEXT NOT NULL
    )
    """,
}
TITLES_KEPT = 50_000  # a branch's busiest items; about 3 MB
VISITS_KEPT = 20_000  # about two months of a busy kiosk that cannot send them; ~8 MB
_RESERVE_SLICE = 64 * 1024  # lent to the database a slice at a time (see Journal._make_room)


class JournalError(Exception):
    """Root of the journal's errors."""


class JournalFull(JournalError, OSError):
    """No room for another transaction; nothing already journaled is affected."""


class JournalCorrupt(JournalError):
    """The journal could not be opened even after moving a damaged file aside."""


class _Attempt:
    """One try at a durable transaction (see `Journal._writes`)."""

    def __init__(self, journal: Journal, *, last: bool) -> None:
        self._journal = journal
        self._db = journal._db
        self._last = last
        self.done = False

    def __enter__(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            self._raise(exc)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> bool:
        if exc is None:
            try:
                self._db.execute("COMMIT")
            except sqlite3.OperationalError as commit_error:
                return self._failed(commit_error)
            self.done = True
            return False
        if self._db.in_transaction:  # SQLITE_FULL may have rolled back already
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.OperationalError):
            return self._failed(exc)
        return False

    def _failed(self, exc: sqlite3.OperationalError) -> bool:
        """True (swallow, try again) when the reserve could make room; else raise ours."""
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
        if _is_full(exc) and not self._last:
            self._journal._make_room()
            return True
        self._raise(exc)
        return False  # pragma: no cover - _raise always raises

    @staticmethod
    def _raise(exc: sqlite3.OperationalError) -> None:
        if _is_full(exc):
            raise JournalFull(f"journal cannot grow: {exc}") from exc
        raise JournalError(f"journal write failed: {exc}") from exc


def _is_full(exc: sqlite3.Error) -> bool:
    message = str(exc).lower()
    return "full" in message or "disk i/o" in message


class State:
    INFLIGHT = "inflight"
    PENDING = "pending"
    SENT = "sent"
    DONE = "done"
    CONFLICT = "conflict"
    REJECTED = "rejected"
    VOIDED = "voided"
    # the server failed on this row every time while answering everything else: set aside for
    # staff with the evidence, with the later rows for the same item (see SyncWorker)
    QUARANTINED = "quarantined"


_FORWARDABLE = (State.PENDING, State.SENT)


class Settle(enum.StrEnum):
    """What an inflight row becomes once its answer, or the lack of one, is known."""

    DONE = "done"  # the server applied it; the patron is told
    REFUSED = "refused"  # the server said no: nothing to forward, nothing to keep
    OFFLINE = "offline"  # no answer; the offline policy accepted it: forwarded later
    VOID = "void"  # no answer and the patron hears "no": a VOID cancels it on the server


@dataclass(frozen=True, slots=True)
class Settlement:
    tx_id: str
    how: Settle
    outcome: Outcome | None = None  # for DONE: the answer, kept with the row
    # for OFFLINE: whether the request may have reached the server (BackendUnavailable.reached)
    reached: bool = True


@dataclass(frozen=True, slots=True)
class MailRow:
    row_id: int
    patron_id: str = field(repr=False)
    receipt: str = field(repr=False)  # JSON: what the receipt says (kiosk.receipt_mail)
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class QueueRow:
    """A journal row as a technician may see it: no patron identifier in clear."""

    seq: int
    tx_id: str
    kind: str
    state: str
    item_id: str
    patron_ref: str  # salted hash prefix, enough to tell two patrons apart
    created_at: str
    attempts: int
    last_error: str
    offline: bool


@dataclass(frozen=True, slots=True)
class CachedPatron:
    patron_id: str
    blocked: bool
    verified_at: datetime
    block_reason: ReasonCode | None = None


class Journal:
    """Thread-safe: the session thread writes transactions while the sync thread forwards them."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        retention: timedelta = timedelta(0),
        min_free_bytes: int = 5 * 1024 * 1024,
        max_pages: int | None = None,
        reserve_bytes: int = 2 * 1024 * 1024,
        conflict_max_age: timedelta = timedelta(days=30),
    ) -> None:
        self.path = Path(path)
        self.retention = retention
        self.min_free_bytes = min_free_bytes
        self.reserve_bytes = reserve_bytes
        self.conflict_max_age = conflict_max_age
        self.moved_aside: Path | None = None
        self._reserve = self.path.with_name(self.path.name + ".reserve")
        self._lock = threading.RLock()
        self._dirty = False
        # inflight rows a live call is still working on (not orphans, see void_orphans), and
        # answers the server gave that could not be written yet (settled again, never voided)
        self._active: set[str] = set()
        self._unsettled: dict[str, Outcome] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        damaged_wal = journal_salvage.wal_damaged(self.path)
        try:
            if damaged_wal:
                raise sqlite3.DatabaseError("the write-ahead log's header is damaged")
            self._db = self._open_checked()
        except sqlite3.DatabaseError as exc:
            self.moved_aside = self._move_aside(exc)
            try:
                self._db = self._open_checked()
            except sqlite3.DatabaseError as again:
                raise JournalCorrupt(f"no fresh journal at {self.path}: {again}") from again
        if max_pages is not None:
            self._db.execute(f"PRAGMA max_page_count = {int(max_pages)}")
        rows: list[dict[str, object]] = []
        if self.moved_aside is not None:
            rows, unreadable, old_salt = journal_salvage.read_rows(self.moved_aside)
            if old_salt and not self._meta("salt"):  # pseudonyms stay what staff saw before
                self._init_salt(old_salt)
        self._salt = self._meta("salt") or self._init_salt()
        self._db.create_function("kiosk_pseudonym", 1, self._stored_pseudonym, deterministic=True)
        if self.moved_aside is not None:
            self._requeue(rows, unreadable or damaged_wal, damaged_wal)
        self._bound_log()
        self.keep_reserve()

    @property
    def salvage(self) -> journal_salvage.SalvageReport | None:
        """The last time a damaged journal was replaced (kept until staff clear it), or None."""
        raw = self._meta("salvage")
        if not raw:
            return None
        try:
            return journal_salvage.SalvageReport(**json.loads(raw))
        except (ValueError, TypeError):
            return None

    def _requeue(self, rows: list[dict[str, object]], unreadable: bool, wal: bool) -> None:
        """Queue again what the damaged journal still held, in its order; record the report."""
        report = journal_salvage.SalvageReport(
            moved_to=str(self.moved_aside), recovered=len(rows), unreadable=unreadable,
            wal_damaged=wal, reason="damaged write-ahead log" if wal else "damaged journal")
        cols = journal_salvage.COLUMNS
        for attempt in self._writes():
            with attempt:
                self._db.executemany(
                    f"INSERT OR IGNORE INTO transactions ({', '.join(cols)})"
                    f" VALUES ({', '.join('?' * len(cols))})",
                    [tuple(_salvaged(r, c) for c in cols) for r in rows])
                self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('salvage', ?)",
                                 (json.dumps(dataclasses.asdict(report)),))
        (log.warning if report.complete else log.error)(
            "journal was replaced (%s): %d transaction(s) recovered from %s%s", report.reason,
            report.recovered, report.moved_to,
            "" if report.complete else "; SOME COULD NOT BE READ: staff must compare the "
            "library's records with the kiosk's receipts for the time before")

    # ---- opening, integrity, migrations -------------------------------------------------------

    def _open_checked(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            # purged transactions are overwritten, not just unlinked (patron privacy)
            db.execute("PRAGMA secure_delete=ON")
            result = db.execute("PRAGMA quick_check").fetchone()
            if result is None or result[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {result}")
            self._migrate(db)
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"journal schema {version} is newer than this kiosk ({SCHEMA_VERSION})"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            db.execute("BEGIN IMMEDIATE")
            for statement in filter(str.strip, _MIGRATIONS[target].split(";")):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {target}")
            db.execute("COMMIT")

    def _move_aside(self, exc: Exception) -> Path:
        stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(f"{self.path}{suffix}")
            if src.exists():
                shutil.move(src, Path(f"{target}{suffix}"))
        log.error("journal was damaged (%s); moved aside to %s, starting a fresh one", exc, target,
                  extra={"event": "journal_salvage"})
        return target

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _init_salt(self, salt: str | None = None) -> str:
        salt = salt or secrets.token_hex(16)
        for attempt in self._writes():
            with attempt:
                self._db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('salt', ?)",
                                 (salt,))
        return self._meta("salt") or salt

    # ---- writing ------------------------------------------------------------------------------

    def _writes(self) -> Iterator[_Attempt]:
        """Attempts at one durable transaction: ``for attempt in self._writes(): with attempt:``.

        SQLITE_FULL and I/O errors become JournalFull; the first one makes room (`_make_room`)
        and the write is tried once more in the room it leaves."""
        with self._lock:
            for last in (False, True):
                attempt = _Attempt(self, last=last)
                yield attempt
                if attempt.done:
                    return

    def _bound_log(self) -> None:
        """Keep the write-ahead log smaller than the reserve, and fold in what a killed process
        left in it. A process that dies never checkpoints, so on a disk with little room the log
        could otherwise grow until it fills the disk with pages the database file must grow to
        take, and nothing could be written again (seen under repeated SIGKILL on a nearly full
        disk)."""
        if self.reserve_bytes > 0:
            page = int(self._db.execute("PRAGMA page_size").fetchone()[0])
            limit = max(_RESERVE_SLICE, self.reserve_bytes // 2)
            self._db.execute(f"PRAGMA wal_autocheckpoint = {max(16, limit // page)}")
            self._db.execute(f"PRAGMA journal_size_limit = {limit}")
        if not self._fold_log("PASSIVE"):
            log.warning("journal: the write-ahead log could not be folded in at start; it will "
                        "be when there is room")

    def _make_room(self) -> None:
        """The disk is full: fold the write-ahead log into the database and truncate it, so
        transactions in progress can still be settled and the queue drained.

        The log is what fills a nearly full disk (it grows until a checkpoint), and folding it
        frees its room, unless the database file must grow to take pages that so far live only
        in the log: then the reserve is lent to the database a slice at a time until the fold
        succeeds, and the room the log leaves tops the reserve up again. Lending a slice (not
        the whole file) means a kill in between costs at most that slice of the reserve."""
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
        while True:
            if self._fold_log():
                self.keep_reserve()
                return
            if not self._lend_reserve(_RESERVE_SLICE):
                break
        log.error("journal disk is full and no room could be made: the write-ahead log cannot "
                  "be folded into the database and the reserve is spent")

    def _fold_log(self, mode: str = "TRUNCATE") -> bool:
        """Checkpoint; PASSIVE never waits for another connection's readers (a doctor's)."""
        try:
            busy, _, _ = self._db.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        except sqlite3.Error:
            return False
        return not busy

    def _lend_reserve(self, size: int) -> bool:
        """Shrink the reserve file by `size` bytes (gone when less is left); False when none."""
        try:
            held = self._reserve.stat().st_size
            if held > size:
                os.truncate(self._reserve, held - size)
            else:
                self._reserve.unlink()
        except OSError:
            return False
        log.warning("journal disk is full: lent %d KB of the reserve so transactions in "
                    "progress can be settled; new offline transactions are refused until there "
                    "is room again", min(held, size) // 1024)
        return True

    def keep_reserve(self) -> bool:
        """(Re)create or top up the reserve file when there is room for it and for
        `min_free_bytes` more; True when a reserve is in place."""
        if self.reserve_bytes <= 0:
            return True
        held = 0
        try:
            held = self._reserve.stat().st_size if self._reserve.exists() else 0
            # the whole reserve when there is room for it and the offline margin; on a disk
            # that is nearly full already, half of what is left (some reserve beats none)
            room = shutil.disk_usage(self.path.parent).free + held
            size = self.reserve_bytes if room >= self.reserve_bytes + self.min_free_bytes \
                else min(self.reserve_bytes, (room - _RESERVE_SLICE) // 2)
            if held >= size or size < _RESERVE_SLICE:
                return held > 0
            with open(self._reserve, "ab") as f:
                try:
                    os.posix_fallocate(f.fileno(), 0, size)
                except (AttributeError, OSError):
                    f.write(b"\0" * (size - held))
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            if held == 0:
                with contextlib.suppress(OSError):
                    self._reserve.unlink()
            else:
                with contextlib.suppress(OSError):
                    os.truncate(self._reserve, held)
            log.warning("could not set aside the journal reserve: %s", exc)
            return held > 0
        return True

    @property
    def reserve_in_place(self) -> bool:
        return self.reserve_bytes <= 0 or self._reserve.exists()

    def check_space(self) -> None:
        """Refuse early, before the patron is promised anything, when the disk is nearly full."""
        free = shutil.disk_usage(self.path.parent).free
        if free < self.min_free_bytes:
            raise JournalFull(f"only {free} bytes free for the journal")

    def record(self, tx: Transaction, state: str) -> None:
        """Commit a new transaction durably. Returns only once it is on disk."""
        self.record_many([tx], state)

    def record_many(self, txs: Sequence[Transaction], state: str) -> None:
        """Commit new transactions durably, all in one commit (one fsync for a whole stack).

        An offline (pending) row needs `min_free_bytes` to spare: that caps the offline queue so
        the disk always has room to settle what is in progress. An inflight row (online) may use
        that room and the reserve: it is written before sending, always, and settled after. A
        pending row for an item held behind a quarantined one joins it in quarantine."""
        if not txs:
            return
        if state == State.PENDING:
            self.check_space()
        now = utcnow().isoformat()
        for attempt in self._writes():
            with attempt:
                self._db.executemany(
                    "INSERT INTO transactions (tx_id, kind, patron_id, item_id, created_at,"
                    " offline, kiosk_id, ref_tx_id, due_before, promised_due, state,"
                    " updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    [(tx.tx_id, tx.kind.value, tx.patron_id, tx.item_id,
                      tx.created_at.isoformat(), int(tx.offline), tx.kiosk_id, tx.ref_tx_id,
                      _day(tx.due_before), _day(tx.promised_due), self._state_for(tx, state),
                      now) for tx in txs],
                )
        if state == State.INFLIGHT:
            self._active.update(tx.tx_id for tx in txs)

    def _state_for(self, tx: Transaction, state: str) -> str:
        if state == State.PENDING and self._held_locked(tx.item_id):
            return State.QUARANTINED
        return state

    def settle(self, tx_id: str, outcome: Outcome) -> None:
        """An online transaction got its answer: done, and purged when retention is zero."""
        self.settle_many([Settlement(tx_id, Settle.DONE, outcome)])

    def settle_many(self, settlements: Sequence[Settlement]) -> None:
        """Settle inflight rows, all in one commit: what the patron is about to be told.

        Should the write fail, the DONE answers are kept here and written again by
        `void_orphans` (such a row is never voided); the others stay inflight and are voided
        as orphans, which is what their lack of an answer calls for anyway."""
        if not settlements:
            return
        done = {s.tx_id: s.outcome for s in settlements if s.how is Settle.DONE and s.outcome}
        now = utcnow().isoformat()
        try:
            for attempt in self._writes():
                with attempt:
                    for settlement in settlements:
                        self._settle_locked(settlement, now)
        except JournalError:
            self._unsettled.update({k: v for k, v in done.items() if v is not None})
            raise
        for tx_id in done:
            self._unsettled.pop(tx_id, None)

    def _settle_locked(self, settlement: Settlement, now: str) -> None:
        tx_id = settlement.tx_id
        match settlement.how:
            case Settle.DONE if self.retention <= timedelta(0):
                # kept for no one: gone at once (one write, not an update and a purge)
                self._db.execute("DELETE FROM transactions WHERE tx_id = ?", (tx_id,))
                self._dirty = True
            case Settle.DONE:
                # a finished row is never forwarded again: its patron becomes a pseudonym
                self._db.execute(
                    "UPDATE transactions SET state = ?, answer = ?, last_error = '',"
                    " updated_at = ?, patron_id = kiosk_pseudonym(patron_id) WHERE tx_id = ?",
                    (State.DONE, _outcome_json(settlement.outcome) if settlement.outcome
                     else None, now, tx_id))
            case Settle.REFUSED:
                self._db.execute("DELETE FROM transactions WHERE tx_id = ? AND state = ?",
                                 (tx_id, State.INFLIGHT))
            case Settle.OFFLINE:
                # sent but unanswered, it counts as one attempt: the server may have it (a
                # request that cannot have reached it does not count); the outcome, when given,
                # holds the due date the offline policy promised
                promised = settlement.outcome.due if settlement.outcome else None
                self._db.execute(
                    "UPDATE transactions SET state = ?, offline = 1, attempts = attempts + ?,"
                    " promised_due = ?, updated_at = ? WHERE tx_id = ?",
                    (State.PENDING, int(settlement.reached), _day(promised), now, tx_id))
            case Settle.VOID:
                self._void_locked(f"tx_id = '{_quote(tx_id)}'")

    def release(self, tx_id: str) -> None:
        """The call that wrote this inflight row is over (answered, offline, voided, or failed)."""
        self._active.discard(tx_id)

    def void_orphans(self) -> list[str]:
        """Settle what a failed call left behind, without waiting for a restart: answers not
        yet written are written; inflight rows no live call owns are voided (their fate on the
        server is unknown, as after a crash). Returns the voided tx ids."""
        for tx_id, outcome in list(self._unsettled.items()):
            with contextlib.suppress(JournalError):
                self.settle(tx_id, outcome)
        with self._lock:
            rows = self._db.execute("SELECT tx_id FROM transactions WHERE state = ?",
                                    (State.INFLIGHT,)).fetchall()
        orphans = [r[0] for r in rows if r[0] not in self._active and r[0] not in self._unsettled]
        voided: list[str] = []
        for tx_id in orphans:
            for attempt in self._writes():
                with attempt:
                    voided += self._void_locked(f"tx_id = '{_quote(tx_id)}'")
        if voided:
            log.warning("voided %d transaction(s) left in doubt by a failed call", len(voided))
        return voided

    def abandon(self, tx_id: str) -> None:
        """The server refused an online transaction: nothing to forward, nothing to keep."""
        self.settle_many([Settlement(tx_id, Settle.REFUSED)])

    def go_offline(self, tx: Transaction) -> Transaction:
        """An inflight transaction got no answer; the offline policy accepted it."""
        self.settle_many([Settlement(tx.tx_id, Settle.OFFLINE)])
        return offline_copy(tx)

    def void_inflight(self, tx_id: str) -> None:
        """Cancel one inflight transaction whose fate on the server is unknown (see module doc)."""
        self.settle_many([Settlement(tx_id, Settle.VOID)])

    def recover_inflight(self) -> list[str]:
        """At start: transactions whose answer the patron never saw are cancelled with a VOID.

        Their effect on the server is unknown (the kiosk died between sending and telling), so the
        VOID undoes it there if it happened and bars it if it did not. Returns the voided tx ids.
        A full disk must not stop the kiosk from starting: the rows stay inflight, no live
        call owns them, and the sync worker's upkeep voids them once there is room.
        """
        try:
            for attempt in self._writes():
                with attempt:
                    voided = self._void_locked("1 = 1")
        except JournalFull as exc:
            log.error("could not void interrupted transactions yet (disk full): %s", exc)
            return []
        if voided:
            log.warning("voiding %d transaction(s) interrupted by a restart", len(voided))
        return voided

    def _void_locked(self, where: str) -> list[str]:
        rows = self._db.execute(
            "SELECT tx_id, item_id, patron_id, kiosk_id, kind, due_before FROM transactions"
            f" WHERE state = ? AND {where}",
            (State.INFLIGHT,),
        ).fetchall()
        now = utcnow().isoformat()
        # the VOID of a renewal keeps the due date from before it, so the backend can still tell
        # after a restart whether the renewal reached the library (SIP2 cannot undo one)
        for tx_id, item_id, patron_id, kiosk_id, kind, due_before in rows:
            void = Transaction(kind=TransactionKind.VOID, patron_id=patron_id, item_id=item_id,
                               offline=True, kiosk_id=kiosk_id, ref_tx_id=tx_id,
                               ref_kind=TransactionKind(kind))
            self._db.execute(
                "UPDATE transactions SET state = ?, updated_at = ? WHERE tx_id = ?",
                (State.VOIDED, now, tx_id),
            )
            self._db.execute(
                "INSERT INTO transactions (tx_id, kind, patron_id, item_id, created_at, offline,"
                " kiosk_id, ref_tx_id, ref_kind, due_before, state, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (void.tx_id, void.kind.value, patron_id, item_id, void.created_at.isoformat(), 1,
                 kiosk_id, tx_id, kind, due_before, State.PENDING, now),
            )
        return [r[0] for r in rows]

    # ---- forwarding ---------------------------------------------------------------------------

    def forwardable(self, limit: int = 100) -> list[Transaction]:
        """Pending (or sent but unanswered) transactions, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT tx_id, kind, patron_id, item_id, created_at, offline, kiosk_id, ref_tx_id,"
                " ref_kind, attempts, due_before, promised_due FROM transactions"
                " WHERE state IN (?, ?)"
                " ORDER BY seq LIMIT ?",
                (*_FORWARDABLE, limit),
            ).fetchall()
        return [
            Transaction(
                kind=TransactionKind(kind), patron_id=patron_id, item_id=item_id, tx_id=tx_id,
                created_at=datetime.fromisoformat(created), offline=bool(offline),
                kiosk_id=kiosk_id, ref_tx_id=ref,
                ref_kind=TransactionKind(ref_kind) if ref_kind else None,
                maybe_applied=attempts > 0,
                due_before=date.fromisoformat(due_before) if due_before else None,
                promised_due=date.fromisoformat(promised) if promised else None,
            )
            for tx_id, kind, patron_id, item_id, created, offline, kiosk_id, ref, ref_kind,
            attempts, due_before, promised in rows
        ]

    def mark_sent(self, tx_ids: Sequence[str]) -> None:
        for attempt in self._writes():
            with attempt:
                self._db.executemany(
                    "UPDATE transactions SET state = ?, attempts = attempts + 1, updated_at = ?"
                    " WHERE tx_id = ? AND state IN (?, ?)",
                    [(State.SENT, utcnow().isoformat(), t, *_FORWARDABLE) for t in tx_ids],
                )

    def mark_failed(self, tx_ids: Sequence[str], error: str, *, reached: bool = True) -> None:
        """No answer: the rows stay forwardable (a replay is harmless thanks to the UUID).

        `reached=False`: the rows cannot have reached the server (see
        BackendUnavailable.reached), so the attempt `mark_sent` counted ahead (in case the
        process dies while they are out) is taken back."""
        for attempt in self._writes():
            with attempt:
                self._db.executemany(
                    "UPDATE transactions SET state = ?, last_error = ?, updated_at = ?,"
                    " attempts = MAX(attempts - ?, 0) WHERE tx_id = ? AND state = ?",
                    [(State.PENDING, error[:500], utcnow().isoformat(), int(not reached), t,
                      State.SENT) for t in tx_ids],
                )

    def record_results(self, results: Sequence[ReplayResult]) -> None:
        state_of = {
            ReplayStatus.DONE: State.DONE,
            ReplayStatus.CONFLICT: State.CONFLICT,
            ReplayStatus.REJECTED: State.REJECTED,
        }
        self._finish(
            [
                (r.tx_id, state_of[r.status], _outcome_json(r.outcome) if r.outcome else None,
                 r.detail[:500])
                for r in results
            ]
        )

    def _finish(self, rows: Sequence[tuple[str, str, str | None, str]]) -> None:
        now = utcnow().isoformat()
        for attempt in self._writes():
            with attempt:
                # a finished row is never forwarded again: its patron becomes a pseudonym (a
                # card number stands in for the patron under the "format" offline policy)
                self._db.executemany(
                    "UPDATE transactions SET state = ?, answer = ?, last_error = ?, updated_at = ?,"
                    " patron_id = kiosk_pseudonym(patron_id) WHERE tx_id = ?",
                    [(state, answer, detail, now, tx_id) for tx_id, state, answer, detail in rows],
                )
                if self.retention <= timedelta(0):
                    self._purge_locked(now)

    def scrub(self) -> None:
        """Fold the write-ahead log into the database and empty it.

        With secure_delete, purged rows are zeroed in the database file, but older copies of
        their pages live on in the WAL until a checkpoint; the sync worker calls this when the
        queue is empty, so what a patron borrowed does not linger on the kiosk's disk.
        """
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                log.warning("journal scrub postponed: %s", exc)
            self._dirty = False

    @property
    def needs_scrub(self) -> bool:
        return self._dirty

    def purge(self) -> int:
        """Forget synced transactions older than the retention (patron privacy)."""
        for attempt in self._writes():
            with attempt:
                return self._purge_locked((utcnow() - self.retention).isoformat())
        raise AssertionError("unreachable: the last attempt raises or returns")

    def _purge_locked(self, older_than: str) -> int:
        cur = self._db.execute(
            "DELETE FROM transactions WHERE state IN (?, ?) AND updated_at <= ?",
            (State.DONE, State.VOIDED, older_than),
        )
        # what staff must look at stays until they resolve it (forget_resolved), but never
        # longer than the hard cap: a kiosk is no archive of who borrowed what
        capped = self._db.execute(
            "DELETE FROM transactions WHERE state IN (?, ?) AND updated_at <= ?",
            (State.CONFLICT, State.REJECTED,
             (utcnow() - self.conflict_max_age).isoformat()),
        )
        gone = cur.rowcount + capped.rowcount
        if gone:
            self._dirty = True
        return gone

    def forget_resolved(self, tx_ids: Sequence[str]) -> int:
        """Staff resolved these conflicts centrally: nothing is left for the kiosk to keep."""
        if not tx_ids:
            return 0
        for attempt in self._writes():
            with attempt:
                cur = self._db.executemany(
                    "DELETE FROM transactions WHERE tx_id = ? AND state IN (?, ?)",
                    [(t, State.CONFLICT, State.REJECTED) for t in tx_ids])
        if cur.rowcount:
            self._dirty = True
        return max(cur.rowcount, 0)

    # ---- quarantine ---------------------------------------------------------------------------

    def quarantine(self, tx_id: str, evidence: str) -> list[str]:
        """Set aside a row the server fails on every time while it answers everything else,
        with the later rows for the same item (they must never overtake it). Staff see them all
        as quarantined; `release_quarantine` puts them back in the queue. Returns the tx ids."""
        for attempt in self._writes():
            with attempt:
                row = self._db.execute("SELECT seq, item_id FROM transactions WHERE tx_id = ?",
                                       (tx_id,)).fetchone()
                if row is None:
                    return []
                seq, item_id = row
                ids = [r[0] for r in self._db.execute(
                    "SELECT tx_id FROM transactions WHERE item_id = ? AND seq >= ?"
                    " AND state IN (?, ?) ORDER BY seq", (item_id, seq, *_FORWARDABLE))]
                now = utcnow().isoformat()
                self._db.executemany(
                    "UPDATE transactions SET state = ?, last_error = ?, updated_at = ?"
                    " WHERE tx_id = ?",
                    [(State.QUARANTINED, (evidence if t == tx_id else
                      f"held behind quarantined transaction {tx_id[:8]}")[:500], now, t)
                     for t in ids])
        log.error("transaction %s quarantined for staff (%d row(s) for the same item held with "
                  "it): %s", tx_id[:8], len(ids), evidence[:300],
                  extra={"event": "quarantined", "txn_id": tx_id})
        return ids

    def held(self, item_id: str) -> bool:
        """True while a quarantined row for this item waits: new acts on it queue behind."""
        with self._lock:
            return self._held_locked(item_id)

    def _held_locked(self, item_id: str) -> bool:
        return self._db.execute(
            "SELECT 1 FROM transactions WHERE item_id = ? AND state = ? LIMIT 1",
            (item_id, State.QUARANTINED)).fetchone() is not None

    def release_quarantine(self, tx_ids: Sequence[str] | None = None) -> int:
        """A technician or staff fixed the cause: quarantined rows go back in the queue (all, or
        those given), in their original order."""
        for attempt in self._writes():
            with attempt:
                if tx_ids is None:
                    cur = self._db.execute(
                        "UPDATE transactions SET state = ?, updated_at = ? WHERE state = ?",
                        (State.PENDING, utcnow().isoformat(), State.QUARANTINED))
                else:
                    cur = self._db.executemany(
                        "UPDATE transactions SET state = ?, updated_at = ? WHERE tx_id = ?"
                        " AND state = ?",
                        [(State.PENDING, utcnow().isoformat(), t, State.QUARANTINED)
                         for t in tx_ids])
        return max(cur.rowcount, 0)

    # ---- questions ----------------------------------------------------------------------------

    def health(self) -> dict[str, object]:
        """What staff and technicians need to know about the journal itself: /status, metrics,
        doctor. Not ok (a device fault) when a damaged journal could not be read back whole."""
        salvage = self.salvage
        return {
            "ok": salvage is None or salvage.complete,
            "reserve_in_place": self.reserve_in_place,
            "quarantined": self.counts().get(State.QUARANTINED, 0),
            "salvage": dataclasses.asdict(salvage) if salvage is not None else None,
        }

    def clear_salvage(self) -> None:
        """Staff have compared the records after a damaged journal: the fault is theirs no more."""
        for attempt in self._writes():
            with attempt:
                self._db.execute("DELETE FROM meta WHERE key = 'salvage'")

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT state, COUNT(*) FROM transactions GROUP BY state"
            ).fetchall()
        return dict(rows)

    def pending_count(self) -> int:
        counts = self.counts()
        return counts.get(State.PENDING, 0) + counts.get(State.SENT, 0)

    def oldest_pending(self) -> datetime | None:
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(created_at) FROM transactions WHERE state IN (?, ?)", _FORWARDABLE
            ).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def offline_checkouts(self, patron_id: str) -> int:
        """Offline loans of this patron not yet confirmed by the server (offline item limit)."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM transactions WHERE patron_id = ? AND kind = ? AND offline = 1"
                " AND state IN (?, ?)",
                (patron_id, TransactionKind.CHECKOUT.value, *_FORWARDABLE),
            ).fetchone()
        return int(row[0])

    def rows(self, states: Sequence[str] = (State.PENDING, State.SENT, State.CONFLICT,
                                           State.REJECTED, State.INFLIGHT,
                                           State.QUARANTINED)) -> list[QueueRow]:
        marks = ",".join("?" * len(states))
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, tx_id, kind, state, item_id, patron_id, created_at, attempts,"
                f" last_error, offline FROM transactions WHERE state IN ({marks}) ORDER BY seq",
                tuple(states),
            ).fetchall()
        return [
            QueueRow(seq, tx_id, kind, state, item_id, self.pseudonym(patron_id), created,
                     attempts, error, bool(offline))
            for seq, tx_id, kind, state, item_id, patron_id, created, attempts, error, offline
            in rows
        ]

    def pseudonym(self, identifier: str | None) -> str:
        """A stable, salted, short stand-in for a patron identifier, safe for logs and screens."""
        if not identifier:
            return "-"
        if identifier.startswith(_PSEUDONYM_MARK):  # a finished row keeps only this
            return identifier[len(_PSEUDONYM_MARK):]
        return privacy.pseudonym(identifier, salt=self._salt)

    def _stored_pseudonym(self, identifier: str | None) -> str | None:
        if identifier is None or identifier.startswith(_PSEUDONYM_MARK):
            return identifier
        return _PSEUDONYM_MARK + self.pseudonym(identifier)

    # ---- offline patron cache -----------------------------------------------------------------

    def _card_hash(self, credential: Credential) -> str:
        return self.pseudonym(f"{credential.kind.value}:{credential.value}") + hashlib.sha256(
            f"{self._salt}|{credential.kind.value}|{credential.value}".encode()
        ).hexdigest()[:22]

    def remember_patron(self, credential: Credential, patron_id: str, blocked: bool,
                        block_reason: ReasonCode | None = None) -> None:
        """Seen valid (or blocked) online just now: lets the offline policy recognise the card."""
        try:
            for attempt in self._writes():
                with attempt:
                    self._db.execute(
                        "INSERT OR REPLACE INTO patron_cache(card_hash, patron_id, blocked,"
                        " verified_at, block_reason) VALUES (?,?,?,?,?)",
                        (self._card_hash(credential), patron_id, int(blocked), utcnow().isoformat(),
                         block_reason.value if blocked and block_reason else None),
                    )
        except JournalError as exc:  # the cache is a convenience; a full disk must not stop a loan
            log.warning("could not update the offline patron cache: %s", exc)

    def cached_patron(self, credential: Credential) -> CachedPatron | None:
        with self._lock:
            row = self._db.execute(
                "SELECT patron_id, blocked, verified_at, block_reason FROM patron_cache"
                " WHERE card_hash = ?",
                (self._card_hash(credential),),
            ).fetchone()
        if row is None:
            return None
        try:
            reason = ReasonCode(row[3]) if row[3] else None
        except ValueError:  # written by a newer kiosk version
            reason = None
        return CachedPatron(row[0], bool(row[1]), datetime.fromisoformat(row[2]), reason)

    def forget_stale_patrons(self, older_than: timedelta) -> int:
        for attempt in self._writes():
            with attempt:
                cur = self._db.execute(
                    "DELETE FROM patron_cache WHERE verified_at < ?",
                    ((utcnow() - older_than).isoformat(),),
                )
                return cur.rowcount
        raise AssertionError("unreachable: the last attempt raises or returns")

    # ---- receipts to e-mail ---------------------------------------------------------------

    def queue_mail(self, patron_id: str, receipt: str) -> None:
        """Durably, before the patron is told "it will be e-mailed" (like a transaction)."""
        for attempt in self._writes():
            with attempt:
                self._db.execute(
                    "INSERT INTO mail_out(patron_id, receipt, created_at) VALUES (?,?,?)",
                    (patron_id, receipt, utcnow().isoformat()))

    def mail_pending(self, limit: int = 20) -> list[MailRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, patron_id, receipt, attempts FROM mail_out ORDER BY id LIMIT ?",
                (limit,)).fetchall()
        return [MailRow(*row) for row in rows]

    def mail_done(self, row_id: int) -> None:
        """Sent, or given up on: the patron id and the receipt are gone at once (zeroed by
        secure_delete; the WAL's copy goes at the next `scrub`)."""
        for attempt in self._writes():
            with attempt:
                self._db.execute("DELETE FROM mail_out WHERE id = ?", (row_id,))
        self._dirty = True

    def mail_failed(self, row_id: int, error: str) -> None:
        for attempt in self._writes():
            with attempt:
                self._db.execute(
                    "UPDATE mail_out SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                    (privacy.scrub(error)[:200], row_id))

    # ---- item titles (what the patron sees offline) ---------------------------------------

    def remember_titles(self, titles: Mapping[str, str]) -> None:
        """Titles of items the library named, so that one borrowed or returned offline later
        shows its title. Kept by a salted hash of the item number, with the day only: the
        disk says which titles passed this kiosk, never which item, when or for whom.

        Written only with room to spare and without the reserve (`_make_room` is never
        called): a cache must not take the space that settling loans needs."""
        if not titles:
            return
        try:
            if not self._room_to_spare():
                return
            day = utcnow().date().isoformat()
            with self._lock:
                attempt = _Attempt(self, last=True)
                with attempt:
                    self._db.executemany(
                        "INSERT OR REPLACE INTO item_titles(item_id, title, seen_at)"
                        " VALUES (?,?,?)",
                        [(self._item_key(i), t[:300], day) for i, t in titles.items()])
                    self._db.execute(
                        "DELETE FROM item_titles WHERE item_id IN (SELECT item_id FROM"
                        " item_titles ORDER BY seen_at DESC LIMIT -1 OFFSET ?)", (TITLES_KEPT,))
        except (JournalError, OSError) as exc:
            log.warning("could not remember item titles: %s", exc)

    def _room_to_spare(self) -> bool:
        """Room for what may be lost (caches, insights): never the room loans need."""
        return (shutil.disk_usage(self.path.parent).free >= 4 * self.min_free_bytes
                and self.reserve_in_place)

    # ---- visits (insights for the library: domain/visits.py) ------------------------------

    def record_visits(self, visits: Sequence[tuple[str, str]]) -> bool:
        """(visit id, record JSON) pairs, in one commit; the oldest beyond VISITS_KEPT go.
        Like the title cache, only with room to spare: a visit is worth less than a loan.
        Returns whether they were written."""
        if not visits:
            return True
        try:
            if not self._room_to_spare():
                log.warning("not recording %d visit(s): the journal's disk is short of room",
                            len(visits))
                return False
            with self._lock:
                attempt = _Attempt(self, last=True)
                with attempt:
                    self._db.executemany(
                        "INSERT OR IGNORE INTO visits(visit_id, record) VALUES (?,?)", visits)
                    self._db.execute(
                        "DELETE FROM visits WHERE seq IN (SELECT seq FROM visits"
                        " ORDER BY seq DESC LIMIT -1 OFFSET ?)", (VISITS_KEPT,))
            return True
        except (JournalError, OSError) as exc:
            log.warning("could not record visits: %s", exc)
            return False

    def visits_to_send(self, limit: int = 200) -> list[tuple[str, str]]:
        """The oldest visits not yet acknowledged: (visit id, record JSON)."""
        with self._lock:
            return [(v, r) for v, r in self._db.execute(
                "SELECT visit_id, record FROM visits ORDER BY seq LIMIT ?", (limit,))]

    def visits_sent(self, visit_ids: Sequence[str]) -> None:
        """The central service has these (stored now, or already from an earlier try whose
        answer was lost): they are gone from the kiosk."""
        for attempt in self._writes():
            with attempt:
                self._db.executemany("DELETE FROM visits WHERE visit_id = ?",
                                     [(v,) for v in visit_ids])

    def setting(self, key: str) -> str | None:
        """A small value the kiosk keeps across restarts (e.g. the experiments it runs)."""
        with self._lock:
            return self._meta(f"kept:{key}")

    def keep_setting(self, key: str, value: str) -> None:
        for attempt in self._writes():
            with attempt:
                self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                                 (f"kept:{key}", value))

    def visit_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM visits").fetchone()[0])

    def titles_of(self, item_ids: Sequence[str]) -> dict[str, str]:
        if not item_ids:
            return {}
        keys = {self._item_key(i): i for i in item_ids}
        marks = ",".join("?" * len(keys))
        with self._lock:
            rows = self._db.execute(
                f"SELECT item_id, title FROM item_titles WHERE item_id IN ({marks})",
                tuple(keys)).fetchall()
        return {keys[key]: title for key, title in rows}

    def _item_key(self, item_id: str) -> str:
        return hashlib.sha256(f"{self._salt}|item|{item_id}".encode()).hexdigest()[:32]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_PSEUDONYM_MARK = "~"


def _salvaged(row: dict[str, object], column: str) -> object:
    """A column of a salvaged row, with the defaults a fresh row would have."""
    value = row.get(column)
    if value is None and column in ("attempts", "offline"):
        return 0
    if value is None and column in ("kiosk_id", "last_error"):
        return ""
    if value is None and column in ("updated_at", "created_at"):
        return utcnow().isoformat()
    return value


def offline_copy(tx: Transaction) -> Transaction:
    """The transaction as forwarded after going offline: sent (or tried), so the server may
    have applied it."""
    return dataclasses.replace(tx, offline=True, maybe_applied=True)


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _quote(value: str) -> str:
    return value.replace("'", "''")


def _outcome_json(outcome: Outcome) -> str:
    return json.dumps(
        {
            "ok": outcome.ok,
            "reason": outcome.reason.value,
            "due": outcome.due.isoformat() if outcome.due else None,
            "hold_shelf": outcome.hold_shelf,
            "sort_bin": outcome.sort_bin,
        }
    )
