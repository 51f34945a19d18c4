"""The journal under the faults an SD card brings: damaged pages, a garbage write-ahead log, a
newer schema, a full disk; and its upkeep (retention, orphans, privacy of finished rows)."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from domain.demo_library import AVAILABLE_ITEMS, SEED_PATRONS
from domain.model import Outcome, Transaction, TransactionKind
from kiosk.journal import Journal, JournalFull, State
from kiosk.journal_salvage import wal_damaged


def _tx(item: str, patron: str | None = "P-1") -> Transaction:
    return Transaction(TransactionKind.CHECKOUT, patron, item, offline=True)


def _fill(journal: Journal, n: int) -> list[str]:
    ids = []
    for i in range(n):
        tx = _tx(f"item-{i:03d}-" + "x" * 300)
        journal.record(tx, State.PENDING)
        ids.append(tx.tx_id)
    return ids


def test_a_newer_schema_is_moved_aside_and_every_pending_row_comes_back(tmp_path) -> None:
    path = tmp_path / "j.db"
    with Journal(path) as journal:
        ids = _fill(journal, 40)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with Journal(path) as journal:
        assert journal.moved_aside is not None
        assert [t.tx_id for t in journal.forwardable(1000)] == ids
        report = journal.salvage
        assert report is not None and report.recovered == 40 and report.complete
        assert journal.health()["ok"]


def test_damaged_pages_lose_only_the_rows_on_them_and_raise_a_fault(tmp_path, caplog) -> None:
    path = tmp_path / "j.db"
    with Journal(path) as journal:
        ids = _fill(journal, 40)
    data = path.read_bytes()
    page = 4096
    hit = data.index(b"item-020-") // page * page  # the page holding row 20 (and neighbours)
    with open(path, "r+b") as f:
        f.seek(hit)
        f.write(os.urandom(page))
    caplog.set_level(logging.ERROR)
    with Journal(path) as journal:
        back = [t.tx_id for t in journal.forwardable(1000)]
        report = journal.salvage
        healthy = journal.health()["ok"]
    assert report is not None and report.recovered == len(back)
    assert 25 <= len(back) < 40, len(back)  # only the rows on the damaged page are gone
    assert ids[20] not in back
    assert back == [i for i in ids if i in back]  # in their order
    assert not report.complete and not healthy
    assert "SOME COULD NOT BE READ" in caplog.text


def test_a_garbage_write_ahead_log_is_noticed_not_silently_dropped(tmp_path, caplog) -> None:
    path = tmp_path / "j.db"
    journal = Journal(path)
    _fill(journal, 40)  # all still in the WAL: no checkpoint yet
    copy = tmp_path / "copy.db"
    for suffix in ("", "-wal"):
        Path(f"{copy}{suffix}").write_bytes(Path(f"{path}{suffix}").read_bytes())
    journal.close()
    wal = Path(f"{copy}-wal")
    wal.write_bytes(os.urandom(wal.stat().st_size))
    assert wal_damaged(copy)
    caplog.set_level(logging.ERROR)
    with Journal(copy) as damaged:
        report = damaged.salvage
        health = damaged.health()
    assert report is not None and report.wal_damaged and not report.complete
    assert not health["ok"]  # a device fault for staff
    assert "write-ahead log" in caplog.text


def test_a_valid_write_ahead_log_is_not_taken_for_damage(tmp_path) -> None:
    path = tmp_path / "j.db"
    journal = Journal(path)
    _fill(journal, 5)
    assert Path(f"{path}-wal").stat().st_size > 0
    assert not wal_damaged(path)
    journal.close()


# ---------------------------------------------------------------- a full disk


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB file system of its own (tmpfs, as root), so "full" is the kernel's ENOSPC."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def _fill_disk(folder: Path) -> Path:
    filler = folder / "filler"
    # unbuffered: a write the disk refused must not wait in a buffer for close() to fail on
    with open(filler, "wb", buffering=0) as f, contextlib.suppress(OSError):  # until ENOSPC
        while True:
            f.write(b"\0" * 65536)
    return filler


def test_on_a_full_disk_online_rows_are_journaled_and_settled_from_the_reserve(
        small_disk) -> None:
    from domain.model import ReplayResult, ReplayStatus

    with Journal(small_disk / "j.db", min_free_bytes=512 * 1024,
                 reserve_bytes=512 * 1024) as journal:
        assert journal.reserve_in_place
        pending = _fill(journal, 5)
        filler = _fill_disk(small_disk)
        with pytest.raises(JournalFull):  # offline: refused, the queue is capped
            journal.record(_tx("offline"), State.PENDING)
        for n in range(100):  # online: journaled all the same, long after the disk is full
            online = Transaction(TransactionKind.CHECKOUT, "P-1", f"online-{n}-" + "z" * 400)
            journal.record(online, State.INFLIGHT)
            journal.settle(online.tx_id, Outcome(ok=True, item_id=online.item_id))
        # draining works on the full disk: settling frees space
        journal.mark_sent(pending)
        journal.record_results([ReplayResult(t, ReplayStatus.DONE) for t in pending])
        assert journal.pending_count() == 0
        filler.unlink()
        assert journal.keep_reserve() and journal.reserve_in_place
        assert (small_disk / "j.db.reserve").stat().st_size == 512 * 1024  # topped up again


_KILLED_ON_A_FULL_DISK = """
import os, sys
from domain.model import Outcome, Transaction, TransactionKind
from kiosk.journal import Journal, JournalFull, State
journal = Journal(sys.argv[1], min_free_bytes=1 << 20, reserve_bytes=256 * 1024)
with open(sys.argv[2], "ab", buffering=0) as filler:  # whatever room is left, gone
    try:
        while True:
            filler.write(b"0" * 4096)
    except OSError:
        pass
