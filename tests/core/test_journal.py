"""The journal on real SQLite files: durability, order, corruption, full disk, privacy."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

import pytest

from domain.model import (
    Credential,
    CredentialKind,
    Outcome,
    ReasonCode,
    ReplayResult,
    ReplayStatus,
    Transaction,
    TransactionKind,
)
from kiosk.journal import _MIGRATIONS, SCHEMA_VERSION, Journal, JournalFull, State


def _tx(item: str, kind: TransactionKind = TransactionKind.CHECKOUT) -> Transaction:
    return Transaction(kind=kind, patron_id="P-0001", item_id=item, offline=True, kiosk_id="k1")


def test_pending_transactions_survive_a_reopen_in_order(tmp_path):
    path = tmp_path / "journal.db"
    with Journal(path) as journal:
        txs = [_tx(f"item-{i}") for i in range(5)]
        for tx in txs:
            journal.record(tx, State.PENDING)
    with Journal(path) as journal:
        again = journal.forwardable()
    assert [t.tx_id for t in again] == [t.tx_id for t in txs]
    assert again[0].created_at == txs[0].created_at
    assert again[0].offline is True


def test_sent_but_unanswered_rows_stay_forwardable(tmp_path):
    with Journal(tmp_path / "j.db") as journal:
        tx = _tx("a")
        journal.record(tx, State.PENDING)
        journal.mark_sent([tx.tx_id])
        assert [t.tx_id for t in journal.forwardable()] == [tx.tx_id]
        journal.mark_failed([tx.tx_id], "timeout")
        row = journal.rows()[0]
        assert (row.state, row.attempts, row.last_error) == ("pending", 1, "timeout")


def test_rows_that_may_have_reached_the_server_say_so(tmp_path):
    """A backend without idempotency keys (SIP2) must look before sending these again."""
    with Journal(tmp_path / "j.db") as journal:
        never_sent, unanswered = _tx("a"), _tx("b")
        journal.record(never_sent, State.PENDING)
        journal.record(unanswered, State.PENDING)
        journal.mark_sent([unanswered.tx_id])
        journal.mark_failed([unanswered.tx_id], "timeout")
        online = Transaction(TransactionKind.CHECKOUT, "P-0001", "c", kiosk_id="k1")
        journal.record(online, State.INFLIGHT)
        assert journal.go_offline(online).maybe_applied  # the line dropped mid-request
    with Journal(tmp_path / "j.db") as journal:  # and it survives a restart
        flags = {t.item_id: t.maybe_applied for t in journal.forwardable()}
    assert flags == {"a": False, "b": True, "c": True}


def test_done_rows_are_purged_at_once_by_default_and_conflicts_kept(tmp_path):
    with Journal(tmp_path / "j.db") as journal:
        ok, clash = _tx("a"), _tx("b")
        journal.record(ok, State.PENDING)
        journal.record(clash, State.PENDING)
        journal.record_results([
            ReplayResult(ok.tx_id, ReplayStatus.DONE, Outcome(ok=True, item_id="a")),
            ReplayResult(clash.tx_id, ReplayStatus.CONFLICT, None, "lent to someone else"),
        ])
        assert journal.counts() == {"conflict": 1}
        assert journal.rows()[0].last_error == "lent to someone else"


def test_retention_keeps_done_rows_until_purged(tmp_path):
    with Journal(tmp_path / "j.db", retention=timedelta(days=1)) as journal:
        tx = _tx("a")
        journal.record(tx, State.PENDING)
        journal.record_results([ReplayResult(tx.tx_id, ReplayStatus.DONE)])
        assert journal.counts() == {"done": 1}
        assert journal.purge() == 0
        journal.retention = timedelta(0)
        assert journal.purge() == 1


def test_interrupted_inflight_transactions_are_voided_at_start(tmp_path):
    path = tmp_path / "j.db"
    with Journal(path) as journal:
        tx = Transaction(kind=TransactionKind.CHECKOUT, patron_id="P", item_id="x")
        journal.record(tx, State.INFLIGHT)
    with Journal(path) as journal:
        assert journal.recover_inflight() == [tx.tx_id]
        (void,) = journal.forwardable()
        assert void.kind == TransactionKind.VOID and void.ref_tx_id == tx.tx_id
        assert void.ref_kind == TransactionKind.CHECKOUT
        assert void.item_id == "x"
        assert journal.recover_inflight() == []


def test_a_renewal_keeps_the_due_date_seen_before_it_also_in_its_void(tmp_path):
    """SIP2 reads a renewal back by the due date moving: the date must survive a restart, go
    offline with the row, and pass to the VOID of an interrupted renewal."""
    path = tmp_path / "j.db"
    seen = date(2031, 5, 17)
    with Journal(path) as journal:
        queued = Transaction(TransactionKind.RENEW, "P", "x", offline=True, due_before=seen)
        journal.record(queued, State.PENDING)
        online = Transaction(TransactionKind.RENEW, "P", "y", due_before=seen)
        journal.record(online, State.INFLIGHT)
        assert journal.go_offline(online).due_before == seen
        interrupted = Transaction(TransactionKind.RENEW, "P", "z", due_before=date(2031, 6, 1))
        journal.record(interrupted, State.INFLIGHT)
        journal.record(_tx("w"), State.PENDING)  # not a renewal: no date
    with Journal(path) as journal:
        journal.recover_inflight()
        rows = {t.item_id: t for t in journal.forwardable()}
    assert rows["x"].due_before == seen and rows["y"].due_before == seen
    assert rows["z"].kind is TransactionKind.VOID and rows["z"].ref_kind is TransactionKind.RENEW
    assert rows["z"].due_before == date(2031, 6, 1)
    assert rows["w"].due_before is None


def test_a_corrupt_journal_is_moved_aside_and_a_fresh_one_works(tmp_path):
    path = tmp_path / "journal.db"
    with Journal(path) as journal:
        journal.record(_tx("a"), State.PENDING)
    path.write_bytes(b"this is not a database" * 100)
    with Journal(path) as journal:
        assert journal.moved_aside is not None and journal.moved_aside.exists()
        assert journal.moved_aside.read_bytes().startswith(b"this is not a database")
        assert journal.forwardable() == []
        journal.record(_tx("b"), State.PENDING)
        assert len(journal.forwardable()) == 1


def test_a_full_journal_refuses_new_rows_and_keeps_the_old_ones(tmp_path):
    path = tmp_path / "journal.db"
    with Journal(path, max_pages=12) as journal:
        kept: list[str] = []
        with pytest.raises(JournalFull):
            for i in range(10_000):
                tx = _tx(f"item-{i:05d}-" + "x" * 200)
                journal.record(tx, State.PENDING)
                kept.append(tx.tx_id)
        assert [t.tx_id for t in journal.forwardable(limit=100_000)] == kept
    with Journal(path) as journal:  # still intact on disk after the failure
        assert len(journal.forwardable(limit=100_000)) == len(kept)


def test_too_little_free_disk_space_refuses_offline_rows(tmp_path):
    with Journal(tmp_path / "j.db", min_free_bytes=1 << 62) as journal:
        with pytest.raises(JournalFull):
            journal.record(_tx("a"), State.PENDING)
        assert journal.forwardable() == []


def test_the_offline_patron_cache_keeps_no_card_number(tmp_path):
    path = tmp_path / "j.db"
    card = Credential(CredentialKind.BARCODE, "21000000000017")
    with Journal(path) as journal:
        journal.remember_patron(card, "P-7", blocked=False)
        cached = journal.cached_patron(card)
        assert cached is not None and cached.patron_id == "P-7" and not cached.blocked
        assert journal.cached_patron(Credential(CredentialKind.BARCODE, "99")) is None
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"21000000000017" not in raw


def test_wal_and_full_synchronous_are_in_force(tmp_path):
    path = tmp_path / "j.db"
    with Journal(path) as journal:
        journal.record(_tx("a"), State.PENDING)
        mode = journal._db.execute("PRAGMA journal_mode").fetchone()[0]
        sync = journal._db.execute("PRAGMA synchronous").fetchone()[0]
    assert (mode, sync) == ("wal", 2)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_version_3_journal_is_migrated_and_loses_nothing(tmp_path):
    """A kiosk updated with offline loans still queued: they are all still forwarded."""
    path = tmp_path / "j.db"
    queued = _tx("queued-before-the-update")
    with sqlite3.connect(path) as db:
        for version in (1, 2, 3):
            for statement in filter(str.strip, _MIGRATIONS[version].split(";")):
                db.execute(statement)
        db.execute("PRAGMA user_version = 3")
        db.execute("INSERT INTO transactions (tx_id, kind, patron_id, item_id, created_at,"
                   " offline, kiosk_id, state, updated_at) VALUES (?,?,?,?,?,1,'k1','pending',?)",
                   (queued.tx_id, "checkout", "P-0001", queued.item_id,
                    queued.created_at.isoformat(), queued.created_at.isoformat()))
        db.execute("INSERT INTO patron_cache VALUES ('h', 'P-0001', 1, ?)",
                   (queued.created_at.isoformat(),))
    with Journal(path) as journal:
        assert [t.tx_id for t in journal.forwardable()] == [queued.tx_id]
        card = Credential(CredentialKind.BARCODE, "21000000000017")
        journal.remember_patron(card, "P-7", blocked=True, block_reason=ReasonCode.CARD_EXPIRED)
        cached = journal.cached_patron(card)
        assert cached is not None and cached.block_reason is ReasonCode.CARD_EXPIRED
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM patron_cache").fetchone()[0] == 2


def test_a_version_4_journal_is_migrated_and_forwards_every_queued_row(tmp_path):
    """The update that adds `due_before`: rows queued before it are all still forwarded, with
    no due date (a SIP2 renewal among them is sent as before), and new rows keep theirs."""
    path = tmp_path / "j.db"
    queued = [_tx("queued-loan"), _tx("queued-return", TransactionKind.CHECKIN),
              _tx("queued-renewal", TransactionKind.RENEW)]
    with sqlite3.connect(path) as db:
        for version in (1, 2, 3, 4):
            for statement in filter(str.strip, _MIGRATIONS[version].split(";")):
                db.execute(statement)
        db.execute("PRAGMA user_version = 4")
        for tx, attempts in zip(queued, (0, 0, 1), strict=True):
            db.execute("INSERT INTO transactions (tx_id, kind, patron_id, item_id, created_at,"
                       " offline, kiosk_id, state, attempts, updated_at)"
                       " VALUES (?,?,?,?,?,1,'k1','pending',?,?)",
                       (tx.tx_id, tx.kind.value, "P-0001", tx.item_id,
                        tx.created_at.isoformat(), attempts, tx.created_at.isoformat()))
    with Journal(path) as journal:
        forwarded = journal.forwardable()
        assert [t.tx_id for t in forwarded] == [t.tx_id for t in queued]
        assert [t.kind for t in forwarded] == [t.kind for t in queued]
        assert all(t.due_before is None for t in forwarded)
        assert forwarded[2].maybe_applied
        later = Transaction(TransactionKind.RENEW, "P-0001", "renewed-after", offline=True,
                            due_before=date(2031, 1, 2))
        journal.record(later, State.PENDING)
        assert journal.forwardable()[-1].due_before == date(2031, 1, 2)
        assert all(t.promised_due is None for t in forwarded)  # v6: no promise was recorded
        promised = Transaction(TransactionKind.CHECKOUT, "P-0001", "lent-offline", offline=True,
                               promised_due=date(2031, 2, 3))
        journal.record(promised, State.PENDING)
        assert journal.forwardable()[-1].promised_due == date(2031, 2, 3)
        journal.remember_titles({"lent-offline": "De verloren rivier"})
        assert journal.titles_of(["lent-offline", "never-seen"]) == {
            "lent-offline": "De verloren rivier"}
        assert journal.record_visits([("v-1", "{}")]) and journal.visit_count() == 1  # v8
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8


def test_a_journal_from_a_newer_kiosk_version_is_not_overwritten_silently(tmp_path):
    path = tmp_path / "j.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with Journal(path) as journal:
        assert journal.moved_aside is not None
    with sqlite3.connect(journal.moved_aside) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 99
