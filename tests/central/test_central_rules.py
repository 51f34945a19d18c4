"""Circulation rules as pure functions, and properties of the service over random journals."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from engines import direct
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from central import rules as r
from central.db import Database, copy_database
from central.service import CirculationService, TxIn
from domain.model import ReasonCode, TransactionKind

RULES = r.Rules()
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ANN = r.PatronRow("P1", "Ann", loan_count=2)
BOOK = r.ItemRow("I1", "Boek")


def hold(patron: str, *, days_ago: int, ready: bool = False, hold_id: int = 1) -> r.HoldRow:
    return r.HoldRow(hold_id, "I1", patron, NOW - timedelta(days=days_ago), ready)


def loan(patron: str = "P1", *, days_ago: int = 3, renewals: int = 0) -> r.LoanRow:
    start = NOW - timedelta(days=days_ago)
    return r.LoanRow("I1", patron, start, start.date() + timedelta(days=21), renewals)


def test_the_first_broken_rule_is_the_answer() -> None:
    blocked_and_fined = r.PatronRow("P1", "Ann", blocked=True, fines_cents=5000)
    assert r.decide_checkout(blocked_and_fined, BOOK, None, [], RULES).reason is \
        ReasonCode.BLOCKED
    fined = r.PatronRow("P1", "Ann", fines_cents=1000)
    assert r.decide_checkout(fined, BOOK, None, [], RULES).reason is ReasonCode.FINES_TOO_HIGH
    almost = r.PatronRow("P1", "Ann", fines_cents=999)
    assert r.decide_checkout(almost, BOOK, None, [], RULES).action is r.Action.LEND


def test_personal_loan_limit_overrides_the_library_default() -> None:
    generous = r.PatronRow("P1", "Ann", loan_limit=20, loan_count=15)
    assert r.decide_checkout(generous, BOOK, None, [], RULES).action is r.Action.LEND
    strict = r.PatronRow("P1", "Ann", loan_limit=1, loan_count=1)
    assert r.decide_checkout(strict, BOOK, None, [], RULES).reason is ReasonCode.TOO_MANY_ITEMS


def test_a_ready_hold_goes_before_an_older_waiting_one() -> None:
    holds = [hold("P2", days_ago=9, hold_id=1), hold("P3", days_ago=2, ready=True, hold_id=2)]
    assert r.first_hold(holds).patron_id == "P3"
    assert r.on_hold_for_other(holds, "P2") is True
    assert r.decide_checkout(r.PatronRow("P3", "C"), BOOK, None, holds, RULES).action is \
        r.Action.LEND


def test_renewal_never_shortens_a_loan() -> None:
    long_loan = r.LoanRow("I1", "P1", NOW, date(2026, 6, 1))
    assert r.renewed_due(long_loan, NOW.date(), RULES) == date(2026, 6, 1)
    assert r.renewed_due(loan(), NOW.date(), RULES) == NOW.date() + timedelta(days=21)


def test_offline_rules() -> None:
    other_since_before = loan("P2", days_ago=5)
    decision = r.decide_offline_checkout(ANN, BOOK, other_since_before, [], NOW, RULES)
    assert decision.action is r.Action.RETURN_THEN_LEND
    other_since_after = r.LoanRow("I1", "P2", NOW + timedelta(hours=1), NOW.date())
    assert r.decide_offline_checkout(ANN, BOOK, other_since_after, [], NOW, RULES).action is \
        r.Action.CONFLICT
    at_limit = r.PatronRow("P1", "Ann", loan_count=10, blocked=True)
    lend = r.decide_offline_checkout(at_limit, BOOK, None, [], NOW, RULES)
    assert lend.action is r.Action.LEND and len(lend.notes) == 2
    assert r.decide_offline_checkin(BOOK, other_since_after, NOW).action is r.Action.NOTHING
    assert r.decide_offline_checkin(BOOK, other_since_before, NOW).action is r.Action.RETURN


def test_returned_items_go_to_their_collection_or_the_hold_shelf() -> None:
    youth = r.ItemRow("I1", "Kinderboek", collection="J")
    assert r.sort_bin(youth, []) == (False, "J")
    assert r.sort_bin(youth, [hold("P2", days_ago=1)]) == (True, r.HOLD_SHELF_BIN)


# ---------------------------------------------------------------- properties over journals

PATRONS = ("P0001", "P0002", "P0003", "P0006", "P4040")  # normal, normal, blocked, at limit, ?
ITEMS = ("3700000000112", "3700000000518", "3700000000549", "3700000000013", "0000000000000")

journal_entry = st.fixed_dictionaries({
    "kind": st.sampled_from([TransactionKind.CHECKOUT, TransactionKind.CHECKIN,
                             TransactionKind.RENEW, TransactionKind.VOID]),
    "patron": st.sampled_from(PATRONS),
    "item": st.sampled_from(ITEMS),
    "offline": st.booleans(),
    "hours_ago": st.integers(min_value=0, max_value=24 * 40),
    "ref": st.integers(min_value=0, max_value=30),
})


def _journal(entries: list[dict]) -> list[TxIn]:
    txs: list[TxIn] = []
    for n, e in enumerate(entries):
        ref = txs[e["ref"] % n].tx_id if n and e["kind"] is TransactionKind.VOID else None
        if e["kind"] is TransactionKind.VOID and ref is None:
            ref = str(uuid.uuid4())  # a transaction the server never saw
        txs.append(TxIn(
            tx_id=str(uuid.uuid4()), kind=e["kind"], item_id=e["item"],
            created_at=datetime.now(UTC) - timedelta(hours=e["hours_ago"]),
            kiosk_id="demo-kiosk-1", offline=e["offline"], ref_tx_id=ref,
            patron_id=None if e["kind"] is TransactionKind.CHECKIN else e["patron"]))
    return txs


def _state(db_path: Path) -> list:
    with direct(db_path) as conn:
        return [conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                for table in ("loans", "holds", "events", "conflicts")]


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(journal_entry, min_size=1, max_size=25))
def test_replaying_a_journal_twice_changes_nothing_the_second_time(
        seeded_template: Path, tmp_path: Path, entries: list[dict]) -> None:
    db_path = copy_database(seeded_template, tmp_path / f"{uuid.uuid4()}.db")
    with Database(db_path) as db:
        service = CirculationService(db)
        txs = _journal(entries)
        first = service.batch(txs, "demo-kiosk-1")
        state = _state(db_path)
        assert service.batch(txs, "demo-kiosk-1") == first
        assert _state(db_path) == state
        with direct(db_path) as conn:
            holders = dict(conn.execute("SELECT patron_id, COUNT(*) FROM loans "
                                        "GROUP BY patron_id").fetchall())
    assert all(result["status"] in ("done", "conflict", "rejected") for result in first)
    assert "P4040" not in holders  # an unknown patron never gets a loan
    # Online loans respect the loan limit (10); only offline loans may exceed it.
    if not any(e["offline"] for e in entries):
        assert holders.get("P0006", 0) <= 10
        assert holders.get("P0003", 0) <= 1  # blocked: keeps the one loan from the seed
    db_path.unlink()


def test_the_library_day_is_local_not_utc(seeded_template: Path, tmp_path: Path,
                                          monkeypatch) -> None:
    """00:30 in Ghent is 23:30 UTC the evening before: the loan, its due date and the staff
    dashboard's "today" belong to the Belgian day (kiosk-central.service sets TZ)."""
    from central.dashboard import fleet
    from domain.demo_library import AVAILABLE_ITEMS, DEMO_KIOSK_ID

    monkeypatch.setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3")  # POSIX rule: no tzdata needed
    time.tzset()
    try:
        late = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
        db_path = copy_database(seeded_template, tmp_path / "central.db")
        with Database(db_path) as db:
            service = CirculationService(db, clock=lambda: late)
            answer = service.transact(TxIn(
                tx_id=str(uuid.uuid4()), kind=TransactionKind.CHECKOUT,
                item_id=AVAILABLE_ITEMS[0], created_at=late, kiosk_id=DEMO_KIOSK_ID,
                patron_id="P0001"))
            assert answer["ok"] and answer["due"] == "2026-03-23"  # 2 March + 21 days
            board = fleet(db, now=late)
        assert board["day"] == "2026-03-02"
        [kiosk] = [k for k in board["kiosks"] if k["kiosk_id"] == DEMO_KIOSK_ID]
        assert kiosk["loans_today"] == 1
    finally:
        monkeypatch.undo()  # the zone this run had before, then make C library see it
        time.tzset()


def test_an_offline_loan_keeps_the_due_date_the_patron_was_promised_when_plausible() -> None:
    start = date(2026, 12, 3)
    own = start + timedelta(days=RULES.loan_period_days)
    assert r.due_date(start, RULES) == own
    assert r.due_date(start, RULES, own + timedelta(days=1)) == own + timedelta(days=1)
    assert r.due_date(start, RULES, start) == start
    # a kiosk cannot promise a year, nor a day before the loan
    assert r.due_date(start, RULES, own + timedelta(days=r.PROMISE_SLACK_DAYS + 1)) == own
    assert r.due_date(start, RULES, start - timedelta(days=1)) == own