for n in range(int(sys.argv[3])):
    tx = Transaction(TransactionKind.CHECKOUT, "P-1", f"item-{n}-" + "q" * 600)
    try:
        journal.record(tx, State.INFLIGHT)
        journal.settle(tx.tx_id, Outcome(ok=True, item_id=tx.item_id))
    except JournalFull:
        os._exit(3)
os._exit(0)  # as a SIGKILL would: no checkpoint, no close
"""


def test_a_journal_killed_again_and_again_on_a_full_disk_can_always_settle(
        small_disk) -> None:
    """Processes that die never fold the write-ahead log into the database; on a nearly full
    disk the log once grew until the disk was full of pages the database had to grow to take,
    and no loan could be journaled again, by that process or any later one."""
    import sys

    path, filler = small_disk / "j.db", small_disk / "filler"
    with open(filler, "wb") as f:  # all but 600 KB: less than the reserve and the margin
        f.write(b"\0" * (3 * 1024 * 1024 - 600 * 1024))
    for life in range(12):
        result = subprocess.run([sys.executable, "-c", _KILLED_ON_A_FULL_DISK, str(path),
                                 str(filler), str(60 + 20 * life)], capture_output=True,
                                timeout=60)
        assert result.returncode == 0, (life, result.stderr.decode()[-2000:])
        os.truncate(filler, max(0, filler.stat().st_size - 96 * 1024))  # a little room again


def test_when_even_the_reserve_is_gone_an_online_loan_is_refused_before_sending(
        small_disk, twin) -> None:
    from domain.model import Patron, ReasonCode
    from kiosk.circulation import CirculationService
    from kiosk.connectivity import Connectivity

    with Journal(small_disk / "j.db", min_free_bytes=0, reserve_bytes=0) as journal:
        circulation = CirculationService(twin.backend(), journal, connectivity=Connectivity())
        _fill_disk(small_disk)
        for n in range(200):  # the last pages SQLite had in hand
            try:
                journal.record(_tx(f"pad-{n}" + "y" * 500), State.INFLIGHT)
            except JournalFull:
                break
        outcome = circulation.checkout(Patron(SEED_PATRONS[14].patron_id), AVAILABLE_ITEMS[0])
    assert not outcome.ok and outcome.reason is ReasonCode.JOURNAL_FULL
    # nothing the kiosk could not journal reached the library
    assert ("POST", "/v1/checkout") not in twin.requests


# ---------------------------------------------------------------- upkeep


def test_finished_rows_keep_no_patron_and_conflicts_go_when_resolved_or_old(tmp_path) -> None:
    from domain.model import ReplayResult, ReplayStatus

    path = tmp_path / "j.db"
    card = "barcode:21000000000017"  # the "format" offline policy's stand-in patron
    with Journal(path, retention=timedelta(seconds=1),
                 conflict_max_age=timedelta(days=30)) as journal:
        a, b, c = (_tx(f"i{n}", card) for n in range(3))
        for tx in (a, b, c):
            journal.record(tx, State.PENDING)
        journal.mark_sent([a.tx_id, b.tx_id, c.tx_id])
        journal.record_results([ReplayResult(a.tx_id, ReplayStatus.DONE),
                                ReplayResult(b.tx_id, ReplayStatus.CONFLICT, detail="x"),
                                ReplayResult(c.tx_id, ReplayStatus.REJECTED, detail="y")])
        journal.scrub()
        raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
        assert b"21000000000017" not in raw
        assert journal.forget_resolved([b.tx_id]) == 1
        journal.conflict_max_age = timedelta(0)
        journal.retention = timedelta(0)
        journal.purge()
        assert journal.rows() == []


def test_a_row_left_in_doubt_is_voided_in_the_next_round_not_at_restart(tmp_path,
                                                                        twin) -> None:
    from kiosk.connectivity import Connectivity
    from kiosk.sync import SyncWorker

    with Journal(tmp_path / "j.db") as journal:
        lost = Transaction(TransactionKind.CHECKOUT, "P-1", "I-1")
        journal.record(lost, State.INFLIGHT)
        journal.release(lost.tx_id)  # the call that wrote it failed and gave up
        told = Transaction(TransactionKind.CHECKOUT, "P-1", "I-2")
        journal.record(told, State.INFLIGHT)  # the server said yes, the write failed
        journal._unsettled[told.tx_id] = Outcome(ok=True, item_id="I-2")
        journal.release(told.tx_id)
        working = Transaction(TransactionKind.CHECKOUT, "P-1", "I-3")
        journal.record(working, State.INFLIGHT)  # still being sent: left alone
        SyncWorker(journal, twin.backend(), connectivity=Connectivity()).maintain()
        rows = {r.item_id: r.state for r in journal.rows(states=(
            State.INFLIGHT, State.PENDING, State.VOIDED, State.DONE))}
        voids = [t for t in journal.forwardable() if t.kind is TransactionKind.VOID]
    assert [v.ref_tx_id for v in voids] == [lost.tx_id]
    assert rows["I-3"] == State.INFLIGHT
    assert "I-2" not in rows or rows["I-2"] == State.DONE  # settled (then purged), never voided
