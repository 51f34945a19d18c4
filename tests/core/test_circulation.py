"""Circulation against the reference service, online first, the offline policy second. The
service runs in this process (the `twin`); a stalled server needs a real socket (`library`)."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from domain.demo_library import AVAILABLE_ITEMS, HELD_ITEMS, SEED_PATRONS, WAITED_FOR_ITEM
from domain.model import Credential, CredentialKind, Patron, ReasonCode
from domain.opening import WEEKDAYS
from kiosk import config
from kiosk.circulation import OfflinePolicy
from kiosk.journal import State

PLAIN = next(p for p in SEED_PATRONS if p.patron_id == "P0015")
OTHER = next(p for p in SEED_PATRONS if p.patron_id == "P0017")
BLOCKED = next(p for p in SEED_PATRONS if p.role == "blocked")


def _card(patron) -> Credential:
    return Credential(CredentialKind.BARCODE, patron.barcode)


def _loans(core, patron_id: str) -> set[str]:
    return {loan.item_id for loan in core.backend.account(patron_id).loans}


def test_an_online_loan_is_answered_with_title_and_due_date_and_leaves_no_trace(make_core, twin):
    core = make_core(on=twin)
    patron = core.circulation.identify(_card(PLAIN)).patron
    assert patron is not None and patron.patron_id == PLAIN.patron_id
    outcome = core.circulation.checkout(patron, AVAILABLE_ITEMS[0])
    assert outcome.ok and not outcome.offline
    assert outcome.title and outcome.due == date.today() + timedelta(days=21)
    assert core.journal.counts() == {}  # purged at once: nothing about the patron stays
    assert AVAILABLE_ITEMS[0] in _loans(core, PLAIN.patron_id)


def test_a_refusal_carries_a_reason_the_ui_can_translate(make_core, twin):
    core = make_core(on=twin)
    patron = core.circulation.identify(_card(PLAIN)).patron
    outcome = core.circulation.checkout(patron, HELD_ITEMS[0])
    assert not outcome.ok and outcome.reason == ReasonCode.ON_HOLD_FOR_OTHER
    assert outcome.screen_message and outcome.title  # "Not borrowed: <title>"
    assert core.journal.counts() == {}


def test_offline_a_recently_seen_card_may_borrow_and_the_loan_arrives_later(make_core, twin):
    core = make_core(on=twin)
    core.circulation.identify(_card(PLAIN))  # seen valid online: cached (hashed)
    twin.go_offline()
    result = core.circulation.identify(_card(PLAIN))
    assert result.offline and result.patron is not None
    outcome = core.circulation.checkout(result.patron, AVAILABLE_ITEMS[1])
    assert outcome.ok and outcome.offline and outcome.tx_id
    assert core.journal.pending_count() == 1
    twin.go_online()
    report = core.sync.drain()
    assert (report.done, report.remaining) == (1, 0)
    assert AVAILABLE_ITEMS[1] in _loans(core, PLAIN.patron_id)


def test_offline_a_loan_is_promised_a_due_date_on_an_opening_day_and_the_library_keeps_it(
        make_core, twin):
    usual = date.today() + timedelta(days=21)
    closed = WEEKDAYS[usual.weekday()]  # the usual due day is a closing day this time
    core = make_core(on=twin, library_section=config.LibrarySection(closed_weekdays=[closed]))
    core.circulation.identify(_card(PLAIN))
    twin.go_offline()
    patron = core.circulation.identify(_card(PLAIN)).patron
    outcome = core.circulation.checkout(patron, AVAILABLE_ITEMS[2])
    assert outcome.ok and outcome.offline
    assert outcome.due == usual + timedelta(days=1)  # the next opening day
    twin.go_online()
    assert core.sync.drain().done == 1
    (loan,) = [x for x in core.backend.account(PLAIN.patron_id).loans
               if x.item_id == AVAILABLE_ITEMS[2]]
    assert loan.due == outcome.due  # the library's record says what the patron was told


def test_a_last_pick_up_day_on_a_closing_day_moves_to_the_next_opening_day(make_core, twin):
    waiting = next(p for p in SEED_PATRONS if p.patron_id == "P0007")  # a hold on the shelf
    core = make_core(on=twin)
    (ready,) = [h for h in core.backend.account(waiting.patron_id).holds if h.ready]
    assert ready.pickup_until is not None
    closed = WEEKDAYS[ready.pickup_until.weekday()]
    core = make_core(on=twin, library_section=config.LibrarySection(closed_weekdays=[closed]))
    patron = core.circulation.identify(_card(waiting)).patron
    account = core.circulation.account(patron)
    (shown,) = [h for h in account.holds if h.ready]
    assert shown.pickup_until == ready.pickup_until + timedelta(days=1)


def test_offline_an_item_seen_online_keeps_its_title(make_core, twin):
    core = make_core(on=twin)
    patron = core.circulation.identify(_card(PLAIN)).patron
    title = core.circulation.checkout(patron, AVAILABLE_ITEMS[3]).title
    assert title
    assert core.journal.titles_of([AVAILABLE_ITEMS[3]]) == {}  # nothing written mid-visit
    core.circulation.visit_over()  # the patron has gone: now the title is kept
    twin.go_offline()
    returned = core.circulation.checkin(AVAILABLE_ITEMS[3])
    assert returned.ok and returned.offline and returned.title == title
    unseen = core.circulation.checkin(AVAILABLE_ITEMS[4])
    assert unseen.ok and unseen.title == ""  # never seen: the screen shows its number
    twin.go_online()
    assert core.sync.drain().done == 2


def test_offline_an_unknown_card_is_refused_under_the_cache_policy(make_core, twin):
    core = make_core(on=twin)
    twin.go_offline()
    result = core.circulation.identify(_card(PLAIN))
    assert result.patron is None and result.reason == ReasonCode.PATRON_NOT_VERIFIED


def test_offline_the_format_policy_lets_any_wellformed_card_borrow(make_core, twin):
    core = make_core(on=twin, policy=OfflinePolicy(patron_check="format",
                                                   card_pattern=r"^21\d{11}$"))
    twin.go_offline()
    assert core.circulation.identify(Credential(CredentialKind.BARCODE, "99")).reason == (
        ReasonCode.INVALID_CARD)
    result = core.circulation.identify(_card(OTHER))
    assert result.patron is not None
    assert core.circulation.checkout(result.patron, AVAILABLE_ITEMS[2]).ok
    twin.go_online()
    assert core.sync.drain().done == 1
    assert AVAILABLE_ITEMS[2] in _loans(core, OTHER.patron_id)


def test_offline_item_limit_and_blocked_patrons(make_core, twin):
    core = make_core(on=twin, policy=OfflinePolicy(max_items_per_patron=2))
    plain = core.circulation.identify(_card(PLAIN)).patron
    blocked = core.circulation.identify(_card(BLOCKED)).patron
    assert blocked is not None and blocked.blocked
    twin.go_offline()
    assert [core.circulation.checkout(plain, i).ok for i in AVAILABLE_ITEMS[3:6]] == [
        True, True, False]
    assert core.circulation.checkout(plain, AVAILABLE_ITEMS[6]).reason == ReasonCode.OFFLINE_LIMIT
    offline_blocked = core.circulation.identify(_card(BLOCKED)).patron
    assert not core.circulation.checkout(offline_blocked, AVAILABLE_ITEMS[7]).ok


def test_offline_a_blocked_card_hears_the_same_reason_as_online(make_core, twin):
    expired = next(p for p in SEED_PATRONS if p.role == "card_expired")
    core = make_core(on=twin)
    online = core.circulation.identify(_card(expired)).patron
    assert online is not None and online.block_reason == ReasonCode.CARD_EXPIRED
    twin.go_offline()
    offline = core.circulation.identify(_card(expired))
    assert offline.offline and offline.patron is not None
    assert offline.patron.block_reason == ReasonCode.CARD_EXPIRED  # not a bare "blocked"
    refused = core.circulation.checkout(offline.patron, AVAILABLE_ITEMS[7])
    assert (refused.ok, refused.reason) == (False, ReasonCode.CARD_EXPIRED)


def test_offline_returns_are_always_accepted(make_core, twin):
    core = make_core(on=twin, policy=OfflinePolicy(allow_checkout=False))
    twin.go_offline()
    outcome = core.circulation.checkin(WAITED_FOR_ITEM)
    assert outcome.ok and outcome.offline
    twin.go_online()
    assert core.sync.drain().done == 1


def test_a_queued_offline_return_reaches_the_server_before_a_new_online_loan(make_core, twin):
    core = make_core(on=twin)
    plain = core.circulation.identify(_card(PLAIN)).patron
    other = core.circulation.identify(_card(OTHER)).patron
    assert core.circulation.checkout(plain, AVAILABLE_ITEMS[8]).ok
    twin.go_offline()
    assert core.circulation.checkin(AVAILABLE_ITEMS[8], plain).offline
    twin.go_online()
    outcome = core.circulation.checkout(other, AVAILABLE_ITEMS[8])  # no ALREADY_ON_LOAN
    assert outcome.ok and not outcome.offline
    assert AVAILABLE_ITEMS[8] in _loans(core, OTHER.patron_id)


def test_a_full_disk_refuses_offline_loans_clearly_and_keeps_earlier_ones(make_core, twin):
    core = make_core(on=twin)
    plain = core.circulation.identify(_card(PLAIN)).patron
    twin.go_offline()
    first = core.circulation.checkout(plain, AVAILABLE_ITEMS[9])
    assert first.ok
    core.journal.min_free_bytes = 1 << 62  # the disk is now "full"
    refused = core.circulation.checkout(plain, AVAILABLE_ITEMS[10])
    assert not refused.ok and refused.reason == ReasonCode.JOURNAL_FULL
    twin.go_online()
    online = core.circulation.checkout(plain, AVAILABLE_ITEMS[11])  # online needs no disk
    assert online.ok and not online.offline
    assert {AVAILABLE_ITEMS[9], AVAILABLE_ITEMS[11]} <= _loans(core, PLAIN.patron_id)
    assert AVAILABLE_ITEMS[10] not in _loans(core, PLAIN.patron_id)


def test_a_stalled_server_times_out_into_the_offline_policy(make_core, library):
    core = make_core()
    plain = core.circulation.identify(_card(PLAIN)).patron
    core.backend.timeout = (0.3, 0.5)  # short only while the server stalls
    library.proxy.mode = "stall"
    outcome = core.circulation.checkout(plain, AVAILABLE_ITEMS[12])
    assert outcome.ok and outcome.offline
    library.proxy.restore()
    core.backend.timeout = (2.0, 10.0)
    assert core.sync.drain().remaining == 0
    assert AVAILABLE_ITEMS[12] in _loans(core, PLAIN.patron_id)


def test_no_pin_and_no_card_number_reach_the_journal_or_the_log(make_core, twin, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    core = make_core(on=twin, journal_path=tmp_path / "private.db")
    result = core.circulation.identify(_card(PLAIN), pin="86420")
    assert result.patron is None and result.reason == ReasonCode.WRONG_PIN
    patron = core.circulation.identify(_card(PLAIN), pin="1234").patron
    core.circulation.checkout(patron, AVAILABLE_ITEMS[13])
    core.journal.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("private.db*"))
    for secret in ("86420", "1234", PLAIN.barcode):
        assert secret.encode() not in stored
        assert secret not in caplog.text


def test_a_transaction_cut_off_before_the_answer_is_voided_on_restart(make_core, twin, tmp_path):
    core = make_core(on=twin, journal_path=tmp_path / "j.db")
    plain = Patron(PLAIN.patron_id)
    from domain.model import Transaction, TransactionKind

    tx = Transaction(TransactionKind.CHECKOUT, plain.patron_id, AVAILABLE_ITEMS[14],
                     kiosk_id="demo-kiosk-1")
    core.journal.record(tx, State.INFLIGHT)
    core.backend.checkout(tx)  # the server applied it ... and the kiosk died before telling
    assert AVAILABLE_ITEMS[14] in _loans(core, PLAIN.patron_id)
    assert core.journal.recover_inflight() == [tx.tx_id]
    assert core.sync.drain().done == 1
    assert AVAILABLE_ITEMS[14] not in _loans(core, PLAIN.patron_id)


def test_a_row_the_server_fails_on_every_time_is_quarantined_the_rest_goes_on(make_core,
                                                                              twin):
    """HTTP 500 for one row while heartbeats succeed: the row and the later return of the same
    book are set aside for staff, the other loans reach the library, the kiosk stays online."""
    core = make_core(on=twin, poison_after=3, batch_size=10)
    plain = core.circulation.identify(_card(PLAIN)).patron
    twin.go_offline()
    first, poison, third = AVAILABLE_ITEMS[40], AVAILABLE_ITEMS[41], AVAILABLE_ITEMS[42]
    for item in (first, poison, third):
        assert core.circulation.checkout(plain, item).offline
    assert core.circulation.checkin(poison, plain).offline
    twin.go_online()
    twin.poison(poison.encode())
    reports = [core.sync.drain() for _ in range(8)]
    assert sum(r.quarantined for r in reports) == 2
    assert core.connectivity.online
    assert {first, third} <= _loans(core, PLAIN.patron_id)
    assert poison not in _loans(core, PLAIN.patron_id)
    held = [r for r in core.journal.rows() if r.state == State.QUARANTINED]
    assert [r.kind for r in held] == ["checkout", "checkin"]
    assert "HTTP 500" in held[0].last_error
    twin.poison(None)
    assert core.journal.release_quarantine() == 2
    assert core.sync.drain().remaining == 0
    assert poison not in _loans(core, PLAIN.patron_id)  # lent, then returned, in that order


def test_borrowing_a_book_you_already_have_says_renewed_and_lists_it_once(make_core, twin):
    core = make_core(on=twin)
    plain = core.circulation.identify(_card(PLAIN)).patron
    first = core.circulation.checkout(plain, AVAILABLE_ITEMS[44])
    again = core.circulation.checkout(plain, AVAILABLE_ITEMS[44])
    assert first.ok and not first.renewed
    assert again.ok and again.renewed and again.due >= first.due
    account = core.circulation.account(plain)
    assert [loan.item_id for loan in account.loans].count(AVAILABLE_ITEMS[44]) == 1
