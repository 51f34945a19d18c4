"""A checkout the library applied but whose answer was lost reaches the library exactly once.

SIP2 has no idempotency key: sending the same checkout again is a renewal on most library
systems (or a refusal staff must clear). These tests run the kiosk's real journal, circulation
service and sync worker against pysip2's server through a relay that loses one answer.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pysip2
from sip2_library_acs import RunningAcs, settings_for
from sip2_losing_relay import LosingRelay

from kiosk.backends.base import ReplayStatus
from kiosk.backends.sip2 import Sip2Backend
from kiosk.circulation import CirculationService
from kiosk.domain import Credential, CredentialKind, Transaction, TransactionKind
from kiosk.journal import Journal
from kiosk.sync import SyncWorker


def checkouts(acs: RunningAcs) -> list[str]:
    return [r.item_identifier for r in acs.library.requests
            if isinstance(r, pysip2.CheckoutRequest)]


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
