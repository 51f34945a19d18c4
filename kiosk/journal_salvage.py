"""Reading what can still be read from a damaged journal, so a bad sector loses no loan.

A journal that fails its integrity check (or is of a newer schema) is moved aside and a fresh
one started; the patron's promise rests on the rows still waiting to be forwarded, so they are
read back from the moved file and queued again. Three ways, each tried when the one before
cannot read everything: one query over the file opened read-only; row by row (a damaged page
costs only the rows on it); SQLite's own recovery (`sqlite3 FILE .recover`, from Debian's
sqlite3 package) into a scratch database.

A write-ahead log whose header is garbage is worse: SQLite takes it for empty and says nothing,
so every transaction since the last checkpoint would vanish without a log line. `wal_damaged`
checks the header (magic number and checksum, as the WAL format defines them) before SQLite
opens the journal; the damaged set is then moved aside like a damaged database, and the loss,
which cannot be counted, is reported.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

WAL_MAGIC = (0x377F0682, 0x377F0683)
# what a journal row needs to be forwarded again; older schemas lack some (NULL then)
COLUMNS = ("tx_id", "kind", "patron_id", "item_id", "created_at", "offline", "kiosk_id",
           "ref_tx_id", "ref_kind", "state", "attempts", "last_error", "due_before",
           "promised_due",
           "updated_at")
KEEP_STATES = ("pending", "sent", "inflight", "quarantined", "conflict", "rejected")


@dataclass(frozen=True)
class SalvageReport:
    """What happened when a damaged journal was replaced; kept in the new journal's meta."""

    moved_to: str
    recovered: int
    unreadable: bool  # some rows could not be read (or the WAL's could not be counted)
    wal_damaged: bool
    reason: str

    @property
    def complete(self) -> bool:
        return not self.unreadable and not self.wal_damaged


def wal_damaged(db_path: Path) -> bool:
    """True when `db_path`-wal holds bytes but no valid WAL header."""
    wal = Path(f"{db_path}-wal")
    try:
        size = wal.stat().st_size
    except OSError:
        return False
    if size == 0:
        return False
    with open(wal, "rb") as f:
        header = f.read(32)
    if len(header) < 32:
        return True
    magic = int.from_bytes(header[:4], "big")
    if magic not in WAL_MAGIC:
        return True
    s0, s1 = _wal_checksum(header[:24], big_endian=bool(magic & 1))
    return (s0, s1) != (int.from_bytes(header[24:28], "big"),
                        int.from_bytes(header[28:32], "big"))


def _wal_checksum(data: bytes, *, big_endian: bool) -> tuple[int, int]:
    order: Literal["big", "little"] = "big" if big_endian else "little"
    s0 = s1 = 0
    for i in range(0, len(data), 8):
        x0 = int.from_bytes(data[i:i + 4], order)
        x1 = int.from_bytes(data[i + 4:i + 8], order)
        s0 = (s0 + x0 + s1) & 0xFFFFFFFF
        s1 = (s1 + x1 + s0) & 0xFFFFFFFF
    return s0, s1


def read_rows(moved: Path) -> tuple[list[dict[str, object]], bool, str | None]:
    """(rows worth keeping, whether some could not be read, the salt if readable)."""
    salt: str | None = None
    try:
        with _read_only(moved) as db:
            with contextlib.suppress(sqlite3.Error):
                row = db.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()
                salt = row[0] if row else None
            rows = _all_at_once(db)
            if rows is not None:
                return rows, False, salt
            rows, missed = _row_by_row(db)
            if not missed:
                return rows, False, salt
    except sqlite3.Error:
        rows, missed = [], True
    # something could not be read: SQLite's recovery may find more, but cannot say it found
    # everything, so the report stays "incomplete" for staff either way
    recovered = _sqlite_recover(moved)
    if recovered is not None and len(recovered) > len(rows):
        return recovered, True, salt
    return rows, True, salt


@contextlib.contextmanager
def _read_only(path: Path):  # type: ignore[no-untyped-def]
    db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        yield db
    finally:
        db.close()


def _select(db: sqlite3.Connection, where: str,
            args: tuple[object, ...]) -> list[dict[str, object]]:
    have = {r[1] for r in db.execute("PRAGMA table_info(transactions)")}
    cols = ", ".join(c if c in have else f"NULL AS {c}" for c in COLUMNS)
    marks = ",".join("?" * len(KEEP_STATES))
    cur = db.execute(f"SELECT {cols} FROM transactions WHERE state IN ({marks}) AND {where}"
                     " ORDER BY seq", (*KEEP_STATES, *args))
    return [dict(zip(COLUMNS, r, strict=True)) for r in cur.fetchall()]


def _all_at_once(db: sqlite3.Connection) -> list[dict[str, object]] | None:
    try:
        return _select(db, "1 = 1", ())
    except sqlite3.Error:
        return None


def _row_by_row(db: sqlite3.Connection) -> tuple[list[dict[str, object]], bool]:
    try:
        top = db.execute("SELECT MAX(seq) FROM transactions").fetchone()[0] or 0
    except sqlite3.Error:
        top = 100_000  # the index is gone too: look through a generous range
    rows: list[dict[str, object]] = []
    missed = False
    for seq in range(1, int(top) + 1):
        try:
            rows += _select(db, "seq = ?", (seq,))
        except sqlite3.Error:
            missed = True
    return rows, missed


def _sqlite_recover(moved: Path) -> list[dict[str, object]] | None:
    """SQLite's own `.recover`, when the sqlite3 program is installed."""
    program = shutil.which("sqlite3")
    if program is None:
        return None
    try:
        dump = subprocess.run([program, str(moved), ".recover"], capture_output=True,
                              timeout=60, check=False).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.SubprocessError):
        return None
    scratch = sqlite3.connect(":memory:")
    try:
        with contextlib.suppress(sqlite3.Error):
            scratch.executescript(dump)
        try:
            return _select(scratch, "1 = 1", ())
        except sqlite3.Error:
            return None
    finally:
        scratch.close()
