"""A checkout or renewal whose answer was lost reaches the library exactly once.

SIP2 has no idempotency key: sending the same checkout again is a renewal on most library
systems (or a refusal staff must clear), and sending a renewal again renews twice (or is refused
at the renewal limit). These tests run the kiosk's real journal, circulation service and sync
worker against pysip2's server through a relay that loses one answer (or one request).
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pysip2
from sip2_library_acs import RunningAcs, settings_for
from sip2_losing_relay import LosingRelay

from kiosk.backends.base import ReplayStatus
from kiosk.backends.sip2 import Sip2Backend
from kiosk.circulation import CirculationService, OfflinePolicy
from kiosk.domain import (
    Credential,
    CredentialKind,
    Loan,
    Patron,
    ReasonCode,
    Transaction,
    TransactionKind,
)
from kiosk.journal import Journal
from kiosk.sync import SyncWorker


def checkouts(acs: RunningAcs) -> list[str]:
    return [r.item_identifier for r in acs.library.requests
            if isinstance(r, pysip2.CheckoutRequest)]


def renewals_sent(acs: RunningAcs) -> list[str | None]:
    return [r.item_identifier for r in acs.library.requests if isinstance(r, pysip2.RenewRequest)]


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
    with RunningAcs() as acs, LosingRelay(acs.port) as relay, \
            Sip2Backend(settings_for(relay.port, timeout_s=1.0)) as backend, \
            Journal(tmp_path / "journal.db") as journal:
        circulation = CirculationService(backend, journal, kiosk_id="K1")
        who = circulation.identify(Credential(CredentialKind.BARCODE, "P100"), pin="1234")
        assert who.patron is not None and not who.offline
        relay.lose_next("11")
        told = circulation.checkout(who.patron, "I001")
        # the patron keeps the book: "saved on the kiosk, will be sent later"
        assert told.ok and told.offline
        assert relay.lost and acs.library.items["I001"].holder == "P100"  # the library had it
        due = acs.library.items["I001"].due

        report = SyncWorker(journal, backend).drain()

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
    with RunningAcs() as acs, LosingRelay(acs.port) as relay, \
            Sip2Backend(settings_for(relay.port, timeout_s=1.0)) as backend, \
            Journal(tmp_path / "journal.db") as journal:
        circulation = CirculationService(backend, journal, kiosk_id="K1",
                                         policy=OfflinePolicy(allow_renew=True))
        patron, loan = signed_in(circulation)
        relay.lose_next("29")
        told = circulation.renew(patron, loan.item_id, due_before=loan.due)
        assert told.ok and told.offline
        renewed = acs.library.items["I006"]
        assert relay.lost and renewed.renewals == 1  # the library had it
        assert renewed.due is not None and renewed.due.date() == loan.due + timedelta(days=21)
        due = renewed.due

        report = SyncWorker(journal, backend).drain()

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
    with RunningAcs() as acs, LosingRelay(acs.port) as relay, \
            Sip2Backend(settings_for(relay.port, timeout_s=1.0)) as backend, \
            Journal(tmp_path / "journal.db") as journal:
        circulation = CirculationService(backend, journal, kiosk_id="K1")
        patron, loan = signed_in(circulation)
        relay.lose_next("29", reached_server=False)
        told = circulation.renew(patron, loan.item_id, due_before=loan.due)
        assert not told.ok and told.reason is ReasonCode.OFFLINE_NOT_ALLOWED
        assert relay.lost and acs.library.items["I006"].renewals == 0
        assert journal.pending_count() == 1  # the VOID

        report = SyncWorker(journal, backend).drain()

        assert (report.done, report.conflicts, journal.pending_count()) == (1, 0, 0)
        assert journal.counts().get("conflict", 0) == 0
        assert renewals_sent(acs) == []
        assert acs.library.items["I006"].renewals == 0


def test_a_refused_renewal_the_library_applied_goes_to_staff_saying_so(tmp_path: Path) -> None:
    """Offline renewals not allowed, the library renewed, the answer was lost: the patron heard
    "not now", SIP2 cannot undo a renewal, so staff get one conflict that says what happened."""
    with RunningAcs() as acs, LosingRelay(acs.port) as relay, \
            Sip2Backend(settings_for(relay.port, timeout_s=1.0)) as backend, \
            Journal(tmp_path / "journal.db") as journal:
        circulation = CirculationService(backend, journal, kiosk_id="K1")
        patron, loan = signed_in(circulation)
        relay.lose_next("29")
        told = circulation.renew(patron, loan.item_id, due_before=loan.due)
        assert not told.ok and told.reason is ReasonCode.OFFLINE_NOT_ALLOWED
        new_due = acs.library.items["I006"].due
        assert relay.lost and new_due is not None and acs.library.items["I006"].renewals == 1

        report = SyncWorker(journal, backend).drain()

        assert (report.done, report.conflicts, journal.pending_count()) == (0, 1, 0)
        [conflict] = journal.rows(states=("conflict",))
        assert conflict.kind == "void"
        assert "did reach the library" in conflict.last_error
        assert new_due.date().isoformat() in conflict.last_error
        assert renewals_sent(acs) == ["I006"] and acs.library.items["I006"].renewals == 1
