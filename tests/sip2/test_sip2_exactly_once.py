"""A checkout or renewal whose answer was lost reaches the library exactly once.

SIP2 has no idempotency key: sending the same checkout again is a renewal on most library
systems (or a refusal staff must clear), and sending a renewal again renews twice (or is refused
at the renewal limit). These tests run the kiosk's real journal, circulation service and sync
worker against pysip2's server through a relay that loses one answer (or one request).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pysip2
import pytest
from sip2_library_acs import RunningAcs, settings_for
from sip2_losing_relay import LosingRelay

from domain.model import (
    Credential,
    CredentialKind,
    Loan,
    Patron,
    ReasonCode,
    ReplayResult,
    ReplayStatus,
    Transaction,
    TransactionKind,
)
from kiosk.backends.sip2 import Sip2Backend
from kiosk.circulation import CirculationService, OfflinePolicy
from kiosk.connectivity import Connectivity
from kiosk.journal import Journal, State
from kiosk.sync import DrainReport, SyncWorker
from kiosk.testing.crash import free_port


def checkouts(acs: RunningAcs) -> list[str]:
    return [r.item_identifier for r in acs.library.requests
            if isinstance(r, pysip2.CheckoutRequest)]


def renewals_sent(acs: RunningAcs) -> list[str | None]:
    return [r.item_identifier for r in acs.library.requests if isinstance(r, pysip2.RenewRequest)]


@contextlib.contextmanager
def behind_a_losing_relay(
        tmp_path: Path, *, policy: OfflinePolicy | None = None,
) -> Iterator[tuple[RunningAcs, LosingRelay, Sip2Backend, Journal, CirculationService]]:
    """A kiosk (journal, circulation service) talking SIP2 to pysip2's server through a relay
    that can lose one exchange; the server, relay, backend and journal close on the way out."""
    with RunningAcs() as acs, LosingRelay(acs.port) as relay, \
            Sip2Backend(settings_for(relay.port, timeout_s=1.0)) as backend, \
            Journal(tmp_path / "journal.db") as journal:
        yield acs, relay, backend, journal, CirculationService(
            backend, journal, kiosk_id="K1", connectivity=Connectivity(), policy=policy)


def signed_in(circulation: CirculationService) -> tuple[Patron, Loan]:
    """Ann, online, looking at her account: one loan (I006), the due date she is shown."""
    who = circulation.identify(Credential(CredentialKind.BARCODE, "P100"), pin="1234")
    assert who.patron is not None and not who.offline
    account = circulation.account(who.patron)
    assert account is not None
    (loan,) = account.loans
    assert loan.item_id == "I006"
    return who.patron, loan


def test_lost_answer_then_sync_gives_one_loan_not_a_renewal(tmp_path: Path) -> None:
    with behind_a_losing_relay(tmp_path) as (acs, relay, backend, journal, circulation):
        who = circulation.identify(Credential(CredentialKind.BARCODE, "P100"), pin="1234")
        assert who.patron is not None and not who.offline
        relay.lose_next("11")
        told = circulation.checkout(who.patron, "I001")
        # the patron keeps the book: "saved on the kiosk, will be sent later"
        assert told.ok and told.offline
        assert relay.lost and acs.library.items["I001"].holder == "P100"  # the library had it
        due = acs.library.items["I001"].due

        report = SyncWorker(journal, backend, connectivity=Connectivity()).drain()

        assert journal.pending_count() == 0 and report.done == 1
        assert checkouts(acs) == ["I001"], "the checkout must not be sent a second time"
        assert acs.library.items["I001"].due == due and acs.library.items["I001"].renewals == 0
        assert journal.counts().get("conflict", 0) == 0


def test_lost_answer_for_a_checkout_the_library_did_not_apply_is_sent(tmp_path: Path) -> None:
    """The other half: the look finds no loan, so the checkout goes out (once)."""
    with RunningAcs() as acs, Sip2Backend(settings_for(acs.port)) as backend:
        unsure = Transaction(TransactionKind.CHECKOUT, "P100", "I002", offline=True,
                             maybe_applied=True)
        [result] = backend.replay([unsure])
        assert result.status is ReplayStatus.DONE and result.outcome is not None
        assert result.outcome.title == "Max Havelaar"
        assert checkouts(acs) == ["I002"]
        assert acs.library.items["I002"].holder == "P100"


def test_the_loan_found_this_way_can_still_be_voided(tmp_path: Path) -> None:
    with RunningAcs() as acs, Sip2Backend(settings_for(acs.port)) as backend:
        first = Transaction(TransactionKind.CHECKOUT, "P100", "I001")
        backend.checkout(first)
        with Sip2Backend(settings_for(acs.port)) as restarted:  # remembers nothing
            again = dataclasses.replace(first, offline=True, maybe_applied=True)
            [found] = restarted.replay([again])
            assert found.status is ReplayStatus.DONE and found.outcome is not None
            assert found.outcome.title == "De Avonden" and found.outcome.due is not None
            [undone] = restarted.replay([Transaction(TransactionKind.VOID, "P100", "I001",
                                                     ref_tx_id=first.tx_id)])
        assert undone.status is ReplayStatus.DONE
        assert acs.library.items["I001"].holder is None
        assert checkouts(acs) == ["I001"]


def test_a_renewal_whose_answer_was_lost_is_renewed_once(tmp_path: Path) -> None:
    """Offline renewals allowed: the patron hears "saved, will be sent later"; at sync the
    kiosk reads the due date back instead of renewing a second time."""
    with behind_a_losing_relay(tmp_path, policy=OfflinePolicy(allow_renew=True)) as (
            acs, relay, backend, journal, circulation):
        patron, loan = signed_in(circulation)
        relay.lose_next("29")
        told = circulation.renew(patron, loan.item_id, due_before=loan.due)
        assert told.ok and told.offline
        renewed = acs.library.items["I006"]
        assert relay.lost and renewed.renewals == 1  # the library had it
        assert renewed.due is not None and renewed.due.date() == loan.due + timedelta(days=21)
        due = renewed.due

        report = SyncWorker(journal, backend, connectivity=Connectivity()).drain()

        assert (report.done, report.conflicts, journal.pending_count()) == (1, 0, 0)
        assert renewals_sent(acs) == ["I006"], "the renewal must not be sent a second time"
        assert renewed.renewals == 1 and renewed.due == due  # one renewal's worth of days
        assert journal.counts().get("conflict", 0) == 0


def test_a_maybe_applied_renewal_the_library_did_not_apply_is_sent(tmp_path: Path) -> None:
    """The other half: the due date has not moved, so the renewal goes out (once)."""
    with RunningAcs() as acs, Sip2Backend(settings_for(acs.port)) as backend:
        due = acs.library.items["I006"].due
        assert due is not None
        unsure = Transaction(TransactionKind.RENEW, "P100", "I006", offline=True,
                             maybe_applied=True, due_before=due.date())
        [result] = backend.replay([unsure])
        assert result.status is ReplayStatus.DONE and result.outcome is not None
        assert result.outcome.due == due.date() + timedelta(days=21)
        assert renewals_sent(acs) == ["I006"] and acs.library.items["I006"].renewals == 1


def test_a_refused_renewal_that_never_reached_the_library_leaves_nothing_for_staff(
        tmp_path: Path) -> None:
    """Offline renewals not allowed (the default): the line dropped before the request got
    through, the patron hears "not now", and the VOID finds the due date unchanged."""
    with behind_a_losing_relay(tmp_path) as (acs, relay, backend, journal, circulation):
        patron, loan = signed_in(circulation)
        relay.lose_next("29", reached_server=False)
        told = circulation.renew(patron, loan.item_id, due_before=loan.due)
        assert not told.ok and told.reason is ReasonCode.OFFLINE_NOT_ALLOWED
        assert relay.lost and acs.library.items["I006"].renewals == 0
        assert journal.pending_count() == 1  # the VOID

        report = SyncWorker(journal, backend, connectivity=Connectivity()).drain()

        assert (report.done, report.conflicts, journal.pending_count()) == (1, 0, 0)
        assert journal.counts().get("conflict", 0) == 0
        assert renewals_sent(acs) == []
        assert acs.library.items["I006"].renewals == 0


def test_a_refused_renewal_the_library_applied_goes_to_staff_saying_so(tmp_path: Path) -> None:
    """Offline renewals not allowed, the library renewed, the answer was lost: the patron heard
    "not now", SIP2 cannot undo a renewal, so staff get one conflict that says what happened."""
    with behind_a_losing_relay(tmp_path) as (acs, relay, backend, journal, circulation):
        patron, loan = signed_in(circulation)
        relay.lose_next("29")
        told = circulation.renew(patron, loan.item_id, due_before=loan.due)
        assert not told.ok and told.reason is ReasonCode.OFFLINE_NOT_ALLOWED
        new_due = acs.library.items["I006"].due
        assert relay.lost and new_due is not None and acs.library.items["I006"].renewals == 1

        report = SyncWorker(journal, backend, connectivity=Connectivity()).drain()

        assert (report.done, report.conflicts, journal.pending_count()) == (0, 1, 0)
        [conflict] = journal.rows(states=("conflict",))
        assert conflict.kind == "void"
        assert "did reach the library" in conflict.last_error
        assert new_due.date().isoformat() in conflict.last_error
        assert renewals_sent(acs) == ["I006"] and acs.library.items["I006"].renewals == 1


# ---- found by the SIP2 crash-consistency run (tests/sip2/sip2_crash_world.py) ---------------


def checkins(acs: RunningAcs) -> list[str]:
    return [r.item_identifier for r in acs.library.requests
            if isinstance(r, pysip2.CheckinRequest)]


def restarted_and_drained(acs: RunningAcs, journal_path: Path) -> DrainReport:
    """The kiosk starts again on its journal: interrupted transactions get their VOIDs, and the
    sync worker forwards the queue through a backend that remembers nothing."""
    with Journal(journal_path) as journal, Sip2Backend(settings_for(acs.port)) as backend:
        journal.recover_inflight()
        report = SyncWorker(journal, backend, connectivity=Connectivity()).drain()
        assert journal.pending_count() == 0 and journal.counts().get("conflict", 0) == 0
        return report


def test_the_void_of_a_checkout_that_never_left_the_kiosk_sends_nothing(tmp_path: Path) -> None:
    """Killed after journaling a checkout, before sending it: the VOID must not send the
    inverse checkin, which the library refuses ("not checked out") and staff get a conflict."""
    with RunningAcs() as acs:
        with Journal(tmp_path / "journal.db") as journal:
            journal.record(Transaction(TransactionKind.CHECKOUT, "P100", "I001"), State.INFLIGHT)

        report = restarted_and_drained(acs, tmp_path / "journal.db")

        assert (report.done, report.conflicts) == (1, 0)
        assert checkins(acs) == [] and acs.library.items["I001"].holder is None


def test_the_void_of_a_checkin_that_never_left_the_kiosk_sends_nothing(tmp_path: Path) -> None:
    """Killed before a return was sent: the VOID must not check the book out again to the patron
    who still has it (a renewal nobody asked for: a new due date)."""
    with RunningAcs() as acs:
        due = acs.library.items["I006"].due
        with Journal(tmp_path / "journal.db") as journal:
            journal.record(Transaction(TransactionKind.CHECKIN, "P100", "I006"), State.INFLIGHT)

        report = restarted_and_drained(acs, tmp_path / "journal.db")

        assert (report.done, report.conflicts) == (1, 0)
        assert checkouts(acs) == []
        assert acs.library.items["I006"].holder == "P100" and acs.library.items["I006"].due == due


def test_a_return_whose_answer_was_lost_is_not_sent_again(tmp_path: Path) -> None:
    """The library took the book back but the answer was lost; the kiosk accepted the return
    offline. Sent again, the library refuses it ("not checked out"): a conflict for staff."""
    with behind_a_losing_relay(tmp_path) as (acs, relay, backend, journal, circulation):
        patron, _loan = signed_in(circulation)
        relay.lose_next("09")
        told = circulation.checkin("I006", patron)
        assert told.ok and told.offline
        assert relay.lost and acs.library.items["I006"].holder is None  # the library had it

        report = SyncWorker(journal, backend, connectivity=Connectivity()).drain()

        assert (report.done, report.conflicts, journal.pending_count()) == (1, 0, 0)
        assert checkins(acs) == ["I006"], "the return must not be sent a second time"


class _KilledAfterApplying(BaseException):
    """The kiosk dies: the library applied what was sent, the answers never reached the journal."""


class _DiesOnceApplied:
    """A Sip2Backend whose kiosk is killed as soon as the library has applied `acts`
    checkouts and checkins, right after the replay call that got it there."""

    def __init__(self, backend: Sip2Backend, acs: RunningAcs, acts: int) -> None:
        self._backend, self._acs, self._acts = backend, acs, acts

    def replay(self, transactions: list[Transaction]) -> list[ReplayResult]:
        results = self._backend.replay(transactions)
        if len(checkouts(self._acs)) + len(checkins(self._acs)) >= self._acts:
            raise _KilledAfterApplying
        return results

    def __getattr__(self, name: str) -> object:
        return getattr(self._backend, name)


def test_a_kill_during_a_replay_leaves_one_transaction_in_doubt_not_a_batch(
        tmp_path: Path) -> None:
    """Offline, a patron borrowed and returned I001. The sync sent both; the kiosk died before
    their answers were journaled. Both rows were then "maybe applied", and reading the library
    back cannot tell a loan never sent from one sent and returned later in the same batch: the
    loan and the return were each sent again. Each answer must be journaled before the next is
    sent, so at most one transaction is ever in doubt."""
    with RunningAcs() as acs:
        with Journal(tmp_path / "journal.db") as journal, \
                Sip2Backend(settings_for(acs.port)) as backend:
            for kind in (TransactionKind.CHECKOUT, TransactionKind.CHECKIN):
                journal.record(Transaction(kind, "P100", "I001", offline=True), State.PENDING)
            dying = _DiesOnceApplied(backend, acs, acts=2)
            with pytest.raises(_KilledAfterApplying):
                SyncWorker(journal, dying, connectivity=Connectivity()).drain()  # type: ignore[arg-type]
        assert (checkouts(acs), checkins(acs)) == (["I001"], ["I001"])

        restarted_and_drained(acs, tmp_path / "journal.db")

        assert (checkouts(acs), checkins(acs)) == (["I001"], ["I001"]), \
            "each act reaches the library once"
        assert acs.library.items["I001"].holder is None


def test_an_offline_return_of_a_book_the_library_already_has_back_is_done(
        tmp_path: Path) -> None:
    """The kiosk died after the library took a book back, before the patron saw "returned"; the
    patron returned it again while the restarted kiosk was offline. Replayed, the library says
    "not checked out": the book is back, which is all the return wanted. Not a conflict."""
    with RunningAcs() as acs, Sip2Backend(settings_for(acs.port)) as backend, \
            Journal(tmp_path / "journal.db") as journal:
        acs.library.items["I006"].holder = None  # the first, unconfirmed return
        journal.record(Transaction(TransactionKind.CHECKIN, "P100", "I006", offline=True),
                       State.PENDING)

        report = SyncWorker(journal, backend, connectivity=Connectivity()).drain()

        assert (report.done, report.conflicts, journal.pending_count()) == (1, 0, 0)
        assert checkins(acs) == ["I006"] and acs.library.items["I006"].holder is None


def test_an_offline_loan_that_never_reached_the_library_is_sent_not_read_back(
        tmp_path: Path) -> None:
    """A kiosk killed before it told Ann "borrowed" had lent her I006 (the library has the loan;
    the patron never heard). The restarted kiosk cannot reach the library; Ann borrows I006
    again and is told yes, offline, and the sync worker keeps trying while nothing listens.
    None of those tries can have reached the library, so back online the loan is sent: the
    library records the loan she was told of (here, a loan of a book she held: a renewal), not
    a read-back that credits it with the old loan nobody told her about."""
    with RunningAcs() as acs, Journal(tmp_path / "journal.db") as journal:
        assert acs.library.items["I006"].holder == "P100"  # the untold loan
        with Sip2Backend(settings_for(free_port(), timeout_s=0.5)) as unreachable:
            circulation = CirculationService(unreachable, journal, kiosk_id="K1",
                                             connectivity=Connectivity(),
                                             policy=OfflinePolicy(patron_check="format"))
            told = circulation.checkout(Patron("P100"), "I006")
            assert told.ok and told.offline
            for _ in range(2):
                SyncWorker(journal, unreachable, connectivity=Connectivity()).drain()
        [queued] = journal.forwardable()
        assert not queued.maybe_applied, "a refused connection carried nothing to the library"

        with Sip2Backend(settings_for(acs.port)) as backend:
            report = SyncWorker(journal, backend, connectivity=Connectivity()).drain()

        assert (report.done, report.conflicts, journal.pending_count()) == (1, 0, 0)
        assert checkouts(acs) == ["I006"], "the loan Ann was told of reached the library"


def test_a_refused_offline_loan_that_never_reached_the_library_leaves_no_void(
        tmp_path: Path) -> None:
    """The library is unreachable and the offline policy says no (here: no offline loans): the
    request never left the kiosk, so nothing is queued to undo it."""
    with RunningAcs() as acs, Journal(tmp_path / "journal.db") as journal, \
            Sip2Backend(settings_for(free_port(), timeout_s=0.5)) as unreachable:
        circulation = CirculationService(unreachable, journal, kiosk_id="K1",
                                         connectivity=Connectivity(),
                                         policy=OfflinePolicy(allow_checkout=False))
        told = circulation.checkout(Patron("P100"), "I001")
        assert not told.ok and told.offline
        assert journal.forwardable() == [] and journal.pending_count() == 0
        assert checkouts(acs) == []
